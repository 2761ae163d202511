//! Restart, shutdown and start-up guards of the real daemon, and the CLI around it.

mod support;

use eventsrv_format::protocol::{CheckpointMove, EntityChange, Response};
use eventsrv_format::region::MappedRegion;
use std::os::unix::fs::PermissionsExt;
use support::{payload, TestDaemon};

fn upsert(class: &str, uuid: &str, n: i64, position: u64) -> EntityChange {
    EntityChange::Upsert {
        class: class.into(),
        uuid: uuid.into(),
        data: payload(n),
        position,
    }
}

/// The parts of a status report that must survive a restart.
fn durable_state(status: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "committed": status["committed_position"],
        "projected": status["projected_position"],
        "streams": status["streams"],
        "entities": status["entities"],
        "classes": status["classes"],
        "checkpoints": status["checkpoints"],
    })
}

#[test]
fn state_after_a_restart_equals_state_before() {
    let mut daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    for n in 1..=5 {
        client.append_one("acc-1", (n - 1) as u64, n);
    }
    client.append_one("acc-2", 0, 10);
    client.append_one("acc-3", 0, 20);
    let committed = client.commit(
        vec![CheckpointMove {
            name: "AccountProjector".into(),
            expected: 0,
            position: 6,
        }],
        Some(6),
        vec![
            upsert("App\\Account", "acc-1", 15, 5),
            upsert("App\\Account", "acc-2", 10, 6),
            upsert("App\\User", "u-1", 1, 6),
        ],
    );
    assert_eq!(committed, Response::Committed { position: 6 });
    let committed = client.commit(
        vec![
            CheckpointMove {
                name: "AccountProjector".into(),
                expected: 6,
                position: 7,
            },
            CheckpointMove {
                name: "Mailer".into(),
                expected: 0,
                position: 7,
            },
        ],
        Some(7),
        vec![
            upsert("App\\Account", "acc-3", 20, 7),
            EntityChange::Delete {
                class: "App\\Account".into(),
                uuid: "acc-2".into(),
            },
        ],
    );
    assert_eq!(committed, Response::Committed { position: 7 });
    let before = durable_state(&client.status());
    assert_eq!(before["entities"], 3, "{before}");
    drop(client);

    daemon.restart();
    let mut client = daemon.client();
    let after = durable_state(&client.status());
    assert_eq!(after, before);

    // Stream versions survived: the right expected version appends, a stale one conflicts.
    assert_eq!(client.append_one("acc-1", 5, 6), 6);
    match client.append("acc-2", 0, vec![support::new_event("T", 1)]) {
        Response::Conflict {
            actual_version: 1, ..
        } => {}
        other => panic!("expected a conflict at version 1, got {other:?}"),
    }
    // Checkpoints survived: a commit from the old checkpoint conflicts.
    match client.commit(
        vec![CheckpointMove {
            name: "AccountProjector".into(),
            expected: 6,
            position: 8,
        }],
        None,
        vec![],
    ) {
        Response::CheckpointConflict { actual: 7, .. } => {}
        other => panic!("expected a checkpoint conflict, got {other:?}"),
    }
    // Entities survived with their data, read the way PHP reads them.
    let region = MappedRegion::open(&daemon.region).expect("map region");
    let view = region.view();
    let accounts = view
        .class_index(b"App\\Account")
        .expect("class lookup")
        .expect("class exists");
    let acc1 = view
        .find_entity(accounts, b"acc-1")
        .expect("lookup")
        .expect("acc-1 exists");
    assert_eq!((acc1.data, acc1.position), (&payload(15)[..], 5));
    assert!(
        view.find_entity(accounts, b"acc-2")
            .expect("lookup")
            .is_none(),
        "acc-2 was deleted"
    );
    assert_eq!(view.stream_version(b"acc-3").expect("stream"), 1);
}

#[test]
fn sigterm_stops_cleanly_and_removes_the_socket() {
    let mut daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    client.append_any("acc-1", 1);
    drop(client);
    let status = daemon.stop();
    assert!(status.success(), "exit {status}:\n{}", daemon.stderr());
    assert!(!daemon.socket.exists(), "socket file removed");
    let region = MappedRegion::open(&daemon.region).expect("region stays");
    assert_eq!(
        region.view().header().daemon_pid,
        0,
        "a clean stop clears the daemon pid"
    );
    assert_eq!(region.view().committed_position(), 1);
}

#[test]
fn sigint_also_stops_cleanly_with_an_idle_client_connected() {
    let mut daemon = TestDaemon::start_new();
    let idle = daemon.client();
    daemon.signal(libc::SIGINT);
    let status = daemon.wait();
    assert!(status.success(), "exit {status}:\n{}", daemon.stderr());
    assert!(!daemon.socket.exists());
    drop(idle);
}

