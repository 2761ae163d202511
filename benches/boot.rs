//! Boot time by source for a log of N events (default 200,000; `EVENTSRV_BENCH_EVENTS`):
//! surviving region vs snapshot + tail vs full replay. Prints a table; asserts only which source
//! each boot used (timing is measured, never asserted).
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

fn main() {
    let events: u64 = std::env::var("EVENTSRV_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut daemon = TestDaemon::new();
    daemon.extra_args = vec!["--snapshot-every-events".into(), "0".into()];
    daemon.start();
    let load_started = Instant::now();
    let mut load = Load {
        position: 0,
        checkpoint: 0,
    };
    load.run(&daemon, events * 9 / 10);
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
    let log_bytes: usize = daemon.log_bytes().iter().map(|(_, b)| b.len()).sum();
    let region_used = daemon.client().status()["region"]["used_bytes"].clone();
    println!("log: {log_bytes} bytes, region used: {region_used} bytes");
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
    std::fs::remove_dir_all(daemon.data_dir.join("snapshots")).expect("remove snapshots");
    row("full replay", &mut daemon, "full log replay");
    daemon.kill();
}

struct Load {
    position: u64,
    checkpoint: u64,
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
                        uuid: format!("account-{}", (position / 20 + k) % 20_000),
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
}
