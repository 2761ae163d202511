//! Log layout: segment headers and CRC32C-framed records (docs/formats.md#event-log).
//!
//! Owns: the byte layout of a segment header and of a record frame, and the record bodies.
//! Must never: do I/O (the daemon's `log` module reads and writes files), or accept a record
//! that does not verify.

use crate::limits::{RECORD_BYTES_MAX, STREAM_ID_BYTES_MAX, TYPE_NAME_BYTES_MAX};
use crate::protocol::EntityChange;
use crate::vtree;
use bincode::Options;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const SEGMENT_MAGIC: &[u8; 8] = b"EVSRVLOG";
pub const LOG_FORMAT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_BYTES: usize = 64;
/// length + crc
pub const FRAME_PREFIX_BYTES: usize = 8;
/// kind + padding + position
pub const BODY_PREFIX_BYTES: usize = 16;

pub const KIND_EVENT: u8 = 1;
pub const KIND_COMMIT: u8 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeader {
    pub segment_index: u64,
    /// Position of the last event written before this segment began.
    pub position_before: u64,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_BYTES] {
        let mut out = [0u8; SEGMENT_HEADER_BYTES];
        out[0..8].copy_from_slice(SEGMENT_MAGIC);
        out[8..12].copy_from_slice(&LOG_FORMAT_VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&(SEGMENT_HEADER_BYTES as u32).to_le_bytes());
        out[16..24].copy_from_slice(&self.segment_index.to_le_bytes());
        out[24..32].copy_from_slice(&self.position_before.to_le_bytes());
        let crc = crc32c::crc32c(&out[0..60]);
        out[60..64].copy_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, RecordError> {
        if bytes.len() < SEGMENT_HEADER_BYTES {
            return Err(RecordError::SegmentHeader("shorter than 64 bytes".into()));
        }
        if &bytes[0..8] != SEGMENT_MAGIC {
            return Err(RecordError::SegmentHeader(
                "bad magic (not an eventsrv log segment)".into(),
            ));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != LOG_FORMAT_VERSION {
            return Err(RecordError::SegmentHeader(format!(
                "log format version {version}, this build reads version {LOG_FORMAT_VERSION}"
            )));
        }
        let crc = u32::from_le_bytes(bytes[60..64].try_into().expect("4 bytes"));
        if crc != crc32c::crc32c(&bytes[0..60]) {
            return Err(RecordError::SegmentHeader(
                "header checksum mismatch".into(),
            ));
        }
        Ok(SegmentHeader {
            segment_index: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
            position_before: u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes")),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub stream: String,
    pub stream_version: u64,
    #[serde(with = "crate::id_bytes")]
    pub event_id: [u8; 16],
    pub event_type: String,
    pub recorded_at_us: i64,
    /// vtree. `serde_bytes`: bincode writes the same length + bytes as for a plain `Vec<u8>`,
    /// in one copy instead of one call per byte (a test pins the byte-identity).
    #[serde(with = "serde_bytes")]
    pub metadata: Vec<u8>,
    /// vtree
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitRecord {
    pub checkpoints: Vec<(String, u64)>,
    pub projected_position: Option<u64>,
    pub changes: Vec<EntityChange>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LogRecord {
    Event {
        position: u64,
        event: EventRecord,
    },
    /// `position`: the last event position this commit covers.
    Commit {
        position: u64,
        commit: CommitRecord,
    },
}

impl LogRecord {
    pub fn position(&self) -> u64 {
        match self {
            LogRecord::Event { position, .. } | LogRecord::Commit { position, .. } => *position,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    SegmentHeader(String),
    /// Fewer bytes remain than the frame needs: a torn tail when at the end of the last segment.
    Incomplete {
        needed: usize,
        available: usize,
    },
    /// The frame is complete but does not verify.
    Corrupt(String),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::SegmentHeader(why) => write!(f, "bad segment header: {why}"),
            RecordError::Incomplete { needed, available } => {
                write!(
                    f,
                    "incomplete record: needs {needed} bytes, {available} present"
                )
            }
            RecordError::Corrupt(why) => write!(f, "corrupt record: {why}"),
        }
    }
}

impl std::error::Error for RecordError {}

fn bincode_options() -> impl Options {
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .with_little_endian()
        .with_limit(RECORD_BYTES_MAX as u64)
        .reject_trailing_bytes()
}

/// Append one framed record to `out`. Asserts the record's own invariants first: a record that
/// would not read back is a bug, never written.
pub fn encode_record(record: &LogRecord, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_PREFIX_BYTES]);
    let (kind, position) = match record {
        LogRecord::Event { position, .. } => (KIND_EVENT, *position),
        LogRecord::Commit { position, .. } => (KIND_COMMIT, *position),
    };
    out.push(kind);
    out.extend_from_slice(&[0u8; 7]);
    out.extend_from_slice(&position.to_le_bytes());
    let result = match record {
        LogRecord::Event { event, .. } => {
            assert_event_valid(event).expect("event validated before encoding");
            bincode_options().serialize_into(&mut *out, event)
        }
        LogRecord::Commit { commit, .. } => bincode_options().serialize_into(&mut *out, commit),
    };
    result.expect("record fits RECORD_BYTES_MAX (checked by the writer)");
    let body_len = out.len() - start - FRAME_PREFIX_BYTES;
    assert!(
        body_len <= RECORD_BYTES_MAX,
        "record body {body_len} exceeds RECORD_BYTES_MAX"
    );
    let crc = crc32c::crc32c(&out[start + FRAME_PREFIX_BYTES..]);
    out[start..start + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Bytes `encode_record` will append for this record.
pub fn encoded_len(record: &LogRecord) -> usize {
    let body = match record {
        LogRecord::Event { event, .. } => bincode_options().serialized_size(event),
        LogRecord::Commit { commit, .. } => bincode_options().serialized_size(commit),
    };
    FRAME_PREFIX_BYTES + BODY_PREFIX_BYTES + body.map(|n| n as usize).unwrap_or(usize::MAX / 2)
}

/// Decode the record at the start of `bytes`; returns it and the bytes it used.
pub fn decode_record(bytes: &[u8]) -> Result<(LogRecord, usize), RecordError> {
    if bytes.len() < FRAME_PREFIX_BYTES {
        return Err(RecordError::Incomplete {
            needed: FRAME_PREFIX_BYTES,
            available: bytes.len(),
        });
    }
    let body_len = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if !(BODY_PREFIX_BYTES..=RECORD_BYTES_MAX).contains(&body_len) {
        return Err(RecordError::Corrupt(format!(
            "record length {body_len} out of range"
        )));
    }
    let total = FRAME_PREFIX_BYTES + body_len;
    if bytes.len() < total {
        return Err(RecordError::Incomplete {
            needed: total,
            available: bytes.len(),
        });
    }
    let body = &bytes[FRAME_PREFIX_BYTES..total];
    if crc32c::crc32c(body) != crc {
        return Err(RecordError::Corrupt("CRC32C mismatch".into()));
    }
    let kind = body[0];
    let position = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    let rest = &body[BODY_PREFIX_BYTES..];
    let record = match kind {
        KIND_EVENT => {
            let event: EventRecord = bincode_options()
                .deserialize(rest)
                .map_err(|e| RecordError::Corrupt(format!("event body: {e}")))?;
            assert_event_valid(&event).map_err(RecordError::Corrupt)?;
            if position == 0 {
                return Err(RecordError::Corrupt("event position 0".into()));
            }
            LogRecord::Event { position, event }
        }
        KIND_COMMIT => {
            let commit: CommitRecord = bincode_options()
                .deserialize(rest)
                .map_err(|e| RecordError::Corrupt(format!("commit body: {e}")))?;
            LogRecord::Commit { position, commit }
        }
        other => return Err(RecordError::Corrupt(format!("unknown record kind {other}"))),
    };
    Ok((record, total))
}

/// The invariants of one event on its own (the writer checks ordering invariants).
pub fn assert_event_valid(event: &EventRecord) -> Result<(), String> {
    if event.stream.is_empty() || event.stream.len() > STREAM_ID_BYTES_MAX {
        return Err(format!(
            "stream id of {} bytes (1..={STREAM_ID_BYTES_MAX})",
            event.stream.len()
        ));
    }
    if event.event_type.is_empty() || event.event_type.len() > TYPE_NAME_BYTES_MAX {
        return Err(format!("event type of {} bytes", event.event_type.len()));
    }
    if event.stream_version == 0 {
        return Err("stream version 0".into());
    }
    vtree::validate(&event.metadata).map_err(|e| format!("metadata: {e}"))?;
    vtree::validate(&event.payload).map_err(|e| format!("payload: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(position: u64) -> LogRecord {
        let mut payload = vtree::Encoder::new();
        payload.begin_map(1);
        payload.string(b"amount");
        payload.int(10);
        let mut metadata = vtree::Encoder::new();
        metadata.begin_map(0);
        LogRecord::Event {
            position,
            event: EventRecord {
                stream: "acc-1".into(),
                stream_version: position,
                event_id: [7; 16],
                event_type: "App\\BalanceIncreased".into(),
                recorded_at_us: 1_700_000_000_000_000,
                metadata: metadata.into_bytes(),
                payload: payload.into_bytes(),
            },
        }
    }

    #[test]
    fn records_round_trip() {
        let mut buf = Vec::new();
        let records = vec![
            event(1),
            event(2),
            LogRecord::Commit {
                position: 2,
                commit: CommitRecord {
                    checkpoints: vec![("p".into(), 2)],
                    projected_position: Some(2),
                    changes: vec![EntityChange::Delete {
                        class: "A".into(),
                        uuid: "u".into(),
                    }],
                },
            },
        ];
        for r in &records {
            let before = buf.len();
            encode_record(r, &mut buf);
            assert_eq!(buf.len() - before, encoded_len(r));
        }
        let mut at = 0;
        for r in &records {
            let (decoded, used) = decode_record(&buf[at..]).unwrap();
            assert_eq!(&decoded, r);
            at += used;
        }
        assert_eq!(at, buf.len());
    }

    #[test]
    fn every_truncation_is_incomplete_and_every_bit_flip_is_detected() {
        let mut buf = Vec::new();
        encode_record(&event(1), &mut buf);
        for len in 0..buf.len() {
            match decode_record(&buf[..len]) {
                Err(RecordError::Incomplete { .. }) => {}
                Err(RecordError::Corrupt(_)) if len >= 4 => {}
                other => panic!("prefix {len}: {other:?}"),
            }
        }
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut flipped = buf.clone();
                flipped[byte] ^= 1 << bit;
                assert!(
                    decode_record(&flipped).is_err(),
                    "flip at {byte}:{bit} accepted"
                );
            }
        }
    }

    #[test]
    fn segment_header_round_trips_and_detects_damage() {
        let h = SegmentHeader {
            segment_index: 3,
            position_before: 99,
        };
        let bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes).unwrap(), h);
        let mut bad = bytes;
        bad[20] ^= 1;
        assert!(SegmentHeader::decode(&bad).is_err());
    }

    /// The log format of an event record did not change when its byte fields became
    /// `serde_bytes` and its id a `u128`: a record written the old way (a plain `Vec<u8>`, one element at a time)
    /// has the very same bytes and reads back.
    #[test]
    fn byte_fields_keep_the_plain_vec_encoding() {
        #[derive(Serialize)]
        struct PlainEventRecord {
            stream: String,
            stream_version: u64,
            event_id: [u8; 16],
            event_type: String,
            recorded_at_us: i64,
            metadata: Vec<u8>,
            payload: Vec<u8>,
        }
        let LogRecord::Event { mut event, .. } = event(3) else {
            unreachable!()
        };
        event.event_id = std::array::from_fn(|i| i as u8 * 17); // byte order shows
        let plain = PlainEventRecord {
            stream: event.stream.clone(),
            stream_version: event.stream_version,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            recorded_at_us: event.recorded_at_us,
            metadata: event.metadata.clone(),
            payload: event.payload.clone(),
        };
        let new_bytes = bincode_options().serialize(&event).expect("encode");
        let plain_bytes = bincode_options().serialize(&plain).expect("encode");
        assert_eq!(new_bytes, plain_bytes);
        let back: EventRecord = bincode_options().deserialize(&plain_bytes).expect("decode");
        assert_eq!(back, event);
    }
}
