//! Writer side of the region: the daemon's single writer thread is its only user.
//! Must never: overwrite a published record; publish a position before the records it covers.

use super::{RegionError, RegionView};
use crate::log_record::EventRecord;
use crate::protocol::EntityChange;
use std::path::{Path, PathBuf};

/// Counts for `eventsrv status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionStats {
    pub region_bytes: u64,
    pub arena_used_bytes: u64,
    pub garbage_bytes: u64,
    pub committed_position: u64,
    pub projected_position: u64,
    pub stream_count: u64,
    pub entity_count: u64,
    pub class_count: u64,
}

pub struct RegionWriter {
    mmap: memmap2::MmapMut,
    path: PathBuf,
    building_path: Option<PathBuf>,
}

impl RegionWriter {
    /// Create a fresh region for `path` in state "building", in a side file
    /// (`<path>.building-<pid>`) that [`RegionWriter::publish`] renames over `path`.
    /// The file is sized `region_bytes` sparse.
    pub fn create(path: &Path, region_bytes: u64, generation: u64) -> Result<RegionWriter, RegionError> {
        let _ = (path, region_bytes, generation);
        todo!("region writer: create")
    }

    /// Set state live, rename the side file over the published path, and mark the file that
    /// was there before (if it is a region) superseded so readers remap.
    pub fn publish(&mut self) -> Result<(), RegionError> {
        let _ = (&self.mmap, &self.path, &self.building_path);
        todo!("region writer: publish")
    }

    /// Mark this region superseded (used when another file replaces it).
    pub fn mark_superseded(&self) {
        todo!()
    }

    /// A reader's view of this same mapping (for lookups the writer needs).
    pub fn view(&self) -> RegionView<'_> {
        todo!()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> RegionStats {
        todo!()
    }

    /// Upper bound of arena bytes `append_event` may use for this event.
    pub fn event_bytes_bound(event: &EventRecord) -> u64 {
        let _ = event;
        todo!()
    }

    /// Upper bound of arena bytes `apply_change` may use for this change.
    pub fn change_bytes_bound(change: &EntityChange) -> u64 {
        let _ = change;
        todo!()
    }

    /// Ok if `bytes` more (plus the reserve for growing the hash table) fit in the arena.
    pub fn ensure_room(&self, bytes: u64) -> Result<(), RegionError> {
        let _ = bytes;
        todo!()
    }

    /// Current version of a stream (0 if none), including events appended but not yet published.
    pub fn stream_version(&self, stream: &str) -> u64 {
        let _ = stream;
        todo!()
    }

    /// Current checkpoint of a projector/reactor (0 if none).
    pub fn checkpoint(&self, name: &str) -> u64 {
        let _ = name;
        todo!()
    }

    /// Last event position appended (published or not).
    pub fn last_position(&self) -> u64 {
        todo!()
    }

    /// Add an event. Asserts: `position == last_position() + 1` and
    /// `event.stream_version == stream_version(stream) + 1`. Visible to readers only after
    /// [`RegionWriter::publish_committed`].
    pub fn append_event(&mut self, position: u64, event: &EventRecord) -> Result<(), RegionError> {
        let _ = (position, event);
        todo!()
    }

    /// Apply one entity change (upsert, delete, reset class).
    pub fn apply_change(&mut self, change: &EntityChange) -> Result<(), RegionError> {
        let _ = change;
        todo!()
    }

    pub fn set_checkpoint(&mut self, name: &str, position: u64) -> Result<(), RegionError> {
        let _ = (name, position);
        todo!()
    }

    /// Publish the committed position (release), bump the commit futex word, wake waiters.
    pub fn publish_committed(&mut self, position: u64) {
        let _ = position;
        todo!()
    }

    /// Publish the projected position (release), bump the projected futex word, wake waiters.
    pub fn publish_projected(&mut self, position: u64) {
        let _ = position;
        todo!()
    }

    pub fn set_daemon_pid(&self, pid: u32) {
        let _ = pid;
        todo!()
    }
    pub fn set_workers_attached(&self, workers: u32) {
        let _ = workers;
        todo!()
    }
    pub fn set_clients_connected(&self, clients: u32) {
        let _ = clients;
        todo!()
    }
}
