//! Snapshots and boot through the real daemon (docs/snapshots.md): every way of booting ends in
//! the state a full replay of the same log builds, compared with `eventsrv_daemon::state_dump`.

mod support;

use eventsrv_daemon::state_dump::{self, first_difference, StateDump};
use eventsrv_format::protocol::{CheckpointMove, EntityChange, Response};
use eventsrv_format::region::MappedRegion;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{new_event, payload, Client, TestDaemon};

const PROJECTOR: &str = "App\\Projector\\Accounts";
const CLASS: &str = "App\\Account";

/// Appends on several streams plus projector commits (upserts, deletes, a checkpoint), so a
/// snapshot holds events, streams, entities, garbage and checkpoints.
struct Workload {
    next: i64,
    checkpoint: u64,
}

impl Workload {
    fn new() -> Workload {
        Workload {
            next: 1,
            checkpoint: 0,
        }
    }

    fn run(&mut self, client: &mut Client, events: i64) {
        for _ in 0..events {
            let n = self.next;
            self.next += 1;
            client.append_any(&format!("acc-{}", n % 7), n);
            if n % 10 == 0 {
                self.commit(client, n);
            }
        }
    }

    fn commit(&mut self, client: &mut Client, n: i64) {
        let position = client.status()["committed_position"]
            .as_u64()
            .expect("position");
        let mut changes: Vec<EntityChange> = (0..5)
            .map(|k| EntityChange::Upsert {
                class: CLASS.into(),
                uuid: format!("u-{}", (n + k) % 23),
                data: payload(n * 100 + k),
                position,
            })
            .collect();
        changes.push(EntityChange::Delete {
            class: CLASS.into(),
            uuid: format!("u-{}", n % 19),
        });
        let moved = vec![CheckpointMove {
            name: PROJECTOR.into(),
            expected: self.checkpoint,
            position,
        }];
        match client.commit(moved, Some(position), changes) {
            Response::Committed { .. } => self.checkpoint = position,
            other => panic!("commit: {other:?}"),
        }
    }
}

fn status(daemon: &TestDaemon) -> serde_json::Value {
    daemon.client().status()
}

fn boot_source(daemon: &TestDaemon) -> (String, Option<String>, u64) {
    let report = status(daemon);
    let boot = &report["boot"];
    (
        boot["source"].as_str().expect("source").to_owned(),
        boot["snapshot"].as_str().map(str::to_owned),
        boot["records_replayed"].as_u64().expect("records_replayed"),
    )
}

fn dump(daemon: &TestDaemon) -> StateDump {
    state_dump::dump_file(&daemon.region).expect("the region dumps")
}

/// `eventsrv snapshot`; the path it printed.
fn force_snapshot(daemon: &TestDaemon) -> PathBuf {
    let socket = daemon.socket.to_str().expect("utf-8");
    let (status, stdout, stderr) = daemon.cli(&["snapshot", "--socket", socket]);
    assert!(status.success(), "eventsrv snapshot: {stdout}{stderr}");
    let path = stdout
        .strip_prefix("snapshot ")
        .and_then(|rest| rest.split(": position").next())
        .expect("eventsrv snapshot prints the path");
    let path = PathBuf::from(path);
    assert!(path.is_file(), "{} exists", path.display());
    path
}

/// The state a full replay of `daemon`'s log builds, in a separate daemon on a copy of the log.
fn full_replay_of(daemon: &TestDaemon) -> StateDump {
    let mut other = TestDaemon::new();
    let log = other.log_dir();
    std::fs::create_dir_all(&log).expect("log dir");
    for (path, bytes) in daemon.log_bytes() {
        std::fs::write(log.join(path.file_name().expect("name")), bytes).expect("copy segment");
    }
    other.start();
    assert_eq!(boot_source(&other).0, "full log replay");
    let replayed = dump(&other);
    other.kill();
    replayed
}

