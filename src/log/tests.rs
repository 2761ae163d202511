//! Crash and corruption paths of the log: torn tails at every byte, flipped bits, gaps, rolls.

use super::segment::{log_dir, segment_path};
use super::*;
use eventsrv_format::limits::DISK_SECTOR_BYTES;
use eventsrv_format::log_record::{
    encode_record, CommitRecord, EventRecord, LogRecord, SEGMENT_HEADER_BYTES,
};
use eventsrv_format::region::LastRecord;
use eventsrv_format::vtree;
use std::path::Path;

fn event(position: u64, stream: &str, version: u64) -> LogRecord {
    let mut payload = vtree::Encoder::new();
    payload.begin_map(1);
    payload.string(b"amount");
    payload.int(position as i64 * 10);
    let mut metadata = vtree::Encoder::new();
    metadata.begin_map(0);
    LogRecord::Event {
        position,
        event: EventRecord {
            stream: stream.into(),
            stream_version: version,
            event_id: [position as u8; 16],
            event_type: "App\\Deposited".into(),
            recorded_at_us: 1_700_000_000_000_000,
            metadata: metadata.into_bytes(),
            payload: payload.into_bytes(),
        },
    }
}

fn open_collect(
    data_dir: &Path,
    segment_bytes_max: u64,
) -> Result<(Log, RecoverySummary, Vec<LogRecord>), LogError> {
    let mut seen = Vec::new();
    let (log, summary) = open(data_dir, segment_bytes_max, &mut |r: &LogRecord| {
        seen.push(r.clone());
        Ok(())
    })?;
    Ok((log, summary, seen))
}

/// The applied versions for a log whose order check knows every stream: never asked.
fn knows_every_stream(stream: &str) -> u64 {
    panic!("the order check asked the applied state for stream {stream:?}")
}

/// A log with three events in one segment, cut to its records (as a log written before the
/// zero-filled tail, or after a torn tail was cut, is): the tests that damage records read and
/// rewrite the file whole. Returns the byte offset where each record starts, and the end.
fn three_events(data_dir: &Path) -> Vec<u64> {
    let starts = three_events_zero_filled(data_dir);
    cut_to(&segment_one(data_dir), starts[3]);
    starts
}

/// [`three_events`] as the daemon leaves them: followed by the zero-filled tail.
fn three_events_zero_filled(data_dir: &Path) -> Vec<u64> {
    let (mut log, _, _) = open_collect(data_dir, u64::MAX / 2).expect("fresh log");
    let mut starts = Vec::new();
    for (position, version) in [(1, 1), (2, 2), (3, 1)] {
        starts.push(log.stats().bytes);
        let stream = if position == 3 { "b" } else { "a" };
        log.append(&[event(position, stream, version)], &knows_every_stream)
            .expect("append");
    }
    starts.push(log.stats().bytes);
    starts
}

/// A payload of `len` bytes "x": no zero byte at its end.
fn string_payload(len: usize) -> Vec<u8> {
    let mut payload = vtree::Encoder::new();
    payload.string(&vec![b'x'; len]);
    payload.into_bytes()
}

/// [`three_events_zero_filled`], then a fourth event (stream "b", version 2) whose payload is a
/// string of `payload_len` bytes "x". Returns where each of the first three records starts, the
/// fourth's start, and the end of the records.
fn four_events_the_last_a_string(data_dir: &Path, payload_len: usize) -> (Vec<u64>, usize) {
    let starts = three_events_zero_filled(data_dir);
    let (mut log, _, _) = open_collect(data_dir, u64::MAX / 2).expect("reopen");
    let mut last = event(4, "b", 2);
    if let LogRecord::Event { event, .. } = &mut last {
        event.payload = string_payload(payload_len);
    }
    log.append(&[last], &knows_every_stream).expect("append");
    (starts, log.stats().bytes as usize)
}

fn cut_to(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| file.set_len(len))
        .expect("cut the segment");
}

