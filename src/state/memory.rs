//! An in-memory [`StateStore`] for unit tests of the writer, boot and server.
//! Must never: be used outside tests (it shares nothing with PHP).

use super::StateStore;
use eventsrv_format::log_record::EventRecord;
use eventsrv_format::protocol::EntityChange;
use eventsrv_format::region::{LastRecord, LogLocation, RegionError, RegionImage, RegionStats};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct MemoryState {
    pub path: PathBuf,
    pub room_bytes: Option<u64>,
    pub used_bytes: u64,
    pub events: Vec<EventRecord>,
    pub streams: HashMap<String, u64>,
    pub checkpoints: BTreeMap<String, u64>,
    /// class -> uuid -> (data, position)
    pub entities: BTreeMap<String, BTreeMap<String, (Vec<u8>, u64)>>,
    pub committed: u64,
    pub projected: u64,
    pub published: bool,
    pub daemon_pid: Cell<u32>,
    pub workers: Cell<u32>,
    pub clients: Cell<u32>,
    pub applied_location: Cell<Option<LogLocation>>,
    pub applied_last_record: Cell<Option<LastRecord>>,
}

impl StateStore for MemoryState {
    fn event_bytes_bound(&self, event: &EventRecord) -> u64 {
        (128 + event.stream.len()
            + event.event_type.len()
            + event.metadata.len()
            + event.payload.len()) as u64
    }
    fn change_bytes_bound(&self, change: &EntityChange) -> u64 {
        match change {
            EntityChange::Upsert {
                class, uuid, data, ..
            } => (128 + class.len() + uuid.len() + data.len()) as u64,
            _ => 0,
        }
    }
    fn checkpoint_bytes_bound(&self, name: &str) -> u64 {
        (32 + name.len()) as u64
    }
    fn ensure_room(&self, bytes: u64) -> Result<(), RegionError> {
        match self.room_bytes {
            Some(room) if self.used_bytes + bytes > room => Err(RegionError::Full {
                needed: bytes,
                available: room - self.used_bytes,
                region_bytes: room,
            }),
            _ => Ok(()),
        }
    }
    fn stream_version(&self, stream: &str) -> u64 {
        self.streams.get(stream).copied().unwrap_or(0)
    }
    fn checkpoint(&self, name: &str) -> u64 {
        self.checkpoints.get(name).copied().unwrap_or(0)
    }
    fn last_position(&self) -> u64 {
        self.events.len() as u64
    }
    fn append_event(&mut self, position: u64, event: &EventRecord) -> Result<(), RegionError> {
        assert_eq!(position, self.last_position() + 1);
        assert_eq!(event.stream_version, self.stream_version(&event.stream) + 1);
        self.used_bytes += self.event_bytes_bound(event);
        self.streams
            .insert(event.stream.clone(), event.stream_version);
        self.events.push(event.clone());
        Ok(())
    }
    fn apply_change(&mut self, change: &EntityChange) -> Result<(), RegionError> {
        self.used_bytes += self.change_bytes_bound(change);
        match change {
            EntityChange::Upsert {
                class,
                uuid,
                data,
                position,
            } => {
                self.entities
                    .entry(class.clone())
                    .or_default()
                    .insert(uuid.clone(), (data.clone(), *position));
            }
            EntityChange::Delete { class, uuid } => {
                self.entities.entry(class.clone()).or_default().remove(uuid);
            }
            EntityChange::ResetClass { class } => {
                self.entities.entry(class.clone()).or_default().clear();
            }
            EntityChange::SwapClass { class, shadow } => {
                let rebuilt = self.entities.remove(shadow).unwrap_or_default();
                self.entities.insert(class.clone(), rebuilt);
                self.entities.insert(shadow.clone(), Default::default());
            }
        }
        Ok(())
    }
    fn set_checkpoint(&mut self, name: &str, position: u64) -> Result<(), RegionError> {
        self.checkpoints.insert(name.to_owned(), position);
        Ok(())
    }
    fn publish_committed(&mut self, position: u64) {
        assert!(position >= self.committed);
        self.committed = position;
    }
    fn publish_projected(&mut self, position: u64) {
        self.projected = position;
    }
    fn publish(&mut self) -> Result<(), RegionError> {
        self.published = true;
        Ok(())
    }
    fn set_daemon_pid(&self, pid: u32) {
        self.daemon_pid.set(pid);
    }
    fn set_workers_attached(&self, workers: u32) {
        self.workers.set(workers);
    }
    fn set_clients_connected(&self, clients: u32) {
        self.clients.set(clients);
    }
    fn stats(&self) -> RegionStats {
        RegionStats {
            region_bytes: self.room_bytes.unwrap_or(u64::MAX),
            arena_used_bytes: self.used_bytes,
            garbage_bytes: 0,
            committed_position: self.committed,
            projected_position: self.projected,
            stream_count: self.streams.len() as u64,
            entity_count: self.entities.values().map(|e| e.len() as u64).sum(),
            class_count: self.entities.len() as u64,
        }
    }
    fn classes(&self) -> Result<Vec<(String, u64)>, RegionError> {
        Ok(self
            .entities
            .iter()
            .map(|(class, e)| (class.clone(), e.len() as u64))
            .collect())
    }
    fn checkpoints(&self) -> Result<Vec<(String, u64)>, RegionError> {
        Ok(self
            .checkpoints
            .iter()
            .map(|(n, p)| (n.clone(), *p))
            .collect())
    }
    fn entities_of(&self, class: &str) -> Result<Vec<(String, Vec<u8>)>, RegionError> {
        Ok(self
            .entities
            .get(class)
            .map(|entities| {
                entities
                    .iter()
                    .map(|(uuid, (data, _))| (uuid.clone(), data.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn clear_applied_location(&self) {
        self.applied_location.set(None);
    }
    fn set_applied_location(&self, location: LogLocation, last: Option<LastRecord>) {
        self.applied_location.set(Some(location));
        self.applied_last_record.set(last);
    }
    fn applied_location(&self) -> Option<LogLocation> {
        self.applied_location.get()
    }
    fn applied_last_record(&self) -> Option<LastRecord> {
        self.applied_location
            .get()
            .and(self.applied_last_record.get())
    }
    fn copy_image(&mut self) -> Option<RegionImage> {
        None
    }
}