fn assert_same_state(booted: &StateDump, replayed: &StateDump) {
    if let Some(difference) = first_difference(booted, replayed) {
        panic!("the booted state differs from a full replay: {difference}");
    }
    assert_eq!(booted, replayed);
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).expect("read");
    bytes[at] ^= 0x20;
    std::fs::write(path, bytes).expect("write");
}

fn verify(daemon: &TestDaemon) -> (bool, String) {
    let data_dir = daemon.data_dir.to_str().expect("utf-8");
    let (status, stdout, stderr) = daemon.cli(&["verify", "--data-dir", data_dir]);
    (status.success(), format!("{stdout}{stderr}"))
}

#[test]
fn a_clean_stop_writes_a_snapshot_that_covers_everything() {
    let mut daemon = TestDaemon::start_new();
    Workload::new().run(&mut daemon.client(), 60);
    assert!(daemon.snapshot_files().is_empty(), "no snapshot is due yet");
    daemon.stop_clean();
    let files = daemon.snapshot_files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("snapshot-00000000000000000060.snap"));
    assert!(
        daemon.stderr().contains("snapshot written"),
        "{}",
        daemon.stderr()
    );
    let (ok, report) = verify(&daemon);
    assert!(ok, "{report}");
    assert!(report.contains("position 60"), "{report}");
}

#[test]
fn without_the_region_file_the_daemon_boots_from_the_snapshot_plus_the_log_tail() {
    let mut daemon = TestDaemon::start_new();
    let mut workload = Workload::new();
    workload.run(&mut daemon.client(), 150);
    let snapshot = force_snapshot(&daemon);
    assert!(snapshot.ends_with("snapshot-00000000000000000150.snap"));
    workload.run(&mut daemon.client(), 45);
    daemon.kill(); // no snapshot at stop: the tail must come from the log
    std::fs::remove_file(&daemon.region).expect("remove the region file");

    daemon.start();
    let (source, from, replayed) = boot_source(&daemon);
    assert_eq!(source, "snapshot");
    assert_eq!(from.as_deref(), snapshot.to_str());
    // 45 events and 4 commits (n = 160, 170, 180, 190) after the snapshot.
    assert_eq!(replayed, 49);
    let booted = dump(&daemon);
    assert_eq!(booted.committed_position, 195);
    assert_same_state(&booted, &full_replay_of(&daemon));

    // It keeps going from there like any other boot.
    workload.run(&mut daemon.client(), 20);
    let after = dump(&daemon);
    assert_same_state(&after, &full_replay_of(&daemon));
    let (_, text, _) = daemon.cli(&["status", "--socket", daemon.socket.to_str().expect("utf-8")]);
    assert!(text.contains("boot:         from snapshot"), "{text}");
}

#[test]
fn a_corrupt_newest_snapshot_is_skipped_with_its_reason_and_the_previous_one_is_used() {
    let mut daemon = TestDaemon::start_new();
    let mut workload = Workload::new();
    workload.run(&mut daemon.client(), 40);
    let older = force_snapshot(&daemon);
    workload.run(&mut daemon.client(), 40);
    let newer = force_snapshot(&daemon);
    workload.run(&mut daemon.client(), 5);
    daemon.kill();
    let length = std::fs::metadata(&newer).expect("stat").len() as usize;
    flip_byte(&newer, length / 2);
    std::fs::remove_file(&daemon.region).expect("remove the region file");

    daemon.start();
    let stderr = daemon.stderr();
    assert!(
        stderr.contains(&format!("snapshot {} skipped", newer.display()))
            && stderr.contains("checksum mismatch"),
        "stderr names the skipped snapshot and why:\n{stderr}"
    );
    let report = status(&daemon);
    assert_eq!(report["boot"]["source"], "snapshot");
    assert_eq!(report["boot"]["snapshot"], older.to_str().expect("utf-8"));
    let skipped = report["boot"]["skipped"].as_array().expect("skipped list");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        report["boot"]["records_replayed"], 49,
        "40 events + 4 commits + 5 events after the older snapshot"
    );
    assert_same_state(&dump(&daemon), &full_replay_of(&daemon));
}

