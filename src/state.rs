//! What the writer and boot need from the state region, as one trait.
//!
//! Owns: [`StateStore`], the seam between the daemon's logic and the shared-memory region. The
//! daemon runs on `eventsrv_format::region::RegionWriter`; unit tests run the same writer and
//! boot code on an in-memory double.
//! Must never: grow logic of its own: every method forwards to the region (which owns the layout).

#[cfg(test)]
pub mod memory;

use eventsrv_format::log_record::EventRecord;
use eventsrv_format::protocol::EntityChange;
use eventsrv_format::region::{
    LastRecord, LogLocation, RegionError, RegionImage, RegionStats, RegionWriter,
};
use std::path::Path;

/// The state region as the single writer thread sees it.
pub trait StateStore {
    /// Upper bound of region bytes `append_event` may use.
    fn event_bytes_bound(&self, event: &EventRecord) -> u64;
    /// Upper bound of region bytes `apply_change` may use.
    fn change_bytes_bound(&self, change: &EntityChange) -> u64;
    /// Upper bound of region bytes `set_checkpoint` may use.
    fn checkpoint_bytes_bound(&self, name: &str) -> u64;
    /// Ok if `bytes` more fit (with the region's own reserve).
    fn ensure_room(&self, bytes: u64) -> Result<(), RegionError>;
    fn stream_version(&self, stream: &str) -> u64;
    fn checkpoint(&self, name: &str) -> u64;
    fn last_position(&self) -> u64;
    fn append_event(&mut self, position: u64, event: &EventRecord) -> Result<(), RegionError>;
    fn apply_change(&mut self, change: &EntityChange) -> Result<(), RegionError>;
    fn set_checkpoint(&mut self, name: &str, position: u64) -> Result<(), RegionError>;
    fn publish_committed(&mut self, position: u64);
    fn publish_projected(&mut self, position: u64);
    /// Make a freshly built region live at its path (boot, once).
    fn publish(&mut self) -> Result<(), RegionError>;
    fn set_daemon_pid(&self, pid: u32);
    fn set_workers_attached(&self, workers: u32);
    fn set_clients_connected(&self, clients: u32);
    fn stats(&self) -> RegionStats;
    /// (class name, live entities) for every class.
    fn classes(&self) -> Result<Vec<(String, u64)>, RegionError>;
    fn checkpoints(&self) -> Result<Vec<(String, u64)>, RegionError>;
    /// (uuid, vtree data) of every live entity of `class`, in insertion order.
    fn entities_of(&self, class: &str) -> Result<Vec<(String, Vec<u8>)>, RegionError>;
    fn path(&self) -> &Path;
    /// Mark "a batch is being applied": the region no longer claims a log location.
    fn clear_applied_location(&self);
    /// The region now holds exactly the log records before `location`; the last of them starts
    /// at `last` in the same segment, if known.
    fn set_applied_location(&self, location: LogLocation, last: Option<LastRecord>);
    fn applied_location(&self) -> Option<LogLocation>;
    /// Where the last record before the applied location starts, if recorded with it.
    fn applied_last_record(&self) -> Option<LastRecord>;
    /// A copy of the region's bytes for a snapshot (between batches), if this store has bytes.
    fn copy_image(&mut self) -> Option<RegionImage>;
}

impl StateStore for RegionWriter {
    fn event_bytes_bound(&self, event: &EventRecord) -> u64 {
        RegionWriter::event_bytes_bound(event)
    }
    fn change_bytes_bound(&self, change: &EntityChange) -> u64 {
        RegionWriter::change_bytes_bound(change)
    }
    fn checkpoint_bytes_bound(&self, name: &str) -> u64 {
        RegionWriter::checkpoint_bytes_bound(name)
    }
    fn ensure_room(&self, bytes: u64) -> Result<(), RegionError> {
        RegionWriter::ensure_room(self, bytes)
    }
    fn stream_version(&self, stream: &str) -> u64 {
        RegionWriter::stream_version(self, stream)
    }
    fn checkpoint(&self, name: &str) -> u64 {
        RegionWriter::checkpoint(self, name)
    }
    fn last_position(&self) -> u64 {
        RegionWriter::last_position(self)
    }
    fn append_event(&mut self, position: u64, event: &EventRecord) -> Result<(), RegionError> {
        RegionWriter::append_event(self, position, event)
    }
    fn apply_change(&mut self, change: &EntityChange) -> Result<(), RegionError> {
        RegionWriter::apply_change(self, change)
    }
    fn set_checkpoint(&mut self, name: &str, position: u64) -> Result<(), RegionError> {
        RegionWriter::set_checkpoint(self, name, position)
    }
    fn publish_committed(&mut self, position: u64) {
        RegionWriter::publish_committed(self, position)
    }
    fn publish_projected(&mut self, position: u64) {
        RegionWriter::publish_projected(self, position)
    }
    fn publish(&mut self) -> Result<(), RegionError> {
        RegionWriter::publish(self)
    }
    fn set_daemon_pid(&self, pid: u32) {
        RegionWriter::set_daemon_pid(self, pid)
    }
    fn set_workers_attached(&self, workers: u32) {
        RegionWriter::set_workers_attached(self, workers)
    }
    fn set_clients_connected(&self, clients: u32) {
        RegionWriter::set_clients_connected(self, clients)
    }
    fn stats(&self) -> RegionStats {
        RegionWriter::stats(self)
    }
    fn classes(&self) -> Result<Vec<(String, u64)>, RegionError> {
        let classes = self.view().classes()?;
        Ok(classes
            .into_iter()
            .map(|(name, _index, live)| (name, live))
            .collect())
    }
    fn checkpoints(&self) -> Result<Vec<(String, u64)>, RegionError> {
        self.view().checkpoints()
    }
    fn entities_of(&self, class: &str) -> Result<Vec<(String, Vec<u8>)>, RegionError> {
        let view = self.view();
        let Some(index) = view.class_index(class.as_bytes())? else {
            return Ok(Vec::new());
        };
        view.entities(index)?
            .map(|entity| {
                entity.map(|entity| {
                    (
                        String::from_utf8_lossy(entity.uuid).into_owned(),
                        entity.data.to_vec(),
                    )
                })
            })
            .collect()
    }
    fn path(&self) -> &Path {
        RegionWriter::path(self)
    }
    fn clear_applied_location(&self) {
        RegionWriter::clear_applied_location(self)
    }
    fn set_applied_location(&self, location: LogLocation, last: Option<LastRecord>) {
        RegionWriter::set_applied_location(self, location, last)
    }
    fn applied_location(&self) -> Option<LogLocation> {
        RegionWriter::applied_location(self)
    }
    fn applied_last_record(&self) -> Option<LastRecord> {
        RegionWriter::applied_last_record(self)
    }
    fn copy_image(&mut self) -> Option<RegionImage> {
        Some(RegionWriter::copy_image(self))
    }
}
