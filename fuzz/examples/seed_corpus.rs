//! Writes the seed corpus under `fuzz/corpus/<target>/` from the real encoders, so the fuzzers
//! start from valid inputs of every kind: `cargo run --release --example seed_corpus` (from `fuzz/`).
//! The files are committed; rerun this after a format change.

use eventsrv_format::log_record::{
    encode_record, CommitRecord, EventRecord, LogRecord, SegmentHeader,
};
use eventsrv_format::protocol::{
    encode_frame, CheckpointMove, ClientKind, EntityChange, ErrorCode, NewEvent, Request, Response,
};
use eventsrv_format::region::RegionWriter;
use eventsrv_format::vtree::Encoder;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let vtrees = vtrees();
    write_all(&root.join("vtree"), &vtrees);
    write_all(&root.join("log_record"), &log_records(&vtrees));
    write_all(&root.join("protocol_frame"), &frames(&vtrees));
    write_all(&root.join("region_reader"), &regions(&vtrees));
}

fn write_all(dir: &Path, inputs: &[Vec<u8>]) {
    std::fs::create_dir_all(dir).expect("corpus dir");
    for (index, input) in inputs.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{index:03}")), input).expect("write seed");
    }
    println!("{}: {} seeds", dir.display(), inputs.len());
}

/// One of every tag, nested a little.
fn vtrees() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut e = Encoder::new();
    e.null();
    out.push(e.into_bytes());
    let mut e = Encoder::new();
    e.begin_map(2);
    e.string(b"amount");
    e.int(-42);
    e.int(7);
    e.float(1.5);
    out.push(e.into_bytes());
    let mut e = Encoder::new();
    e.begin_list(4);
    e.bool(true);
    e.bool(false);
    e.string(b"\xff\xfe not utf-8");
    e.begin_list(0);
    out.push(e.into_bytes());
    let mut e = Encoder::new();
    e.begin_object(b"App\\Money", 2);
    e.prop_name(b"amount");
    e.int(1000);
    e.prop_name(b"currency");
    e.begin_enum(b"App\\Currency");
    e.string(b"EUR");
    out.push(e.into_bytes());
    let mut e = Encoder::new();
    e.datetime(b"DateTimeImmutable", b"2026-11-23T08:00:00.000000+00:00");
    out.push(e.into_bytes());
    let mut e = Encoder::new();
    for _ in 0..10 {
        e.begin_list(1);
    }
    e.null();
    out.push(e.into_bytes());
    out
}

fn event_record(stream: &str, version: u64, payload: &[u8], metadata: &[u8]) -> EventRecord {
    EventRecord {
        stream: stream.into(),
        stream_version: version,
        event_id: [version as u8; 16],
        event_type: "App\\Deposited".into(),
        recorded_at_us: 1_700_000_000_000_000,
        metadata: metadata.to_vec(),
        payload: payload.to_vec(),
    }
}

fn upsert(uuid: &str, data: &[u8], position: u64) -> EntityChange {
    EntityChange::Upsert {
        class: "App\\Account".into(),
        uuid: uuid.into(),
        data: data.to_vec(),
        position,
    }
}

/// Mode 0: whole frames (and a segment header); mode 1: record bodies (the target frames them).
fn log_records(vtrees: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let records = vec![
        LogRecord::Event {
            position: 1,
            event: event_record("acc-1", 1, &vtrees[1], &vtrees[0]),
        },
        LogRecord::Event {
            position: 2,
            event: event_record("acc-2", 1, &vtrees[3], &vtrees[1]),
        },
        LogRecord::Commit {
            position: 2,
            commit: CommitRecord {
                checkpoints: vec![("App\\AccountProjector".into(), 2)],
                projected_position: Some(2),
                changes: vec![
                    upsert("acc-1", &vtrees[1], 1),
                    EntityChange::Delete {
                        class: "App\\Account".into(),
                        uuid: "acc-2".into(),
                    },
                    EntityChange::ResetClass {
                        class: "App\\Other".into(),
                    },
                ],
            },
        },
    ];
    let mut out = Vec::new();
    let mut header = vec![0u8];
    header.extend_from_slice(
        &SegmentHeader {
            segment_index: 1,
            position_before: 0,
        }
        .encode(),
    );
    out.push(header);
    for record in &records {
        let mut frame = Vec::new();
        encode_record(record, &mut frame);
        let mut whole = vec![0u8];
        whole.extend_from_slice(&frame);
        out.push(whole);
        let mut body = vec![1u8];
        body.extend_from_slice(&frame[8..]);
        out.push(body);
    }
    out
}

