//! The open log: appending group-committed batches to the highest segment.
//!
//! Owns: the active segment's file handle, one `write_all` per batch, how far the active segment
//! is known durable (`fdatasync` runs on the syncer thread, docs/formats.md#group-commit, or in
//! [`Log::append`] for callers without one), and rolling to a new segment once the active one
//! passes the segment size at a batch boundary where everything written is durable.
//! Must never: write a record that breaks an ordering invariant (asserted: that is a writer bug),
//! roll away from a segment with bytes not yet durable, or report a batch durable before
//! `fdatasync` returned.

use super::scan::{OrderCheck, ORDER_CHECK_STREAMS_MAX};
use super::segment::{create_segment, segment_path};
use super::LogError;
use eventsrv_format::limits::{BATCH_BYTES_MAX, LOG_WRITE_BYTES_MAX, LOG_ZEROED_AHEAD_BYTES};
use eventsrv_format::log_record::{encode_record, LogRecord};
use eventsrv_format::region::LastRecord;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where one written batch ends, for the syncer and the region's applied location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenBatch {
    pub segment: u64,
    /// Byte offset just after the batch's last record.
    pub end_offset: u64,
    /// Position of the batch's last record.
    pub last_position: u64,
    /// Bytes this batch wrote.
    pub bytes: u64,
    /// Where the batch's last record starts in `segment`, and the last commit position up to it.
    pub last_record: LastRecord,
}

/// Sizes for `eventsrv status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    pub segments: u64,
    pub bytes: u64,
    pub last_position: u64,
    pub last_commit_position: u64,
}

pub struct Log {
    dir: PathBuf,
    /// Shared with the syncer thread, which only ever calls `fdatasync` on it.
    active: Arc<File>,
    active_index: u64,
    /// Where the active segment's records end (the next record is written here).
    active_bytes: u64,
    /// Length of the active segment file: its records, then the zero-filled tail
    /// (docs/formats.md, "Zero-filled tail").
    file_bytes: u64,
    /// Writing zeros ahead failed in this segment (logged once): records are appended until the
    /// log rolls.
    zero_fill_failed: bool,
    /// Bytes of the active segment known durable (`active_bytes` once every batch is synced).
    durable_bytes: u64,
    sealed_bytes: u64,
    segment_bytes_max: u64,
    order: OrderCheck,
    /// [`ORDER_CHECK_STREAMS_MAX`] (smaller in tests).
    order_streams_max: usize,
    /// Where the active segment's last record starts; 0 while the segment holds none (or after
    /// a failed batch was cut off, when it is no longer known).
    last_record_offset: u64,
    buffer: Vec<u8>,
}

