//! The reader's public queries over a [`RegionView`]: classes and entities (in insertion order),
//! streams and events (only committed ones), checkpoints.
//! Must never: return an event past the committed position, or follow an offset unchecked (every
//! offset goes through the checked primitives of `reader.rs` and the decoders of `records.rs`).

use super::layout::*;
use super::reader::corrupt;
use super::records::{ClassHeader, EventLink};
use super::{RegionError, RegionView};
use std::sync::atomic::Ordering;

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
/// After the first error the iterator ends.
pub struct EntityIter<'a> {
    view: RegionView<'a>,
    class_index: u32,
    list_off: u64,
    count: u64,
    next: u64,
}

impl<'a> Iterator for EntityIter<'a> {
    type Item = Result<EntityRef<'a>, RegionError>;
    fn next(&mut self) -> Option<Self::Item> {
        while self.next < self.count {
            let index = self.next;
            self.next += 1;
            match self.view.entity_at(self.list_off, index, self.class_index) {
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
        let key = entity_key(header.class_index, uuid);
        let Some(found) = self.find_cell(CELL_ENTITY, &key)? else {
            return Ok(None);
        };
        self.entity_of_cell(found.cell.off, header.class_index)
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
        })
    }

    /// Entry `index` of a class's entity list: None if that cell's entity is deleted.
    fn entity_at(
        &self,
        list_off: u64,
        index: u64,
        class_index: u32,
    ) -> Result<Option<EntityRef<'a>>, RegionError> {
        let cell_off = self.list_entry(list_off, index)?;
        self.entity_of_cell(cell_off, class_index)
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
