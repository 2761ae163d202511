//! Walking the records of one segment and checking the log's ordering invariants.
//!
//! Owns: the decision "record, end, torn tail, or corruption" at a byte offset, and
//! [`OrderCheck`] (dense event positions, stream versions dense from 1, monotonic commits).
//! Must never: modify a file (callers decide what to do with a torn tail), or call something
//! torn that could be corruption: before an incomplete record is called torn, every later
//! offset is tried, and a complete valid record found there means a damaged length field.

use super::LogError;
use eventsrv_format::log_record::{
    decode_record, LogRecord, RecordError, SegmentHeader, BODY_PREFIX_BYTES, FRAME_PREFIX_BYTES,
    SEGMENT_HEADER_BYTES,
};
use std::collections::HashMap;
use std::path::Path;

/// The ordering invariants of docs/formats.md, checked record by record in log order.
#[derive(Debug, Default, Clone)]
pub struct OrderCheck {
    last_position: u64,
    last_commit_position: u64,
    stream_versions: HashMap<String, u64>,
}

impl OrderCheck {
    pub fn new() -> OrderCheck {
        OrderCheck::default()
    }

    pub fn last_position(&self) -> u64 {
        self.last_position
    }

    pub fn last_commit_position(&self) -> u64 {
        self.last_commit_position
    }

    pub fn stream_version(&self, stream: &str) -> u64 {
        self.stream_versions.get(stream).copied().unwrap_or(0)
    }

    pub fn stream_count(&self) -> usize {
        self.stream_versions.len()
    }

    /// Check `record` against everything before it and, if it fits, take it into account.
    pub fn check_and_apply(&mut self, record: &LogRecord) -> Result<(), String> {
        match record {
            LogRecord::Event { position, event } => {
                if *position != self.last_position + 1 {
                    return Err(format!(
                        "event position {position} does not follow position {}",
                        self.last_position
                    ));
                }
                let current = self.stream_version(&event.stream);
                if event.stream_version != current + 1 {
                    return Err(format!(
                        "stream {:?} version {} does not follow version {current}",
                        event.stream, event.stream_version
                    ));
                }
                self.last_position = *position;
                self.stream_versions
                    .insert(event.stream.clone(), event.stream_version);
            }
            LogRecord::Commit { position, .. } => {
                if *position < self.last_commit_position || *position > self.last_position {
                    return Err(format!(
                        "commit position {position} outside {}..={} (previous commit .. last event)",
                        self.last_commit_position, self.last_position
                    ));
                }
                self.last_commit_position = *position;
            }
        }
        Ok(())
    }
}

/// What lies at one offset of a segment.
#[derive(Debug)]
pub enum Next {
    Record {
        record: LogRecord,
        len: usize,
    },
    /// Nothing left.
    End,
    /// An incomplete record with nothing valid after it, or only zero bytes: cut here.
    Torn {
        why: String,
    },
    Corrupt {
        why: String,
    },
}

/// Classify the bytes at `at`.
pub fn next_record(bytes: &[u8], at: usize) -> Next {
    let rest = bytes.get(at..).unwrap_or(&[]);
    if rest.is_empty() {
        return Next::End;
    }
    match decode_record(rest) {
        Ok((record, len)) => Next::Record { record, len },
        Err(RecordError::Incomplete { needed, available }) => {
            if let Some(later) = later_valid_record(rest) {
                return Next::Corrupt {
                    why: format!(
                        "the record claims {needed} bytes and only {available} remain, yet a \
                         complete record starts at byte offset {}: a damaged length field",
                        at + later
                    ),
                };
            }
            if let Some(body_len) = complete_body_under_damaged_length(rest) {
                return Next::Corrupt {
                    why: format!(
                        "the record claims {needed} bytes and only {available} remain, yet its \
                         first {body_len} body bytes match its CRC32C: a complete record with a \
                         damaged length field"
                    ),
                };
            }
            Next::Torn {
                why: format!("incomplete record: needs {needed} bytes, {available} present"),
            }
        }
        Err(RecordError::Corrupt(_)) if rest.iter().all(|b| *b == 0) => Next::Torn {
            why: format!("{} trailing zero bytes", rest.len()),
        },
        Err(error) => Next::Corrupt {
            why: error.to_string(),
        },
    }
}

