//! Read-only walking of the log for the CLI (`eventsrv tail`, `eventsrv events`), with or
//! without a daemon running.
//!
//! Owns: a cursor (segment, offset, ordering state) that can be polled again for records the
//! daemon appended since (`--follow`), and moves to the next segment once it exists.
//! Must never: write, truncate or lock anything; an incomplete record at the end of the highest
//! segment is "not written yet", not something to repair.

use super::scan::{check_header, next_record, Next, OrderCheck};
use super::segment::{list_segments, log_dir, segment_path};
use super::LogError;
use eventsrv_format::log_record::{LogRecord, SEGMENT_HEADER_BYTES};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

pub struct LogCursor {
    dir: PathBuf,
    index: u64,
    /// Next byte to read in segment `index` (0: header not read yet).
    offset: u64,
    order: OrderCheck,
}

impl LogCursor {
    /// Start at the first record of the log under `data_dir`. Fails if there is no log, or if
    /// it has a gap.
    pub fn open(data_dir: &std::path::Path) -> Result<LogCursor, LogError> {
        let dir = log_dir(data_dir);
        let indices = list_segments(&dir)?;
        if indices.is_empty() {
            return Err(LogError::Io {
                path: dir,
                action: "read (no log segments found)",
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        Ok(LogCursor {
            dir,
            index: 1,
            offset: 0,
            order: OrderCheck::new(),
        })
    }

    /// Hand every record written since the last call to `visit`, in log order. Returns how many.
    /// `visit` returns false to stop early.
    pub fn poll(&mut self, visit: &mut dyn FnMut(&LogRecord) -> bool) -> Result<u64, LogError> {
        let mut delivered = 0;
        let mut reread_after_roll = false;
        loop {
            let path = segment_path(&self.dir, self.index);
            let bytes = self.read_rest(&path)?;
            let mut at = 0;
            let base = self.offset as usize;
            if self.offset == 0 {
                if bytes.len() < SEGMENT_HEADER_BYTES {
                    return Ok(delivered);
                }
                check_header(&path, &bytes, self.index, self.order.last_position())?;
                at = SEGMENT_HEADER_BYTES;
            }
            let stopped_early = loop {
                match next_record(&bytes, at, base) {
                    Next::Record { record, len } => {
                        let offset = (base + at) as u64;
                        self.order
                            .check_and_apply(&record)
                            .map_err(|why| LogError::Corrupt {
                                path: path.clone(),
                                offset,
                                why,
                            })?;
                        at += len;
                        delivered += 1;
                        if !visit(&record) {
                            break true;
                        }
                    }
                    // Not written yet: the zero-filled tail, or a write still in progress.
                    Next::End | Next::ZeroTail { .. } | Next::Torn { .. } => break false,
                    Next::Corrupt { why } => {
                        return Err(LogError::Corrupt {
                            path: path.clone(),
                            offset: (base + at) as u64,
                            why,
                        });
                    }
                }
            };
            self.offset += at as u64;
            if stopped_early {
                return Ok(delivered);
            }
            let next = segment_path(&self.dir, self.index + 1);
            if !next.exists() {
                return Ok(delivered);
            }
            if at == bytes.len() {
                self.index += 1;
                self.offset = 0;
                reread_after_roll = false;
            } else if reread_after_roll {
                return Err(LogError::Corrupt {
                    path,
                    offset: self.offset,
                    why: "sealed segment does not end after its last record".into(),
                });
            } else {
                // The daemon may have finished this segment after our read: look once more.
                reread_after_roll = true;
            }
        }
    }

    fn read_rest(&self, path: &std::path::Path) -> Result<Vec<u8>, LogError> {
        let mut file = std::fs::File::open(path).map_err(LogError::io(path, "open"))?;
        file.seek(SeekFrom::Start(self.offset))
            .map_err(LogError::io(path, "seek in"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(LogError::io(path, "read"))?;
        Ok(bytes)
    }
}
