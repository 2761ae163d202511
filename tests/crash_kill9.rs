//! The promise to users: an acknowledged event is never lost, and nothing unacknowledged is
//! half-applied. Real PHP clients append through the extension (retrying on conflicts, and
//! resolving "daemon unavailable" by looking for their own event id once the daemon is back)
//! while the daemon is killed with SIGKILL at random moments and restarted; a projector worker
//! runs along and is restarted whenever a kill took its daemon away.
//!
//! Bounded in CI (20 kills); `EVENTSRV_SOAK=1` runs 500, `EVENTSRV_CRASH_ITERATIONS=N` any
//! count, `EVENTSRV_CRASH_SEED` replays the kill timing of a failed run.

mod crash_support;
mod php_support;
mod support;

use crash_support::{
    assert_same_state, boot_source, count, fresh_replay, read_log, wait_for_projection, Random,
    RegionDump, Worker,
};
use eventsrv_format::region::MappedRegion;
use php_support::Php;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use support::{uuid_text, TestDaemon};

const CLIENTS: usize = 4;
/// Few streams, so clients conflict on them and versions interleave.
const STREAMS: usize = 6;
/// Every this many kills, the state booted from the crashed log is compared with a replay of
/// the log alone (clients paused meanwhile).
const COMPARE_EVERY: u64 = 5;
const REGION_BYTES: u64 = 1 << 30;
/// Bound on the worker catching up at the end.
const CATCH_UP_WAIT: Duration = Duration::from_secs(120);

/// What the clients' record files say (tests/php/crash_appender.php).
#[derive(Default)]
struct ClientRecords {
    attempted: HashSet<String>,
    /// event id -> (stream, version, position) the daemon acknowledged
    acked: HashMap<String, (String, u64, u64)>,
    resolved_present: HashSet<String>,
    resolved_absent: u64,
    unknown: u64,
    logical: u64,
    conflicts: u64,
}

fn read_records(paths: &[std::path::PathBuf]) -> ClientRecords {
    let mut records = ClientRecords::default();
    for path in paths {
        let text = std::fs::read_to_string(path).expect("client record file");
        let mut done = false;
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            match fields.as_slice() {
                ["attempt", id, _stream] => {
                    assert!(
                        records.attempted.insert(id.to_string()),
                        "ids are unique: {id}"
                    );
                }
                ["acked", id, stream, version, position] => {
                    let previous = records.acked.insert(
                        id.to_string(),
                        (
                            stream.to_string(),
                            version.parse().expect("version"),
                            position.parse().expect("position"),
                        ),
                    );
                    assert!(previous.is_none(), "{id} acknowledged twice");
                }
                ["unknown", _] => records.unknown += 1,
                ["resolved", id, "present"] => {
                    records.resolved_present.insert(id.to_string());
                }
                ["resolved", _, "absent"] => records.resolved_absent += 1,
                ["done", logical, conflicts, _unknowns] => {
                    records.logical += logical.parse::<u64>().expect("count");
                    records.conflicts += conflicts.parse::<u64>().expect("count");
                    done = true;
                }
                _ => panic!("unexpected record line in {}: {line}", path.display()),
            }
        }
        assert!(done, "{} has no done line", path.display());
    }
    records
}

