//! The reader's public queries over a [`RegionView`]: classes and entities (in insertion order),
//! streams and events (only committed ones), checkpoints.
//! Must never: return an event past the committed position, or follow an offset unchecked (every
//! offset goes through the checked primitives of `reader.rs` and the decoders of `records.rs`,
//! or `listed_entity`, which makes the same checks as those for the hot loop of `entities`).

use super::layout::*;
use super::reader::{corrupt, le_u32, le_u64};
use super::records::{ClassHeader, EventLink};
use super::{RegionError, RegionView};
use std::sync::atomic::Ordering;

/// Entity keys (class index + id) up to this long are built on the stack by `find_entity`.
const ENTITY_KEY_ON_STACK_BYTES: usize = 64;

/// One entity version, borrowed from the mapping.
#[derive(Debug, Clone, Copy)]
pub struct EntityRef<'a> {
    /// The entity's id, from its cell key (the record does not repeat it).
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
/// After the first error the iterator ends.
pub struct EntityIter<'a> {
    view: RegionView<'a>,
    class_index: u32,
    list_off: u64,
    count: u64,
    next: u64,
    /// The list chunk the last entry came from (index, its checked bytes): entries of one
    /// chunk are read from it without re-checking the chunk for each entry.
    chunk: Option<(u64, &'a [u8])>,
}

impl<'a> EntityIter<'a> {
    /// The cell offset in entry `index` of the class's entity list (`index` < the count).
    fn cell_at(&mut self, index: u64) -> Result<u64, RegionError> {
        let (chunk, entry) = list_slot(index);
        let entries = match self.chunk {
            Some((current, entries)) if current == chunk => entries,
            _ => {
                let entries = self.view.list_chunk(self.list_off, chunk)?;
                self.chunk = Some((chunk, entries));
                entries
            }
        };
        let at = entry as usize * 8;
        match entries.get(at..at + 8) {
            Some(bytes) => Ok(le_u64(bytes, 0)),
            None => corrupt(
                self.list_off,
                format!("list entry {index} outside its chunk"),
            ),
        }
    }
}

impl<'a> Iterator for EntityIter<'a> {
    type Item = Result<EntityRef<'a>, RegionError>;
    fn next(&mut self) -> Option<Self::Item> {
        while self.next < self.count {
            let index = self.next;
            self.next += 1;
            let entity = self
                .cell_at(index)
                .and_then(|cell_off| self.view.listed_entity(cell_off, self.class_index));
            match entity {
                Ok(Some(entity)) => return Some(Ok(entity)),
                Ok(None) => continue,
                Err(error) => {
                    self.next = self.count;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}

impl<'a> RegionView<'a> {
    // ---- entities -------------------------------------------------------------------------

    /// The index of an entity class, if any entity of it was ever stored.
    pub fn class_index(&self, class: &[u8]) -> Result<Option<u32>, RegionError> {
        let Some(found) = self.find_cell(CELL_CLASS, class)? else {
            return Ok(None);
        };
        let header_off = found.cell.value.load(Ordering::Acquire);
        let header = self.class_header(header_off)?;
        if header.name != class {
            return corrupt(header_off, "class header name differs from its cell key");
        }
        Ok(Some(header.class_index))
    }

    /// (name, class index, live entity count) for every class.
    pub fn classes(&self) -> Result<Vec<(String, u32, u64)>, RegionError> {
        let count = self.list_count(OFF_CLASSES_LIST)?;
        let mut classes = Vec::new();
        for index in 0..count {
            let header = self.class_by_index(index)?;
            let name = String::from_utf8_lossy(header.name).into_owned();
            classes.push((
                name,
                u32::try_from(index).expect("class index below 2^32"),
                header.live_count.load(Ordering::Acquire),
            ));
        }
        Ok(classes)
    }

    /// Class header of class `index` (an entry of the classes list the caller knows exists):
    /// the class's own header, or the one a class swap put in its place. Either way its
    /// `class_index` is the key index of the class's entities now (docs/region.md).
    #[inline]
    fn class_by_index(&self, index: u64) -> Result<ClassHeader<'a>, RegionError> {
        let header_off = self.list_entry_acquire(OFF_CLASSES_LIST, index)?;
        let header = self.class_header(header_off)?;
        let key_index = u64::from(header.class_index);
        let own_or_swapped = key_index == index
            || key_index >= u64::from(SWAP_KEY_INDEX_BASE)
            || key_index < self.list_count(OFF_CLASSES_LIST)?;
        if !own_or_swapped {
            return corrupt(
                header_off,
                format!(
                    "classes list entry {index} holds class {}",
                    header.class_index
                ),
            );
        }
        Ok(header)
    }

    /// Class header of `class_index`, or None if no such class exists yet.
    #[inline]
    fn class_if_any(&self, class_index: u32) -> Result<Option<ClassHeader<'a>>, RegionError> {
        if u64::from(class_index) >= self.list_count(OFF_CLASSES_LIST)? {
            return Ok(None);
        }
        self.class_by_index(u64::from(class_index)).map(Some)
    }

    pub fn find_entity(
        &self,
        class_index: u32,
        uuid: &[u8],
    ) -> Result<Option<EntityRef<'a>>, RegionError> {
        // One acquire load of the class's list entry: a class swap between two finds is seen
        // whole by each (the old entities or the new ones, never a mix).
        let Some(header) = self.class_if_any(class_index)? else {
            return Ok(None);
        };
        let class_index = header.class_index;
        // The key on the stack for ordinary ids (a uuid is 36 bytes): no allocation per read.
        let mut on_stack = [0u8; ENTITY_KEY_ON_STACK_BYTES];
        let heap;
        let key: &[u8] = if 4 + uuid.len() <= ENTITY_KEY_ON_STACK_BYTES {
            on_stack[..4].copy_from_slice(&class_index.to_le_bytes());
            on_stack[4..4 + uuid.len()].copy_from_slice(uuid);
            &on_stack[..4 + uuid.len()]
        } else {
            heap = entity_key(class_index, uuid);
            &heap
        };
        let Some(found) = self.find_cell(CELL_ENTITY, key)? else {
            return Ok(None);
        };
        // find_cell checked the cell's kind and that its key is exactly `key` (so its class
        // prefix is `class_index`): what `listed_entity` checks for a cell from a list. The id
        // handed out is the cell's (the mapping's bytes, equal to `uuid`).
        let record_off = found.cell.value.load(Ordering::Acquire);
        if record_off == 0 {
            return Ok(None);
        }
        self.entity_record(record_off, &found.cell.key[4..])
            .map(Some)
    }

    pub fn entities(&self, class_index: u32) -> Result<EntityIter<'a>, RegionError> {
        let (list_off, count, key_index) = match self.class_if_any(class_index)? {
            Some(header) => {
                let list_off = header.off + CLASS_OFF_ENTITY_LIST;
                (list_off, self.list_count(list_off)?, header.class_index)
            }
            None => (0, 0, class_index),
        };
        Ok(EntityIter {
            view: *self,
            class_index: key_index,
            list_off,
            count,
            next: 0,
            chunk: None,
        })
    }

