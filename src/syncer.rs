//! The syncer thread: `fdatasync` of the active log segment, off the writer thread, so the
//! writer can collect, plan, encode and write the next batch while the disk flushes the last one
//! (docs/formats.md#group-commit).
//!
//! Owns: one `fdatasync` per job, and reporting the outcome to the writer.
//! Must never: write, apply or acknowledge anything (the writer does, in log order, once a report
//! covers the batch), report a batch durable whose bytes were written after its `fdatasync`
//! started (the writer only asks for batches it already wrote), or try again after a failed
//! `fdatasync` (the kernel may have dropped the dirty pages: the daemon stops).

use crate::writer_queue::{SyncReport, SyncerHandle};

/// Run until the writer stops it or goes away, or a sync fails.
pub fn run(handle: SyncerHandle) {
    while let Some(job) = handle.next_job() {
        match rustix::fs::fdatasync(&*job.file) {
            Ok(()) => handle.report(SyncReport::Durable(job.batch)),
            Err(errno) => {
                handle.report(SyncReport::Failed(errno.into()));
                return;
            }
        }
    }
}