/// The segment's bytes up to `end`, checking that only zeros follow.
fn records_then_zeros(path: &Path, end: u64) -> Vec<u8> {
    let mut bytes = std::fs::read(path).expect("read segment");
    assert!(
        bytes.len() as u64 >= end,
        "{} bytes, records up to {end}",
        bytes.len()
    );
    assert!(
        bytes[end as usize..].iter().all(|b| *b == 0),
        "only zeros after the last record"
    );
    bytes.truncate(end as usize);
    bytes
}

fn segment_one(data_dir: &Path) -> std::path::PathBuf {
    segment_path(&log_dir(data_dir), 1)
}

#[test]
fn records_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_events(dir.path());
    let (log, summary, seen) = open_collect(dir.path(), u64::MAX / 2).expect("reopen");
    assert_eq!(seen.len(), 3);
    assert_eq!(summary.events, 3);
    assert_eq!(summary.torn_tail, None);
    assert_eq!(log.last_position(), 3);
    assert_eq!(seen[2], event(3, "b", 1));
}

#[test]
fn a_torn_tail_at_every_byte_of_the_last_record_is_cut() {
    let source = tempfile::tempdir().expect("tempdir");
    let starts = three_events(source.path());
    let original = std::fs::read(segment_one(source.path())).expect("read segment");
    let (last_start, end) = (starts[2] as usize, starts[3] as usize);
    assert_eq!(original.len(), end);
    for cut in last_start..end {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(log_dir(dir.path())).expect("log dir");
        std::fs::write(segment_one(dir.path()), &original[..cut]).expect("write torn copy");
        let (mut log, summary, seen) = open_collect(dir.path(), u64::MAX / 2)
            .unwrap_or_else(|e| panic!("cut at {cut} must recover: {e}"));
        assert_eq!(seen.len(), 2, "cut at {cut}");
        assert_eq!(
            summary.torn_tail.as_ref().map(|t| t.bytes_cut),
            (cut > last_start).then_some((cut - last_start) as u64)
        );
        assert_eq!(
            std::fs::metadata(segment_one(dir.path()))
                .expect("stat")
                .len(),
            last_start as u64
        );
        // The log goes on where it was cut.
        log.append(&[event(3, "b", 1)], &knows_every_stream)
            .expect("append after recovery");
        drop(log);
        assert_eq!(
            records_then_zeros(&segment_one(dir.path()), end as u64),
            original,
            "cut at {cut}"
        );
    }
}

#[test]
fn the_log_keeps_zeros_ahead_of_its_last_record_and_goes_on_over_them() {
    use eventsrv_format::limits::LOG_ZEROED_AHEAD_BYTES;
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events_zero_filled(dir.path());
    let segment = segment_one(dir.path());
    let file_len = || std::fs::metadata(&segment).expect("stat").len();
    assert_eq!(
        file_len(),
        starts[1] + LOG_ZEROED_AHEAD_BYTES,
        "zeros written once"
    );
    let records = records_then_zeros(&segment, starts[3]);
    // Reopened: the zeros are where the log ends, not a torn tail; nothing is cut.
    let (mut log, summary, seen) = open_collect(dir.path(), u64::MAX / 2).expect("reopen");
    assert_eq!((seen.len(), summary.torn_tail), (3, None));
    assert_eq!(summary.bytes, starts[3]);
    assert_eq!(file_len(), starts[1] + LOG_ZEROED_AHEAD_BYTES);
    // The next record goes right after the last one, over the zeros.
    log.append(&[event(4, "b", 2)], &knows_every_stream)
        .expect("append");
    let end = log.stats().bytes;
    drop(log);
    assert_eq!(
        records_then_zeros(&segment, end)[..starts[3] as usize],
        records[..]
    );
    let (_, _, seen) = open_collect(dir.path(), u64::MAX / 2).expect("reopen");
    assert_eq!(seen.len(), 4);
    // More zeros once fewer than half remain.
    let (mut log, _, _) = open_collect(dir.path(), u64::MAX / 2).expect("reopen");
    let big = |position, version| LogRecord::Event {
        position,
        event: EventRecord {
            payload: string_payload(300 * 1024),
            ..match event(position, "c", version) {
                LogRecord::Event { event, .. } => event,
                LogRecord::Commit { .. } => unreachable!(),
            }
        },
    };
    for (position, version) in [(5, 1), (6, 2), (7, 3), (8, 4)] {
        log.append(&[big(position, version)], &knows_every_stream)
            .expect("append");
        let left = file_len() - log.stats().bytes;
        assert!(
            left >= LOG_ZEROED_AHEAD_BYTES / 2,
            "{left} zero bytes ahead"
        );
    }
}