#[test]
fn acknowledged_appends_survive_kill_9_exactly_once_and_the_state_equals_a_fresh_replay() {
    let iterations = count("EVENTSRV_CRASH_ITERATIONS", 20, 500);
    let mut random = Random::from_env("kill -9 daemon");
    let mut daemon = TestDaemon::new();
    // Sparse: only what the events use costs memory; a soak appends a few hundred thousand.
    daemon.region_bytes = REGION_BYTES;
    daemon.start();
    let php = Php::new(&daemon.socket, &daemon.region);
    let stop_file = daemon.dir.path().join("stop");
    let worker_log = daemon.dir.path().join("worker.log");
    let record_paths: Vec<_> = (0..CLIENTS)
        .map(|i| daemon.dir.path().join(format!("client-{i}.records")))
        .collect();
    let clients: Vec<_> = record_paths
        .iter()
        .enumerate()
        .map(|(i, path)| {
            php.spawn(
                "crash_appender.php",
                &[
                    &i.to_string(),
                    &STREAMS.to_string(),
                    stop_file.to_str().expect("utf-8"),
                    path.to_str().expect("utf-8"),
                ],
            )
        })
        .collect();
    let mut worker = Worker::new();
    worker.ensure_running(&php, &worker_log, &[]);

    let mut positions_at_kill = Vec::new();
    let mut boot_sources: BTreeMap<String, u64> = BTreeMap::new();
    let mut crash_boots_compared = 0;
    for iteration in 1..=iterations {
        // Let the clients (and the worker) get going, then kill at a random moment.
        std::thread::sleep(random.millis(20, 300));
        daemon.kill();
        let region = MappedRegion::open(&daemon.region).expect("the killed daemon's region");
        positions_at_kill.push(region.view().committed_position());
        drop(region);
        // Every few kills, freeze everyone so the state the daemon boots into can be compared
        // with a replay of the log alone before anything else is appended.
        let compare = iteration % COMPARE_EVERY == 0 || iteration == iterations;
        if compare {
            signal_all(&clients, &worker, libc::SIGSTOP);
        } else if random.between(0, 3) == 0 {
            std::thread::sleep(random.millis(1, 100));
        }
        daemon.start();
        *boot_sources.entry(boot_source(&daemon)).or_insert(0) += 1;
        if compare {
            let booted = RegionDump::read(&daemon.region);
            let replayed = fresh_replay(&mut daemon);
            assert_same_state(&booted, &replayed);
            crash_boots_compared += 1;
            signal_all(&clients, &worker, libc::SIGCONT);
        }
        worker.ensure_running(&php, &worker_log, &[]);
    }
    std::thread::sleep(random.millis(100, 300));
    std::fs::write(&stop_file, b"stop").expect("stop file");
    for client in clients {
        let (ok, stdout, stderr) = client.wait();
        assert!(ok, "crash client failed:\n{stdout}\n{stderr}");
    }
    let records = read_records(&record_paths);

    // The live region (booted from a crashed log, then appended to) against a fresh replay.
    worker.ensure_running(&php, &worker_log, &[]);
    wait_for_projection(&daemon, CATCH_UP_WAIT);
    worker.kill();
    let status_booted = daemon.client().status();
    let booted = RegionDump::read(&daemon.region);
    let replayed = fresh_replay(&mut daemon);
    assert_same_state(&booted, &replayed);
    let status_replayed = daemon.client().status();
    for key in [
        "committed_position",
        "projected_position",
        "streams",
        "entities",
        "classes",
        "checkpoints",
    ] {
        assert_eq!(status_booted[key], status_replayed[key], "status {key}");
    }

    // Projections: each stream's tally counted each of its events exactly once.
    let streams: Vec<String> = (0..STREAMS)
        .map(|i| format!("0190a7f3-0000-7000-8000-{:012x}", 0xc0000 + i))
        .collect();
    let mut read_args: Vec<&str> = streams.iter().map(String::as_str).collect();
    read_args.truncate(STREAMS);
    let tallies: serde_json::Value =
        serde_json::from_str(php.run("read.php", &read_args).trim()).expect("read.php JSON");

    daemon.stop_clean();
    let log = read_log(&daemon);
    let ids_in_log: Vec<&str> = log
        .events
        .iter()
        .map(|e| e["event_id"].as_str().expect("id"))
        .collect();
    let ids_in_region: Vec<String> = replayed
        .events
        .iter()
        .map(|e| uuid_text(&e.event_id))
        .collect();
    assert_eq!(
        ids_in_log, ids_in_region,
        "the region holds the log's events"
    );

    let mut by_id: HashMap<&str, Vec<&serde_json::Value>> = HashMap::new();
    for event in &log.events {
        by_id
            .entry(event["event_id"].as_str().expect("id"))
            .or_default()
            .push(event);
    }
    let mut lost = Vec::new();
    for (id, (stream, version, position)) in &records.acked {
        match by_id
            .get(id.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            [] => lost.push(id.clone()),
            [event] => {
                assert_eq!(event["stream"], stream.as_str(), "{id}");
                assert_eq!(event["version"], *version, "{id} acked version");
                assert_eq!(event["position"], *position, "{id} acked position");
            }
            _ => {}
        }
    }
    let lost_resolved: Vec<_> = records
        .resolved_present
        .iter()
        .filter(|id| !log.id_counts.contains_key(*id))
        .collect();
    let duplicated: Vec<_> = log.id_counts.iter().filter(|(_, n)| **n > 1).collect();
    let never_attempted: Vec<_> = log
        .id_counts
        .keys()
        .filter(|id| !records.attempted.contains(*id))
        .collect();
    let stored = log.events.len() as u64;
    let kills_mid_traffic = positions_at_kill.windows(2).filter(|w| w[1] > w[0]).count();
    eprintln!(
        "kill -9 daemon: {iterations} kills ({kills_mid_traffic} with appends since the previous \
         kill), boots {boot_sources:?}, {crash_boots_compared} crash boots equal to a replay of \
         the log alone, {} worker starts; {} logical appends by {CLIENTS} clients, {} acknowledged, {} \
         unknown outcomes ({} found landed, {} resent), {} conflicts retried; log holds {stored} \
         events; lost {}, duplicated {}, never attempted {}",
        worker.starts,
        records.logical,
        records.acked.len(),
        records.unknown,
        records.resolved_present.len(),
        records.resolved_absent,
        records.conflicts,
        lost.len(),
        duplicated.len(),
        never_attempted.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(
        lost_resolved.is_empty(),
        "seen in the stream after a crash, then lost: {lost_resolved:?}"
    );
    assert!(duplicated.is_empty(), "in the log twice: {duplicated:?}");
    assert!(
        never_attempted.is_empty(),
        "in the log but never sent: {never_attempted:?}"
    );
    assert_eq!(
        stored, records.logical,
        "every logical append landed exactly once (each client resolved its unknowns)"
    );
    assert!(
        records.acked.len() as u64 > iterations,
        "the clients made progress between kills"
    );
    for stream in &streams {
        let version = log.stream_versions.get(stream).copied().unwrap_or(0);
        assert_eq!(tallies["versions"][stream], version, "{stream}");
        if version > 0 {
            let tally = &tallies["find"][stream];
            assert_eq!(tally["value"], version, "{stream}: {tally}");
            assert_eq!(tally["events"], version, "{stream}: {tally}");
        }
    }
}

fn signal_all(clients: &[php_support::PhpChild], worker: &Worker, signal: i32) {
    for client in clients {
        client.signal(signal);
    }
    if let Some(pid) = worker.pid() {
        // SAFETY: kill(2) on our own child's pid; a stale pid at worst gets ESRCH.
        unsafe {
            libc::kill(pid as i32, signal);
        }
    }
}
