//! Chunked append-only lists (events, classes, checkpoints, each class's entity cells):
//! checked entry reads for readers, appends for the writer. Layout: docs/region.md.
//! Must never: let a reader read an entry at or past the count it loaded, or rewrite an entry
//! other than a classes-list entry during a class swap (the one switchable entry kind, loaded
//! with acquire through [`RegionView::list_entry_acquire`]).

use super::layout::*;
use super::reader::{corrupt, le_u64};
use super::{RegionError, RegionView, RegionWriter};
use std::sync::atomic::Ordering;

impl<'a> RegionView<'a> {
    /// Entries published in the list at `list_off`.
    #[inline]
    pub(super) fn list_count(&self, list_off: u64) -> Result<u64, RegionError> {
        let count = self.atomic_u64(list_off)?.load(Ordering::Acquire);
        // Every entry takes 8 bytes of the arena, so a larger count cannot be real.
        if count > self.arena_bound() / 8 {
            return corrupt(
                list_off,
                format!("list count {count} larger than the region could hold"),
            );
        }
        Ok(count)
    }

    /// Entry `index` of the list at `list_off`; the caller loaded a count above `index`.
    pub(super) fn list_entry(&self, list_off: u64, index: u64) -> Result<u64, RegionError> {
        let entry_off = self.list_entry_offset(list_off, index)?;
        Ok(le_u64(self.bytes(entry_off, 8)?, 0))
    }

    /// Like [`RegionView::list_entry`], for an entry the writer may switch after publishing it
    /// (classes-list entries: a class swap stores a new class header there with release).
    #[inline]
    pub(super) fn list_entry_acquire(&self, list_off: u64, index: u64) -> Result<u64, RegionError> {
        let entry_off = self.list_entry_offset(list_off, index)?;
        Ok(self.atomic_u64(entry_off)?.load(Ordering::Acquire))
    }

    /// Where entry `index` of the list at `list_off` lives, inside its checked chunk.
    #[inline]
    fn list_entry_offset(&self, list_off: u64, index: u64) -> Result<u64, RegionError> {
        let (chunk, entry) = list_slot(index);
        if chunk >= LIST_CHUNKS_MAX as u64 {
            return corrupt(
                list_off,
                format!("list entry {index} lies beyond the last chunk"),
            );
        }
        Ok(self.checked_chunk_off(list_off, chunk)? + 8 * entry)
    }

    /// The checked bytes of chunk `chunk` of the list at `list_off` (as `list_entry` checks
    /// it, once for all the entries an iterator reads from it).
    pub(super) fn list_chunk(&self, list_off: u64, chunk: u64) -> Result<&'a [u8], RegionError> {
        if chunk >= LIST_CHUNKS_MAX as u64 {
            return corrupt(
                list_off,
                format!("list chunk {chunk} beyond the last chunk"),
            );
        }
        let chunk_off = self.checked_chunk_off(list_off, chunk)?;
        self.bytes(chunk_off, list_chunk_bytes(chunk))
    }

    /// Where chunk `chunk` (< `LIST_CHUNKS_MAX`) of the list at `list_off` starts, checked to
    /// lie whole inside the arena.
    #[inline]
    fn checked_chunk_off(&self, list_off: u64, chunk: u64) -> Result<u64, RegionError> {
        let chunk_off = self
            .atomic_u64(list_off + 8 + 8 * chunk)?
            .load(Ordering::Acquire);
        self.arena_check(chunk_off, list_chunk_bytes(chunk), "list chunk")?;
        Ok(chunk_off)
    }
}

/// Chunks a list of `count` entries has allocated.
fn chunks_allocated(count: u64) -> u64 {
    if count == 0 {
        0
    } else {
        list_slot(count - 1).0 + 1
    }
}

/// Bytes of the chunk a list of `count` entries allocates next.
pub(super) fn next_chunk_bytes(count: u64) -> u64 {
    list_chunk_bytes(chunks_allocated(count))
}

impl RegionWriter {
    fn list_count_own(&self, list_off: u64) -> u64 {
        self.atomic_u64(list_off).load(Ordering::Relaxed)
    }

    /// Arena bytes the next append to the list at `list_off` takes (0 if its chunk exists).
    pub(super) fn list_append_bytes(&self, list_off: u64) -> u64 {
        let count = self.list_count_own(list_off);
        let (chunk, _) = list_slot(count);
        if chunk < chunks_allocated(count) {
            0
        } else {
            list_chunk_bytes(chunk)
        }
    }

    /// Append `entry`: allocate and publish its chunk if needed, write it, then publish count + 1.
    pub(super) fn list_append(&mut self, list_off: u64, entry: u64) -> Result<(), RegionError> {
        let count = self.list_count_own(list_off);
        let (chunk, at) = list_slot(count);
        assert!(
            chunk < LIST_CHUNKS_MAX as u64,
            "list of {count} entries has no chunk left"
        );
        let chunk_ptr_off = list_off + 8 + 8 * chunk;
        let mut chunk_off = self.atomic_u64(chunk_ptr_off).load(Ordering::Relaxed);
        if chunk_off == 0 {
            assert_eq!(at, 0, "a list fills its chunks in order");
            let bytes = list_chunk_bytes(chunk);
            chunk_off = self.allocate(bytes)?;
            self.atomic_u64(chunk_ptr_off)
                .store(chunk_off, Ordering::Release);
            // The list now needs the next chunk size in reserve instead of this one.
            self.chunk_reserve_bytes += bytes;
        }
        self.write_at(chunk_off + 8 * at, &entry.to_le_bytes());
        self.atomic_u64(list_off)
            .store(count + 1, Ordering::Release);
        Ok(())
    }

    /// Entry `index` of one of the writer's own lists.
    pub(super) fn list_entry_own(&self, list_off: u64, index: u64) -> u64 {
        self.view()
            .list_entry(list_off, index)
            .expect("writer's own list is consistent")
    }

    /// Switch published entry `index` of the list at `list_off` to `entry` (release). Only a
    /// class swap does this, on the classes list; readers load those entries with acquire.
    pub(super) fn list_switch_entry(&mut self, list_off: u64, index: u64, entry: u64) {
        assert!(
            index < self.list_count_own(list_off),
            "switching list entry {index} that was never published"
        );
        let (chunk, at) = list_slot(index);
        let chunk_off = self
            .atomic_u64(list_off + 8 + 8 * chunk)
            .load(Ordering::Relaxed);
        self.atomic_u64(chunk_off + 8 * at)
            .store(entry, Ordering::Release);
    }

    pub(super) fn list_len_own(&self, list_off: u64) -> u64 {
        self.list_count_own(list_off)
    }
}