#[test]
fn a_torn_write_over_the_zero_filled_tail_is_cut_whichever_sector_did_not_land() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (starts, end) = four_events_the_last_a_string(dir.path(), 3000);
    let segment = segment_one(dir.path());
    let written = std::fs::read(&segment).expect("read");
    let (start, sector) = (starts[3] as usize, DISK_SECTOR_BYTES);
    // Each sector of the last write missing in turn (it reads as the zeros that were there).
    let first_sector_end = (start / sector + 1) * sector;
    let mut missing: Vec<std::ops::Range<usize>> = Vec::new();
    missing.push(start..first_sector_end);
    missing
        .extend(((start / sector + 1)..end.div_ceil(sector)).map(|s| s * sector..(s + 1) * sector));
    for lost in missing {
        let mut bytes = written.clone();
        bytes[lost.clone()].fill(0);
        std::fs::write(&segment, &bytes).expect("write");
        let (_, summary, seen) = open_collect(dir.path(), u64::MAX / 2)
            .unwrap_or_else(|e| panic!("sector {lost:?} lost: must recover: {e}"));
        assert_eq!(seen.len(), 3, "sector {lost:?}");
        let torn = summary.torn_tail.expect("cut");
        assert_eq!(torn.offset, starts[3], "sector {lost:?}");
        assert!(
            torn.why.contains("did not reach the disk whole"),
            "{}",
            torn.why
        );
        assert_eq!(std::fs::metadata(&segment).expect("stat").len(), starts[3]);
    }
}

#[test]
fn a_damaged_last_record_before_the_zero_filled_tail_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A last record whose bytes are not zero in any sector (its payload ends in "xxx").
    let (starts, end) = four_events_the_last_a_string(dir.path(), 60);
    let (start, sector) = (starts[3] as usize, DISK_SECTOR_BYTES);
    assert!(
        start % sector < sector - 8,
        "layout: the record's first sector holds its whole frame prefix"
    );
    let segment = segment_one(dir.path());
    let written = std::fs::read(&segment).expect("read");
    for byte in start..end {
        let mut bytes = written.clone();
        bytes[byte] ^= 0x10;
        std::fs::write(&segment, &bytes).expect("write");
        match open_collect(dir.path(), u64::MAX / 2) {
            Err(LogError::Corrupt { offset, .. }) => assert_eq!(offset, start as u64),
            Err(other) => panic!("flip at {byte}: expected corruption, got {other}"),
            Ok((_, summary, _)) => panic!("flip at {byte} was accepted: {summary:?}"),
        }
        assert_eq!(std::fs::read(&segment).expect("read"), bytes, "nothing cut");
    }
}

