//! Log recovery through the real daemon: torn tails are cut, corruption and gaps are refused.

mod support;

use eventsrv_format::log_record::{decode_record, SEGMENT_HEADER_BYTES};
use support::TestDaemon;

/// Byte offsets where each record of a segment starts.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    while at < bytes.len() {
        let (_, len) = decode_record(&bytes[at..]).expect("intact record");
        starts.push(at);
        at += len;
    }
    starts
}

#[test]
fn a_torn_last_record_is_cut_and_the_daemon_starts() {
    let count = 10;
    let mut daemon = TestDaemon::stopped_with_events("acc-1", count);
    let segment = daemon.segment_path(1);
    let bytes = daemon.segment_records(1);
    let starts = record_starts(&bytes);
    assert_eq!(starts.len(), count as usize);
    let last = *starts.last().expect("records");
    let cut_at = last + (bytes.len() - last) / 2;
    std::fs::write(&segment, &bytes[..cut_at]).expect("tear the last record");

    daemon.start();
    let stderr = daemon.stderr();
    assert!(
        stderr.contains("torn tail"),
        "stderr mentions the cut:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("{} bytes", cut_at - last)),
        "stderr says how much was cut:\n{stderr}"
    );
    assert!(
        stderr.contains("00000000000000000001.seg"),
        "stderr names the segment:\n{stderr}"
    );
    assert_eq!(
        std::fs::metadata(&segment).expect("stat").len(),
        last as u64
    );
    let mut client = daemon.client();
    assert_eq!(client.status()["committed_position"], count - 1);
    // The stream continues at the version that survived.
    assert_eq!(
        client.append_one("acc-1", (count - 1) as u64, 99),
        count as u64
    );
    drop(client);
    daemon.stop_clean();
    assert_eq!(daemon.all_events().len(), count as usize);
}

#[test]
fn a_flipped_byte_in_an_earlier_record_is_named_by_verify_and_refuses_a_full_replay() {
    let mut daemon = TestDaemon::stopped_with_events("acc-1", 10);
    let segment = daemon.segment_path(1);
    let mut bytes = daemon.segment_records(1);
    let starts = record_starts(&bytes);
    let damaged_start = starts[3];
    bytes[(damaged_start + starts[4]) / 2] ^= 0x40;
    std::fs::write(&segment, &bytes).expect("flip a byte");

    // The surviving region already holds that record: a boot from it checks only the frame of
    // its last record, so the daemon starts with every event (docs/snapshots.md) ...
    daemon.start();
    assert_eq!(daemon.client().status()["committed_position"], 10);
    assert!(
        daemon.stderr().contains("surviving region"),
        "booted from the region:\n{}",
        daemon.stderr()
    );
    daemon.stop_clean();
    // ... and `eventsrv verify`, which reads every record, names the damage.
    let data_dir = daemon.data_dir.to_str().expect("utf-8").to_owned();
    let (status, stdout, stderr) = daemon.cli(&["verify", "--data-dir", &data_dir]);
    let report = format!("{stdout}{stderr}");
    assert!(!status.success(), "verify fails:\n{report}");
    assert!(
        report.contains("00000000000000000001.seg") && report.contains(&damaged_start.to_string()),
        "verify names segment and offset {damaged_start}:\n{report}"
    );

    // Without the region and the snapshots, a full replay reads the record: the start is refused.
    std::fs::remove_file(&daemon.region).expect("remove the region");
    std::fs::remove_dir_all(daemon.snapshots_dir()).expect("remove the snapshots");
    let failure = daemon
        .try_start()
        .expect_err("a corrupt log must not start");
    assert!(!failure.status.success());
    assert!(
        failure.stderr.contains("00000000000000000001.seg"),
        "names the segment:\n{}",
        failure.stderr
    );
    assert!(
        failure
            .stderr
            .contains(&format!("byte offset {damaged_start}")),
        "names the offset {damaged_start}:\n{}",
        failure.stderr
    );
    // Nothing was cut.
    assert_eq!(std::fs::read(&segment).expect("segment"), bytes);
}

#[test]
fn a_missing_middle_segment_refuses_start() {
    let mut daemon = TestDaemon::new();
    daemon.extra_args = vec!["--segment-bytes".into(), "4096".into()];
    daemon.start();
    let mut client = daemon.client();
    for n in 1..=150 {
        client.append_one("s", (n - 1) as u64, n);
    }
    drop(client);
    daemon.stop_clean();
    let segments = daemon.log_bytes().len();
    assert!(segments >= 3, "{segments} segments");
    std::fs::remove_file(daemon.segment_path(2)).expect("remove segment 2");

    let failure = daemon
        .try_start()
        .expect_err("a log with a gap must not start");
    assert!(!failure.status.success());
    assert!(
        failure
            .stderr
            .contains(&format!("segment 2 of {segments} is missing")),
        "names the gap:\n{}",
        failure.stderr
    );
}

#[test]
fn segments_roll_and_all_of_them_replay() {
    let mut daemon = TestDaemon::new();
    daemon.extra_args = vec!["--segment-bytes".into(), "4096".into()];
    daemon.start();
    let mut client = daemon.client();
    for n in 1..=120 {
        client.append_one("s", (n - 1) as u64, n);
    }
    drop(client);
    daemon.restart();
    assert!(daemon.log_bytes().len() >= 3);
    let mut client = daemon.client();
    assert_eq!(client.status()["committed_position"], 120);
    assert_eq!(client.append_one("s", 120, 121), 121);
    drop(client);
    daemon.stop_clean();
    let events = daemon.stream_events("s");
    let versions: Vec<u64> = events
        .iter()
        .map(|e| e["version"].as_u64().expect("version"))
        .collect();
    assert_eq!(versions, (1..=121).collect::<Vec<u64>>());
}
