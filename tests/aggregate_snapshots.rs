//! Aggregate snapshots through the real extension and daemon (tests/php/snapshot.php): every
//! kind of property (private, protected, a parent's private of the same name, enums, dates,
//! nested objects) comes back from the value codec; retrieve from the snapshot plus the later
//! events equals a full replay; persist() still checks the stream version; a Closure is
//! refused by name and writes nothing.

mod php_support;
mod support;

use php_support::Php;
use support::TestDaemon;

const PAINTING: &str = "0190a7f3-0000-7000-8000-0000000c0001";

#[test]
fn a_snapshot_plus_later_events_equals_a_full_replay_with_the_real_codec() {
    let daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);

    let out = php.run("snapshot.php", &[PAINTING]);
    let read: serde_json::Value = serde_json::from_str(out.trim()).expect("snapshot.php JSON");

    assert_eq!(read["from_snapshot"], read["replayed"], "{read}");
    assert_eq!(
        read["from_snapshot"],
        serde_json::json!({
            "last": "red",
            "count": 7,
            "first": "2020-02-03 04:05:06.789012+02:00",
            "strokes": ["child", "RED", "BLUE", "RED", "RED", "BLUE", "BLUE", "RED"],
            "parent_strokes": ["red", "blue", "red", "red", "blue", "blue", "red"],
            "detail": 7,
            "version": 7
        })
    );
    assert_eq!(
        read["applied_from_snapshot"], 2,
        "only the events after the snapshot"
    );
    assert_eq!(read["applied_replay"], 7);
    assert_eq!(read["after_persist"], 8);
    assert_eq!(read["stale"], "conflict");
    let refused = read["refused"].as_str().expect("message");
    assert!(
        refused.contains("Painting::$extra[0] holds a Closure"),
        "{refused}"
    );
    assert_eq!(
        read["snapshots"],
        serde_json::json!([1, 1]),
        "nothing written"
    );

    // A snapshot is an ordinary event in the companion stream.
    let stored = daemon.stream_events(&format!("{PAINTING}.snapshot"));
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].to_string().contains("EventSrv\\\\SnapshotTaken"),
        "{}",
        stored[0]
    );
}

#[test]
fn a_snapshot_holding_a_class_that_is_gone_is_ignored_not_loaded_half() {
    let daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);

    let written: serde_json::Value =
        serde_json::from_str(php.run("snapshot_ghost.php", &["write", PAINTING]).trim())
            .expect("JSON");
    assert_eq!(
        written,
        serde_json::json!({"applied": 0, "detail": "Ghost\\Detail"}),
        "the writing process uses its snapshot"
    );

    let read: serde_json::Value =
        serde_json::from_str(php.run("snapshot_ghost.php", &["read", PAINTING]).trim())
            .expect("JSON");
    assert_eq!(
        read,
        serde_json::json!({"applied": 3, "sum": 6, "detail": null}),
        "rebuilt from the events"
    );
}