#[test]
fn a_damaged_record_followed_by_more_than_one_write_is_refused_even_with_a_zero_sector() {
    use eventsrv_format::limits::LOG_WRITE_BYTES_MAX;
    let dir = tempfile::tempdir().expect("tempdir");
    let (starts, end) = four_events_the_last_a_string(dir.path(), 3000);
    let segment = segment_one(dir.path());
    let mut bytes = std::fs::read(&segment).expect("read");
    bytes.truncate(end);
    // A whole sector inside the big record zeroed (as a lost sector reads), then more non-zero
    // bytes than one write holds: not the last write, so not torn.
    let sector = (starts[3] as usize / DISK_SECTOR_BYTES + 2) * DISK_SECTOR_BYTES;
    assert!(sector + DISK_SECTOR_BYTES < end, "layout");
    bytes[sector..sector + DISK_SECTOR_BYTES].fill(0);
    bytes.resize(starts[3] as usize + LOG_WRITE_BYTES_MAX + 1, 0xAB);
    std::fs::write(&segment, &bytes).expect("write");
    match open_collect(dir.path(), u64::MAX / 2) {
        Err(LogError::Corrupt { offset, .. }) => assert_eq!(offset, starts[3]),
        Err(other) => panic!("expected corruption, got {other}"),
        Ok((_, summary, _)) => panic!("accepted: {summary:?}"),
    }
}

#[test]
fn every_bit_flip_in_a_middle_record_is_refused_with_its_segment_and_offset() {
    let source = tempfile::tempdir().expect("tempdir");
    let starts = three_events(source.path());
    let original = std::fs::read(segment_one(source.path())).expect("read segment");
    let (middle_start, middle_end) = (starts[1] as usize, starts[2] as usize);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(log_dir(dir.path())).expect("log dir");
    for byte in middle_start..middle_end {
        for bit in 0..8 {
            let mut damaged = original.clone();
            damaged[byte] ^= 1 << bit;
            std::fs::write(segment_one(dir.path()), &damaged).expect("write damaged copy");
            match open_collect(dir.path(), u64::MAX / 2) {
                Err(LogError::Corrupt { path, offset, .. }) => {
                    assert_eq!(path, segment_one(dir.path()));
                    assert_eq!(offset, middle_start as u64, "flip at {byte}:{bit}");
                }
                Err(other) => panic!("flip at {byte}:{bit}: expected corruption, got {other}"),
                Ok(_) => panic!("flip at {byte}:{bit} was accepted"),
            }
            // Nothing was cut.
            assert_eq!(
                std::fs::read(segment_one(dir.path())).expect("read"),
                damaged
            );
        }
    }
}

#[test]
fn a_length_flip_that_makes_a_middle_record_look_torn_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    let mut bytes = std::fs::read(segment_one(dir.path())).expect("read");
    // Claim a body longer than the rest of the file: looks like an incomplete record.
    bytes[starts[1] as usize + 2] ^= 0x10;
    std::fs::write(segment_one(dir.path()), &bytes).expect("write");
    let error = open_collect(dir.path(), u64::MAX / 2)
        .err()
        .expect("refused");
    assert!(
        matches!(error, LogError::Corrupt { offset, .. } if offset == starts[1]),
        "{error}"
    );
    assert!(
        error.to_string().contains("00000000000000000001.seg"),
        "{error}"
    );
}

#[test]
fn a_longer_length_claim_on_the_last_record_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    let original = std::fs::read(segment_one(dir.path())).expect("read");
    // Every bit of the length that makes the claim longer (still within the record limit) and
    // so makes the complete last record look incomplete.
    for bit in 0..23 {
        let mut bytes = original.clone();
        let at = starts[2] as usize + bit / 8;
        if bytes[at] & (1 << (bit % 8)) != 0 {
            continue;
        }
        bytes[at] ^= 1 << (bit % 8);
        std::fs::write(segment_one(dir.path()), &bytes).expect("write");
        let error = open_collect(dir.path(), u64::MAX / 2)
            .err()
            .unwrap_or_else(|| panic!("length bit {bit}: the last record was cut, not refused"));
        assert!(
            matches!(error, LogError::Corrupt { offset, .. } if offset == starts[2]),
            "length bit {bit}: {error}"
        );
        assert_eq!(
            std::fs::read(segment_one(dir.path())).expect("read"),
            bytes,
            "length bit {bit}: nothing was cut"
        );
    }
}

