//! Segment files: names, listing, creation.
//!
//! Owns: the file naming scheme (`00000000000000000001.seg`, dense from 1), the gap check, and
//! creating a new segment durably (header written to a temporary file, fsynced, renamed into
//! place, directory fsynced) so a segment file on disk always has a complete header.
//! Must never: encode a header itself (`SegmentHeader::encode` does), or delete a segment.

use super::LogError;
use eventsrv_format::log_record::SegmentHeader;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const LOG_DIR_NAME: &str = "log";
pub const SEGMENT_SUFFIX: &str = ".seg";
/// A segment being created; never listed as a segment, removed on start.
pub const CREATING_SUFFIX: &str = ".seg.creating";
const SEGMENT_NAME_DIGITS: usize = 20;

pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(LOG_DIR_NAME)
}

pub fn segment_path(log_dir: &Path, index: u64) -> PathBuf {
    log_dir.join(format!("{index:020}{SEGMENT_SUFFIX}"))
}

/// The index of a segment file name, or None for any other name.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|index| *index > 0)
}

/// Every segment index in the directory, ascending, checked to be exactly 1..=n.
pub fn list_segments(log_dir: &Path) -> Result<Vec<u64>, LogError> {
    let entries = std::fs::read_dir(log_dir).map_err(LogError::io(log_dir, "list"))?;
    let mut indices = Vec::new();
    for entry in entries {
        let entry = entry.map_err(LogError::io(log_dir, "list"))?;
        if let Some(index) = entry.file_name().to_str().and_then(parse_segment_name) {
            indices.push(index);
        }
    }
    indices.sort_unstable();
    let last = indices.last().copied().unwrap_or(0);
    for (expected, found) in (1u64..).zip(&indices) {
        if *found != expected {
            return Err(LogError::MissingSegment {
                missing: expected,
                last,
                path: segment_path(log_dir, expected),
            });
        }
    }
    debug_assert_eq!(indices.len() as u64, last);
    Ok(indices)
}

/// Remove half-created segments left by a crash during [`create_segment`].
pub fn remove_unfinished(log_dir: &Path) -> Result<(), LogError> {
    let entries = std::fs::read_dir(log_dir).map_err(LogError::io(log_dir, "list"))?;
    for entry in entries {
        let entry = entry.map_err(LogError::io(log_dir, "list"))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.ends_with(CREATING_SUFFIX)) {
            let path = entry.path();
            tracing::warn!(file = %path.display(), "removing a segment whose creation did not finish");
            std::fs::remove_file(&path).map_err(LogError::io(&path, "remove"))?;
        }
    }
    Ok(())
}

/// Create segment `index` with its header and return it opened for appending.
pub fn create_segment(log_dir: &Path, index: u64, position_before: u64) -> Result<File, LogError> {
    let path = segment_path(log_dir, index);
    let creating = log_dir.join(format!("{index:020}{CREATING_SUFFIX}"));
    let header = SegmentHeader {
        segment_index: index,
        position_before,
    }
    .encode();
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&creating)
            .map_err(LogError::io(&creating, "create"))?;
        file.write_all(&header)
            .map_err(LogError::io(&creating, "write the header of"))?;
        file.sync_all().map_err(LogError::io(&creating, "fsync"))?;
    }
    if path.exists() {
        return Err(LogError::Io {
            path,
            action: "create (it already exists)",
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    std::fs::rename(&creating, &path).map_err(LogError::io(&path, "rename into place"))?;
    fsync_dir(log_dir)?;
    // Records are written with `pwrite` at the end of the last one (docs/formats.md), not appended.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(LogError::io(&path, "open"))
}

pub fn fsync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(LogError::io(dir, "fsync directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        let dir = Path::new("/x");
        let path = segment_path(dir, 42);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name");
        assert_eq!(name, "00000000000000000042.seg");
        assert_eq!(parse_segment_name(name), Some(42));
        assert_eq!(parse_segment_name("42.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000000.seg"), None);
        assert_eq!(parse_segment_name("0000000000000000004a.seg"), None);
    }

    #[test]
    fn a_gap_names_the_missing_segment() {
        let dir = tempfile::tempdir().expect("tempdir");
        for index in [1, 2, 4] {
            create_segment(dir.path(), index, 0).expect("create");
        }
        match list_segments(dir.path()) {
            Err(LogError::MissingSegment {
                missing: 3,
                last: 4,
                ..
            }) => {}
            other => panic!("expected segment 3 of 4 missing, got {other:?}"),
        }
    }
}
