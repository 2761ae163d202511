//! Opening the log on daemon start (docs/formats.md#recovery-on-start).
//!
//! Owns: the start-up walk over every segment: gap check, full verification of sealed
//! segments, the scan of the last one, and cutting a torn tail (truncate + fsync + a warning
//! naming segment, offset and bytes cut). Every verified record is handed to the caller's
//! visitor (boot replays it into the state region) in log order. With a boot base
//! ([`open_from_base`]) the same checks run only from the base's location on; before it, segment
//! files and headers are checked, and the base's last record is checked by its own frame (or, for
//! a base that did not record where it starts, its segment is walked by frame lengths and CRCs).
//! Must never: cut a complete record, or start on a log with a gap or a corrupt record.

use super::appender::Log;
use super::scan::{
    check_header, hop_frames, scan_records, scan_segment_located, OrderCheck, TailPolicy,
};
use super::segment::{
    create_segment, fsync_dir, list_segments, log_dir, remove_unfinished, segment_path,
};
use super::LogError;
use eventsrv_format::limits::RECORD_BYTES_MAX;
use eventsrv_format::log_record::{
    LogRecord, SegmentHeader, FRAME_PREFIX_BYTES, SEGMENT_HEADER_BYTES,
};
use eventsrv_format::region::LastRecord;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// A torn tail that was cut from the last segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub segment: PathBuf,
    pub offset: u64,
    pub bytes_cut: u64,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoverySummary {
    pub segments: u64,
    pub records: u64,
    pub events: u64,
    pub commits: u64,
    pub bytes: u64,
    pub torn_tail: Option<TornTail>,
}

/// Open (creating if needed) the log under `data_dir`, verify it, cut a torn tail, and call
/// `visit` for every record in order.
pub fn open(
    data_dir: &Path,
    segment_bytes_max: u64,
    visit: &mut dyn FnMut(&LogRecord) -> Result<(), String>,
) -> Result<(Log, RecoverySummary), LogError> {
    open_located(
        data_dir,
        segment_bytes_max,
        &mut |record, _segment, _end| visit(record),
    )
}

/// [`open`], also telling `visit` where each record ends: (segment index, byte offset just after
/// the record). Boot uses it to skip the records a snapshot or surviving region already holds.
pub fn open_located(
    data_dir: &Path,
    segment_bytes_max: u64,
    visit: &mut dyn FnMut(&LogRecord, u64, u64) -> Result<(), String>,
) -> Result<(Log, RecoverySummary), LogError> {
    let dir = log_dir(data_dir);
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).map_err(LogError::io(&dir, "create"))?;
        fsync_dir(data_dir)?;
    }
    remove_unfinished(&dir)?;
    let indices = list_segments(&dir)?;
    let mut summary = RecoverySummary::default();
    let mut order = OrderCheck::new();
    let Some(&last) = indices.last() else {
        let file = create_segment(&dir, 1, 0)?;
        tracing::info!(dir = %dir.display(), "created a new, empty log");
        let header_bytes = eventsrv_format::log_record::SEGMENT_HEADER_BYTES as u64;
        summary.segments = 1;
        summary.bytes = header_bytes;
        return Ok((
            Log::from_parts(
                dir,
                file,
                1,
                header_bytes,
                header_bytes,
                0,
                segment_bytes_max,
                order,
                None,
            ),
            summary,
        ));
    };

    let mut sealed_bytes = 0;
    let mut last_scan = None;
    for &index in &indices {
        let path = segment_path(&dir, index);
        let bytes = std::fs::read(&path).map_err(LogError::io(&path, "read"))?;
        let policy = if index == last {
            TailPolicy::Last
        } else {
            TailPolicy::Sealed
        };
        let scan = scan_segment_located(
            &path,
            &bytes,
            index,
            &mut order,
            policy,
            &mut |record, end| {
                match record {
                    LogRecord::Event { .. } => summary.events += 1,
                    LogRecord::Commit { .. } => summary.commits += 1,
                }
                visit(record, index, end)
            },
        )?;
        if index == last {
            last_scan = Some((scan, bytes.len() as u64));
        } else {
            sealed_bytes += bytes.len() as u64;
        }
    }
    let (scan, file_bytes) = last_scan.expect("the last segment was scanned");
    let log = finish_open(
        dir,
        last,
        scan,
        None,
        file_bytes,
        sealed_bytes,
        segment_bytes_max,
        order,
        &mut summary,
    )?;
    Ok((log, summary))
}