/// Events of `{"s": <bytes_each bytes>}` until the region holds more than `region_bytes`.
fn append_large_events(client: &mut Client, region_bytes: u64, bytes_each: usize) {
    let mut n = 0;
    while client.status()["region"]["used_bytes"]
        .as_u64()
        .expect("used")
        <= region_bytes
    {
        let mut event = new_event("Large", n);
        let mut encoder = eventsrv_format::vtree::Encoder::new();
        encoder.begin_map(1);
        encoder.string(b"s");
        encoder.string(&vec![b'a' + (n % 26) as u8; bytes_each]);
        event.payload = encoder.into_bytes();
        match client.append(&format!("big-{}", n % 3), u64::MAX, vec![event]) {
            Response::Appended { .. } => n += 1,
            other => panic!("append: {other:?}"),
        }
    }
}

#[test]
fn a_snapshot_of_several_load_pieces_boots_and_a_flip_in_a_later_piece_is_found() {
    // Over 16 MiB (the piece the boot loaders claim): several pieces, loaded by up to one thread
    // per core.
    let mut daemon = TestDaemon::start_new();
    append_large_events(&mut daemon.client(), 40 << 20, 256 << 10);
    Workload::new().run(&mut daemon.client(), 30);
    let snapshot = force_snapshot(&daemon);
    daemon.kill();
    std::fs::remove_file(&daemon.region).expect("remove the region file");

    daemon.start();
    assert_eq!(boot_source(&daemon).0, "snapshot");
    let replayed = full_replay_of(&daemon);
    assert_same_state(&dump(&daemon), &replayed);
    daemon.kill();
    std::fs::remove_file(&daemon.region).expect("remove the region file");

    // A flipped byte in the third piece: the snapshot is skipped, the log rebuilds the state.
    flip_byte(&snapshot, 128 + (2 << 24) + 12345);
    daemon.start();
    let report = status(&daemon);
    assert_eq!(report["boot"]["source"], "full log replay");
    let skipped = report["boot"]["skipped"].as_array().expect("skipped list");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let why = skipped[0].as_str().expect("a reason");
    assert!(why.contains("body checksum mismatch"), "{why}");
    assert_same_state(&dump(&daemon), &replayed);
}

#[test]
fn a_surviving_region_is_adopted_after_sigterm_and_after_kill_9() {
    let mut daemon = TestDaemon::start_new();
    let mut workload = Workload::new();
    workload.run(&mut daemon.client(), 70);
    let identity = |daemon: &TestDaemon| {
        let mapped = MappedRegion::open(&daemon.region).expect("map");
        (mapped.inode, mapped.generation)
    };
    let before = identity(&daemon);
    let state_before = dump(&daemon);

    daemon.restart();
    let (source, _, replayed) = boot_source(&daemon);
    assert_eq!(source, "surviving region");
    assert_eq!(replayed, 0);
    assert_eq!(
        identity(&daemon),
        before,
        "the same file and generation: mapped readers keep reading"
    );
    let header = MappedRegion::open(&daemon.region)
        .expect("map")
        .view()
        .header();
    assert_eq!(
        header.daemon_pid,
        daemon.pid(),
        "the new daemon claimed the region"
    );
    assert_same_state(&dump(&daemon), &state_before);

    workload.run(&mut daemon.client(), 33);
    daemon.kill();
    daemon.start();
    let (source, _, replayed) = boot_source(&daemon);
    assert_eq!(source, "surviving region");
    assert_eq!(replayed, 0);
    assert_eq!(identity(&daemon), before);
    let booted = dump(&daemon);
    assert_eq!(booted.committed_position, 103);
    assert_same_state(&booted, &full_replay_of(&daemon));
    workload.run(&mut daemon.client(), 7);
    assert_same_state(&dump(&daemon), &full_replay_of(&daemon));
}

