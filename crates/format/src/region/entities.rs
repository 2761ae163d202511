//! Entity bookkeeping of the writer: classes, entity cells and records, live counts.
//! Must never: change a live count or the header entity count without the matching cell
//! change, or leave a re-created entity at its old place in the class's insertion order.

use super::index::FoundKey;
use super::layout::*;
use super::RegionError;
use super::RegionWriter;
use std::sync::atomic::Ordering;

/// A class as the writer sees it: its entry in the classes list and the class header that entry
/// points at now (its own header, or the one a swap put there; docs/region.md).
#[derive(Debug, Clone, Copy)]
pub(super) struct ClassAt {
    /// Position in the classes list (what readers cache; never changes).
    pub(super) list_index: u32,
    /// Key index of the current header: the prefix of its entities' keys.
    pub(super) class_index: u32,
    pub(super) header_off: u64,
}

impl ClassAt {
    pub(super) fn entity_list_off(self) -> u64 {
        self.header_off + CLASS_OFF_ENTITY_LIST
    }
}

impl RegionWriter {
    pub(super) fn find_class(&self, class: &[u8]) -> Option<ClassAt> {
        let found = self.find_key(CELL_CLASS, class)?;
        let view = self.view();
        let own = view
            .class_header(found.value)
            .expect("writer's own class header");
        // The class cell keeps pointing at the class's own header (name → list index); the
        // entities live under whatever header the classes list entry points at now.
        let header_off = self.list_entry_own(OFF_CLASSES_LIST, u64::from(own.class_index));
        let current = view
            .class_header(header_off)
            .expect("writer's own class header");
        Some(ClassAt {
            list_index: own.class_index,
            class_index: current.class_index,
            header_off,
        })
    }

    pub(super) fn create_class(&mut self, class: &[u8]) -> Result<ClassAt, RegionError> {
        let class_count = self.list_len_own(OFF_CLASSES_LIST);
        let class_index = u32::try_from(class_count).expect("fewer than 2^32 classes");
        let header_off = self.write_class_header(class_index, class)?;
        let cell_off = self.write_cell(CELL_CLASS, class, header_off)?;
        self.insert_key(CELL_CLASS, class, cell_off)?;
        self.list_append(OFF_CLASSES_LIST, header_off)?;
        self.reserve_new_list();
        Ok(ClassAt {
            list_index: class_index,
            class_index,
            header_off,
        })
    }

    /// Insert or replace one entity; see docs/region.md for the re-creation rule.
    pub(super) fn upsert_entity(
        &mut self,
        class: &[u8],
        uuid: &[u8],
        data: &[u8],
        position: u64,
    ) -> Result<(), RegionError> {
        let record_bytes = entity_record_bytes(data.len() as u64);
        let entity_cell_bytes = cell_bytes(4 + uuid.len() as u64);
        let class_at = self.find_class(class);
        let entity = class_at.and_then(|class_at| {
            self.find_key(CELL_ENTITY, &entity_key(class_at.class_index, uuid))
        });

        // Check room for everything this change can take before writing any of it.
        let needed = match (class_at, entity) {
            (None, _) => {
                record_bytes
                    + class_header_bytes(class.len() as u64)
                    + cell_bytes(class.len() as u64)
                    + self.list_append_bytes(OFF_CLASSES_LIST)
                    + entity_cell_bytes
                    + LIST_FIRST_CHUNK_BYTES
                    + self.index_growth_bytes(2)
            }
            (Some(_), Some(found)) if found.value != 0 => record_bytes,
            (Some(class_at), Some(_)) => {
                record_bytes
                    + entity_cell_bytes
                    + self.list_append_bytes(class_at.entity_list_off())
            }
            (Some(class_at), None) => {
                record_bytes
                    + entity_cell_bytes
                    + self.list_append_bytes(class_at.entity_list_off())
                    + self.index_growth_bytes(1)
            }
        };
        self.check_room(needed)?;

        let class_at = match class_at {
            Some(class_at) => class_at,
            None => self.create_class(class)?,
        };
        let key = entity_key(class_at.class_index, uuid);
        let record_off = self.write_entity_record(data, position)?;
        match entity {
            Some(found) if found.value != 0 => {
                self.atomic_u64(found.cell_off)
                    .store(record_off, Ordering::Release);
                let old_bytes = self.record_bytes_at(found.value);
                self.add_garbage(old_bytes);
            }
            Some(found) => {
                // Re-created after a delete: a new cell at the end of the insertion order.
                let cell_off = self.write_cell(CELL_ENTITY, &key, record_off)?;
                self.switch_slot(found.slot_off, cell_off);
                self.list_append(class_at.entity_list_off(), cell_off)?;
                self.add_garbage(cell_bytes(key.len() as u64));
                self.count_entity(class_at, 1);
            }
            None => {
                let cell_off = self.write_cell(CELL_ENTITY, &key, record_off)?;
                self.insert_key(CELL_ENTITY, &key, cell_off)?;
                self.list_append(class_at.entity_list_off(), cell_off)?;
                self.count_entity(class_at, 1);
            }
        }
        Ok(())
    }

    /// Delete one entity; deleting a missing entity does nothing.
    pub(super) fn delete_entity(&mut self, class: &[u8], uuid: &[u8]) {
        let Some(class_at) = self.find_class(class) else {
            return;
        };
        if let Some(found) = self.find_key(CELL_ENTITY, &entity_key(class_at.class_index, uuid)) {
            self.delete_cell(class_at, found);
        }
    }

    /// Delete every live entity of `class`.
    pub(super) fn reset_class(&mut self, class: &[u8]) {
        let Some(class_at) = self.find_class(class) else {
            return;
        };
        let list_off = class_at.entity_list_off();
        for index in 0..self.list_len_own(list_off) {
            let cell_off = self.list_entry_own(list_off, index);
            let value = self.atomic_u64(cell_off).load(Ordering::Relaxed);
            self.delete_cell(
                class_at,
                FoundKey {
                    slot_off: 0,
                    cell_off,
                    value,
                },
            );
        }
    }

    fn delete_cell(&mut self, class_at: ClassAt, found: FoundKey) {
        if found.value == 0 {
            return;
        }
        self.atomic_u64(found.cell_off).store(0, Ordering::Release);
        let old_bytes = self.record_bytes_at(found.value);
        self.add_garbage(old_bytes);
        self.count_entity(class_at, -1);
    }

    /// Move the class's live count and the header's entity count by `delta` (±1).
    fn count_entity(&mut self, class_at: ClassAt, delta: i64) {
        let live = self.atomic_u64(class_at.header_off + CLASS_OFF_LIVE_COUNT);
        let live_count = live
            .load(Ordering::Relaxed)
            .checked_add_signed(delta)
            .expect("live count stays ≥ 0");
        live.store(live_count, Ordering::Release);
        self.entity_count = self
            .entity_count
            .checked_add_signed(delta)
            .expect("entity count stays ≥ 0");
        self.atomic_u64(OFF_ENTITY_COUNT)
            .store(self.entity_count, Ordering::Release);
    }
}
