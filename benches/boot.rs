//! Boot time by source for a log of N events (default 200,000; `EVENTSRV_BENCH_EVENTS`) and M
//! projected entities (default 20,000; `EVENTSRV_BENCH_ENTITIES`): surviving region vs
//! snapshot plus tail vs full replay. Prints a table; asserts only which source each boot used (timing is
//! measured, never asserted). `EVENTSRV_BENCH_REGION_BYTES` sizes the region (default 64 MiB,
//! 4 GiB once entities or events are many); `EVENTSRV_BENCH_JSON=FILE` appends one JSON line per
//! boot for bench/report.py (bench/run.sh --only boot). `EVENTSRV_BENCH_KEEP_DATA=1` keeps the
//! data dir (log and snapshots, path printed at the end) for profiling one boot by hand.
//!
//! `cargo bench -p eventsrv --bench boot`

#[path = "../tests/support/mod.rs"]
mod support;

use eventsrv_format::protocol::{CheckpointMove, EntityChange, Response};
use std::time::Instant;
use support::{new_event, payload, TestDaemon};

fn boot_report(daemon: &TestDaemon) -> (String, u64, u64) {
    let report = daemon.client().status();
    (
        report["boot"]["source"].as_str().unwrap_or("?").to_owned(),
        report["boot"]["duration_ms"].as_u64().unwrap_or(0),
        report["boot"]["records_replayed"].as_u64().unwrap_or(0),
    )
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Entities upserted by one projector commit of the entity load.
const ENTITIES_PER_COMMIT: u64 = 5_000;

fn main() {
    let events = env_u64("EVENTSRV_BENCH_EVENTS").unwrap_or(200_000);
    let entities = env_u64("EVENTSRV_BENCH_ENTITIES").unwrap_or(20_000);
    let json = std::env::var("EVENTSRV_BENCH_JSON").ok();
    let mut daemon = TestDaemon::new();
    daemon.region_bytes = env_u64("EVENTSRV_BENCH_REGION_BYTES").unwrap_or(
        if entities > 100_000 || events > 1_000_000 {
            4 << 30
        } else {
            daemon.region_bytes
        },
    );
    daemon.extra_args = vec![
        "--snapshot-every-events".into(),
        "0".into(),
        "--snapshot-every-seconds".into(),
        "0".into(),
    ];
    daemon.start();
    let load_started = Instant::now();
    let mut load = Load {
        position: 0,
        checkpoint: 0,
        entities: 20_000.min(entities),
    };
    load.run(&daemon, events * 9 / 10);
    load.entities(&daemon, entities);
    let socket = daemon.socket.to_str().expect("utf-8").to_owned();
    let (_, out, err) = daemon.cli(&["snapshot", "--socket", &socket]);
    println!("{}{}", out.trim(), err.trim());
    for line in daemon.stderr().lines() {
        if line.contains("snapshot written") {
            println!("daemon: {}", line.trim());
        }
    }
    load.run(&daemon, events);
    println!(
        "loaded {} events in {} ms",
        load.position,
        load_started.elapsed().as_millis()
    );
    let log_bytes: u64 = std::fs::read_dir(daemon.data_dir.join("log"))
        .expect("log dir")
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .map(|metadata| metadata.len())
        .sum();
    let status = daemon.client().status();
    let region_used = status["region"]["used_bytes"].as_u64().unwrap_or(0);
    // A total, or a count per class.
    let entities_total: u64 = status["entities"].as_u64().unwrap_or_else(|| {
        status["entities"]
            .as_object()
            .map(|classes| classes.values().filter_map(|n| n.as_u64()).sum())
            .unwrap_or(0)
    });
    println!(
        "log: {log_bytes} bytes, region used: {region_used} bytes, entities: {entities_total} \
         ({})",
        status["entities"]
    );
    daemon.kill(); // no snapshot at stop: the last 10% stay a log tail

    println!(
        "{:<26} {:>9} {:>9} {:>10}",
        "boot", "wall ms", "boot ms", "replayed"
    );
    let row = |what: &str, daemon: &mut TestDaemon, expect: &str| {
        let started = Instant::now();
        daemon.start();
        let wall = started.elapsed().as_millis();
        let (source, boot_ms, replayed) = boot_report(daemon);
        assert_eq!(source, expect, "{what}");
        println!("{what:<26} {wall:>9} {boot_ms:>9} {replayed:>10}");
        if let Some(path) = &json {
            use std::io::Write;
            let line = serde_json::json!({
                "scenario": "boot",
                "case": what,
                "alt": "eventsrv",
                "source": source,
                "boot_ms": boot_ms,
                "wall_ms": wall as u64,
                "records_replayed": replayed,
                "events": load.position,
                "entities": entities_total,
                "log_bytes": log_bytes,
                "region_used_bytes": region_used,
            });
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .expect("open the JSON output");
            writeln!(file, "{line}").expect("write the JSON output");
        }
    };
    std::fs::remove_file(&daemon.region).expect("remove region");
    row("snapshot + 10% log tail", &mut daemon, "snapshot");
    daemon.kill();
    row(
        "surviving region (kill -9)",
        &mut daemon,
        "surviving region",
    );
    daemon.stop_clean();
    row(
        "surviving region (SIGTERM)",
        &mut daemon,
        "surviving region",
    );
    daemon.kill();
    std::fs::remove_file(&daemon.region).expect("remove region");
    row("snapshot, no tail", &mut daemon, "snapshot");
    daemon.kill();
    std::fs::remove_file(&daemon.region).expect("remove region");
    std::fs::remove_dir_all(daemon.snapshots_dir()).expect("remove snapshots");
    row("full replay", &mut daemon, "full log replay");
    daemon.kill();
    if std::env::var_os("EVENTSRV_BENCH_KEEP_DATA").is_some() {
        let dir = std::mem::replace(&mut daemon.dir, tempfile::tempdir().expect("tempdir"));
        println!("kept the data dir {}", dir.keep().join("data").display());
    }
}

struct Load {
    position: u64,
    checkpoint: u64,
    /// Distinct entities the interleaved commits cycle over.
    entities: u64,
}

impl Load {
    /// Append (200 events per request, 5,000 streams) until `until`, with a projector commit of
    /// 100 entity upserts every 2,000 events.
    fn run(&mut self, daemon: &TestDaemon, until: u64) {
        let mut client = daemon.client();
        let per_append = 200u64;
        while self.position < until {
            let stream = format!("account-{}", self.position / per_append % 5000);
            let batch = (0..per_append)
                .map(|i| new_event("Bench\\Deposited", i as i64))
                .collect();
            match client.append(&stream, u64::MAX, batch) {
                Response::Appended { last_position, .. } => self.position = last_position,
                other => panic!("append: {other:?}"),
            }
            if self.position % 2000 == 0 {
                let position = self.position;
                let changes = (0..100)
                    .map(|k| EntityChange::Upsert {
                        class: "Bench\\Account".into(),
                        uuid: format!("account-{}", (position / 20 + k) % self.entities),
                        data: payload(position as i64),
                        position,
                    })
                    .collect();
                let moved = vec![CheckpointMove {
                    name: "Bench\\Projector".into(),
                    expected: self.checkpoint,
                    position,
                }];
                match client.commit(moved, Some(position), changes) {
                    Response::Committed { .. } => self.checkpoint = position,
                    other => panic!("commit: {other:?}"),
                }
            }
        }
    }

    /// Projector commits of `ENTITIES_PER_COMMIT` new entities until `until` exist.
    fn entities(&mut self, daemon: &TestDaemon, until: u64) {
        let mut client = daemon.client();
        let mut next = self.entities;
        while next < until {
            let count = ENTITIES_PER_COMMIT.min(until - next);
            let position = self.position;
            let changes = (next..next + count)
                .map(|k| EntityChange::Upsert {
                    class: "Bench\\Customer".into(),
                    uuid: format!("customer-{k:09}"),
                    data: payload(k as i64),
                    position,
                })
                .collect();
            match client.commit(Vec::new(), None, changes) {
                Response::Committed { .. } => next += count,
                other => panic!("entity commit: {other:?}"),
            }
        }
    }
}
