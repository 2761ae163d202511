//! Builders shared by the region integration tests: events, entity changes, small vtree rows.
#![allow(dead_code)]

use eventsrv_format::log_record::EventRecord;
use eventsrv_format::protocol::EntityChange;
use eventsrv_format::region::{RegionImage, RegionView, RegionWriter};
use eventsrv_format::vtree::{Decoder, Encoder, Node};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

pub const REGION_TEST_BYTES: u64 = 4 * 1024 * 1024;

/// A fresh directory and the region path inside it.
pub fn region_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.region");
    (dir, path)
}

pub fn event(stream: &str, stream_version: u64, value: i64) -> EventRecord {
    let mut payload = Encoder::new();
    payload.int(value);
    let mut metadata = Encoder::new();
    metadata.null();
    let mut event_id = [0u8; 16];
    event_id[..8].copy_from_slice(&value.to_le_bytes());
    EventRecord {
        stream: stream.to_string(),
        stream_version,
        event_id,
        event_type: format!("Happened{}", value % 3),
        recorded_at_us: 1_700_000_000_000_000 + value,
        metadata: metadata.into_bytes(),
        payload: payload.into_bytes(),
    }
}

pub fn upsert(class: &str, uuid: &str, data: Vec<u8>, position: u64) -> EntityChange {
    EntityChange::Upsert {
        class: class.to_string(),
        uuid: uuid.to_string(),
        data,
        position,
    }
}

pub fn delete(class: &str, uuid: &str) -> EntityChange {
    EntityChange::Delete {
        class: class.to_string(),
        uuid: uuid.to_string(),
    }
}

pub fn reset(class: &str) -> EntityChange {
    EntityChange::ResetClass {
        class: class.to_string(),
    }
}

/// vtree map {"a": a, "b": b}.
pub fn row_ab(a: i64, b: i64) -> Vec<u8> {
    let mut row = Encoder::new();
    row.begin_map(2);
    row.string(b"a");
    row.int(a);
    row.string(b"b");
    row.int(b);
    row.into_bytes()
}

/// Decode a row made by [`row_ab`].
pub fn decode_ab(bytes: &[u8]) -> (i64, i64) {
    let mut decoder = Decoder::new(bytes);
    assert_eq!(decoder.node().expect("map"), Node::Map(2));
    let mut values = [0i64; 2];
    for (index, name) in [b"a", b"b"].iter().enumerate() {
        assert_eq!(decoder.node().expect("key"), Node::Str(&name[..]));
        match decoder.node().expect("value") {
            Node::Int(value) => values[index] = value,
            other => panic!("expected an int, got {other:?}"),
        }
    }
    assert!(decoder.is_at_end());
    (values[0], values[1])
}

/// vtree int, as the row of the model tests.
pub fn row_int(value: i64) -> Vec<u8> {
    let mut row = Encoder::new();
    row.int(value);
    row.into_bytes()
}

pub fn uuids_in_order(view: &RegionView<'_>, class_index: u32) -> Vec<String> {
    view.entities(class_index)
        .expect("entities")
        .map(|entity| String::from_utf8(entity.expect("entity").uuid.to_vec()).expect("utf8 uuid"))
        .collect()
}

pub fn new_writer(path: &std::path::Path, region_bytes: u64, generation: u64) -> RegionWriter {
    RegionWriter::create(path, region_bytes, generation).expect("create region")
}

/// A new region file at `path` built from `image`, as a boot from a snapshot builds one.
pub fn region_from_image(
    path: &std::path::Path,
    region_bytes: u64,
    generation: u64,
    image: &RegionImage,
) -> RegionWriter {
    RegionWriter::create_from_image(
        path,
        region_bytes,
        generation,
        image.bytes.len() as u64,
        |dest| {
            dest.copy_from_slice(&image.bytes);
            Ok(())
        },
    )
    .expect("image loads")
}

/// Write `bytes` over the file at `offset` (damage, or an older release's bytes).
pub fn overwrite(path: &std::path::Path, offset: u64, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for write");
    file.seek(SeekFrom::Start(offset)).expect("seek");
    file.write_all(bytes).expect("write");
}