#[test]
fn ordering_violations_are_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_events(dir.path());
    let mut bytes = std::fs::read(segment_one(dir.path())).expect("read");
    let header_end = bytes.len() as u64;
    // Stream "a" jumps from version 2 to 4.
    encode_record(&event(4, "a", 4), &mut bytes);
    std::fs::write(segment_one(dir.path()), &bytes).expect("write");
    match open_collect(dir.path(), u64::MAX / 2) {
        Err(LogError::Corrupt { offset, why, .. }) => {
            assert_eq!(offset, header_end);
            assert!(why.contains("version 4 does not follow version 2"), "{why}");
        }
        other => panic!("expected corruption, got {:?}", other.map(|(_, s, _)| s)),
    }
}

#[test]
fn commits_must_not_go_backwards() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_events(dir.path());
    let mut bytes = std::fs::read(segment_one(dir.path())).expect("read");
    encode_record(&commit_at(3), &mut bytes);
    encode_record(&commit_at(2), &mut bytes);
    std::fs::write(segment_one(dir.path()), &bytes).expect("write");
    assert!(matches!(
        open_collect(dir.path(), u64::MAX / 2),
        Err(LogError::Corrupt { .. })
    ));
}

#[test]
fn segments_roll_verify_and_a_gap_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segment_bytes_max = 300;
    let (mut log, _, _) = open_collect(dir.path(), segment_bytes_max).expect("fresh log");
    for position in 1..=12 {
        log.append(&[event(position, "s", position)], &knows_every_stream)
            .expect("append");
    }
    let segments = log.stats().segments;
    assert!(segments >= 3, "rolled into {segments} segments");
    drop(log);
    let (log, summary, seen) = open_collect(dir.path(), segment_bytes_max).expect("reopen");
    assert_eq!(
        (seen.len(), summary.segments, log.last_position()),
        (12, segments, 12)
    );
    drop(log);

    // A torn sealed segment is corruption, not a torn tail.
    let first = segment_one(dir.path());
    let sealed = std::fs::read(&first).expect("read");
    std::fs::write(&first, &sealed[..sealed.len() - 3]).expect("tear sealed segment");
    assert!(matches!(
        open_collect(dir.path(), segment_bytes_max),
        Err(LogError::Corrupt { .. })
    ));
    // Sealed segments were cut to their records when the log rolled: zeros after them are
    // corruption too (only the highest segment has a zero-filled tail).
    let mut at = SEGMENT_HEADER_BYTES;
    while at < sealed.len() {
        at += eventsrv_format::log_record::decode_record(&sealed[at..])
            .expect("segment 1 holds records up to its end, no zeros")
            .1;
    }
    let mut zero_tailed = sealed.clone();
    zero_tailed.extend_from_slice(&[0u8; 4096]);
    std::fs::write(&first, &zero_tailed).expect("zeros after a sealed segment");
    match open_collect(dir.path(), segment_bytes_max) {
        Err(LogError::Corrupt { why, .. }) => assert!(why.contains("4096 zero bytes"), "{why}"),
        other => panic!("expected corruption, got {:?}", other.map(|(_, s, _)| s)),
    }
    std::fs::write(&first, &sealed).expect("restore");

    std::fs::remove_file(segment_path(&log_dir(dir.path()), 2)).expect("remove segment 2");
    let error = open_collect(dir.path(), segment_bytes_max)
        .err()
        .expect("gap refused");
    assert!(
        matches!(error, LogError::MissingSegment { missing: 2, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains(&format!("segment 2 of {segments} is missing")),
        "{error}"
    );
}

#[test]
fn a_damaged_header_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    three_events(dir.path());
    let mut bytes = std::fs::read(segment_one(dir.path())).expect("read");
    bytes[SEGMENT_HEADER_BYTES - 10] ^= 1;
    std::fs::write(segment_one(dir.path()), &bytes).expect("write");
    assert!(matches!(
        open_collect(dir.path(), u64::MAX / 2),
        Err(LogError::Corrupt { offset: 0, .. })
    ));
}