/// Cut a torn tail of the last segment (as its scan found it), open it for appending, and
/// complete the summary's totals. `last_record_before`: where the last record before the scan's
/// start begins in the same segment, if known (when the scan itself finds no record).
#[allow(clippy::too_many_arguments)]
fn finish_open(
    dir: PathBuf,
    last: u64,
    scan: super::scan::SegmentScan,
    last_record_before: Option<u64>,
    file_bytes: u64,
    sealed_bytes: u64,
    segment_bytes_max: u64,
    order: OrderCheck,
    summary: &mut RecoverySummary,
) -> Result<Log, LogError> {
    summary.segments = last;
    summary.records = summary.events + summary.commits;
    let path = segment_path(&dir, last);
    if let Some(why) = scan.torn {
        let cut = TornTail {
            segment: path.clone(),
            offset: scan.valid_bytes,
            bytes_cut: file_bytes - scan.valid_bytes,
            why,
        };
        cut_torn_tail(&cut)?;
        summary.torn_tail = Some(cut);
    }
    // Not `append`: records go over the zero-filled tail, if any (docs/formats.md).
    let active = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(LogError::io(&path, "open"))?;
    let file_len = active
        .metadata()
        .map_err(LogError::io(&path, "stat"))?
        .len();
    summary.bytes = sealed_bytes + scan.valid_bytes;
    Ok(Log::from_parts(
        dir,
        active,
        last,
        scan.valid_bytes,
        file_len,
        sealed_bytes,
        segment_bytes_max,
        order,
        scan.last_record_offset.or(last_record_before),
    ))
}

fn cut_torn_tail(cut: &TornTail) -> Result<(), LogError> {
    let file = OpenOptions::new()
        .write(true)
        .open(&cut.segment)
        .map_err(LogError::io(&cut.segment, "open"))?;
    file.set_len(cut.offset)
        .map_err(LogError::io(&cut.segment, "truncate"))?;
    file.sync_all()
        .map_err(LogError::io(&cut.segment, "fsync"))?;
    tracing::warn!(
        segment = %cut.segment.display(),
        offset = cut.offset,
        bytes_cut = cut.bytes_cut,
        "log: cut a torn tail of {} bytes at byte offset {} of {} ({})",
        cut.bytes_cut,
        cut.offset,
        cut.segment.display(),
        cut.why
    );
    Ok(())
}

/// Where a boot base (a surviving region or a snapshot) says the log it holds ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBase {
    pub segment: u64,
    /// Byte offset just after the base's last record in `segment`.
    pub offset: u64,
    pub records: u64,
    /// Position of the last event the base holds.
    pub last_position: u64,
    /// Where the base's last record starts in `segment` and the last commit position up to it,
    /// if the base recorded them: then that one frame is checked instead of walking the segment.
    pub last_record: Option<LastRecord>,
}

/// Why [`open_from_base`] did not open the log.
#[derive(Debug)]
pub enum BaseOpenError {
    /// The base's location does not check out against the log (or the log before it could not
    /// be walked cheaply): nothing was visited; open the log the full way instead.
    Unverified(String),
    /// The log after the base is corrupt or unreadable (what the full way would refuse too), or
    /// `visit` refused a record.
    Log(LogError),
}

impl From<LogError> for BaseOpenError {
    fn from(error: LogError) -> BaseOpenError {
        BaseOpenError::Log(error)
    }
}