/// For a record whose length runs past the end: the body length at which the bytes that are
/// there match the record's CRC, if any. A torn write never produces that (its CRC covers bytes
/// that never arrived); a bit flip in the length field of a complete last record does, and that
/// record must be refused, not cut.
fn complete_body_under_damaged_length(rest: &[u8]) -> Option<usize> {
    let stored_crc = u32::from_le_bytes(rest.get(4..8)?.try_into().expect("4 bytes"));
    let body = &rest[FRAME_PREFIX_BYTES..];
    let mut crc = crc32c::crc32c(&body[..BODY_PREFIX_BYTES.min(body.len())]);
    for len in BODY_PREFIX_BYTES..=body.len() {
        if len > BODY_PREFIX_BYTES {
            crc = crc32c::crc32c_append(crc, &body[len - 1..len]);
        }
        if crc == stored_crc {
            return Some(len);
        }
    }
    None
}

/// Offset (within `rest`, > 0) of the first complete valid record, if any.
fn later_valid_record(rest: &[u8]) -> Option<usize> {
    (1..rest.len()).find(|&offset| decode_record(&rest[offset..]).is_ok())
}

/// How an incomplete record at the end of a segment is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailPolicy {
    /// A sealed segment must end exactly after its last record.
    Sealed,
    /// The highest segment may end in a torn tail (a crash mid-write).
    Last,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentScan {
    /// Offset just after the last complete record.
    pub valid_bytes: u64,
    pub records: u64,
    /// Set when the segment ends in a torn tail (only with [`TailPolicy::Last`]).
    pub torn: Option<String>,
}

/// Verify one whole segment (header, every record, ordering) and hand each record to `visit`.
pub fn scan_segment(
    path: &Path,
    bytes: &[u8],
    index: u64,
    order: &mut OrderCheck,
    policy: TailPolicy,
    visit: &mut dyn FnMut(&LogRecord) -> Result<(), String>,
) -> Result<SegmentScan, LogError> {
    scan_segment_located(path, bytes, index, order, policy, &mut |record, _end| {
        visit(record)
    })
}

/// [`scan_segment`], also telling `visit` the byte offset just after each record (boot matches a
/// snapshot's or a surviving region's log location against it).
pub fn scan_segment_located(
    path: &Path,
    bytes: &[u8],
    index: u64,
    order: &mut OrderCheck,
    policy: TailPolicy,
    visit: &mut dyn FnMut(&LogRecord, u64) -> Result<(), String>,
) -> Result<SegmentScan, LogError> {
    check_header(path, bytes, index, order.last_position())?;
    let mut at = SEGMENT_HEADER_BYTES;
    let mut records = 0;
    loop {
        match next_record(bytes, at) {
            Next::Record { record, len } => {
                let offset = at as u64;
                order
                    .check_and_apply(&record)
                    .map_err(|why| LogError::Corrupt {
                        path: path.into(),
                        offset,
                        why,
                    })?;
                visit(&record, (at + len) as u64).map_err(|why| LogError::Replay {
                    path: path.into(),
                    offset,
                    why,
                })?;
                records += 1;
                at += len;
            }
            Next::End => {
                return Ok(SegmentScan {
                    valid_bytes: at as u64,
                    records,
                    torn: None,
                })
            }
            Next::Torn { why } if policy == TailPolicy::Last => {
                return Ok(SegmentScan {
                    valid_bytes: at as u64,
                    records,
                    torn: Some(why),
                });
            }
            Next::Torn { why } => {
                return Err(LogError::Corrupt {
                    path: path.into(),
                    offset: at as u64,
                    why: format!("sealed segment does not end after its last record: {why}"),
                });
            }
            Next::Corrupt { why } => {
                return Err(LogError::Corrupt {
                    path: path.into(),
                    offset: at as u64,
                    why,
                })
            }
        }
    }
}

/// The header must decode, name this segment, and continue from the previous segment's last event.
pub fn check_header(
    path: &Path,
    bytes: &[u8],
    index: u64,
    position_before: u64,
) -> Result<(), LogError> {
    let corrupt = |why: String| LogError::Corrupt {
        path: path.into(),
        offset: 0,
        why,
    };
    let header = SegmentHeader::decode(bytes).map_err(|e| corrupt(e.to_string()))?;
    if header.segment_index != index {
        return Err(corrupt(format!(
            "header says segment {}, file name says {index}",
            header.segment_index
        )));
    }
    if header.position_before != position_before {
        return Err(corrupt(format!(
            "header says the segment follows position {}, the log before it ends at {position_before}",
            header.position_before
        )));
    }
    Ok(())
}