#[test]
fn an_older_region_gets_only_the_log_tail_and_a_region_ahead_of_the_log_is_refused() {
    let mut daemon = TestDaemon::start_new();
    let mut workload = Workload::new();
    workload.run(&mut daemon.client(), 50);
    // Idle between batches: this copy is a consistent region at 50 events.
    let old_region = std::fs::read(&daemon.region).expect("copy the region");
    workload.run(&mut daemon.client(), 30);
    daemon.kill();

    // Older than the log: its location is a record boundary of the log, so only the tail is
    // replayed into it.
    std::fs::write(&daemon.region, &old_region).expect("put the old region back");
    daemon.start();
    let (source, _, replayed) = boot_source(&daemon);
    assert_eq!(source, "surviving region");
    assert_eq!(replayed, 33, "30 events and 3 commits after the copy");
    assert_same_state(&dump(&daemon), &full_replay_of(&daemon));

    // Ahead of the log: the region (and every snapshot) holds records the log no longer has.
    daemon.stop_clean();
    let short_log = daemon.log_bytes();
    daemon.start();
    workload.run(&mut daemon.client(), 25);
    daemon.stop_clean();
    for (path, bytes) in &short_log {
        std::fs::write(path, bytes).expect("restore the shorter log");
    }
    daemon.start();
    let stderr = daemon.stderr();
    assert!(
        stderr.contains("REFUSING a state that is ahead of the log"),
        "{stderr}"
    );
    // The region and the snapshot of 105 are refused; the snapshot the first clean stop wrote
    // (at 80, when the log ended there) matches this log and is used.
    let report = status(&daemon);
    assert_eq!(report["boot"]["source"], "snapshot", "{report}");
    assert!(
        report["boot"]["snapshot"]
            .as_str()
            .expect("snapshot")
            .ends_with("snapshot-00000000000000000080.snap"),
        "{report}"
    );
    assert_eq!(report["boot"]["records_replayed"], 0);
    assert_eq!(report["committed_position"], 80);
    let skipped: Vec<&str> = report["boot"]["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| s.as_str().expect("text"))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[0].starts_with("surviving region"), "{skipped:?}");
    assert!(
        skipped[1].contains("snapshot-00000000000000000105.snap skipped"),
        "{skipped:?}"
    );
    assert_same_state(&dump(&daemon), &full_replay_of(&daemon));
}

#[test]
fn verify_finds_a_flipped_byte_in_a_segment_and_a_corrupt_snapshot() {
    let mut daemon = TestDaemon::start_new();
    Workload::new().run(&mut daemon.client(), 30);
    daemon.stop_clean();
    let (ok, report) = verify(&daemon);
    assert!(ok, "{report}");
    assert!(report.contains("result:     ok"), "{report}");

    let segment = daemon.segment_path(1);
    let pristine = daemon.segment_records(1);
    flip_byte(&segment, pristine.len() / 2);
    let (ok, report) = verify(&daemon);
    assert!(!ok, "a flipped segment byte is a problem:\n{report}");
    assert!(report.contains("00000000000000000001.seg"), "{report}");
    assert!(report.contains("corrupt at byte"), "{report}");
    std::fs::write(&segment, &pristine).expect("repair the segment");

    let snapshot = daemon.snapshot_files().pop().expect("a snapshot");
    let length = std::fs::metadata(&snapshot).expect("stat").len() as usize;
    flip_byte(&snapshot, length - 100);
    let (ok, report) = verify(&daemon);
    assert!(!ok, "a corrupt snapshot is a problem:\n{report}");
    assert!(
        report.contains(snapshot.to_str().expect("utf-8")),
        "{report}"
    );
    assert!(report.contains("checksum mismatch"), "{report}");
}

#[test]
fn snapshots_rotate_keeping_k_and_are_taken_every_n_events_and_every_t_seconds() {
    let mut daemon = TestDaemon::new();
    daemon.extra_args = vec![
        "--snapshots-keep".into(),
        "2".into(),
        "--snapshot-every-events".into(),
        "25".into(),
        "--snapshot-every-seconds".into(),
        "1".into(),
    ];
    daemon.start();
    let mut client = daemon.client();
    let mut workload = Workload::new();
    for _ in 0..4 {
        workload.run(&mut client, 30);
        force_snapshot(&daemon);
    }
    let files = daemon.snapshot_files();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[1].ends_with("snapshot-00000000000000000120.snap"),
        "{files:?}"
    );

    // Every 25 events, without being asked.
    workload.run(&mut client, 26);
    wait_for(&daemon, |files| {
        files
            .iter()
            .any(|f| f.ends_with("snapshot-00000000000000000146.snap"))
    });
    // One event, then the timer: within a second or so there is a snapshot of it. The writer
    // renames the new file into place before it prunes the oldest, so wait for both.
    workload.run(&mut client, 1);
    wait_for(&daemon, |files| {
        files.len() == 2
            && files
                .iter()
                .any(|f| f.ends_with("snapshot-00000000000000000147.snap"))
    });
    assert_eq!(daemon.snapshot_files().len(), 2);
    let report = status(&daemon);
    assert!(
        report["snapshots"]["written"].as_u64().expect("written") >= 6,
        "{report}"
    );
}