/// [`open_located`] for a boot that starts from `base`: only the log after the base's location
/// is scanned and verified (cutting a torn tail, refusing corruption, exactly as the full way),
/// and `visit` is called only for those records. Before the base, every segment file 1..n must
/// exist with a valid header (their records were verified when written and are not read again:
/// `eventsrv verify` checks them offline), and the base's location must be the end of its last
/// record: with `base.last_record`, that one frame must end exactly at the offset, pass its CRC32C
/// and carry the base's last position; without it, the covered part of the base's segment must
/// walk, frame length by frame length with every frame's CRC32C (no decoding), exactly onto the
/// offset after the base's last event position. The ordering checks start from the base: its
/// last event position, the last commit position (recorded with the base, or found by the walk,
/// going back to earlier segments only while none is found), and the versions of streams the
/// tail has not touched from `base_version`.
pub fn open_from_base(
    data_dir: &Path,
    segment_bytes_max: u64,
    base: &LogBase,
    base_version: &dyn Fn(&str) -> u64,
    visit: &mut dyn FnMut(&LogRecord, u64, u64) -> Result<(), String>,
) -> Result<(Log, RecoverySummary), BaseOpenError> {
    let dir = log_dir(data_dir);
    if !dir.is_dir() {
        return Err(unverified(format!(
            "there is no log directory {}",
            dir.display()
        )));
    }
    if base.records == 0 || base.segment == 0 || base.offset < SEGMENT_HEADER_BYTES as u64 {
        return Err(unverified(format!(
            "the base location {base:?} covers no record"
        )));
    }
    remove_unfinished(&dir)?;
    let indices = list_segments(&dir)?;
    let last = indices.last().copied().unwrap_or(0);
    if base.segment > last {
        return Err(unverified(format!(
            "the base ends in segment {}, the log has {last}",
            base.segment
        )));
    }

    // Segments before the base's: present (list_segments checked 1..=n) with valid headers.
    let mut sealed_bytes = 0u64;
    let mut position_before = 0u64;
    for index in 1..base.segment {
        let path = segment_path(&dir, index);
        let (header, bytes) = read_header(&path).map_err(|e| unverified(e.to_string()))?;
        check_header_before_base(&path, &header, index, position_before, base)?;
        position_before = header.position_before;
        sealed_bytes += bytes;
    }

    // The base's segment: its last record must end at the base's location.
    let path = segment_path(&dir, base.segment);
    let cannot = |e: std::io::Error| unverified(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(&path).map_err(cannot)?;
    let file_len = file.metadata().map_err(cannot)?.len();
    let offset = usize::try_from(base.offset).unwrap_or(usize::MAX);
    if file_len < base.offset {
        return Err(unverified(format!(
            "the base ends at byte {} of segment {}, which has {file_len} bytes",
            base.offset, base.segment
        )));
    }
    let header = read_header_at(&file, &path).map_err(|e| unverified(e.to_string()))?;
    check_header_before_base(&path, &header, base.segment, position_before, base)?;
    let before = match base.last_record {
        Some(last) => check_last_record(&file, &path, base, last)?,
        None => walk_covered_part(&file, &path, base, header.position_before)?,
    };
    if before.last_position != base.last_position {
        return Err(unverified(format!(
            "the log's last event before segment {} byte {} is position {}, the base holds up \
             to position {}",
            base.segment, base.offset, before.last_position, base.last_position
        )));
    }
    let last_commit_position = match before.last_commit_position {
        Some(position) => position,
        None => last_commit_before(&dir, base.segment).map_err(unverified)?,
    };
    // The tail is read for the scan into a buffer of the file's size whose covered part stays
    // untouched zero pages, so offsets keep meaning bytes of the segment.
    let mut bytes = vec![0u8; file_len as usize];
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(&mut bytes[offset..], base.offset)
            .map_err(LogError::io(&path, "read"))?;
    }

    // From the base on: verified exactly like the full way.
    let mut summary = RecoverySummary {
        events: base.last_position,
        commits: base
            .records
            .checked_sub(base.last_position)
            .ok_or_else(|| {
                unverified(format!(
                    "the base claims {} records but {} events",
                    base.records, base.last_position
                ))
            })?,
        ..RecoverySummary::default()
    };
    let mut order = OrderCheck::seeded(base.last_position, last_commit_position);
    let mut segment_bytes = bytes;
    let mut start = offset;
    let mut index = base.segment;
    loop {
        let path = segment_path(&dir, index);
        let policy = if index == last {
            TailPolicy::Last
        } else {
            TailPolicy::Sealed
        };
        if index != base.segment {
            check_header(&path, &segment_bytes, index, order.last_position())?;
        }
        let scan = scan_records(
            &path,
            &segment_bytes,
            start,
            &mut order,
            policy,
            Some(base_version),
            &mut |record, end| {
                match record {
                    LogRecord::Event { .. } => summary.events += 1,
                    LogRecord::Commit { .. } => summary.commits += 1,
                }
                visit(record, index, end)
            },
        )?;
        let file_bytes = segment_bytes.len() as u64;
        if index == last {
            let last_record_before = (index == base.segment)
                .then_some(before.last_record_offset)
                .flatten();
            let log = finish_open(
                dir,
                last,
                scan,
                last_record_before,
                file_bytes,
                sealed_bytes,
                segment_bytes_max,
                order,
                &mut summary,
            )?;
            return Ok((log, summary));
        }
        sealed_bytes += file_bytes;
        index += 1;
        start = SEGMENT_HEADER_BYTES;
        let next = segment_path(&dir, index);
        segment_bytes = std::fs::read(&next).map_err(LogError::io(&next, "read"))?;
    }
}

