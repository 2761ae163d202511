//! Opening the log on daemon start (docs/formats.md#recovery-on-start).
//!
//! Owns: the start-up walk over every segment: gap check, full verification of sealed
//! segments, the scan of the last one, and cutting a torn tail (truncate + fsync + a warning
//! naming segment, offset and bytes cut). Every verified record is handed to the caller's
//! visitor (boot replays it into the state region) in log order.
//! Must never: cut a complete record, or start on a log with a gap or a corrupt record.

use super::appender::Log;
use super::scan::{scan_segment_located, OrderCheck, TailPolicy};
use super::segment::{
    create_segment, fsync_dir, list_segments, log_dir, remove_unfinished, segment_path,
};
use super::LogError;
use eventsrv_format::log_record::LogRecord;
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
            Log::from_parts(dir, file, 1, header_bytes, 0, segment_bytes_max, order),
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
    let active = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(LogError::io(&path, "open"))?;
    summary.segments = last;
    summary.records = summary.events + summary.commits;
    summary.bytes = sealed_bytes + scan.valid_bytes;
    let log = Log::from_parts(
        dir,
        active,
        last,
        scan.valid_bytes,
        sealed_bytes,
        segment_bytes_max,
        order,
    );
    Ok((log, summary))
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
