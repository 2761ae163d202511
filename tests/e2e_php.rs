//! End-to-end acceptance tests: a real daemon, real PHP processes with eventsrv.so, the real
//! projector worker. Each test says in its name what a user would notice if it broke.
//! Loops are bounded by counts; nothing asserts on time.

mod php_support;
mod support;

use php_support::{repo_root, Php};
use std::time::{Duration, Instant};
use support::TestDaemon;

/// Bound on waiting for a worker to attach or for a projection to catch up.
const CATCH_UP_WAIT: Duration = Duration::from_secs(60);

fn php_for(daemon: &TestDaemon) -> Php {
    Php::new(&daemon.socket, &daemon.region)
}

/// Wait (bounded) until the daemon counts `workers` attached projector workers, so that
/// `persist()` waits for projections from here on.
fn wait_for_workers(daemon: &TestDaemon, workers: u64) {
    let deadline = Instant::now() + CATCH_UP_WAIT;
    loop {
        let status = daemon.client().status();
        let attached = status["workers_attached"].as_u64().unwrap_or(0);
        if attached >= workers {
            return;
        }
        assert!(Instant::now() < deadline, "worker did not attach: {status}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait (bounded) until the projected position reaches the committed one.
fn wait_for_projection(daemon: &TestDaemon) {
    let deadline = Instant::now() + CATCH_UP_WAIT;
    loop {
        let status = daemon.client().status();
        let committed = status["committed_position"].as_u64();
        let projected = status["projected_position"].as_u64();
        if committed.is_some() && committed == projected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "projection did not catch up: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn bank(php: &Php, args: &[&str]) -> String {
    php.run("bank.php", args).trim().to_owned()
}

#[test]
fn bank_accounts_round_trip_and_survive_a_daemon_and_worker_restart() {
    let mut daemon = TestDaemon::start_new();
    let php = php_for(&daemon);
    let bootstrap = repo_root().join("examples/bank/worker.php");
    let worker_log = daemon.dir.path().join("worker.log");
    let worker = php.spawn_worker_for(&bootstrap, &worker_log, &[]);
    wait_for_workers(&daemon, 1);

    let ada = bank(&php, &["create", "Ada"]);
    let bob = bank(&php, &["create", "Bob"]);
    let cy = bank(&php, &["create", "Cy"]);
    for amount in ["10", "20", "30"] {
        assert_eq!(bank(&php, &["increase", &ada, amount]), "ok");
    }
    let refused = bank(&php, &["decrease", &bob, "1"]);
    assert!(
        refused.starts_with("Bank\\CouldNotDecreaseBalance"),
        "{refused}"
    );

    let before = json(&bank(&php, &["list"]));
    let names: Vec<&str> = before
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Ada", "Bob", "Cy"],
        "Account::all() keeps insertion order"
    );
    assert_eq!(json(&bank(&php, &["show", &ada]))["balance"], 60);
    assert_eq!(json(&bank(&php, &["show", &cy]))["balance"], 0);

    drop(worker);
    daemon.stop_clean();
    daemon.start();
    // Entities come back from the log alone, before any worker runs again.
    assert_eq!(json(&bank(&php, &["list"])), before);
    let worker = php.spawn_worker_for(&bootstrap, &worker_log, &[]);
    wait_for_workers(&daemon, 1);
    assert_eq!(bank(&php, &["increase", &ada, "1"]), "ok");
    assert_eq!(json(&bank(&php, &["show", &ada]))["balance"], 61);
    let events = daemon.stream_events(&ada);
    assert_eq!(
        events.len(),
        5,
        "created + 3 increases + 1 increase after restart"
    );
    drop(worker);
}

#[test]
fn eight_processes_racing_on_one_aggregate_lose_no_increment() {
    const PROCESSES: usize = 8;
    const INCREMENTS: usize = 200;
    let daemon = TestDaemon::start_new();
    let php = php_for(&daemon);
    let worker = php.spawn_worker(&daemon.dir.path().join("worker.log"), &[]);
    wait_for_workers(&daemon, 1);

    let uuid = "0190a7f3-0000-7000-8000-00000000c0de";
    let times = INCREMENTS.to_string();
    let racers: Vec<_> = (0..PROCESSES)
        .map(|_| php.spawn("increase.php", &[uuid, &times]))
        .collect();
    let mut conflicts = 0u64;
    for racer in racers {
        let (ok, stdout, stderr) = racer.wait();
        assert!(ok, "racer failed: {stdout}\n{stderr}");
        conflicts += stdout
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    wait_for_projection(&daemon);
    let state = json(&php.run("read.php", &[uuid]));
    let total = (PROCESSES * INCREMENTS) as u64;
    assert_eq!(state["find"][uuid]["value"], total, "{state}");
    assert_eq!(state["versions"][uuid], total);
    assert_eq!(state["aggregate"][uuid], total);
    let events = daemon.stream_events(uuid);
    assert_eq!(events.len() as u64, total);
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event["version"], index as u64 + 1, "versions are dense");
    }
    eprintln!("{PROCESSES} processes x {INCREMENTS} increments: {conflicts} conflicts retried");
    drop(worker);
}

#[test]
fn a_read_right_after_persist_in_another_process_sees_the_write() {
    const ROUNDS: u32 = 100;
    let daemon = TestDaemon::start_new();
    let php = php_for(&daemon);
    let worker = php.spawn_worker(&daemon.dir.path().join("worker.log"), &[]);
    wait_for_workers(&daemon, 1);

    let uuid = "0190a7f3-0000-7000-8000-0000000000aa";
    let mut writer = php.spawn("persist_then_signal.php", &[uuid, &ROUNDS.to_string()]);
    let mut reader = php.spawn("read_expect.php", &[uuid]);
    for round in 1..=ROUNDS {
        let persisted = writer.read_line().expect("writer reports each persist");
        assert_eq!(persisted, round.to_string());
        reader.write_line(&persisted);
        let answer = reader.read_line().expect("reader answers");
        assert_eq!(
            answer, "ok",
            "round {round}: the other process read a stale value"
        );
        writer.write_line(&answer);
    }
    assert_eq!(writer.read_line().as_deref(), Some("done"));
    reader.close_stdin();
    let (ok, _, stderr) = reader.wait();
    assert!(ok, "{stderr}");
    drop(worker);
}

#[test]
fn events_that_cannot_be_stored_throw_and_write_nothing() {
    let daemon = TestDaemon::start_new();
    let php = php_for(&daemon);
    let uuid = "0190a7f3-0000-7000-8000-0000000000bb";
    let log_before = daemon.log_bytes();
    let output = php.run_raw("bad_events.php", &[uuid]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for case in ["closure", "resource", "anonymous", "recursive"] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{case}:")))
            .unwrap_or("");
        assert!(line.contains("SerializationException"), "{case}: {stdout}");
    }
    let closure = stdout
        .lines()
        .find(|l| l.starts_with("closure:"))
        .unwrap_or("");
    assert!(
        closure.contains("label") && closure.contains("Closure"),
        "names property and why: {closure}"
    );
    assert!(stdout.contains("version 0"), "{stdout}");
    assert_eq!(daemon.log_bytes(), log_before, "the log is unchanged");
}

#[test]
fn a_replay_reruns_projectors_but_never_reactors() {
    let daemon = TestDaemon::start_new();
    let reactor_log = daemon.dir.path().join("reactor.log");
    let php = php_for(&daemon).with_env("EVENTSRV_TEST_REACTOR_LOG", reactor_log.to_str().unwrap());
    let worker_log = daemon.dir.path().join("worker.log");
    let worker = php.spawn_worker(&worker_log, &[]);
    wait_for_workers(&daemon, 1);

    let uuid = "0190a7f3-0000-7000-8000-0000000000cc";
    php.run("increase.php", &[uuid, "5"]);
    wait_for_projection(&daemon);
    let reacted = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .count()
    };
    // The reactor runs after the projector commit of the same batch: give it a bounded wait.
    let deadline = Instant::now() + CATCH_UP_WAIT;
    while reacted(&reactor_log) < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        reacted(&reactor_log),
        5,
        "the reactor saw each live event once"
    );
    worker.signal(libc::SIGTERM);
    let (ok, _, _) = worker.wait();
    assert!(
        ok,
        "worker stops cleanly on SIGTERM: {}",
        std::fs::read_to_string(&worker_log).unwrap_or_default()
    );

    let replay = php.run_worker(&["--replay"]);
    assert!(
        replay.status.success(),
        "replay failed: {}{}",
        String::from_utf8_lossy(&replay.stdout),
        String::from_utf8_lossy(&replay.stderr)
    );
    let state = json(&php.run("read.php", &[uuid]));
    assert_eq!(
        state["find"][uuid]["value"], 5,
        "projection rebuilt: {state}"
    );
    assert_eq!(
        state["find"][uuid]["events"], 5,
        "rebuilt from scratch, not on top: {state}"
    );
    assert_eq!(reacted(&reactor_log), 5, "no reactor ran during the replay");

    // After the replay, new events reach the reactor again (exactly the new one).
    let worker = php.spawn_worker(&worker_log, &[]);
    wait_for_workers(&daemon, 1);
    php.run("increase.php", &[uuid, "1"]);
    let deadline = Instant::now() + CATCH_UP_WAIT;
    while reacted(&reactor_log) < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(reacted(&reactor_log), 6);
    drop(worker);
}