fn unverified(why: String) -> BaseOpenError {
    BaseOpenError::Unverified(why)
}

/// A segment up to the base's: its header names `index` and follows a position that neither goes
/// back from the previous segment's (`position_before`) nor lies past the base.
fn check_header_before_base(
    path: &Path,
    header: &SegmentHeader,
    index: u64,
    position_before: u64,
    base: &LogBase,
) -> Result<(), BaseOpenError> {
    check_header_fields(path, header, index).map_err(|e| unverified(e.to_string()))?;
    if header.position_before < position_before || header.position_before > base.last_position {
        return Err(unverified(format!(
            "segment {index} follows position {}, outside {position_before}..={}",
            header.position_before, base.last_position
        )));
    }
    Ok(())
}

/// What the log holds just before a base's location, as checked by [`check_last_record`] or
/// [`walk_covered_part`].
struct BeforeBase {
    /// Position of the last event before the location.
    last_position: u64,
    /// Position of the last commit before the location; None: not in the covered part of the
    /// base's segment (earlier segments are searched).
    last_commit_position: Option<u64>,
    /// Where the last record before the location starts in the base's segment.
    last_record_offset: Option<u64>,
}

/// The base recorded where its last record starts: that frame alone must end exactly at the
/// base's offset, pass its CRC32C, and be the event at the base's position (or the commit at the
/// recorded commit position, which cannot lie beyond it). One `pread` of one frame, whatever the
/// size of the segment.
fn check_last_record(
    file: &std::fs::File,
    path: &Path,
    base: &LogBase,
    last: LastRecord,
) -> Result<BeforeBase, BaseOpenError> {
    use std::os::unix::fs::FileExt;
    let frame_max = (FRAME_PREFIX_BYTES + RECORD_BYTES_MAX) as u64;
    if last.offset < SEGMENT_HEADER_BYTES as u64
        || last.offset >= base.offset
        || base.offset - last.offset > frame_max
    {
        return Err(unverified(format!(
            "the base's last record at byte {} cannot end at byte {} of segment {}",
            last.offset, base.offset, base.segment
        )));
    }
    let mut frame = vec![0u8; (base.offset - last.offset) as usize];
    file.read_exact_at(&mut frame, last.offset)
        .map_err(|e| unverified(format!("cannot read {}: {e}", path.display())))?;
    let hop = hop_frames(&frame, 0, frame.len(), true).map_err(|why| {
        unverified(format!(
            "the base's last record at byte {} of segment {} is not one record ending at byte \
             {} ({why}, counting bytes from the record's start)",
            last.offset, base.segment, base.offset
        ))
    })?;
    let not_it = |what: String| {
        unverified(format!(
            "the record at byte {} of segment {} {what}",
            last.offset, base.segment
        ))
    };
    if hop.records != 1 {
        return Err(not_it(format!(
            "is {} records, not one ending at byte {}",
            hop.records, base.offset
        )));
    }
    match (hop.last_event_position, hop.last_commit_position) {
        (Some(position), _) if position != base.last_position => Err(not_it(format!(
            "is event position {position}, the base's last event is position {}",
            base.last_position
        ))),
        (Some(_), _) => Ok(BeforeBase {
            last_position: base.last_position,
            last_commit_position: Some(last.commit_position),
            last_record_offset: Some(last.offset),
        }),
        (None, Some(position))
            if position != last.commit_position || position > base.last_position =>
        {
            Err(not_it(format!(
                "is a commit at position {position}, the base recorded its last commit at {} \
                 and its last event at {}",
                last.commit_position, base.last_position
            )))
        }
        (None, _) => Ok(BeforeBase {
            last_position: base.last_position,
            last_commit_position: Some(last.commit_position),
            last_record_offset: Some(last.offset),
        }),
    }
}

