//! The extension's daemon connection and event ids across `pcntl_fork()`: a forked child gets
//! its own connection (never its parent's stream) and its own random bytes for ids.

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