#[test]
fn the_reader_never_truncates_and_follows_new_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    let bytes = std::fs::read(segment_one(dir.path())).expect("read");
    std::fs::write(segment_one(dir.path()), &bytes[..bytes.len() - 5]).expect("tear");
    let mut cursor = reader::LogCursor::open(dir.path()).expect("cursor");
    let mut seen = 0;
    cursor
        .poll(&mut |_| {
            seen += 1;
            true
        })
        .expect("poll");
    assert_eq!(seen, 2);
    assert_eq!(
        std::fs::metadata(segment_one(dir.path()))
            .expect("stat")
            .len(),
        starts[3] - 5
    );
    // The rest of the record arrives: the cursor picks it up.
    std::fs::write(segment_one(dir.path()), &bytes).expect("complete");
    cursor
        .poll(&mut |_| {
            seen += 1;
            true
        })
        .expect("poll");
    assert_eq!(seen, 3);
}

fn base_at(segment: u64, offset: u64, records: u64, last_position: u64) -> LogBase {
    LogBase {
        segment,
        offset,
        records,
        last_position,
        last_record: None,
    }
}

fn with_last(base: LogBase, offset: u64, commit_position: u64) -> LogBase {
    LogBase {
        last_record: Some(LastRecord {
            offset,
            commit_position,
        }),
        ..base
    }
}

fn commit_at(position: u64) -> LogRecord {
    LogRecord::Commit {
        position,
        commit: CommitRecord {
            checkpoints: vec![("p".into(), position)],
            projected_position: Some(position),
            changes: vec![],
        },
    }
}

#[test]
fn the_log_knows_where_its_last_record_starts_after_writes_reopens_and_rolls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    let (mut log, _, _) = open_collect(dir.path(), u64::MAX / 2).expect("reopen");
    let last = |offset, commit_position| {
        Some(LastRecord {
            offset,
            commit_position,
        })
    };
    assert_eq!(log.last_record(), last(starts[2], 0), "found by the scan");
    let mut commit_bytes = Vec::new();
    encode_record(&commit_at(4), &mut commit_bytes);
    let written = log
        .write(&[event(4, "a", 3), commit_at(4)], &knows_every_stream)
        .expect("write");
    log.sync().expect("sync");
    log.mark_durable(written);
    let commit_start = written.end_offset - commit_bytes.len() as u64;
    assert_eq!(Some(written.last_record), last(commit_start, 4));
    assert_eq!(log.last_record(), Some(written.last_record));
    drop(log);
    // Opened from a base at the log's end: the scan finds no record, the base's one stands.
    let (end_segment, end_offset) = (1, written.end_offset);
    let base = with_last(
        base_at(end_segment, end_offset, 5, 4),
        written.last_record.offset,
        4,
    );
    let (log, _) = open_from_base(dir.path(), u64::MAX / 2, &base, &|_| 0, &mut |_, _, _| {
        Ok(())
    })
    .expect("opens from the base");
    assert_eq!(log.last_record(), Some(written.last_record));
    drop(log);
    // A roll: the new segment holds no record until the next batch.
    let (mut log, _, _) = open_collect(dir.path(), 1).expect("reopen, tiny segments");
    let written = log
        .write(&[event(5, "a", 4)], &knows_every_stream)
        .expect("write after the roll");
    assert_eq!(written.segment, 2);
    assert_eq!(written.last_record.offset, SEGMENT_HEADER_BYTES as u64);
}

