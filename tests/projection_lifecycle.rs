//! Projector lifecycle against a real daemon (issue 6): a failing handler marks its projector
//! failed (exception, message, handler, event position) while the other projector advances and
//! the worker keeps going; `eventsrv status --json` shows it; `--retry` resumes it at the
//! failing event; `--pause` / `--resume` stop and restart a projector.

mod php_support;
mod support;

use eventsrv_format::limits::EXPECTED_VERSION_ANY;
use eventsrv_format::protocol::{CheckpointMove, EntityChange, ErrorCode, NewEvent, Response};
use eventsrv_format::vtree;
use php_support::{repo_root, Php};
use std::process::Output;
use support::TestDaemon;

const STREAM: &str = "0190a7f3-0000-7000-8000-00000000f001";

fn event(
    event_type: &str,
    key: &[u8],
    value: impl FnOnce(&mut vtree::Encoder),
    id: u64,
) -> NewEvent {
    let mut payload = vtree::Encoder::new();
    payload.begin_map(1);
    payload.string(key);
    value(&mut payload);
    let mut metadata = vtree::Encoder::new();
    metadata.begin_map(0);
    let mut event_id = [0u8; 16];
    event_id[8..].copy_from_slice(&id.to_be_bytes());
    NewEvent {
        event_id,
        event_type: event_type.into(),
        metadata: metadata.into_bytes(),
        payload: payload.into_bytes(),
    }
}

fn increased(id: u64) -> NewEvent {
    event("Fixture\\CounterIncreased", b"by", |v| v.int(1), id)
}

fn labelled(label: &str, id: u64) -> NewEvent {
    event(
        "Fixture\\CounterLabelled",
        b"label",
        |v| v.string(label.as_bytes()),
        id,
    )
}

fn worker(php: &Php, args: &[&str]) -> Output {
    let mut command = php.command(&repo_root().join("php/bin/eventsrv-worker"));
    command
        .arg(repo_root().join("tests/php/worker_failing.php"))
        .args(args);
    command.output().expect("worker runs")
}

fn status_json(daemon: &TestDaemon) -> serde_json::Value {
    let (status, stdout, stderr) = daemon.cli(&[
        "status",
        "--json",
        "--socket",
        daemon.socket.to_str().expect("utf-8"),
    ]);
    assert!(status.success(), "eventsrv status: {stderr}");
    serde_json::from_str(&stdout).expect("status JSON")
}

fn checkpoint(report: &serde_json::Value, name: &str) -> u64 {
    report["checkpoints"]
        .as_array()
        .expect("checkpoints")
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["position"].as_u64())
        .unwrap_or(0)
}

fn projector<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["projectors"]
        .as_array()
        .expect("projectors")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no status for {name}: {report}"))
}

