//! Rebuilding a projection beside the live one (issue 6): `eventsrv-worker --rebuild` rebuilds
//! 200k events while a live worker keeps projecting, another process reads `Tally::all()` in a
//! loop and appends keep coming. Every read is a whole projection (never fewer tallies or fewer
//! projected events than before the rebuild, never a drop), no acknowledged append is missing
//! after the swap, the rebuild's memory stays bounded, and a boot replay of the log reproduces
//! the swapped region exactly. `EVENTSRV_REBUILD_EVENTS=N` rebuilds N events instead (the
//! memory bound is the same for any N: e.g. 1000000).

mod crash_support;
mod php_support;
mod support;

use crash_support::{assert_same_state, fresh_replay, wait_for_projection, RegionDump};
use eventsrv_format::limits::EXPECTED_VERSION_ANY;
use eventsrv_format::protocol::{NewEvent, Response};
use php_support::Php;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::TestDaemon;

const STREAMS: u64 = 1_000;
const EVENTS_BEFORE_REBUILD_DEFAULT: u64 = 200_000;
const EVENTS_PER_APPEND: u64 = 500;
const CATCH_UP_WAIT: Duration = Duration::from_secs(600);
/// What the rebuild process may use at its peak. Holding the 200k events (or the projection's
/// changes for them) at once would take several times this: the rebuild works batch by batch.
const REBUILD_PEAK_MEMORY_BYTES_MAX: u64 = 32 << 20;

fn stream(index: u64) -> String {
    support::numbered_stream(0xe0000, index)
}

fn counter_increased(sequence: u64) -> NewEvent {
    support::counter_increased(0x0190_a7f3_beef_0000, sequence)
}

fn append(client: &mut support::Client, stream: &str, first_sequence: u64, count: u64) {
    let events = (0..count)
        .map(|i| counter_increased(first_sequence + i))
        .collect();
    match client.append(stream, EXPECTED_VERSION_ANY, events) {
        Response::Appended { .. } => {}
        other => panic!("append to {stream}: {other:?}"),
    }
}