impl Log {
    /// Built by [`super::recovery::open`] once every segment verified (and by tests that need a
    /// log on a failing device).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn from_parts(
        dir: PathBuf,
        active: File,
        active_index: u64,
        active_bytes: u64,
        file_bytes: u64,
        sealed_bytes: u64,
        segment_bytes_max: u64,
        order: OrderCheck,
        last_record_offset: Option<u64>,
    ) -> Log {
        assert!(active_index >= 1, "segments are numbered from 1");
        assert!(
            file_bytes >= active_bytes,
            "the segment file ({file_bytes} bytes) holds its {active_bytes} bytes of records"
        );
        if let Some(offset) = last_record_offset {
            assert!(
                offset >= eventsrv_format::log_record::SEGMENT_HEADER_BYTES as u64
                    && offset < active_bytes,
                "the last record starts at {offset}, inside the segment's {active_bytes} bytes"
            );
        }
        Log {
            dir,
            active: Arc::new(active),
            active_index,
            active_bytes,
            file_bytes,
            zero_fill_failed: false,
            durable_bytes: active_bytes,
            sealed_bytes,
            segment_bytes_max,
            order,
            order_streams_max: ORDER_CHECK_STREAMS_MAX,
            last_record_offset: last_record_offset.unwrap_or(0),
            buffer: Vec::new(),
        }
    }

    /// Streams whose versions the log's order check tracks itself.
    #[cfg(test)]
    pub fn streams_tracked(&self) -> usize {
        self.order.streams_tracked()
    }

    #[cfg(test)]
    pub(crate) fn set_order_streams_max(&mut self, limit: usize) {
        self.order_streams_max = limit;
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn last_position(&self) -> u64 {
        self.order.last_position()
    }

    pub fn last_commit_position(&self) -> u64 {
        self.order.last_commit_position()
    }

    /// Where the log ends: (active segment index, byte offset just after its last record).
    /// The state region records this after every applied batch (docs/snapshots.md).
    pub fn end(&self) -> (u64, u64) {
        (self.active_index, self.active_bytes)
    }

    /// Where the log's last record starts, if it is in the active segment (as [`Log::end`]
    /// reports it): the region records it with the applied location, so a later boot checks
    /// that location with one frame (docs/snapshots.md).
    pub fn last_record(&self) -> Option<LastRecord> {
        (self.last_record_offset != 0).then(|| LastRecord {
            offset: self.last_record_offset,
            commit_position: self.order.last_commit_position(),
        })
    }

    pub fn stats(&self) -> LogStats {
        LogStats {
            segments: self.active_index,
            bytes: self.sealed_bytes + self.active_bytes,
            last_position: self.order.last_position(),
            last_commit_position: self.order.last_commit_position(),
        }
    }

    /// Make `records` durable: one write, one fdatasync. Returns the bytes written.
    /// After an error the log is in an unknown state: the caller must stop using it.
    #[cfg(test)]
    pub fn append(
        &mut self,
        records: &[LogRecord],
        versions_before: &dyn Fn(&str) -> u64,
    ) -> Result<u64, LogError> {
        let written = self.write(records, versions_before)?;
        if let Err(error) = self.sync() {
            self.cut_not_durable();
            return Err(error);
        }
        self.mark_durable(written);
        Ok(written.bytes)
    }

    /// True when the next [`Log::write`] starts a new segment: everything written must be
    /// durable first (the caller waits for its syncer).
    pub fn needs_roll(&self) -> bool {
        self.active_bytes >= self.segment_bytes_max
    }

    /// Whether every written byte is known durable.
    pub fn all_durable(&self) -> bool {
        self.durable_bytes == self.active_bytes
    }

    /// Write `records` after everything written so far, without `fdatasync`: nothing of it may
    /// be acknowledged before a sync of [`Log::sync_file`] that started after this returned.
    /// `versions_before` gives each stream's version as of everything written before this batch
    /// (the writer: its batches not yet applied, then the state region). The order check asks it
    /// for the streams it does not track: after a boot from a base, and after it forgot them
    /// because it tracked more than [`ORDER_CHECK_STREAMS_MAX`], so that its memory does not grow
    /// with the number of streams ever written.
    /// On a failed write the batch is cut off again; the caller must stop using the log.
    pub fn write(
        &mut self,
        records: &[LogRecord],
        versions_before: &dyn Fn(&str) -> u64,
    ) -> Result<WrittenBatch, LogError> {
        assert!(!records.is_empty(), "an empty batch is never written");
        if self.needs_roll() {
            assert!(
                self.all_durable(),
                "a segment is only sealed once everything written to it is durable"
            );
            self.roll()?;
        }
        if self.order.forget_streams_over(self.order_streams_max) {
            tracing::debug!(
                limit = self.order_streams_max,
                "log order check: forgot its stream versions, the writer's state has them"
            );
        }
        self.buffer.clear();
        let mut last_record_at = 0;
        for record in records {
            if let Err(why) = self
                .order
                .check_and_apply_with(record, Some(versions_before))
            {
                panic!("the writer produced a record that breaks the log order: {why}");
            }
            last_record_at = self.buffer.len() as u64;
            encode_record(record, &mut self.buffer);
        }
        assert!(
            self.buffer.len() <= LOG_WRITE_BYTES_MAX,
            "one write of {} bytes: recovery assumes a torn write spans at most {LOG_WRITE_BYTES_MAX}",
            self.buffer.len()
        );
        let start = self.active_bytes;
        if let Err(source) = self.active.write_all_at(&self.buffer, start) {
            // Named only on failure: formatting it cost a tenth of a write's daemon CPU.
            let path = segment_path(&self.dir, self.active_index);
            self.cut_back_to(start, &path);
            return Err(LogError::Io {
                path,
                action: "write to",
                source,
            });
        }
        let bytes = self.buffer.len() as u64;
        self.active_bytes += bytes;
        self.file_bytes = self.file_bytes.max(self.active_bytes);
        self.last_record_offset = start + last_record_at;
        // After the records: the sync that makes them durable covers these zeros too.
        self.keep_zeroed_ahead();
        if self.buffer.capacity() > BATCH_BYTES_MAX {
            // One oversized request must not pin its buffer for the daemon's lifetime.
            self.buffer = Vec::new();
        }
        Ok(WrittenBatch {
            segment: self.active_index,
            end_offset: self.active_bytes,
            last_position: self.order.last_position(),
            bytes,
            last_record: self.last_record().expect("a batch was just written"),
        })
    }

    /// Keep at least half of [`LOG_ZEROED_AHEAD_BYTES`] of written zeros after the last record,
    /// so the next writes overwrite blocks the file system already has (their `fdatasync`
    /// commits no metadata). Best effort: where it fails, records are appended as before.
    fn keep_zeroed_ahead(&mut self) {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        if self.zero_fill_failed
            || self.file_bytes - self.active_bytes >= LOG_ZEROED_AHEAD_BYTES / 2
        {
            return;
        }
        let target = self.active_bytes + LOG_ZEROED_AHEAD_BYTES;
        while self.file_bytes < target {
            let piece = &ZEROS[..(target - self.file_bytes).min(ZEROS.len() as u64) as usize];
            if let Err(error) = self.active.write_all_at(piece, self.file_bytes) {
                self.zero_fill_failed = true;
                tracing::warn!(
                    segment = %segment_path(&self.dir, self.active_index).display(),
                    offset = self.file_bytes,
                    "cannot write zeros ahead of the log's last record ({error}): appending \
                     until the next segment (each fdatasync then commits file-system metadata)"
                );
                return;
            }
            self.file_bytes += piece.len() as u64;
        }
    }

    /// The active segment, for the syncer's `fdatasync`.
    pub fn sync_file(&self) -> Arc<File> {
        Arc::clone(&self.active)
    }

    /// A sync that started after `batch` was written returned successfully.
    pub fn mark_durable(&mut self, batch: WrittenBatch) {
        assert_eq!(
            batch.segment, self.active_index,
            "batches of a sealed segment were durable before it was sealed"
        );
        assert!(batch.end_offset <= self.active_bytes);
        self.durable_bytes = self.durable_bytes.max(batch.end_offset);
    }

    /// After a failed `fdatasync`: cut the active segment back to what is known durable.
    pub fn cut_not_durable(&mut self) {
        let path = segment_path(&self.dir, self.active_index);
        self.cut_back_to(self.durable_bytes, &path);
    }

    /// After a failed write or fdatasync: cut the segment back to `offset` (where the failed
    /// batch, or the oldest batch not known durable, started). A short write (ENOSPC) leaves the
    /// batch's first records whole on disk; nobody was told they were written, so they must not
    /// come back on the next start as a half-applied append. Best effort: after an fdatasync
    /// error the kernel may already have written (or dropped) pages, so that outcome stays
    /// unknown; the daemon stops either way.
    fn cut_back_to(&mut self, offset: u64, path: &Path) {
        let cut = self
            .active
            .set_len(offset)
            .and_then(|()| self.active.sync_all());
        self.active_bytes = offset;
        self.file_bytes = offset;
        self.durable_bytes = self.durable_bytes.min(offset);
        self.last_record_offset = 0;
        match cut {
            Ok(()) => tracing::warn!(
                segment = %path.display(),
                offset,
                "cut the failed batch off the log"
            ),
            Err(e) => tracing::error!(
                segment = %path.display(),
                offset,
                "cannot cut the failed batch off the log ({e}): the next start cuts or refuses \
                 what is left"
            ),
        }
    }

    /// fdatasync the active segment (shutdown).
    pub fn sync(&self) -> Result<(), LogError> {
        rustix::fs::fdatasync(&self.active).map_err(|errno| LogError::Io {
            path: segment_path(&self.dir, self.active_index),
            action: "fdatasync",
            source: errno.into(),
        })
    }

    fn roll(&mut self) -> Result<(), LogError> {
        // Only the highest segment has a zero-filled tail: cut it (durably) before the next
        // segment exists.
        let sealing = segment_path(&self.dir, self.active_index);
        self.active
            .set_len(self.active_bytes)
            .map_err(LogError::io(&sealing, "cut the zero-filled tail of"))?;
        self.active
            .sync_data()
            .map_err(LogError::io(&sealing, "fdatasync"))?;
        let next = self.active_index + 1;
        let file = create_segment(&self.dir, next, self.order.last_position())?;
        tracing::info!(
            sealed = %segment_path(&self.dir, self.active_index).display(),
            sealed_bytes = self.active_bytes,
            next = %segment_path(&self.dir, next).display(),
            "rolled to a new log segment"
        );
        self.sealed_bytes += self.active_bytes;
        self.active = Arc::new(file);
        self.active_index = next;
        self.active_bytes = eventsrv_format::log_record::SEGMENT_HEADER_BYTES as u64;
        self.file_bytes = self.active_bytes;
        self.zero_fill_failed = false;
        self.last_record_offset = 0;
        // create_segment fsynced the header.
        self.durable_bytes = self.active_bytes;
        Ok(())
    }
}
