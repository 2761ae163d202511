//! The extension's daemon connection and ids across `pcntl_fork()` (a forked child gets its own
//! connection, never its parent's stream, and its own random bytes for ids), and the order of
//! the v7 ids one process makes.

mod php_support;
mod support;

use php_support::Php;
use std::collections::HashSet;
use support::TestDaemon;

/// Appends per process: enough that parent and child overlap in time.
const APPENDS_PER_PROCESS: usize = 300;

#[test]
fn a_forked_child_appends_on_its_own_connection_with_its_own_ids() {
    let daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);
    let output = php.run("fork_append.php", &[&APPENDS_PER_PROCESS.to_string()]);
    let lines: Vec<serde_json::Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(lines.len(), 2, "one line from each process: {output}");
    let expected: Vec<u64> = (1..=APPENDS_PER_PROCESS as u64).collect();
    let mut ids = HashSet::new();
    for line in &lines {
        let versions: Vec<u64> = line["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v.as_u64().expect("a version"))
            .collect();
        assert_eq!(
            versions, expected,
            "each process got its own answers: {line}"
        );
        assert!(
            line["state"]
                .as_str()
                .unwrap_or("")
                .starts_with("connected"),
            "{line}"
        );
        let stream = line["stream"].as_str().expect("stream");
        let events = daemon.stream_events(stream);
        assert_eq!(events.len(), APPENDS_PER_PROCESS, "{stream}");
        let stream_ids: Vec<String> = events
            .iter()
            .map(|event| event["event_id"].as_str().expect("event_id").to_owned())
            .collect();
        let mut sorted = stream_ids.clone();
        sorted.sort();
        assert_eq!(
            stream_ids, sorted,
            "ids of one process sort in creation order"
        );
        ids.extend(stream_ids);
    }
    assert_eq!(
        ids.len(),
        2 * APPENDS_PER_PROCESS,
        "no id is shared between the parent and its child"
    );
}

/// Rounds of one `Uuid::v7()` and one append each.
const ID_ROUNDS: usize = 500;

#[test]
fn uuid_v7_and_event_ids_of_one_process_sort_in_creation_order() {
    let daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);
    let output = php.run("uuid_order.php", &[&ID_ROUNDS.to_string()]);
    let line: serde_json::Value =
        serde_json::from_str(output.trim()).unwrap_or_else(|e| panic!("{e}: {output}"));
    assert_eq!(line["native"], true, "Uuid::v7() uses the extension");
    let ids: Vec<&str> = line["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_str().expect("an id"))
        .collect();
    assert_eq!(ids.len(), 2 * ID_ROUNDS);
    for id in &ids {
        let bytes = id.as_bytes();
        let shaped = bytes.len() == 36
            && [8, 13, 18, 23].iter().all(|&at| bytes[at] == b'-')
            && bytes[14] == b'7'
            && matches!(bytes[19], b'8' | b'9' | b'a' | b'b')
            && id
                .chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c));
        assert!(shaped, "not a lowercase v7 uuid: {id}");
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        ids, sorted,
        "ids sort (and never repeat) in the order they were made"
    );
}