#[test]
fn a_failing_projector_is_marked_failed_the_other_advances_and_retry_resumes_it() {
    let mut daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);
    let mut client = daemon.client();
    let events = vec![
        increased(1),
        labelled("ok", 2),
        labelled("boom", 3),
        increased(4),
    ];
    match client.append(STREAM, EXPECTED_VERSION_ANY, events) {
        Response::Appended { last_position, .. } => assert_eq!(last_position, 4),
        other => panic!("append: {other:?}"),
    }

    let once = worker(&php, &["--once"]);
    let log = String::from_utf8_lossy(&once.stderr).into_owned();
    assert!(
        once.status.success(),
        "a failing projector does not stop the worker:\n{log}"
    );
    assert!(log.contains("projector marked failed"), "{log}");

    let report = status_json(&daemon);
    assert_eq!(
        checkpoint(&report, "Fixture\\TallyProjector"),
        4,
        "{report}"
    );
    assert_eq!(
        checkpoint(&report, "labels"),
        2,
        "stays before the failing event"
    );
    let labels = projector(&report, "labels");
    assert_eq!(labels["status"], "failed");
    assert_eq!(labels["position"], 3);
    assert_eq!(labels["exception"], "DomainException");
    assert_eq!(labels["error"], "cannot label boom");
    assert_eq!(labels["handler"], "LabelProjector::onCounterLabelled");
    assert_eq!(labels["event"], "Fixture\\CounterLabelled");
    let (_, text, _) = daemon.cli(&["status", "--socket", daemon.socket.to_str().expect("utf-8")]);
    assert!(
        text.contains("failed on event #3 in LabelProjector::onCounterLabelled: DomainException: cannot label boom"),
        "{text}"
    );

    // Still failing: the worker skips it and keeps running the other projector.
    match client.append(STREAM, EXPECTED_VERSION_ANY, vec![increased(5)]) {
        Response::Appended { .. } => {}
        other => panic!("append: {other:?}"),
    }
    assert!(worker(&php, &["--once"]).status.success());
    let report = status_json(&daemon);
    assert_eq!(checkpoint(&report, "Fixture\\TallyProjector"), 5);
    assert_eq!(checkpoint(&report, "labels"), 2);

    let retry = worker(&php, &["--retry=labels"]);
    let said = String::from_utf8_lossy(&retry.stdout).into_owned();
    assert!(
        retry.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&retry.stderr)
    );
    assert!(said.contains("failed -> active"), "{said}");
    let fixed = php.clone().with_env("EVENTSRV_TEST_FIXED", "1");
    let once = worker(&fixed, &["--once"]);
    assert!(
        once.status.success(),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    let report = status_json(&daemon);
    assert_eq!(
        checkpoint(&report, "labels"),
        5,
        "resumed at the failing event"
    );
    assert_eq!(projector(&report, "labels")["status"], "active");

    // Pause and resume.
    assert!(worker(&php, &["--pause=labels"]).status.success());
    match client.append(STREAM, EXPECTED_VERSION_ANY, vec![labelled("later", 6)]) {
        Response::Appended { .. } => {}
        other => panic!("append: {other:?}"),
    }
    assert!(worker(&fixed, &["--once"]).status.success());
    let report = status_json(&daemon);
    assert_eq!(projector(&report, "labels")["status"], "paused");
    assert_eq!(checkpoint(&report, "labels"), 5);
    assert_eq!(checkpoint(&report, "Fixture\\TallyProjector"), 6);
    assert!(worker(&php, &["--resume=labels"]).status.success());
    assert!(worker(&fixed, &["--once"]).status.success());
    assert_eq!(checkpoint(&status_json(&daemon), "labels"), 6);

    // With the daemon down, `eventsrv status` reads the statuses from the region file.
    assert!(worker(&php, &["--pause=labels"]).status.success());
    let listed = worker(&php, &["--status"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.lines().any(|line| line.starts_with("labels")
            && line.contains("paused")
            && line.contains("checkpoint 6")),
        "{listed}"
    );
    daemon.stop_clean();
    let (status, stdout, stderr) = daemon.cli(&[
        "status",
        "--json",
        "--socket",
        daemon.socket.to_str().expect("utf-8"),
        "--region",
        daemon.region.to_str().expect("utf-8"),
    ]);
    assert_eq!(status.code(), Some(3), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("status JSON");
    assert_eq!(projector(&report, "labels")["status"], "paused");
    assert_eq!(projector(&report, "labels")["checkpoint"], 6);
    daemon.start();

    let unknown = worker(&php, &["--retry=nobody"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no projector named nobody"));
}

#[test]
fn a_swap_the_daemon_cannot_apply_is_refused_whole() {
    let daemon = TestDaemon::start_new();
    let mut client = daemon.client();
    client.append_any(STREAM, 1);
    let swap = |class: &str, shadow: &str| EntityChange::SwapClass {
        class: class.into(),
        shadow: shadow.into(),
    };
    let moved = || {
        vec![CheckpointMove {
            name: "p".into(),
            expected: 0,
            position: 1,
        }]
    };
    for (changes, why) in [
        (vec![swap("A", "A")], "swapped with itself"),
        (vec![swap("A", &"S".repeat(100_000))], "shadow class name"),
    ] {
        match client.commit(moved(), None, changes) {
            Response::Error {
                code: ErrorCode::InvalidEvent,
                message,
            } => assert!(message.contains(why), "{message}"),
            other => panic!("expected a refusal naming {why}: {other:?}"),
        }
    }
    let report = client.status();
    assert!(
        report["checkpoints"]
            .as_array()
            .expect("checkpoints")
            .iter()
            .all(|c| c["name"] != "p"),
        "nothing of a refused commit was applied: {report}"
    );
    match client.commit(moved(), None, vec![swap("A", "S")]) {
        Response::Committed { .. } => {}
        other => panic!("a swap of two classes without entities: {other:?}"),
    }
}