/// Wait (bounded) until the snapshot files satisfy `done`.
fn wait_for(daemon: &TestDaemon, done: impl Fn(&[PathBuf]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let files = daemon.snapshot_files();
        if done(&files) {
            return;
        }
        assert!(Instant::now() < deadline, "snapshots {files:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_surviving_region_boot_does_not_read_sealed_segments_before_its_location() {
    let mut daemon = TestDaemon::new();
    daemon.extra_args = vec!["--segment-bytes".into(), "4096".into()];
    daemon.start();
    let mut workload = Workload::new();
    workload.run(&mut daemon.client(), 120);
    daemon.kill();
    let segments = daemon.log_bytes().len();
    assert!(segments >= 4, "small segments roll: {segments}");
    let state_before = dump(&daemon);

    // A flipped byte in the middle of sealed segment 1, which a full scan refuses.
    let segment = daemon.segment_path(1);
    let pristine = daemon.segment_records(1);
    flip_byte(&segment, pristine.len() / 2);

    // The surviving region's location is in a later segment: segment 1 is not read at boot.
    daemon.start();
    let (source, _, replayed) = boot_source(&daemon);
    assert_eq!(source, "surviving region");
    assert_eq!(replayed, 0);
    assert_same_state(&dump(&daemon), &state_before);
    // Streams written before the base continue at the versions the region holds.
    workload.run(&mut daemon.client(), 40);
    let state_after = dump(&daemon);
    daemon.kill();

    // `eventsrv verify` still reads every segment and reports the damage.
    let (ok, report) = verify(&daemon);
    assert!(!ok, "a flipped segment byte is a problem:\n{report}");
    assert!(report.contains("00000000000000000001.seg"), "{report}");
    assert!(report.contains("corrupt at byte"), "{report}");

    // Without a base the whole log is verified, and the damage refuses the start.
    std::fs::remove_file(&daemon.region).expect("remove the region");
    let _ = std::fs::remove_dir_all(daemon.snapshots_dir());
    let failure = daemon
        .try_start()
        .expect_err("a full replay refuses a corrupt segment");
    assert!(
        failure.stderr.contains("00000000000000000001.seg"),
        "names the segment:\n{}",
        failure.stderr
    );
    assert!(failure.stderr.contains("log corrupt"), "{}", failure.stderr);

    // Repaired, a full replay builds the state the surviving-region boot and its appends built.
    std::fs::write(&segment, &pristine).expect("repair the segment");
    daemon.start();
    assert_eq!(boot_source(&daemon).0, "full log replay");
    assert_same_state(&dump(&daemon), &state_after);
    daemon.kill();
}