#[test]
fn a_rebuild_beside_the_live_projection_swaps_in_whole_while_reads_and_appends_go_on() {
    let events_before_rebuild: u64 = std::env::var("EVENTSRV_REBUILD_EVENTS")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(EVENTS_BEFORE_REBUILD_DEFAULT);
    let mut daemon = TestDaemon::new();
    daemon.region_bytes = 1 << 30;
    daemon.start();
    let php = Php::new(&daemon.socket, &daemon.region);
    let worker_log = daemon.dir.path().join("worker.log");

    let mut client = daemon.client();
    let mut sequence = 0;
    let per_stream = events_before_rebuild / STREAMS;
    for index in 0..STREAMS {
        let mut left = per_stream;
        while left > 0 {
            let count = left.min(EVENTS_PER_APPEND);
            append(&mut client, &stream(index), sequence, count);
            sequence += count;
            left -= count;
        }
    }
    assert_eq!(sequence, events_before_rebuild);

    let live_worker = php.spawn_worker(&worker_log, &["--batch-size", "2000"]);
    wait_for_projection(&daemon, CATCH_UP_WAIT);

    let stop_file = daemon.dir.path().join("stop-reading");
    let mut reader = php.spawn(
        "rebuild_reader.php",
        &[
            stop_file.to_str().expect("utf-8 path"),
            &STREAMS.to_string(),
            &events_before_rebuild.to_string(),
        ],
    );
    assert_eq!(reader.read_line().as_deref(), Some("ready"));

    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let appender = {
        let stop = Arc::clone(&stop);
        let appended = Arc::clone(&appended);
        let mut client = daemon.client();
        std::thread::spawn(move || {
            let mut sequence = events_before_rebuild;
            let mut index = 0;
            while !stop.load(Ordering::Acquire) {
                append(&mut client, &stream(index % STREAMS), sequence, 3);
                sequence += 3;
                index += 7;
                appended.fetch_add(3, Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    let garbage_before = daemon.client().status()["region"]["garbage_bytes"]
        .as_u64()
        .expect("garbage bytes");
    let rebuild = php.run_worker(&["--rebuild", "--batch-size", "2000"]);
    let rebuild_log = String::from_utf8_lossy(&rebuild.stderr).into_owned();
    assert!(rebuild.status.success(), "rebuild failed:\n{rebuild_log}");
    let appended_during_rebuild = appended.load(Ordering::Acquire);

    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Release);
    appender.join().expect("appender thread");
    wait_for_projection(&daemon, CATCH_UP_WAIT);
    std::fs::write(&stop_file, b"").expect("stop file");
    let reads: serde_json::Value =
        serde_json::from_str(&reader.read_line().expect("reader summary")).expect("JSON");
    let total = events_before_rebuild + appended.load(Ordering::Acquire);

    let peak_memory: u64 = rebuild_log
        .split("peak memory ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|bytes| bytes.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in the rebuild log:\n{rebuild_log}"));
    let status = daemon.client().status();
    eprintln!(
        "rebuild of {events_before_rebuild}+ events: {appended_during_rebuild} appended during \
         it, {} reads of {STREAMS} tallies, peak memory {peak_memory} bytes, garbage {} -> {} \
         bytes; rebuild log tail: {}",
        reads["reads"],
        garbage_before,
        status["region"]["garbage_bytes"],
        rebuild_log
            .lines()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .join(" | ")
    );

    assert_eq!(reads["failures"], serde_json::json!([]), "{reads}");
    assert!(reads["reads"].as_u64().expect("reads") >= 2, "{reads}");
    assert!(
        appended_during_rebuild > 0,
        "appends went on during the rebuild"
    );
    assert!(rebuild_log.contains("swapped in at #"), "{rebuild_log}");
    assert!(
        peak_memory < REBUILD_PEAK_MEMORY_BYTES_MAX,
        "rebuild peak memory {peak_memory} bytes"
    );
    assert!(
        status["region"]["garbage_bytes"].as_u64().expect("garbage") > garbage_before,
        "the old projection is counted as garbage"
    );

    // Every acknowledged event is in the swapped-in projection, exactly once.
    let streams: Vec<String> = (0..STREAMS).map(stream).collect();
    let args: Vec<&str> = streams.iter().map(String::as_str).collect();
    let state: serde_json::Value =
        serde_json::from_str(php.run("read.php", &args).trim()).expect("read.php JSON");
    let mut counted = 0;
    for stream in &streams {
        let version = state["versions"][stream].as_u64().expect("version");
        assert_eq!(state["find"][stream]["value"], version, "{stream}");
        assert_eq!(state["find"][stream]["check"], version * 7 + 3, "{stream}");
        counted += version;
    }
    assert_eq!(counted, total);
    assert_eq!(state["count"], STREAMS);
    let rebuild_checkpoint = status["checkpoints"]
        .as_array()
        .expect("checkpoints")
        .iter()
        .find(|c| c["name"] == "Fixture\\TallyProjector (rebuild)")
        .map(|c| c["position"].clone());
    assert!(
        rebuild_checkpoint
            .as_ref()
            .is_none_or(|position| *position == 0),
        "the rebuild checkpoint is dropped at the swap: {rebuild_checkpoint:?}"
    );
    assert!(
        status["projectors"]
            .as_array()
            .expect("projectors")
            .iter()
            .all(|p| p["status"] != "rebuilding"),
        "the rebuilding status is gone after the swap: {}",
        status["projectors"]
    );

    // The commit records reproduce the swap on a fresh replay of the log.
    drop(live_worker);
    let booted = RegionDump::read(&daemon.region);
    let replayed = fresh_replay(&mut daemon);
    assert_same_state(&booted, &replayed);
}
