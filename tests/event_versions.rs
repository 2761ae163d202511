//! Event names and versions through the real extension and daemon: events stored by an older
//! version of the app (another class name, another payload shape) load as the renamed class
//! with the payload upcast, for an aggregate, a projector run by the worker and
//! `php/bin/eventsrv-events`; the Rust CLI keeps showing what is stored.

mod php_support;
mod support;

use php_support::{repo_root, Php};
use support::TestDaemon;

const BASKET: &str = "0190a7f3-0000-7000-8000-0000000b0001";

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("JSON ({e}): {text}"))
}

#[test]
fn a_renamed_v1_event_is_read_as_the_v2_class_by_aggregate_projector_and_php_cli() {
    let daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);
    assert_eq!(
        php.run("versioning.php", &["write", BASKET]).trim(),
        "written"
    );

    let read = json(&php.run("versioning.php", &["read", BASKET]));

    assert_eq!(
        read["aggregate"],
        serde_json::json!(["v1-1:300", "v1-2:400", "new:999"]),
        "{read}"
    );
    assert_eq!(read["upcasts_for_old"], 2, "one upcast per v1 event");
    assert_eq!(read["upcasts_for_current"], 0, "a v2 event is never upcast");
    assert_eq!(
        read["projector"],
        serde_json::json!([
            "v1-1:300 (stored v1)",
            "v1-2:400 (stored v1)",
            "new:999 (stored v2)"
        ])
    );
    assert_eq!(
        read["classes"],
        serde_json::json!([
            "Shop\\ProductAdded",
            "Shop\\ProductAdded",
            "Shop\\ProductAdded"
        ])
    );
    assert_eq!(
        read["types"],
        serde_json::json!(["Shop\\ItemAdded", "Shop\\ItemAdded", "shop.product_added"])
    );
    assert_eq!(read["event_versions"], serde_json::json!([1, 1, 2]));
    assert_eq!(read["version"], 3);
    assert_eq!(read["reread"], read["aggregate"]);

    // The PHP CLI prints events as the app reads them …
    let output = php
        .command(&repo_root().join("php/bin/eventsrv-events"))
        .arg(repo_root().join("tests/php/versioning_app.php"))
        .args(["--stream", BASKET])
        .output()
        .expect("eventsrv-events runs");
    assert!(
        output.status.success(),
        "eventsrv-events: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(json)
        .collect();
    assert_eq!(printed.len(), 3);
    assert_eq!(printed[0]["class"], "Shop\\ProductAdded");
    assert_eq!(printed[0]["type"], "Shop\\ItemAdded");
    assert_eq!(printed[0]["event_version"], 1);
    assert_eq!(
        printed[0]["payload"],
        serde_json::json!({"cents": 300, "sku": "v1-1"})
    );
    assert_eq!(printed[2]["event_version"], 2);
    assert_eq!(printed[2]["metadata"]["event_version"], 2);

    // … the Rust CLI prints what is stored.
    let stored = daemon.stream_events(BASKET);
    assert_eq!(stored.len(), 3);
    let first = stored[0].to_string();
    assert!(
        first.contains("Shop\\\\ItemAdded") && first.contains("price"),
        "stored as v1: {first}"
    );
    assert!(
        stored[2].to_string().contains("event_version"),
        "{}",
        stored[2]
    );
}

#[test]
fn an_event_class_without_its_old_name_registered_cannot_load_old_events() {
    let daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);
    php.run("versioning.php", &["write", BASKET]);

    // Without the bootstrap the old class name is unknown: refused, named, not guessed.
    let output = php
        .command(&repo_root().join("php/bin/eventsrv-events"))
        .arg(repo_root().join("tests/php/fixtures.php"))
        .output()
        .expect("eventsrv-events runs");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("UnknownEventTypeException") && stderr.contains("Shop\\ItemAdded"),
        "{stderr}"
    );
}

#[test]
fn bad_registrations_and_failing_upcasters_are_reported_not_guessed() {
    let daemon = TestDaemon::start_new();
    let php = Php::new(&daemon.socket, &daemon.region);

    let read = json(&php.run("upcast_errors.php", &[BASKET]));

    for (case, expected) in [
        ("upcasts_not_int", "must be an int of 1 or more"),
        ("upcasts_zero", "must be an int of 1 or more"),
        (
            "upcasts_list",
            "expects an array of event type => current version",
        ),
        (
            "types_empty_list",
            "must be a string or a non-empty list of strings",
        ),
        (
            "types_not_string",
            "must be a string or a non-empty list of strings",
        ),
        ("types_too_many", "has more than 64 names"),
        ("upcaster_throws", "DomainException: upcaster says no at 1"),
    ] {
        let message = read[case].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{case}: {message}");
    }
    for case in ["upcasts_not_int", "types_empty_list", "types_too_many"] {
        assert!(
            read[case]
                .as_str()
                .unwrap_or_default()
                .starts_with("InvalidArgumentException"),
            "{case}: {read}"
        );
    }
}
