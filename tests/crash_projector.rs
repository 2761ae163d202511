//! Killing the projector worker with SIGKILL in the middle of its batches loses no entity change
//! and applies none twice: a batch's entity changes and its checkpoint are one log record, so a
//! killed batch is either wholly committed or redone from the old checkpoint.
//!
//! Bounded in CI (20 kills); `EVENTSRV_SOAK=1` runs 300, `EVENTSRV_PROJECTOR_KILLS=N` any count.

mod crash_support;
mod php_support;
mod support;

use crash_support::{
    assert_same_state, count, fresh_replay, wait_for_projection, Random, RegionDump, Worker,
};
use eventsrv_format::limits::EXPECTED_VERSION_ANY;
use eventsrv_format::protocol::{NewEvent, Response};
use php_support::Php;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::TestDaemon;

const STREAMS: usize = 8;
/// Small batches: many commits, so kills land between and inside them.
const WORKER_ARGS: &[&str] = &["--batch-size", "40"];
const CATCH_UP_WAIT: Duration = Duration::from_secs(120);

fn stream(index: usize) -> String {
    support::numbered_stream(0xd0000, index as u64)
}

fn counter_increased(sequence: u64) -> NewEvent {
    support::counter_increased(0x0190_a7f3_dead_0000, sequence)
}

#[test]
fn killing_the_projector_mid_batch_loses_and_doubles_no_entity_change() {
    let kills = count("EVENTSRV_PROJECTOR_KILLS", 20, 300);
    let mut random = Random::from_env("kill -9 projector");
    let mut daemon = TestDaemon::new();
    // Sparse: a soak's events and superseded entity rows need more than the default.
    daemon.region_bytes = 1 << 30;
    daemon.start();
    let php = Php::new(&daemon.socket, &daemon.region);
    let worker_log = daemon.dir.path().join("worker.log");

    // Appends keep coming while the worker is killed and restarted.
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let appender = {
        let stop = Arc::clone(&stop);
        let appended = Arc::clone(&appended);
        let mut client = daemon.client();
        let mut random = Random::from_env("appender");
        std::thread::spawn(move || {
            let mut sequence = 0u64;
            while !stop.load(Ordering::Acquire) {
                let events: Vec<_> = (0..random.between(1, 5))
                    .map(|_| {
                        sequence += 1;
                        counter_increased(sequence)
                    })
                    .collect();
                let count = events.len() as u64;
                let target = stream(random.between(0, STREAMS as u64 - 1) as usize);
                match client.append(&target, EXPECTED_VERSION_ANY, events) {
                    Response::Appended { .. } => appended.fetch_add(count, Ordering::AcqRel),
                    other => panic!("append: {other:?}"),
                };
                std::thread::sleep(Duration::from_micros(random.between(0, 2_000)));
            }
        })
    };

    let mut worker = Worker::new();
    let mut kills_with_work_pending = 0;
    for _ in 0..kills {
        worker.ensure_running(&php, &worker_log, WORKER_ARGS);
        std::thread::sleep(random.millis(30, 400));
        let status = daemon.client().status();
        if status["committed_position"] != status["projected_position"] {
            kills_with_work_pending += 1;
        }
        worker.kill();
    }
    stop.store(true, Ordering::Release);
    appender.join().expect("appender thread");

    worker.ensure_running(&php, &worker_log, WORKER_ARGS);
    wait_for_projection(&daemon, CATCH_UP_WAIT);
    worker.kill();
    let streams: Vec<String> = (0..STREAMS).map(stream).collect();
    let args: Vec<&str> = streams.iter().map(String::as_str).collect();
    let live: serde_json::Value =
        serde_json::from_str(php.run("read.php", &args).trim()).expect("read.php JSON");
    let booted = RegionDump::read(&daemon.region);
    let replayed = fresh_replay(&mut daemon);
    assert_same_state(&booted, &replayed);
    let commits = daemon.client().status()["boot"]["commits"].clone();
    let after_replay: serde_json::Value =
        serde_json::from_str(php.run("read.php", &args).trim()).expect("read.php JSON");

    let total = appended.load(Ordering::Acquire);
    eprintln!(
        "kill -9 projector: {kills} kills ({kills_with_work_pending} with events not yet \
         projected), {} worker starts; {total} events appended over {STREAMS} streams, \
         {commits} projection commits in the log; checkpoints {:?}",
        worker.starts, booted.checkpoints
    );
    assert_eq!(booted.committed_position, total);
    let mut counted = 0;
    for stream in &streams {
        for state in [&live, &after_replay] {
            let version = state["versions"][stream].as_u64().expect("version");
            let tally = &state["find"][stream];
            assert_eq!(
                tally["value"], version,
                "{stream}: every event counted exactly once: {tally}"
            );
            assert_eq!(tally["events"], version, "{stream}: {tally}");
            assert_eq!(
                tally["check"],
                version * 7 + 3,
                "{stream}: row is consistent: {tally}"
            );
        }
        counted += live["versions"][stream].as_u64().expect("version");
    }
    assert_eq!(counted, total);
    assert!(
        kills_with_work_pending > 0,
        "at least one kill hit a worker with work to do"
    );
}