    /// The current version of the entity in the cell at `cell_off` (None if deleted), for the
    /// hot loop of `all()`, with every check a cell and entity record get (records.rs): the
    /// arena tail is loaded once, after both pointers (the list entry, loaded by the caller,
    /// and the cell's record pointer), so one bound covers the cell and the record instead of
    /// one load and check per field.
    fn listed_entity(
        &self,
        cell_off: u64,
        class_index: u32,
    ) -> Result<Option<EntityRef<'a>>, RegionError> {
        if cell_off < ARENA_START || !cell_off.is_multiple_of(8) {
            return corrupt(cell_off, "cell: offset below the arena or not 8-aligned");
        }
        let record_off = self.atomic_u64(cell_off)?.load(Ordering::Acquire);
        let bound = self.arena_bound();
        let inside =
            |off: u64, bytes: u64| matches!(off.checked_add(bytes), Some(end) if end <= bound);
        if !inside(cell_off, CELL_HEADER_BYTES) {
            return corrupt(cell_off, format!("cell runs past the arena tail {bound}"));
        }
        let head = self.bytes(cell_off + 8, 8)?;
        if head[0] != CELL_ENTITY {
            return corrupt(
                cell_off,
                format!("cell of kind {} where kind {CELL_ENTITY} belongs", head[0]),
            );
        }
        let key_len = u64::from(le_u32(head, 4));
        if !inside(cell_off, CELL_HEADER_BYTES + key_len) {
            return corrupt(
                cell_off,
                format!("cell key runs past the arena tail {bound}"),
            );
        }
        let key = self.bytes(cell_off + CELL_HEADER_BYTES, key_len)?;
        if key.len() < 4 || key[..4] != class_index.to_le_bytes() {
            return corrupt(
                cell_off,
                format!("entity cell key is not of class {class_index}"),
            );
        }
        if record_off == 0 {
            return Ok(None);
        }
        let what = "entity record";
        if record_off < ARENA_START
            || !record_off.is_multiple_of(8)
            || !inside(record_off, ENTITY_RECORD_HEADER_BYTES)
        {
            return corrupt(
                record_off,
                format!("{what}: not 8-aligned inside the arena (tail {bound})"),
            );
        }
        let head = self.bytes(record_off, ENTITY_RECORD_HEADER_BYTES)?;
        let record_bytes = u64::from(le_u32(head, 0));
        if head[4] != RECORD_ENTITY {
            return corrupt(
                record_off,
                format!("{what}: kind {} where {RECORD_ENTITY} belongs", head[4]),
            );
        }
        if record_bytes < ENTITY_RECORD_HEADER_BYTES || !inside(record_off, record_bytes) {
            return corrupt(
                record_off,
                format!("{what}: {record_bytes} record bytes outside its header and the arena"),
            );
        }
        self.entity_in_head(record_off, head, record_bytes, &key[4..])
            .map(Some)
    }

    pub fn entity_count(&self, class_index: u32) -> Result<u64, RegionError> {
        Ok(match self.class_if_any(class_index)? {
            Some(header) => header.live_count.load(Ordering::Acquire),
            None => 0,
        })
    }

    // ---- streams and events ---------------------------------------------------------------

    /// 0 for a stream that has no events.
    pub fn stream_version(&self, stream: &[u8]) -> Result<u64, RegionError> {
        let committed = self.committed_position();
        let mut version = 0;
        self.walk_stream(stream, committed, |link| {
            version = link.event.stream_version;
            false
        })?;
        Ok(version)
    }

    /// Events of `stream` with version > `after_version`, oldest first, appended to `out`.
    /// Only committed events (position ≤ committed position) are returned.
    pub fn stream_events(
        &self,
        stream: &[u8],
        after_version: u64,
        out: &mut Vec<EventRef<'a>>,
    ) -> Result<(), RegionError> {
        let committed = self.committed_position();
        let start = out.len();
        let walked = self.walk_stream(stream, committed, |link| {
            if link.event.stream_version <= after_version {
                return false;
            }
            out.push(link.event);
            true
        });
        if let Err(error) = walked {
            out.truncate(start);
            return Err(error);
        }
        out[start..].reverse();
        Ok(())
    }

    /// Walk `stream`'s chain from its newest committed event backwards, while `visit` says so.
    fn walk_stream(
        &self,
        stream: &[u8],
        committed: u64,
        mut visit: impl FnMut(&EventLink<'a>) -> bool,
    ) -> Result<(), RegionError> {
        let Some(found) = self.find_cell(CELL_STREAM, stream)? else {
            return Ok(());
        };
        let mut record_off = found.cell.value.load(Ordering::Acquire);
        // Versions strictly decrease along a valid chain and every record takes at least the
        // record header, so a chain longer than this is a cycle or garbage.
        let steps_max = self.mapping_bytes() / EVENT_RECORD_HEADER_BYTES + 1;
        let mut expected_version: Option<u64> = None;
        for _ in 0..steps_max {
            if record_off == 0 {
                return match expected_version {
                    None | Some(0) => Ok(()),
                    Some(version) => corrupt(
                        found.cell.off,
                        format!("stream chain ends before version {version}"),
                    ),
                };
            }
            let link = self.event_record(record_off)?;
            if link.event.stream != stream {
                return corrupt(record_off, "event record of another stream in the chain");
            }
            if let Some(expected) = expected_version {
                if link.event.stream_version != expected {
                    return corrupt(
                        record_off,
                        format!(
                            "stream chain has version {} where {expected} belongs",
                            link.event.stream_version
                        ),
                    );
                }
            }
            if link.event.stream_version == 0 {
                return corrupt(record_off, "event with stream version 0");
            }
            expected_version = Some(link.event.stream_version - 1);
            if link.event.position <= committed && !visit(&link) {
                return Ok(());
            }
            record_off = link.prev;
        }
        corrupt(
            found.cell.off,
            "stream chain longer than the region can hold",
        )
    }

    /// The event at a global position (1-based), if committed.
    pub fn event_at(&self, position: u64) -> Result<Option<EventRef<'a>>, RegionError> {
        let committed = self.committed_position();
        if position == 0 || position > committed {
            return Ok(None);
        }
        let count = self.list_count(OFF_EVENTS_LIST)?;
        if position > count {
            return corrupt(
                OFF_EVENTS_LIST,
                format!("events list has {count} entries, committed position is {committed}"),
            );
        }
        let record_off = self.list_entry(OFF_EVENTS_LIST, position - 1)?;
        let link = self.event_record(record_off)?;
        if link.event.position != position {
            return corrupt(
                record_off,
                format!(
                    "events list entry for {position} holds position {}",
                    link.event.position
                ),
            );
        }
        Ok(Some(link.event))
    }

    // ---- checkpoints ----------------------------------------------------------------------

    /// None if the checkpoint was never set (or is 0, which the layout reads as absent).
    pub fn checkpoint(&self, name: &[u8]) -> Result<Option<u64>, RegionError> {
        Ok(match self.find_cell(CELL_CHECKPOINT, name)? {
            Some(found) => {
                Some(found.cell.value.load(Ordering::Acquire)).filter(|&position| position != 0)
            }
            None => None,
        })
    }

    /// Every checkpoint in creation order (those at 0 are absent and left out).
    pub fn checkpoints(&self) -> Result<Vec<(String, u64)>, RegionError> {
        let count = self.list_count(OFF_CHECKPOINTS_LIST)?;
        let mut checkpoints = Vec::new();
        for index in 0..count {
            let cell_off = self.list_entry(OFF_CHECKPOINTS_LIST, index)?;
            let cell = self.cell(cell_off, CELL_CHECKPOINT)?;
            let position = cell.value.load(Ordering::Acquire);
            if position != 0 {
                checkpoints.push((String::from_utf8_lossy(cell.key).into_owned(), position));
            }
        }
        Ok(checkpoints)
    }
}
