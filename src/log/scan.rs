//! Walking the records of one segment and checking the log's ordering invariants.
//!
//! Owns: the decision "record, end, torn tail, or corruption" at a byte offset, and
//! [`OrderCheck`] (dense event positions, stream versions dense from 1, monotonic commits).
//! Must never: modify a file (callers decide what to do with a torn tail), or call something
//! torn that could be corruption: a record that does not verify is torn only when a write that
//! did not reach the disk whole explains it (a sector of the last write reads as zeros, see
//! docs/formats.md "Recovery on start"), or, for an incomplete record, when every later offset
//! was tried and no complete valid record starts there (one would mean a damaged length field).

use super::LogError;
use eventsrv_format::limits::{DISK_SECTOR_BYTES, LOG_WRITE_BYTES_MAX, RECORD_BYTES_MAX};
use eventsrv_format::log_record::{
    decode_record, LogRecord, RecordError, SegmentHeader, BODY_PREFIX_BYTES, FRAME_PREFIX_BYTES,
    KIND_COMMIT, KIND_EVENT, SEGMENT_HEADER_BYTES,
};
use std::fmt;
use std::path::Path;

/// Streams whose versions the open log's [`OrderCheck`] tracks itself. Past it, before the next
/// batch, it forgets them ([`OrderCheck::forget_streams_over`]) and from then on takes the
/// version of a stream it does not track from the writer (its batches not yet applied, then the
/// state region): so the daemon's memory does not grow with the number of streams ever written.
pub const ORDER_CHECK_STREAMS_MAX: usize = 65_536;

/// The ordering invariants of docs/formats.md, checked record by record in log order.
///
/// Built either empty (a scan from the first record: it sees every stream) or
/// [`OrderCheck::seeded`] from a boot base; a seeded check, or one that forgot its streams, takes
/// the version of a stream it has no record of from the base passed to
/// [`OrderCheck::check_and_apply_with`].
#[derive(Clone)]
pub struct OrderCheck {
    last_position: u64,
    last_commit_position: u64,
    /// foldhash, not SipHash: checked on every event the writer writes (see src/batch.rs).
    stream_versions: foldhash::HashMap<String, u64>,
    /// Whether `stream_versions` holds every stream of the log (a stream not in it has none).
    knows_every_stream: bool,
}

impl Default for OrderCheck {
    fn default() -> OrderCheck {
        OrderCheck {
            last_position: 0,
            last_commit_position: 0,
            stream_versions: foldhash::HashMap::default(),
            knows_every_stream: true,
        }
    }
}

impl fmt::Debug for OrderCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderCheck")
            .field("last_position", &self.last_position)
            .field("last_commit_position", &self.last_commit_position)
            .field("streams_tracked", &self.stream_versions.len())
            .field("knows_every_stream", &self.knows_every_stream)
            .finish()
    }
}

impl OrderCheck {
    pub fn new() -> OrderCheck {
        OrderCheck::default()
    }

    /// Continue the checks after a boot base that ends at event `last_position`, with its last
    /// commit at `last_commit_position`. Stream versions come from the base, passed to each
    /// check ([`OrderCheck::check_and_apply_with`]).
    pub fn seeded(last_position: u64, last_commit_position: u64) -> OrderCheck {
        OrderCheck {
            last_position,
            last_commit_position,
            stream_versions: foldhash::HashMap::default(),
            knows_every_stream: false,
        }
    }

    /// Forget the tracked stream versions once there are more than `limit`: from then on the
    /// versions of streams without a later record come from the base passed to each check, which
    /// must account for every record checked so far. Returns whether it forgot.
    pub fn forget_streams_over(&mut self, limit: usize) -> bool {
        if self.stream_versions.len() <= limit {
            return false;
        }
        self.stream_versions = foldhash::HashMap::default();
        self.knows_every_stream = false;
        true
    }

    pub fn last_position(&self) -> u64 {
        self.last_position
    }

    pub fn last_commit_position(&self) -> u64 {
        self.last_commit_position
    }

    fn stream_version_with(&self, stream: &str, base: Option<&dyn Fn(&str) -> u64>) -> u64 {
        if let Some(version) = self.stream_versions.get(stream) {
            return *version;
        }
        if self.knows_every_stream {
            return 0;
        }
        match base {
            Some(base) => base(stream),
            None => panic!(
                "a log order check that does not track every stream needs the base's stream \
                 versions (stream {stream:?})"
            ),
        }
    }

    /// Streams whose versions this check holds itself.
    #[cfg(test)]
    pub fn streams_tracked(&self) -> usize {
        self.stream_versions.len()
    }

    /// Check `record` against everything before it and, if it fits, take it into account.
    pub fn check_and_apply(&mut self, record: &LogRecord) -> Result<(), String> {
        self.check_and_apply_with(record, None)
    }

