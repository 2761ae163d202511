//! What the crash and fault suites share: a seeded random source (the seed is printed so a
//! failure can be replayed with `EVENTSRV_CRASH_SEED`), the soak switch, a full dump of a state
//! region (to compare the region a crashed daemon booted into with a fresh replay of the log),
//! and the log checks every suite ends with (positions dense, stream versions gapless).
#![allow(dead_code)]

use crate::support::TestDaemon;
use eventsrv_format::region::MappedRegion;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

/// `EVENTSRV_SOAK=1` turns the bounded CI counts into long soaks.
pub fn soak() -> bool {
    std::env::var("EVENTSRV_SOAK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A count: `ci` normally, `soak` under `EVENTSRV_SOAK=1`, or `$<env>` if set.
pub fn count(env: &str, ci: u64, soak_count: u64) -> u64 {
    if let Some(n) = std::env::var(env).ok().and_then(|v| v.parse().ok()) {
        return n;
    }
    if soak() {
        soak_count
    } else {
        ci
    }
}

/// xorshift64*: enough randomness for "when to kill", reproducible from its seed.
pub struct Random(u64);

impl Random {
    /// Seeded from `EVENTSRV_CRASH_SEED` or the clock; prints the seed.
    pub fn from_env(test: &str) -> Random {
        let seed = std::env::var("EVENTSRV_CRASH_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        eprintln!("{test}: seed {seed} (replay with EVENTSRV_CRASH_SEED={seed})");
        Random(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(self.between(low, high))
    }
}

/// One event as the region holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedEvent {
    pub position: u64,
    pub stream: Vec<u8>,
    pub version: u64,
    pub event_id: [u8; 16],
    pub event_type: Vec<u8>,
    pub recorded_at_us: i64,
    pub metadata: Vec<u8>,
    pub payload: Vec<u8>,
}

/// An entity as (uuid, position, data).
pub type DumpedEntity = (Vec<u8>, u64, Vec<u8>);

/// Everything a reader can see in a region, minus what differs per file (generation, garbage,
/// connection counters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionDump {
    pub committed_position: u64,
    pub projected_position: u64,
    pub events: Vec<DumpedEvent>,
    /// stream -> version, as `stream_version` answers it
    pub stream_versions: BTreeMap<Vec<u8>, u64>,
    /// class -> (live count, entities in insertion order as (uuid, position, data))
    pub classes: BTreeMap<String, (u64, Vec<DumpedEntity>)>,
    pub checkpoints: Vec<(String, u64)>,
}

impl RegionDump {
    /// Read every event, stream, entity and checkpoint of the region file at `path`.
    pub fn read(path: &Path) -> RegionDump {
        let mapped = MappedRegion::open(path)
            .unwrap_or_else(|e| panic!("map the region {}: {e}", path.display()));
        let view = mapped.view();
        let committed_position = view.committed_position();
        let mut events = Vec::new();
        let mut stream_versions = BTreeMap::new();
        for position in 1..=committed_position {
            let event = view
                .event_at(position)
                .unwrap_or_else(|e| panic!("event {position}: {e}"))
                .unwrap_or_else(|| panic!("event {position} is missing from the region"));
            stream_versions.insert(event.stream.to_vec(), 0);
            events.push(DumpedEvent {
                position: event.position,
                stream: event.stream.to_vec(),
                version: event.stream_version,
                event_id: event.event_id,
                event_type: event.event_type.to_vec(),
                recorded_at_us: event.recorded_at_us,
                metadata: event.metadata.to_vec(),
                payload: event.payload.to_vec(),
            });
        }
        for (stream, version) in stream_versions.iter_mut() {
            *version = view.stream_version(stream).expect("stream version");
        }
        let mut classes = BTreeMap::new();
        for (name, index, live) in view.classes().expect("classes") {
            let entities = view
                .entities(index)
                .expect("entities")
                .map(|e| {
                    let e = e.expect("entity");
                    (e.uuid.to_vec(), e.position, e.data.to_vec())
                })
                .collect();
            classes.insert(name, (live, entities));
        }
        RegionDump {
            committed_position,
            projected_position: view.projected_position(),
            events,
            stream_versions,
            classes,
            checkpoints: view.checkpoints().expect("checkpoints"),
        }
    }

    pub fn entity_count(&self) -> usize {
        self.classes.values().map(|(_, e)| e.len()).sum()
    }
}

/// Assert two dumps are equal, naming the first difference (a full Debug diff is unreadable).
pub fn assert_same_state(booted: &RegionDump, replayed: &RegionDump) {
    assert_eq!(booted.committed_position, replayed.committed_position);
    assert_eq!(booted.projected_position, replayed.projected_position);
    assert_eq!(booted.events.len(), replayed.events.len());
    for (a, b) in booted.events.iter().zip(&replayed.events) {
        assert_eq!(a, b, "event at position {}", a.position);
    }
    assert_eq!(booted.stream_versions, replayed.stream_versions);
    assert_eq!(
        booted.classes.keys().collect::<Vec<_>>(),
        replayed.classes.keys().collect::<Vec<_>>()
    );
    for (class, entities) in &booted.classes {
        assert_eq!(
            Some(entities),
            replayed.classes.get(class),
            "entities of {class}"
        );
    }
    assert_eq!(booted.checkpoints, replayed.checkpoints);
}

/// What `eventsrv tail` says about the log, checked for dense positions and gapless versions.
pub struct LogEvents {
    pub events: Vec<serde_json::Value>,
    /// event_id text -> how often it occurs
    pub id_counts: HashMap<String, u64>,
    pub stream_versions: BTreeMap<String, u64>,
}

pub fn read_log(daemon: &TestDaemon) -> LogEvents {
    let events = daemon.all_events();
    let mut id_counts = HashMap::new();
    let mut stream_versions: BTreeMap<String, u64> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        assert_eq!(
            event["position"],
            index as u64 + 1,
            "log positions are dense: {event}"
        );
        let stream = event["stream"].as_str().expect("stream").to_owned();
        let version = event["version"].as_u64().expect("version");
        let previous = stream_versions.entry(stream.clone()).or_insert(0);
        assert_eq!(
            version,
            *previous + 1,
            "stream {stream} versions are gapless: {event}"
        );
        *previous = version;
        *id_counts
            .entry(event["event_id"].as_str().expect("event_id").to_owned())
            .or_insert(0) += 1;
    }
    LogEvents {
        events,
        id_counts,
        stream_versions,
    }
}

/// Stop the daemon, remove its region file and its snapshots (docs/snapshots.md), start it
/// again: the region it publishes now is a replay of the log alone.
pub fn fresh_replay(daemon: &mut TestDaemon) -> RegionDump {
    daemon.stop_clean();
    std::fs::remove_file(&daemon.region).expect("remove the region file");
    match std::fs::remove_dir_all(daemon.snapshots_dir()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("remove the snapshots: {e}"),
    }
    daemon.start();
    let status = daemon.client().status();
    let source = &status["boot"]["source"];
    assert!(
        source.as_str().is_some_and(|s| s.contains("log")),
        "booted from the log alone: {source}"
    );
    RegionDump::read(&daemon.region)
}

/// How the daemon's state was built on its last boot (`status.boot.source`).
pub fn boot_source(daemon: &TestDaemon) -> String {
    let status = daemon.client().status();
    status["boot"]["source"]
        .as_str()
        .unwrap_or("unknown")
        .to_owned()
}

/// Wait (bounded) until `done` says yes; panics with `what` after `bound`.
pub fn wait_until(bound: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {bound:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The projector worker (tests/php/worker.php bootstrap) as a plain child, so a test can see
/// whether it exited (it does when the daemon it served was killed) and start it again.
pub struct Worker {
    child: Option<std::process::Child>,
    pub starts: u64,
}

impl Worker {
    pub fn new() -> Worker {
        Worker {
            child: None,
            starts: 0,
        }
    }

    /// Start it if it is not running (first call, or it exited).
    pub fn ensure_running(&mut self, php: &crate::php_support::Php, log: &Path, args: &[&str]) {
        if let Some(child) = self.child.as_mut() {
            if child.try_wait().expect("try_wait").is_none() {
                return;
            }
        }
        let root = crate::php_support::repo_root();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("worker log");
        let child = php
            .command(&root.join("php/bin/eventsrv-worker"))
            .arg(root.join("tests/php/worker.php"))
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().expect("dup"))
            .stderr(file)
            .spawn()
            .expect("worker starts");
        self.child = Some(child);
        self.starts += 1;
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Wait (bounded) until the projector worker has caught up with every committed event.
pub fn wait_for_projection(daemon: &TestDaemon, bound: Duration) {
    wait_until(bound, "projection catches up", || {
        let status = daemon.client().status();
        status["committed_position"].as_u64().is_some()
            && status["committed_position"] == status["projected_position"]
    });
}
