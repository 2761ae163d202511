//! Reader side of the region: bounds-checked, lock-free views for PHP processes and the CLI.
//! Must never: write to the mapping, or trust an offset before checking it.

use super::{RegionError, RegionState};
use std::path::Path;
use std::sync::atomic::AtomicU32;

/// A read-only mapping of a region file, with the identity it was opened with.
pub struct MappedRegion {
    mmap: memmap2::Mmap,
    pub inode: u64,
    pub generation: u64,
}

impl MappedRegion {
    /// Map `path` read-only and check magic, layout version and size.
    pub fn open(path: &Path) -> Result<MappedRegion, RegionError> {
        let _ = path;
        todo!("region reader: open")
    }

    pub fn view(&self) -> RegionView<'_> {
        let _ = &self.mmap;
        todo!("region reader: view")
    }
}

/// A view of one mapped region. Every accessor is lock-free and never blocks the writer.
#[derive(Clone, Copy)]
pub struct RegionView<'a> {
    base: *const u8,
    len: usize,
    _mapping: std::marker::PhantomData<&'a [u8]>,
}

/// Copy of the header fields at one moment (for status output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSnapshot {
    pub layout_version: u32,
    pub region_bytes: u64,
    pub generation: u64,
    pub state: RegionState,
    pub daemon_pid: u32,
    pub arena_tail: u64,
    pub committed_position: u64,
    pub projected_position: u64,
    pub stream_count: u64,
    pub entity_count: u64,
    pub class_count: u64,
    pub workers_attached: u32,
    pub clients_connected: u32,
    pub garbage_bytes: u64,
    pub created_at_us: u64,
}

/// One entity version, borrowed from the mapping.
#[derive(Debug, Clone, Copy)]
pub struct EntityRef<'a> {
    pub uuid: &'a [u8],
    /// vtree of the entity's properties
    pub data: &'a [u8],
    pub position: u64,
}

/// One event, borrowed from the mapping.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub position: u64,
    pub stream_version: u64,
    pub recorded_at_us: i64,
    pub event_id: [u8; 16],
    pub stream: &'a [u8],
    pub event_type: &'a [u8],
    /// vtree
    pub metadata: &'a [u8],
    /// vtree
    pub payload: &'a [u8],
}

/// Live entities of one class in insertion order, as of the moment the iterator was made.
pub struct EntityIter<'a> {
    view: RegionView<'a>,
    _todo: std::marker::PhantomData<&'a ()>,
}

impl<'a> Iterator for EntityIter<'a> {
    type Item = Result<EntityRef<'a>, RegionError>;
    fn next(&mut self) -> Option<Self::Item> {
        let _ = self.view;
        todo!("region reader: entity iteration")
    }
}

impl<'a> RegionView<'a> {
    /// # Safety
    /// `base..base+len` must stay mapped (read-only is enough) for `'a`.
    pub unsafe fn from_raw(base: *const u8, len: usize) -> Result<RegionView<'a>, RegionError> {
        let _ = (base, len);
        todo!("region reader: from_raw (checks magic, layout version, size)")
    }

    pub fn header(&self) -> HeaderSnapshot {
        todo!()
    }
    pub fn state(&self) -> RegionState {
        todo!()
    }
    pub fn generation(&self) -> u64 {
        todo!()
    }
    pub fn committed_position(&self) -> u64 {
        todo!()
    }
    pub fn projected_position(&self) -> u64 {
        todo!()
    }
    pub fn workers_attached(&self) -> u32 {
        todo!()
    }
    /// Futex word bumped after the committed position moves.
    pub fn commit_seq(&self) -> &'a AtomicU32 {
        todo!()
    }
    /// Futex word bumped after the projected position moves.
    pub fn projected_seq(&self) -> &'a AtomicU32 {
        todo!()
    }
    /// The index of an entity class, if any entity of it was ever stored.
    pub fn class_index(&self, class: &[u8]) -> Result<Option<u32>, RegionError> {
        let _ = class;
        todo!()
    }
    /// (name, class index, live entity count) for every class.
    pub fn classes(&self) -> Result<Vec<(String, u32, u64)>, RegionError> {
        todo!()
    }
    pub fn find_entity(&self, class_index: u32, uuid: &[u8]) -> Result<Option<EntityRef<'a>>, RegionError> {
        let _ = (class_index, uuid);
        todo!()
    }
    pub fn entities(&self, class_index: u32) -> Result<EntityIter<'a>, RegionError> {
        let _ = class_index;
        todo!()
    }
    pub fn entity_count(&self, class_index: u32) -> Result<u64, RegionError> {
        let _ = class_index;
        todo!()
    }
    /// 0 for a stream that has no events.
    pub fn stream_version(&self, stream: &[u8]) -> Result<u64, RegionError> {
        let _ = stream;
        todo!()
    }
    /// Events of `stream` with version > `after_version`, oldest first, appended to `out`.
    pub fn stream_events(&self, stream: &[u8], after_version: u64, out: &mut Vec<EventRef<'a>>) -> Result<(), RegionError> {
        let _ = (stream, after_version, out);
        todo!()
    }
    /// The event at a global position (1-based), if committed.
    pub fn event_at(&self, position: u64) -> Result<Option<EventRef<'a>>, RegionError> {
        let _ = position;
        todo!()
    }
    pub fn checkpoint(&self, name: &[u8]) -> Result<Option<u64>, RegionError> {
        let _ = name;
        todo!()
    }
    /// Every checkpoint in creation order.
    pub fn checkpoints(&self) -> Result<Vec<(String, u64)>, RegionError> {
        todo!()
    }
}