#[test]
fn a_base_that_recorded_its_last_record_opens_by_that_frame_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    // A flipped byte in the first record (covered, not the last): not read, so not noticed here
    // (`eventsrv verify` and a full replay find it); the walk would have refused the base.
    let segment = segment_one(dir.path());
    let mut bytes = std::fs::read(&segment).expect("segment");
    bytes[(starts[0] + starts[1]) as usize / 2] ^= 0x10;
    std::fs::write(&segment, &bytes).expect("flip");
    let base = base_at(1, starts[2], 2, 2);
    assert!(matches!(
        open_from_base(dir.path(), u64::MAX / 2, &base, &|_| 0, &mut |_, _, _| Ok(
            ()
        )),
        Err(BaseOpenError::Unverified(_))
    ));
    let mut seen = Vec::new();
    let (log, summary) = open_from_base(
        dir.path(),
        u64::MAX / 2,
        &with_last(base, starts[1], 0),
        &|stream| u64::from(stream == "a") * 2,
        &mut |record, _, end| {
            seen.push((record.clone(), end));
            Ok(())
        },
    )
    .expect("opens by the last record's frame");
    assert_eq!(seen.len(), 1, "only the record after the base");
    assert_eq!(seen[0].1, starts[3]);
    assert_eq!(summary.records, 3);
    assert_eq!(log.last_position(), 3);
}

#[test]
fn a_recorded_last_record_that_does_not_check_out_is_unverified_and_nothing_is_visited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    let base = base_at(1, starts[2], 2, 2);
    let mut cases = vec![
        ("not a record start", with_last(base, starts[1] + 1, 0)),
        ("two records, not one", with_last(base, starts[0], 0)),
        ("before the segment header", with_last(base, 10, 0)),
        ("at the location itself", with_last(base, starts[2], 0)),
        (
            "another last position",
            with_last(base_at(1, starts[2], 2, 1), starts[1], 0),
        ),
        (
            "a location beyond the end",
            with_last(base_at(1, starts[3] + 100, 4, 4), starts[3], 0),
        ),
    ];
    // A commit as the last record: its position must be the recorded one.
    let segment = segment_one(dir.path());
    let mut bytes = std::fs::read(&segment).expect("segment");
    encode_record(&commit_at(3), &mut bytes);
    std::fs::write(&segment, &bytes).expect("append a commit");
    let after_commit = bytes.len() as u64;
    cases.push((
        "a commit at another position",
        with_last(base_at(1, after_commit, 4, 3), starts[3], 2),
    ));
    for (what, base) in &cases {
        let mut visited = 0;
        let result = open_from_base(dir.path(), u64::MAX / 2, base, &|_| 0, &mut |_, _, _| {
            visited += 1;
            Ok(())
        });
        match result {
            Err(BaseOpenError::Unverified(why)) => assert!(!why.is_empty(), "{what}"),
            other => panic!("{what}: {base:?} opened: {:?}", other.err()),
        }
        assert_eq!(visited, 0, "{what}");
    }
    // The commit at the recorded position checks out.
    open_from_base(
        dir.path(),
        u64::MAX / 2,
        &with_last(base_at(1, after_commit, 4, 3), starts[3], 3),
        &|_| 0,
        &mut |_, _, _| Ok(()),
    )
    .expect("the commit checks out");
    // A flipped byte in the last record fails its CRC.
    let mut bytes = std::fs::read(&segment).expect("segment");
    bytes[(starts[1] + starts[2]) as usize / 2] ^= 0x10;
    std::fs::write(&segment, &bytes).expect("flip");
    let result = open_from_base(
        dir.path(),
        u64::MAX / 2,
        &with_last(base, starts[1], 0),
        &|_| 0,
        &mut |_, _, _| Ok(()),
    );
    assert!(matches!(result, Err(BaseOpenError::Unverified(why)) if why.contains("CRC32C")));
}

