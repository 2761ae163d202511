//! The open-addressing hash table over every key (classes, entities, streams, checkpoints):
//! checked probing for readers, insertion and growth for the writer. Layout: docs/region.md.
//! Must never: probe more slots than the table has, or update a table readers may still use
//! other than through its atomic slot words.

use super::layout::*;
use super::reader::{corrupt, le_u64};
use super::records::Cell;
use super::{RegionError, RegionView, RegionWriter};
use std::sync::atomic::Ordering;

/// A key found in the current table: the slot that points to its cell, and the cell.
pub(super) struct Found<'a> {
    pub slot_off: u64,
    pub cell: Cell<'a>,
}

impl<'a> RegionView<'a> {
    /// Look `key` of cell kind `kind` up in the current table.
    #[inline]
    pub(super) fn find_cell(&self, kind: u8, key: &[u8]) -> Result<Option<Found<'a>>, RegionError> {
        let table_off = self.atomic_u64(OFF_INDEX_TABLE)?.load(Ordering::Acquire);
        self.arena_check(table_off, INDEX_HEADER_BYTES, "index table")?;
        let capacity = le_u64(self.bytes(table_off, 8)?, 0);
        if !capacity.is_power_of_two() {
            return corrupt(
                table_off,
                format!("index capacity {capacity} is not a power of two"),
            );
        }
        let table_bytes = capacity
            .checked_mul(INDEX_SLOT_BYTES)
            .and_then(|slots| slots.checked_add(INDEX_HEADER_BYTES));
        let Some(table_bytes) = table_bytes else {
            return corrupt(table_off, format!("index capacity {capacity} overflows"));
        };
        self.arena_check(table_off, table_bytes, "index table")?;

        let hash = key_hash(kind, key);
        let mask = capacity - 1;
        let mut slot = hash & mask;
        for _ in 0..capacity {
            let slot_off = table_off + INDEX_HEADER_BYTES + slot * INDEX_SLOT_BYTES;
            let word = self.atomic_u64(slot_off)?.load(Ordering::Acquire);
            if word == 0 {
                return Ok(None);
            }
            if slot_tag_matches(word, hash) {
                // The tag is 24 bits of the hash: the cell's kind and key decide.
                let cell = self.cell_any(slot_cell_off(word))?;
                if cell.kind == kind && cell.key == key {
                    return Ok(Some(Found { slot_off, cell }));
                }
            }
            slot = (slot + 1) & mask;
        }
        Ok(None)
    }
}

/// What the writer needs of a found key, detached from the borrow of the mapping.
#[derive(Debug, Clone, Copy)]
pub(super) struct FoundKey {
    pub slot_off: u64,
    pub cell_off: u64,
    pub value: u64,
}

impl RegionWriter {
    /// Look a key up in its own region (trusted: a failure is a writer bug).
    pub(super) fn find_key(&self, kind: u8, key: &[u8]) -> Option<FoundKey> {
        let found = self
            .view()
            .find_cell(kind, key)
            .expect("writer's own index is consistent");
        found.map(|found| FoundKey {
            slot_off: found.slot_off,
            cell_off: found.cell.off,
            value: found.cell.value.load(Ordering::Acquire),
        })
    }

    /// Arena bytes that inserting `new_keys` more keys may take for growing the table.
    pub(super) fn index_growth_bytes(&self, new_keys: u64) -> u64 {
        if new_keys == 0 || (self.index_used + new_keys) * 2 <= self.index_capacity {
            0
        } else {
            index_table_bytes(self.index_capacity * 2)
        }
    }

    /// Insert a key (known to be absent) whose cell is `cell_off`; grows the table first if
    /// the load would pass one half.
    pub(super) fn insert_key(
        &mut self,
        kind: u8,
        key: &[u8],
        cell_off: u64,
    ) -> Result<(), RegionError> {
        if (self.index_used + 1) * 2 > self.index_capacity {
            self.grow_index()?;
        }
        let hash = key_hash(kind, key);
        let slot_off = self.free_slot(self.index_off, self.index_capacity, hash);
        // One word: a reader that sees the slot sees the cell, written before it (release).
        self.atomic_u64(slot_off)
            .store(slot_word(hash, cell_off), Ordering::Release);
        self.index_used += 1;
        self.atomic_u64(self.index_off + INDEX_OFF_USED)
            .store(self.index_used, Ordering::Release);
        Ok(())
    }

    /// Point an existing slot at a new cell of the same key (an entity re-created after delete):
    /// same tag, new cell offset.
    pub(super) fn switch_slot(&mut self, slot_off: u64, cell_off: u64) {
        let slot = self.atomic_u64(slot_off);
        let word = slot.load(Ordering::Relaxed);
        assert_ne!(word, 0, "switching an empty hash slot");
        slot.store(slot_word(word, cell_off), Ordering::Release);
    }

    /// First empty slot for `hash` by linear probing (the table is at most half full).
    fn free_slot(&self, table_off: u64, capacity: u64, hash: u64) -> u64 {
        let mask = capacity - 1;
        let mut slot = hash & mask;
        for _ in 0..capacity {
            let slot_off = table_off + INDEX_HEADER_BYTES + slot * INDEX_SLOT_BYTES;
            if self.atomic_u64(slot_off).load(Ordering::Relaxed) == 0 {
                return slot_off;
            }
            slot = (slot + 1) & mask;
        }
        panic!("index table of {capacity} slots has no free slot: load bound broken");
    }

    /// Build a table of twice the capacity, copy every slot, then publish it in the header.
    fn grow_index(&mut self) -> Result<(), RegionError> {
        let old_off = self.index_off;
        let old_capacity = self.index_capacity;
        let capacity = old_capacity * 2;
        let table_off = self.allocate(index_table_bytes(capacity))?;
        self.write_at(table_off, &capacity.to_le_bytes());
        for slot in 0..old_capacity {
            let old_slot_off = old_off + INDEX_HEADER_BYTES + slot * INDEX_SLOT_BYTES;
            let word = self.atomic_u64(old_slot_off).load(Ordering::Relaxed);
            if word == 0 {
                continue;
            }
            // The slot holds only the hash's top bits; the new position needs its low bits.
            let cell_off = slot_cell_off(word);
            let cell = self.view().cell_any(cell_off).expect("writer's own cell");
            let hash = key_hash(cell.kind, cell.key);
            assert!(
                slot_tag_matches(word, hash),
                "slot tag of the cell at {cell_off}"
            );
            let slot_off = self.free_slot(table_off, capacity, hash);
            self.atomic_u64(slot_off).store(word, Ordering::Relaxed);
        }
        self.atomic_u64(table_off + INDEX_OFF_USED)
            .store(self.index_used, Ordering::Relaxed);
        // Release: everything written into the new table above is visible to whoever loads it.
        self.atomic_u64(OFF_INDEX_TABLE)
            .store(table_off, Ordering::Release);
        self.index_off = table_off;
        self.index_capacity = capacity;
        self.add_garbage(index_table_bytes(old_capacity));
        Ok(())
    }

    /// Create the first table (region creation only).
    pub(super) fn create_index(&mut self) -> Result<(), RegionError> {
        let capacity = INDEX_CAPACITY_INITIAL;
        let table_off = self.allocate(index_table_bytes(capacity))?;
        self.write_at(table_off, &capacity.to_le_bytes());
        self.atomic_u64(OFF_INDEX_TABLE)
            .store(table_off, Ordering::Release);
        self.index_off = table_off;
        self.index_capacity = capacity;
        self.index_used = 0;
        Ok(())
    }
}
