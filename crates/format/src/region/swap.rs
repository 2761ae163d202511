//! Class swap (docs/region.md, "Swapping a class"): the writer side of `EntityChange::SwapClass`,
//! which makes a rebuilt shadow class's entities the live class's entities in one release store.
//!
//! Owns: the swap's room check, the two class headers it writes, switching the two classes-list
//! entries, and counting the old entities out (entity count) and into the garbage.
//! Must never: write a byte of the old entities (readers that loaded the old header before the
//! swap keep iterating it whole), or reuse an entity key index.

use super::entities::ClassAt;
use super::layout::*;
use super::list::next_chunk_bytes;
use super::{RegionError, RegionWriter, INDEX_GROWTH_SHARE_PER_KEY_BYTES};
use std::sync::atomic::Ordering;

impl RegionWriter {
    /// Upper bound of arena bytes [`RegionWriter::swap_class`] may use.
    pub fn swap_bytes_bound(class: &str, shadow: &str) -> u64 {
        let create = |name: &str| {
            class_header_bytes(name.len() as u64)
                + cell_bytes(name.len() as u64)
                + INDEX_GROWTH_SHARE_PER_KEY_BYTES
                + LIST_FIRST_CHUNK_BYTES
        };
        // Both classes may be created first, then one header for each is written.
        create(class)
            + create(shadow)
            + class_header_bytes(class.len() as u64)
            + class_header_bytes(shadow.len() as u64)
            + 2 * 8 // two classes-list entries, a chunk of which the list reserve covers
    }

    /// Swap `shadow`'s entities into `class`, leaving `shadow` empty. Either class is created
    /// first if it never had an entity. `class == shadow` changes nothing. On `Full` nothing
    /// was written.
    pub(super) fn swap_class(&mut self, class: &[u8], shadow: &[u8]) -> Result<(), RegionError> {
        if class == shadow {
            return Ok(());
        }
        let live = self.find_class(class);
        let rebuilt = self.find_class(shadow);
        let mut needed = class_header_bytes(class.len() as u64)
            + class_header_bytes(shadow.len() as u64)
            + next_chunk_bytes(0);
        let new_classes = u64::from(live.is_none()) + u64::from(rebuilt.is_none());
        if new_classes > 0 {
            needed += class_header_bytes(class.len().max(shadow.len()) as u64) * new_classes
                + cell_bytes(class.len().max(shadow.len()) as u64) * new_classes
                + self.list_append_bytes(OFF_CLASSES_LIST)
                + self.index_growth_bytes(new_classes);
        }
        self.check_room(needed)?;

        let live = match live {
            Some(live) => live,
            None => self.create_class(class)?,
        };
        let rebuilt = match rebuilt {
            Some(rebuilt) => rebuilt,
            None => self.create_class(shadow)?,
        };

        // The live class takes a copy of the shadow's header under its own name: same key index
        // (the entity cells stay where they are), same entity list chunks and count.
        let taken = self.write_class_header(rebuilt.class_index, class)?;
        let header_tail_bytes = CLASS_HEADER_BYTES - CLASS_OFF_LIVE_COUNT;
        let copied = self
            .view()
            .bytes(rebuilt.header_off + CLASS_OFF_LIVE_COUNT, header_tail_bytes)
            .expect("writer's own class header")
            .to_vec();
        self.write_at(taken + CLASS_OFF_LIVE_COUNT, &copied);

        // The shadow starts over under a key index nothing has used.
        let swaps = self.atomic_u64(OFF_CLASS_SWAPS).load(Ordering::Relaxed);
        let fresh_index = u32::try_from(u64::from(SWAP_KEY_INDEX_BASE) + swaps)
            .expect("fewer than 2^31 class swaps");
        let emptied = self.write_class_header(fresh_index, shadow)?;
        self.reserve_new_list();

        self.list_switch_entry(OFF_CLASSES_LIST, u64::from(live.list_index), taken);
        self.list_switch_entry(OFF_CLASSES_LIST, u64::from(rebuilt.list_index), emptied);
        self.atomic_u64(OFF_CLASS_SWAPS)
            .store(swaps + 1, Ordering::Release);

        self.count_out(live, class.len() as u64);
        let shadow_header_bytes = class_header_bytes(shadow.len() as u64);
        self.add_garbage(shadow_header_bytes);
        Ok(())
    }

    /// The entities under `old` (no longer reachable) leave the entity count and become garbage,
    /// together with their header. Nothing under `old` is written.
    fn count_out(&mut self, old: ClassAt, name_len: u64) {
        let list_off = old.entity_list_off();
        let cells = self.list_len_own(list_off);
        // The old list never grows again: drop its share of the chunk reserve, so the reserve
        // equals what a writer restored from an image of this region computes.
        self.chunk_reserve_bytes -= next_chunk_bytes(cells);
        let mut live = 0u64;
        let mut bytes = class_header_bytes(name_len);
        for index in 0..cells {
            let cell_off = self.list_entry_own(list_off, index);
            let value = self.atomic_u64(cell_off).load(Ordering::Relaxed);
            if value != 0 {
                live += 1;
                bytes += self.record_bytes_at(value);
            }
        }
        let recorded = self
            .atomic_u64(old.header_off + CLASS_OFF_LIVE_COUNT)
            .load(Ordering::Relaxed);
        assert_eq!(recorded, live, "live count of the class swapped out");
        self.entity_count = self
            .entity_count
            .checked_sub(live)
            .expect("entity count covers the class swapped out");
        self.atomic_u64(OFF_ENTITY_COUNT)
            .store(self.entity_count, Ordering::Release);
        self.add_garbage(bytes);
    }
}
