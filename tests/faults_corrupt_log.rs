//! Damaged logs through the real daemon, beyond tests/daemon_recovery.rs (one flip, one tear,
//! one gap) and the log unit tests (every bit of a middle record, every tear, in-process):
//! - a bit flip in every field of a record, in the middle of the log (booting by a full replay:
//!   a boot from a surviving region or snapshot does not read the records it holds, only the
//!   frame of its last one) and in the last record (booting from the surviving region): the
//!   daemon refuses to start, names the segment and the record's offset, and changes nothing (a
//!   complete record is never cut, even when it is the last one);
//! - the last record torn at every byte offset (a stride in CI, every byte under
//!   `EVENTSRV_SOAK=1`): the daemon cuts it, starts, and keeps serving from the version before.

mod crash_support;
mod php_support;
mod support;

use eventsrv_format::log_record::{decode_record, LogRecord, SEGMENT_HEADER_BYTES};
use support::TestDaemon;

const EVENTS: i64 = 5;

fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = SEGMENT_HEADER_BYTES;
    while at < bytes.len() {
        let (_, len) = decode_record(&bytes[at..]).expect("intact record");
        starts.push(at);
        at += len;
    }
    starts.push(at);
    starts
}

/// (field, offset within the record, length) for the event record at the start of `bytes`.
fn event_fields(bytes: &[u8]) -> Vec<(&'static str, usize, usize)> {
    let (LogRecord::Event { event, .. }, _) = decode_record(bytes).expect("intact record") else {
        panic!("expected an event record");
    };
    // docs/formats.md#record-frame; bincode: u64 length before each string / byte vector.
    let mut fields = vec![
        ("body length", 0, 4),
        ("crc32c", 4, 4),
        ("kind", 8, 1),
        ("zero padding", 9, 7),
        ("position", 16, 8),
    ];
    let mut at = 24;
    let mut push = |name: &'static str, len: usize| {
        fields.push((name, at, len));
        at += len;
    };
    push("stream length", 8);
    push("stream", event.stream.len());
    push("stream version", 8);
    push("event id", 16);
    push("event type length", 8);
    push("event type", event.event_type.len());
    push("recorded at", 8);
    push("metadata length", 8);
    push("metadata", event.metadata.len());
    push("payload length", 8);
    push("payload", event.payload.len());
    assert_eq!(at, bytes.len().min(at), "fields cover the record");
    fields
}

/// Remove the region file and the snapshots, so the next start replays the whole log.
fn forget_the_state(daemon: &TestDaemon) {
    let _ = std::fs::remove_file(&daemon.region);
    let _ = std::fs::remove_dir_all(daemon.snapshots_dir());
}

#[test]
fn a_bit_flip_in_any_field_of_any_record_refuses_start_and_changes_nothing() {
    let mut daemon = TestDaemon::stopped_with_events("acc-1", EVENTS);
    let segment = daemon.segment_path(1);
    let original = daemon.segment_records(1);
    let starts = record_starts(&original);
    let mut refused = 0;
    let mut tried = 0;
    let mut cut_instead = Vec::new();
    for (which, record) in [("middle", 2usize), ("last", EVENTS as usize - 1)] {
        let start = starts[record];
        let end = starts[record + 1];
        for (field, offset, len) in event_fields(&original[start..end]) {
            // The lowest bit of the field's first byte and the highest of its last; every bit
            // of the length (a longer claim makes a complete record look torn).
            let flips: Vec<(usize, u8)> = if field == "body length" {
                (0..32)
                    .map(|bit| (offset + bit / 8, (bit % 8) as u8))
                    .collect()
            } else {
                vec![(offset, 0), (offset + len - 1, 7)]
            };
            for (byte, bit) in flips {
                tried += 1;
                let mut damaged = original.clone();
                damaged[start + byte] ^= 1 << bit;
                std::fs::write(&segment, &damaged).expect("damage the segment");
                if which == "middle" {
                    forget_the_state(&daemon);
                }
                match daemon.try_start() {
                    Err(failure) => {
                        refused += 1;
                        let context = format!("{which} record, {field}, byte {byte} bit {bit}");
                        assert!(
                            failure.stderr.contains("00000000000000000001.seg")
                                && failure.stderr.contains(&format!("byte offset {start}")),
                            "{context}: names the segment and offset {start}:\n{}",
                            failure.stderr
                        );
                        assert_eq!(
                            std::fs::read(&segment).expect("segment"),
                            damaged,
                            "{context}: nothing was cut"
                        );
                    }
                    Ok(()) => {
                        daemon.stop_clean();
                        cut_instead.push(format!("{which} record, {field}, byte {byte} bit {bit}"));
                    }
                }
            }
        }
    }
    std::fs::write(&segment, &original).expect("restore");
    eprintln!(
        "bit flips through the daemon: {tried} flips over every field of a middle and the last \
         record, {refused} refused with segment and offset, {} started anyway",
        cut_instead.len()
    );
    assert!(
        cut_instead.is_empty(),
        "a damaged complete record was accepted or cut instead of refused: {cut_instead:?}"
    );
    daemon.start();
    assert_eq!(daemon.client().status()["committed_position"], EVENTS);
}

#[test]
fn a_last_record_torn_at_any_byte_is_cut_and_the_stream_continues() {
    let mut daemon = TestDaemon::stopped_with_events("acc-1", EVENTS);
    let segment = daemon.segment_path(1);
    let original = daemon.segment_records(1);
    let starts = record_starts(&original);
    let (last, end) = (starts[EVENTS as usize - 1], starts[EVENTS as usize]);
    let stride = if crash_support::soak() { 1 } else { 9 };
    let mut cuts: Vec<usize> = (last..end).step_by(stride).collect();
    cuts.push(end - 1);
    cuts.dedup();
    for &cut in &cuts {
        std::fs::write(&segment, &original[..cut]).expect("tear the last record");
        daemon.start();
        let context = format!("torn at byte {cut} (record {last}..{end})");
        if cut > last {
            assert!(daemon.stderr().contains("torn tail"), "{context}");
        }
        let mut client = daemon.client();
        assert_eq!(
            client.status()["committed_position"],
            EVENTS - 1,
            "{context}"
        );
        assert_eq!(
            client.append_one("acc-1", EVENTS as u64 - 1, 99),
            EVENTS as u64,
            "{context}: the stream continues at the surviving version"
        );
        drop(client);
        daemon.stop_clean();
    }
    std::fs::write(&segment, &original).expect("restore");
    eprintln!(
        "torn last record through the daemon: {} tear offsets (every {stride}. byte of {} \
         bytes), each cut, started, and served the next version",
        cuts.len(),
        end - last
    );
}