    /// [`OrderCheck::check_and_apply`], taking the version of a stream this check does not track
    /// from `base` (required once the check does not know every stream).
    pub fn check_and_apply_with(
        &mut self,
        record: &LogRecord,
        base: Option<&dyn Fn(&str) -> u64>,
    ) -> Result<(), String> {
        match record {
            LogRecord::Event { position, event } => {
                if *position != self.last_position + 1 {
                    return Err(format!(
                        "event position {position} does not follow position {}",
                        self.last_position
                    ));
                }
                let current = self.stream_version_with(&event.stream, base);
                if event.stream_version != current + 1 {
                    return Err(format!(
                        "stream {:?} version {} does not follow version {current}",
                        event.stream, event.stream_version
                    ));
                }
                self.last_position = *position;
                match self.stream_versions.get_mut(&event.stream) {
                    Some(version) => *version = event.stream_version,
                    None => {
                        self.stream_versions
                            .insert(event.stream.clone(), event.stream_version);
                    }
                }
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
    /// Only zero bytes from here to the end: the highest segment's zero-filled tail
    /// (docs/formats.md, "Zero-filled tail"). The log ends here; nothing to cut.
    ZeroTail {
        bytes: usize,
    },
    /// A write that did not reach the disk whole (an incomplete record with nothing valid after
    /// it, or a record with a sector that never landed): cut here.
    Torn {
        why: String,
    },
    Corrupt {
        why: String,
    },
}

/// Classify the bytes at `at`; `bytes[0]` is byte `origin` of the segment file (sectors are
/// aligned to the file).
pub fn next_record(bytes: &[u8], at: usize, origin: usize) -> Next {
    let rest = bytes.get(at..).unwrap_or(&[]);
    if rest.is_empty() {
        return Next::End;
    }
    let error = match decode_record(rest) {
        Ok((record, len)) => return Next::Record { record, len },
        Err(error) => error,
    };
    let Some(last_nonzero) = last_nonzero_byte(rest) else {
        return Next::ZeroTail { bytes: rest.len() };
    };
    if let Some(why) = unlanded_sector(rest, origin + at, last_nonzero) {
        if complete_body_under_damaged_length(rest).is_none() {
            return Next::Torn {
                why: format!("a write that did not reach the disk whole: {why}"),
            };
        }
    }
    match error {
        RecordError::Incomplete { needed, available } => {
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
        error => Next::Corrupt {
            why: error.to_string(),
        },
    }
}

/// Offset of the last byte of `bytes` that is not zero. Every boot ends its scan on the
/// zero-filled tail (2 MiB): whole blocks are tested with an OR that the compiler vectorizes,
/// where a byte-by-byte search from the end took milliseconds.
fn last_nonzero_byte(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 4096;
    let mut end = bytes.len();
    for block in bytes.rchunks(BLOCK) {
        let start = end - block.len();
        if block.iter().fold(0u8, |any, b| any | b) != 0 {
            return block.iter().rposition(|b| *b != 0).map(|at| start + at);
        }
        end = start;
    }
    None
}

/// For a record at file offset `start` that does not verify, with bytes `rest` from there to the
/// end of the file: why it is a write that did not reach the disk whole, if it is one
/// (docs/formats.md, "Recovery on start"). Two things must hold. The non-zero bytes end within
/// one write of `start` (`last_nonzero`: offset in `rest` of the last of them): only the last
/// write can be torn. And a sector of that write reads as the zeros that were there before: the
/// record's first sector from `start` on, or a whole sector the record overlaps. A record damaged
/// on disk keeps its sectors' bytes, so it rarely shows either.
fn unlanded_sector(rest: &[u8], start: usize, last_nonzero: usize) -> Option<String> {
    if last_nonzero >= LOG_WRITE_BYTES_MAX {
        return None;
    }
    let first_sector_end = (start / DISK_SECTOR_BYTES + 1) * DISK_SECTOR_BYTES - start;
    let first = &rest[..first_sector_end.min(rest.len())];
    if first.iter().all(|b| *b == 0) {
        return Some(format!(
            "its first {} bytes (up to a {DISK_SECTOR_BYTES}-byte sector's end) are zero",
            first.len()
        ));
    }
    // The first sector landed, so the length field is the one written.
    let claimed = rest
        .get(..4)
        .map(|len| u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize)
        .filter(|body_len| (BODY_PREFIX_BYTES..=RECORD_BYTES_MAX).contains(body_len))?
        + FRAME_PREFIX_BYTES;
    let mut sector = first_sector_end;
    while sector < claimed.min(rest.len()) {
        let whole = rest.get(sector..sector + DISK_SECTOR_BYTES)?;
        if whole.iter().all(|b| *b == 0) {
            return Some(format!(
                "the {DISK_SECTOR_BYTES}-byte sector at byte {} of the file, inside its {claimed} \
                 bytes, is all zero",
                start + sector
            ));
        }
        sector += DISK_SECTOR_BYTES;
    }
    None
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
    /// Offset just after the last complete record (the highest segment's zero-filled tail, if
    /// any, follows it).
    pub valid_bytes: u64,
    pub records: u64,
    /// Where the last complete record scanned starts (None: the scan found no record).
    pub last_record_offset: Option<u64>,
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
    scan_records(
        path,
        bytes,
        SEGMENT_HEADER_BYTES,
        order,
        policy,
        None,
        visit,
    )
}

/// Verify the records of one segment from byte `start` (a record boundary) to its end, with the
/// ordering checks continuing from `order`; `base` supplies the versions of streams a seeded
/// `order` has not seen. The segment header is the caller's to check.
pub fn scan_records(
    path: &Path,
    bytes: &[u8],
    start: usize,
    order: &mut OrderCheck,
    policy: TailPolicy,
    base: Option<&dyn Fn(&str) -> u64>,
    visit: &mut dyn FnMut(&LogRecord, u64) -> Result<(), String>,
) -> Result<SegmentScan, LogError> {
    let mut at = start;
    let mut records = 0;
    let mut last_record_offset = None;
    loop {
        match next_record(bytes, at, 0) {
            Next::Record { record, len } => {
                let offset = at as u64;
                order
                    .check_and_apply_with(&record, base)
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
                last_record_offset = Some(offset);
                at += len;
            }
            Next::End => {
                return Ok(SegmentScan {
                    valid_bytes: at as u64,
                    records,
                    last_record_offset,
                    torn: None,
                })
            }
            Next::ZeroTail { .. } if policy == TailPolicy::Last => {
                return Ok(SegmentScan {
                    valid_bytes: at as u64,
                    records,
                    last_record_offset,
                    torn: None,
                })
            }
            Next::ZeroTail { bytes } => {
                return Err(LogError::Corrupt {
                    path: path.into(),
                    offset: at as u64,
                    why: format!(
                        "sealed segment does not end after its last record: {bytes} zero bytes \
                         follow it (a segment is cut to its last record before the next is \
                         created)"
                    ),
                });
            }
            Next::Torn { why } if policy == TailPolicy::Last => {
                return Ok(SegmentScan {
                    valid_bytes: at as u64,
                    records,
                    last_record_offset,
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

/// What a walk over frame lengths found (no CRC, no decoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameHop {
    pub records: u64,
    /// Position of the last event record walked over, if any.
    pub last_event_position: Option<u64>,
    /// Position of the last commit record walked over, if any.
    pub last_commit_position: Option<u64>,
    /// Where the last frame walked over starts, if any.
    pub last_record_offset: Option<usize>,
}

/// Walk the frames of `bytes[start..end]` by their length fields only, reading each record's
/// kind and position: a cheap way to confirm that `end` is a record boundary of a segment whose
/// records were verified before, and to find the last positions before it. Err: the walk does
/// not land exactly on `end` (a damaged prefix, or `end` is not a boundary).
///
/// With `check_crc`, each frame's body is also checked against its CRC32C (no decoding): a
/// flipped byte in the walked records is caught at the cost of a checksum pass over the bytes.
pub fn hop_frames(
    bytes: &[u8],
    start: usize,
    end: usize,
    check_crc: bool,
) -> Result<FrameHop, String> {
    if end > bytes.len() {
        return Err(format!(
            "byte {end} lies beyond the segment's {} bytes",
            bytes.len()
        ));
    }
    let mut hop = FrameHop::default();
    let mut at = start;
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    while at < end {
        if end - at < FRAME_PREFIX_BYTES + BODY_PREFIX_BYTES {
            return Err(format!("a frame at byte {at} runs past byte {end}"));
        }
        let body_len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        if !(BODY_PREFIX_BYTES..=RECORD_BYTES_MAX).contains(&body_len)
            || body_len > end - at - FRAME_PREFIX_BYTES
        {
            return Err(format!(
                "the frame at byte {at} claims {body_len} body bytes, which does not fit before \
                 byte {end}"
            ));
        }
        let body = at + FRAME_PREFIX_BYTES;
        if check_crc {
            let stored = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
            if crc32c::crc32c(&bytes[body..body + body_len]) != stored {
                return Err(format!("the record at byte {at} fails its CRC32C"));
            }
        }
        let position = u64_at(body + 8);
        match bytes[body] {
            KIND_EVENT => hop.last_event_position = Some(position),
            KIND_COMMIT => hop.last_commit_position = Some(position),
            kind => return Err(format!("the frame at byte {at} has record kind {kind}")),
        }
        hop.records += 1;
        hop.last_record_offset = Some(at);
        at = body + body_len;
    }
    Ok(hop)
}

#[cfg(test)]
mod tests {
    use super::last_nonzero_byte;

    #[test]
    fn the_last_nonzero_byte_is_found_in_any_block() {
        assert_eq!(last_nonzero_byte(&[]), None);
        assert_eq!(last_nonzero_byte(&[0; 10_000]), None);
        for at in [0, 1, 4_095, 4_096, 5_903, 5_904, 9_999] {
            let mut bytes = vec![0u8; 10_000];
            bytes[at] = 0x80;
            assert_eq!(last_nonzero_byte(&bytes), Some(at), "at {at}");
            bytes[0] = 1;
            assert_eq!(last_nonzero_byte(&bytes), Some(at), "at {at}, and at 0");
        }
    }
}