#[test]
fn opening_from_a_base_visits_only_the_tail_and_seeds_the_order_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    // The base holds the first two events (stream "a" at version 2).
    let base = base_at(1, starts[2], 2, 2);
    let mut seen = Vec::new();
    let (mut log, summary) = open_from_base(
        dir.path(),
        u64::MAX / 2,
        &base,
        &|stream| u64::from(stream == "a") * 2,
        &mut |record, segment, end| {
            seen.push((record.clone(), segment, end));
            Ok(())
        },
    )
    .expect("opens from the base");
    assert_eq!(seen.len(), 1, "only the record after the base");
    assert_eq!(seen[0].2, starts[3]);
    assert_eq!(summary.records, 3);
    assert_eq!(summary.events, 3);
    assert_eq!(log.last_position(), 3);
    // Stream "a" was last written before the base: its version comes from the applied state.
    log.append(&[event(4, "a", 3)], &|stream| u64::from(stream == "a") * 2)
        .expect("stream a continues from the base's version");
    // "b" was written after it: the check tracks it and does not ask the state.
    log.append(&[event(5, "b", 2)], &knows_every_stream)
        .expect("stream b continues from the tail's version");
}

#[test]
fn a_base_whose_location_does_not_check_out_is_unverified_and_nothing_is_visited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    let cases = [
        base_at(1, starts[2] + 1, 2, 2),   // not a record boundary
        base_at(1, starts[2], 2, 1),       // another last position
        base_at(2, 64, 3, 3),              // a segment the log does not have
        base_at(1, starts[3] + 100, 4, 4), // beyond the end: ahead of the log
    ];
    for base in cases {
        let mut visited = 0;
        let result = open_from_base(dir.path(), u64::MAX / 2, &base, &|_| 0, &mut |_, _, _| {
            visited += 1;
            Ok(())
        });
        assert!(
            matches!(result, Err(BaseOpenError::Unverified(_))),
            "{base:?}: {:?}",
            result.err()
        );
        assert_eq!(visited, 0, "{base:?}");
    }
    // A flipped byte inside the covered part fails the walk's CRC check.
    let segment = segment_one(dir.path());
    let mut bytes = std::fs::read(&segment).expect("segment");
    bytes[(starts[0] + starts[1]) as usize / 2] ^= 0x10;
    std::fs::write(&segment, &bytes).expect("flip");
    let result = open_from_base(
        dir.path(),
        u64::MAX / 2,
        &base_at(1, starts[2], 2, 2),
        &|_| 0,
        &mut |_, _, _| Ok(()),
    );
    assert!(matches!(result, Err(BaseOpenError::Unverified(_))));
}

#[test]
fn a_tail_record_that_breaks_a_stream_version_from_the_base_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let starts = three_events(dir.path());
    // The base claims stream "b" already had version 1, so the tail's "b" version 1 is wrong.
    let result = open_from_base(
        dir.path(),
        u64::MAX / 2,
        &base_at(1, starts[2], 2, 2),
        &|stream| if stream == "b" { 1 } else { 2 },
        &mut |_, _, _| Ok(()),
    );
    match result {
        Err(BaseOpenError::Log(LogError::Corrupt { offset, .. })) => assert_eq!(offset, starts[2]),
        other => panic!("expected corruption, got {:?}", other.err()),
    }
}

#[test]
fn past_its_bound_the_order_check_forgets_its_streams_and_asks_the_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut log, _, _) = open_collect(dir.path(), u64::MAX / 2).expect("fresh log");
    log.set_order_streams_max(2);
    for (position, stream) in [(1, "a"), (2, "b"), (3, "c")] {
        log.append(&[event(position, stream, 1)], &knows_every_stream)
            .expect("until it forgets, the check knows every stream");
    }
    assert_eq!(log.streams_tracked(), 3);
    // Over the bound: the next batch starts by forgetting them all.
    let before = |stream: &str| u64::from(["a", "b", "c"].contains(&stream));
    log.append(&[event(4, "a", 2)], &before)
        .expect("a continues from the version before the batch");
    assert_eq!(log.streams_tracked(), 1, "only a, since it forgot");
    // The check still holds: a version that does not follow the writer's is a writer bug.
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        log.append(&[event(5, "b", 2)], &|_| 7)
    }));
    assert!(refused.is_err(), "b version 2 after version 7 is refused");
}