fn frames(vtrees: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let new_event = NewEvent {
        event_id: [7; 16],
        event_type: "App\\Deposited".into(),
        metadata: vtrees[0].clone(),
        payload: vtrees[1].clone(),
    };
    let requests = [
        Request::Hello {
            client: ClientKind::Worker,
            pid: 42,
            version: "0.1.0".into(),
        },
        Request::Append {
            stream: "acc-1".into(),
            expected_version: 3,
            events: vec![new_event.clone(), new_event],
        },
        Request::Commit {
            checkpoints: vec![CheckpointMove {
                name: "App\\AccountProjector".into(),
                expected: 1,
                position: 2,
            }],
            projected_position: Some(2),
            changes: vec![upsert("acc-1", &vtrees[1], 2)],
        },
        Request::AttachWorker,
        Request::Status,
        Request::Ping,
    ];
    let responses = [
        Response::Appended {
            first_position: 1,
            last_position: 2,
            stream_version: 2,
        },
        Response::Conflict {
            stream: "acc-1".into(),
            expected_version: 0,
            actual_version: 2,
        },
        Response::Error {
            code: ErrorCode::Storage,
            message: "disk full".into(),
        },
        Response::Pong,
    ];
    let mut out: Vec<Vec<u8>> = requests
        .iter()
        .map(|r| encode_frame(r).expect("frame"))
        .collect();
    out.extend(responses.iter().map(|r| encode_frame(r).expect("frame")));
    out.push(u32::MAX.to_le_bytes().to_vec());
    out
}

/// Real regions: the bytes up to the arena tail of a region the writer filled.
fn regions(vtrees: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let dir = std::env::temp_dir().join(format!("eventsrv-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("seed.region");
    let mut writer = RegionWriter::create(&path, 1 << 20, 1).expect("region");
    let mut position = 0;
    for (stream, events) in [("acc-1", 3u64), ("acc-2", 2), ("acc-3", 1)] {
        for version in 1..=events {
            position += 1;
            writer
                .append_event(
                    position,
                    &event_record(stream, version, &vtrees[1], &vtrees[0]),
                )
                .expect("append");
        }
    }
    writer.publish_committed(position);
    for (index, uuid) in ["acc-1", "acc-2", "acc-3"].iter().enumerate() {
        writer
            .apply_change(&upsert(uuid, &vtrees[index % vtrees.len()], position))
            .expect("upsert");
    }
    writer
        .apply_change(&EntityChange::Delete {
            class: "App\\Account".into(),
            uuid: "acc-2".into(),
        })
        .expect("delete");
    writer
        .set_checkpoint("App\\AccountProjector", position)
        .expect("checkpoint");
    writer.publish_projected(position);
    writer.publish().expect("publish");
    drop(writer);
    let bytes = std::fs::read(&path).expect("read region");
    let _ = std::fs::remove_dir_all(&dir);
    let tail = u64::from_le_bytes(bytes[40..48].try_into().expect("8 bytes")) as usize;
    let used = &bytes[..tail.next_multiple_of(8).min(bytes.len())];
    let mut fixed_header = vec![1u8];
    fixed_header.extend_from_slice(used);
    let mut as_is = vec![0u8];
    as_is.extend_from_slice(used);
    as_is[1 + 16..1 + 24].copy_from_slice(&(used.len() as u64).to_le_bytes());
    vec![fixed_header, as_is]
}