/// The base did not record its last record (a region or snapshot from an older release, or a
/// location at the very start of a segment): walk the covered part of its segment frame by
/// frame, lengths, kinds, positions and CRC32C, through a read-only mapping rather than a copy.
fn walk_covered_part(
    file: &std::fs::File,
    path: &Path,
    base: &LogBase,
    position_before: u64,
) -> Result<BeforeBase, BaseOpenError> {
    let cannot = |e: std::io::Error| unverified(format!("cannot read {}: {e}", path.display()));
    // SAFETY: nothing truncates a segment while the log is being opened (the daemon that opens
    // it is its only writer); the mapping is dropped before the tail is scanned or cut.
    let mapped = unsafe { memmap2::Mmap::map(file) }.map_err(cannot)?;
    let offset = usize::try_from(base.offset).unwrap_or(usize::MAX);
    let hop = hop_frames(&mapped, SEGMENT_HEADER_BYTES, offset, true).map_err(|why| {
        unverified(format!(
            "the base's byte offset {} of segment {} is not a record boundary: {why}",
            base.offset, base.segment
        ))
    })?;
    Ok(BeforeBase {
        last_position: hop.last_event_position.unwrap_or(position_before),
        last_commit_position: hop.last_commit_position,
        last_record_offset: hop.last_record_offset.map(|at| at as u64),
    })
}

/// The header of an open segment file.
fn read_header_at(file: &std::fs::File, path: &Path) -> Result<SegmentHeader, LogError> {
    use std::os::unix::fs::FileExt;
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    file.read_exact_at(&mut header, 0)
        .map_err(LogError::io(path, "read the header of"))?;
    SegmentHeader::decode(&header).map_err(|e| LogError::Corrupt {
        path: path.into(),
        offset: 0,
        why: e.to_string(),
    })
}

/// The header of a segment file and the file's size, reading only the header.
fn read_header(path: &Path) -> Result<(SegmentHeader, u64), LogError> {
    let file = std::fs::File::open(path).map_err(LogError::io(path, "open"))?;
    let bytes = file.metadata().map_err(LogError::io(path, "stat"))?.len();
    Ok((read_header_at(&file, path)?, bytes))
}

fn check_header_fields(path: &Path, header: &SegmentHeader, index: u64) -> Result<(), LogError> {
    if header.segment_index != index {
        return Err(LogError::Corrupt {
            path: path.into(),
            offset: 0,
            why: format!(
                "header says segment {}, file name says {index}",
                header.segment_index
            ),
        });
    }
    Ok(())
}

/// The position of the last commit record in the segments before `segment` (0 if none), by
/// walking frame lengths backwards one segment at a time until a segment holds a commit.
fn last_commit_before(dir: &Path, segment: u64) -> Result<u64, String> {
    for index in (1..segment).rev() {
        let path = segment_path(dir, index);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let hop = hop_frames(&bytes, SEGMENT_HEADER_BYTES, bytes.len(), false).map_err(|why| {
            format!(
                "looking for the last commit before the base in {}: {why}",
                path.display()
            )
        })?;
        if let Some(position) = hop.last_commit_position {
            return Ok(position);
        }
    }
    Ok(0)
}
