//! The event log on disk: `<data-dir>/log/NNNNNNNNNNNNNNNNNNNN.seg` (docs/formats.md#event-log).
//!
//! Owns: the segment files. [`recovery`] opens and verifies them on start (cutting a torn tail,
//! refusing corruption), [`appender::Log`] appends group-committed batches and rolls segments,
//! [`reader`] scans them read-only for the CLI. Record and header bytes come from
//! `eventsrv_format::log_record`; this module only moves them between memory and files.
//! Must never: cut a complete record, write anywhere but the end of the highest segment, or
//! acknowledge bytes it has not `fdatasync`ed.

pub mod appender;
pub mod reader;
pub mod recovery;
pub mod scan;
pub mod segment;

pub use appender::{Log, LogStats};
pub use recovery::{
    open, open_from_base, open_located, BaseOpenError, LogBase, RecoverySummary, TornTail,
};

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
pub enum LogError {
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    /// Segments must be numbered 1..=last without a gap.
    MissingSegment {
        missing: u64,
        last: u64,
        path: PathBuf,
    },
    /// A complete record (or a header) that does not verify, or breaks an ordering invariant.
    Corrupt {
        path: PathBuf,
        offset: u64,
        why: String,
    },
    /// The replay target refused a record (e.g. the state region is too small).
    Replay {
        path: PathBuf,
        offset: u64,
        why: String,
    },
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Io {
                path,
                action,
                source,
            } => {
                write!(
                    f,
                    "log I/O error: cannot {action} {}: {source}",
                    path.display()
                )
            }
            LogError::MissingSegment {
                missing,
                last,
                path,
            } => write!(
                f,
                "log segment {missing} of {last} is missing ({} does not exist); refusing to \
                 start on a log with a hole: restore the segment from a backup",
                path.display()
            ),
            LogError::Corrupt { path, offset, why } => write!(
                f,
                "log corrupt: segment {} at byte offset {offset}: {why}; refusing to start (a \
                 complete record is never cut): restore the segment from a backup",
                path.display()
            ),
            LogError::Replay { path, offset, why } => write!(
                f,
                "cannot replay the record at byte offset {offset} of segment {}: {why}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LogError {}

impl LogError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
    ) -> impl FnOnce(io::Error) -> LogError {
        let path = path.into();
        move |source| LogError::Io {
            path,
            action,
            source,
        }
    }
}

#[cfg(test)]
mod tests;