#[test]
fn readers_never_see_a_torn_entity_while_the_writer_churns() {
    const WRITERS: usize = 3;
    const PERSISTS_PER_WRITER: &str = "300";
    const READER_ITERATIONS: &str = "3000";
    let daemon = TestDaemon::start_new();
    let php = php_for(&daemon);
    let worker = php.spawn_worker(&daemon.dir.path().join("worker.log"), &[]);
    wait_for_workers(&daemon, 1);

    let uuids: Vec<String> = (0..WRITERS)
        .map(|i| format!("0190a7f3-0000-7000-8000-00000000d00{i}"))
        .collect();
    for uuid in &uuids {
        php.run("increase.php", &[uuid, "1"]);
    }
    let writers: Vec<_> = uuids
        .iter()
        .map(|u| php.spawn("increase.php", &[u, PERSISTS_PER_WRITER, "3"]))
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| php.spawn("torn_reader.php", &[READER_ITERATIONS]))
        .collect();
    for writer in writers {
        let (ok, stdout, stderr) = writer.wait();
        assert!(ok, "writer failed: {stdout}{stderr}");
    }
    for reader in readers {
        let (ok, stdout, stderr) = reader.wait();
        assert!(ok, "reader found torn rows: {stdout}\n{stderr}");
        assert!(stdout.contains("torn 0"), "{stdout}");
        eprintln!("torn-read check: {}", stdout.trim());
    }
    drop(worker);
}

#[test]
fn a_renamed_event_class_with_an_alias_still_loads_old_events() {
    let daemon = TestDaemon::start_new();
    let php = php_for(&daemon);
    let uuid = "0190a7f3-0000-7000-8000-0000000000ee";
    assert_eq!(php.run("rename.php", &["write", uuid]).trim(), "written");
    let state = json(&php.run("rename.php", &["read", uuid]));
    assert_eq!(
        state["texts"],
        serde_json::json!(["first", "second", "third"]),
        "{state}"
    );
    assert_eq!(
        state["classes"],
        serde_json::json!([
            "Fixture\\After\\NoteWritten",
            "Fixture\\After\\NoteWritten",
            "Fixture\\After\\NoteWritten"
        ])
    );
    assert_eq!(
        state["types"][2], "Fixture\\Before\\NoteTaken",
        "new events keep the stored name, so history reads the same everywhere"
    );
    assert_eq!(state["version"], 3);
}