#[test]
fn a_second_daemon_on_the_same_socket_or_data_dir_is_refused() {
    let daemon = TestDaemon::start_new();
    let mut same_socket = TestDaemon::new();
    same_socket.socket = daemon.socket.clone();
    let failure = same_socket.try_start().expect_err("socket in use");
    assert!(
        failure
            .stderr
            .contains("another eventsrv daemon is serving"),
        "{}",
        failure.stderr
    );

    let mut same_data = TestDaemon::new();
    same_data.data_dir = daemon.data_dir.clone();
    let failure = same_data.try_start().expect_err("data dir in use");
    assert!(failure.stderr.contains("LOCK"), "{}", failure.stderr);
    assert!(daemon.ping(), "the first daemon is unaffected");
}

#[test]
fn a_killed_daemon_leaves_a_stale_socket_that_the_next_start_replaces() {
    let mut daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    client.append_one("acc-1", 0, 1);
    drop(client);
    daemon.kill();
    assert!(daemon.socket.exists(), "SIGKILL leaves the socket file");
    daemon.start();
    assert!(
        daemon.stderr().contains("stale socket"),
        "{}",
        daemon.stderr()
    );
    let mut client = daemon.client();
    assert_eq!(client.append_one("acc-1", 1, 2), 2);
}

#[test]
fn socket_mode_is_applied() {
    let mut daemon = TestDaemon::new();
    daemon.extra_args = vec!["--socket-mode".into(), "0600".into()];
    daemon.start();
    let mode = std::fs::metadata(&daemon.socket)
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn workers_and_clients_are_counted_in_the_region_header() {
    let daemon = TestDaemon::start_new();
    let mut worker = daemon.client();
    assert_eq!(
        worker
            .request(&eventsrv_format::protocol::Request::AttachWorker)
            .expect("attach"),
        Response::Pong
    );
    let region = MappedRegion::open(&daemon.region).expect("map region");
    assert_eq!(region.view().workers_attached(), 1);
    assert!(region.view().header().clients_connected >= 1);
    drop(worker);
    // The count drops once the daemon notices the close (bounded wait, not a timing assertion).
    let deadline = std::time::Instant::now() + support::STOP_WAIT;
    while region.view().workers_attached() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "worker count never dropped"
        );
        std::thread::sleep(support::POLL_STEP);
    }
}

#[test]
fn cli_status_tail_and_events() {
    let mut daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    client.append_one("acc-1", 0, 1);
    client.append_one("acc-2", 0, 2);
    client.append_one("acc-1", 1, 3);
    drop(client);
    let socket = daemon.socket.to_str().expect("utf-8").to_owned();
    let region = daemon.region.to_str().expect("utf-8").to_owned();

    let (status, stdout, stderr) =
        daemon.cli(&["status", "--socket", &socket, "--region", &region, "--json"]);
    assert!(status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("status json");
    assert_eq!(
        (
            report["daemon_running"].as_bool(),
            report["committed_position"].as_u64()
        ),
        (Some(true), Some(3))
    );
    let (status, stdout, _) = daemon.cli(&["status", "--socket", &socket, "--region", &region]);
    assert!(status.success());
    assert!(stdout.contains("committed 3"), "{stdout}");

    let events = daemon.stream_events("acc-1");
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["version"], 2);
    assert_eq!(events[1]["position"], 3);
    assert_eq!(events[1]["payload"], serde_json::json!({ "n": 3 }));
    assert_eq!(events[1]["type"], "Test\\Happened");
    assert!(events[1]["recorded_at"]
        .as_str()
        .expect("text")
        .ends_with('Z'));
    assert_eq!(events[1]["event_id"].as_str().expect("uuid").len(), 36);
    let data_dir = daemon.data_dir.to_str().expect("utf-8").to_owned();
    let (status, stdout, _) = daemon.cli(&["tail", "--data-dir", &data_dir, "--from", "2"]);
    assert!(status.success());
    assert_eq!(stdout.lines().count(), 2);

    daemon.stop_clean();
    let (status, stdout, _) = daemon.cli(&["status", "--socket", &socket, "--region", &region]);
    assert_eq!(status.code(), Some(3), "daemon down: {stdout}");
    assert!(stdout.contains("down"), "{stdout}");
    assert!(stdout.contains("committed 3"), "{stdout}");
    let (status, stdout, _) = daemon.cli(&["--version"]);
    assert!(status.success());
    assert!(stdout.starts_with("eventsrv "), "{stdout}");
}
