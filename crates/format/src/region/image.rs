//! Region images and the applied log location (docs/region.md, docs/snapshots.md).
//!
//! Owns: the header words that tie a region to the log (the location just after the last log
//! record the region holds), copying a region's bytes `[0, arena tail)` out for a snapshot,
//! building a fresh region file from such a copy, and adopting a region file a previous daemon
//! left behind. Because every offset in a region is relative to the file's start, an image is
//! a complete region once its per-file header fields are fixed.
//! Must never: hand out a writer over a region whose applied location is unset (a batch was being
//! applied when its daemon stopped), or whose bookkeeping does not add up: these bytes come from
//! outside the process, so every structural check returns an error instead of asserting.

use super::layout::*;
use super::list::next_chunk_bytes;
use super::reader::{corrupt, le_u32, le_u64};
use super::writer::{checked_region_bytes, map_new_file, now_us};
use super::{RegionError, RegionView, RegionWriter, REGION_LAYOUT_VERSION, REGION_MAGIC};
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::Ordering;

/// A place in the log: just after the `records`-th record, which ends at byte `offset` of
/// segment `segment`. An empty log is `{ segment: 1, offset: 64, records: 0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LogLocation {
    pub segment: u64,
    pub offset: u64,
    pub records: u64,
}

/// The last record before a [`LogLocation`]: where its frame starts (a byte offset in the
/// location's segment, so the frame is `[offset, location.offset)`), and the position of the last
/// commit record up to the location (0 if none). A boot checks the location against the log by
/// this one frame instead of walking the segment (docs/snapshots.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastRecord {
    pub offset: u64,
    pub commit_position: u64,
}

/// A region's bytes `[0, arena tail)`, taken between two batches, with the facts a snapshot
/// header repeats. The per-file header fields are already normalised (state building, pid and
/// connection counters 0).
#[derive(Debug, Clone)]
pub struct RegionImage {
    pub bytes: Vec<u8>,
    pub location: LogLocation,
    pub committed_position: u64,
    pub projected_position: u64,
}

/// Header fields that describe one file (or one running daemon), not the state: zeroed in an
/// image and set again when an image becomes a file.
const PER_FILE_U32_FIELDS: [u64; 4] = [
    OFF_STATE,
    OFF_DAEMON_PID,
    OFF_WORKERS_ATTACHED,
    OFF_CLIENTS_CONNECTED,
];

fn put_u32(bytes: &mut [u8], off: u64, value: u32) {
    let at = off as usize;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], off: u64, value: u64) {
    let at = off as usize;
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

impl RegionView<'_> {
    /// The log location this region holds every record before, or None while a batch is being
    /// applied (or for a region no daemon marked).
    pub fn applied_location(&self) -> Option<LogLocation> {
        let load = |off| {
            self.atomic_u64(off)
                .expect("header word inside every view")
                .load(Ordering::Acquire)
        };
        // Segment last on store, first on load: a reader that sees it sees the other two.
        let segment = load(OFF_APPLIED_SEGMENT);
        if segment == 0 {
            return None;
        }
        Some(LogLocation {
            segment,
            offset: load(OFF_APPLIED_OFFSET),
            records: load(OFF_APPLIED_RECORDS),
        })
    }

    /// The last record before the applied location, if the daemon that set it recorded one that
    /// fits it (a frame starting after the segment header and ending at the location); None for
    /// anything else, which only costs a boot the walk over the segment.
    pub fn applied_last_record(&self) -> Option<LastRecord> {
        let location = self.applied_location()?;
        let load = |off| {
            self.atomic_u64(off)
                .expect("header word inside every view")
                .load(Ordering::Acquire)
        };
        let last = LastRecord {
            offset: load(OFF_APPLIED_LAST_RECORD),
            commit_position: load(OFF_APPLIED_LAST_COMMIT),
        };
        let fits = last.offset >= crate::log_record::SEGMENT_HEADER_BYTES as u64
            && last.offset < location.offset;
        fits.then_some(last)
    }
}

impl RegionWriter {
    /// Record that the region now holds exactly the log records before `location` (after a batch
    /// is applied and published), and where the last of them starts if it is in `location`'s
    /// segment (None: not known, or the segment holds no record yet).
    pub fn set_applied_location(&self, location: LogLocation, last: Option<LastRecord>) {
        assert!(location.segment >= 1, "segments are numbered from 1");
        assert!(
            location.offset >= crate::log_record::SEGMENT_HEADER_BYTES as u64,
            "a record ends after the segment header"
        );
        if let Some(last) = last {
            assert!(
                last.offset >= crate::log_record::SEGMENT_HEADER_BYTES as u64
                    && last.offset < location.offset,
                "the last record {last:?} starts inside the segment, before {location:?}"
            );
        }
        let last = last.unwrap_or(LastRecord {
            offset: 0,
            commit_position: 0,
        });
        // Segment 0 first: no reader pairs the old location with the new last record.
        self.atomic_u64(OFF_APPLIED_SEGMENT)
            .store(0, Ordering::Relaxed);
        self.atomic_u64(OFF_APPLIED_OFFSET)
            .store(location.offset, Ordering::Relaxed);
        self.atomic_u64(OFF_APPLIED_RECORDS)
            .store(location.records, Ordering::Relaxed);
        self.atomic_u64(OFF_APPLIED_LAST_RECORD)
            .store(last.offset, Ordering::Relaxed);
        self.atomic_u64(OFF_APPLIED_LAST_COMMIT)
            .store(last.commit_position, Ordering::Relaxed);
        self.atomic_u64(OFF_APPLIED_SEGMENT)
            .store(location.segment, Ordering::Release);
    }

    /// Mark the region "batch in progress" (before applying a batch): a daemon that dies now
    /// leaves a region no later daemon adopts.
    pub fn clear_applied_location(&self) {
        self.atomic_u64(OFF_APPLIED_SEGMENT)
            .store(0, Ordering::Release);
    }

    pub fn applied_location(&self) -> Option<LogLocation> {
        self.view().applied_location()
    }

    pub fn applied_last_record(&self) -> Option<LastRecord> {
        self.view().applied_last_record()
    }

    /// Copy `[0, arena tail)` for a snapshot. `&mut self`: nothing in this process can change the
    /// mapping during the copy, and other processes only read it. Between batches only.
    pub fn copy_image(&mut self) -> RegionImage {
        let location = self
            .applied_location()
            .expect("an image is taken between batches, when the applied location is set");
        let header = self.view().header();
        assert_eq!(
            header.committed_position, self.last_position,
            "an image is taken between batches: every appended event is published"
        );
        assert_eq!(
            header.arena_tail, self.tail,
            "the header mirrors the arena tail"
        );
        // SAFETY: `base..base+tail` is inside the mapping (tail ≤ region_bytes); `&mut self`
        // excludes every writer in this process, and other processes map the file read-only.
        let mut bytes =
            unsafe { std::slice::from_raw_parts(self.base, self.tail as usize) }.to_vec();
        for off in PER_FILE_U32_FIELDS {
            put_u32(&mut bytes, off, 0);
        }
        RegionImage {
            bytes,
            location,
            committed_position: header.committed_position,
            projected_position: header.projected_position,
        }
    }

    /// Build a fresh region for `path` (state building, side file as in
    /// [`RegionWriter::create`]) from an image of `image_bytes` bytes that `fill` writes into the
    /// start of the new file. The per-file header fields are then set for this file
    /// (`region_bytes`, `generation`, created at, state, pid, counters) and the bookkeeping
    /// is rebuilt and checked. The image must carry an applied location.
    pub fn create_from_image(
        path: &Path,
        region_bytes: u64,
        generation: u64,
        image_bytes: u64,
        fill: impl FnOnce(&mut [u8]) -> Result<(), String>,
    ) -> Result<RegionWriter, RegionError> {
        Self::build_from_image(path, region_bytes, generation, image_bytes, |writer| {
            // SAFETY: the side file was just created under a per-process name: nothing else maps
            // it and no atomic reference into it exists yet, so an exclusive slice is sound.
            let image =
                unsafe { std::slice::from_raw_parts_mut(writer.base, image_bytes as usize) };
            fill(image)
        })
    }

    /// As [`RegionWriter::create_from_image`], but `fill` gets the new (sized, sparse) file
    /// instead of the mapping and writes the image into its bytes `[0, image_bytes)` itself
    /// (`pwrite`, or a mapping of its own per thread): a write allocates a tmpfs page without a
    /// page fault and without zeroing it first, so a large image loads in half the time.
    pub fn create_from_image_file(
        path: &Path,
        region_bytes: u64,
        generation: u64,
        image_bytes: u64,
        fill: impl FnOnce(&std::fs::File) -> Result<(), String>,
    ) -> Result<RegionWriter, RegionError> {
        Self::build_from_image(path, region_bytes, generation, image_bytes, |writer| {
            let building = writer
                .building_path
                .as_ref()
                .expect("a region built from an image has a side file");
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(building)
                .map_err(|error| format!("cannot open {}: {error}", building.display()))?;
            fill(&file)
        })
    }

    fn build_from_image(
        path: &Path,
        region_bytes: u64,
        generation: u64,
        image_bytes: u64,
        fill: impl FnOnce(&mut RegionWriter) -> Result<(), String>,
    ) -> Result<RegionWriter, RegionError> {
        let region_bytes = checked_region_bytes(region_bytes)?;
        if image_bytes < ARENA_START || !image_bytes.is_multiple_of(8) {
            return Err(RegionError::NotARegion(format!(
                "an image of {image_bytes} bytes cannot be a region"
            )));
        }
        if image_bytes > region_bytes {
            return Err(RegionError::Full {
                needed: image_bytes,
                available: region_bytes,
                region_bytes,
            });
        }
        let (mmap, building_path) = map_new_file(path, region_bytes)?;
        // Dropped on any error below, which removes the side file.
        let mut writer = RegionWriter::from_mapping(mmap, path, Some(building_path));
        fill(&mut writer).map_err(|what| RegionError::Corrupt { offset: 0, what })?;
        {
            // SAFETY: as in `create_from_image`; `fill` has returned, so nothing else writes the
            // image any more.
            let image =
                unsafe { std::slice::from_raw_parts_mut(writer.base, image_bytes as usize) };
            check_image_header(image, image_bytes)?;
            put_u64(image, OFF_REGION_BYTES, region_bytes);
            put_u64(image, OFF_GENERATION, generation);
            put_u64(image, OFF_CREATED_AT_US, now_us());
            for off in PER_FILE_U32_FIELDS {
                put_u32(image, off, 0);
            }
        }
        // SAFETY: base is the page-aligned start of a mapping of region_bytes ≥ HEADER_BYTES.
        unsafe { RegionView::from_raw(writer.base, writer.region_bytes as usize) }?;
        if writer.applied_location().is_none() {
            return corrupt(
                OFF_APPLIED_SEGMENT,
                "the image has no applied log location (taken in the middle of a batch?)",
            );
        }
        writer.restore_bookkeeping()?;
        Ok(writer)
    }

    /// Map the region file at `path` read-write to continue writing it (a region that survived
    /// its daemon). Its state, pid and size are the caller's policy; this checks the layout, the
    /// applied location and the bookkeeping.
    pub fn open_existing(path: &Path) -> Result<RegionWriter, RegionError> {
        let shown = path.display();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|error| RegionError::Io(format!("cannot open {shown}: {error}")))?;
        let file_bytes = file
            .metadata()
            .map_err(|error| RegionError::Io(format!("cannot stat {shown}: {error}")))?
            .len();
        let mappable = (HEADER_BYTES..=crate::limits::REGION_BYTES_MAX).contains(&file_bytes);
        if !mappable || usize::try_from(file_bytes).is_err() {
            return Err(RegionError::NotARegion(format!(
                "{shown} is {file_bytes} bytes"
            )));
        }
        // SAFETY: region files are never truncated while in use; the daemon holds the data
        // directory's lock, so no other daemon writes this file (its pid was checked dead by
        // the caller), and readers map it read-only.
        let mmap = unsafe { memmap2::MmapMut::map_mut(&file) }
            .map_err(|error| RegionError::Io(format!("cannot map {shown}: {error}")))?;
        // SAFETY: the mapping lives until the writer built below drops it.
        unsafe { RegionView::from_raw(mmap.as_ptr(), mmap.len()) }?;
        let mut writer = RegionWriter::from_mapping(mmap, path, None);
        if writer.applied_location().is_none() {
            return corrupt(
                OFF_APPLIED_SEGMENT,
                "no applied log location: its daemon stopped in the middle of a batch, or an \
                 older release wrote it",
            );
        }
        writer.restore_bookkeeping()?;
        Ok(writer)
    }

    /// Rebuild the writer's in-memory bookkeeping from the header and structures it finds, and
    /// check that they add up (so later writer assertions hold).
    fn restore_bookkeeping(&mut self) -> Result<(), RegionError> {
        let header = self.view().header();
        let tail = header.arena_tail;
        if tail < ARENA_START || !tail.is_multiple_of(8) || tail > self.region_bytes {
            return corrupt(OFF_ARENA_TAIL, format!("arena tail {tail}"));
        }
        self.tail = tail;
        let view = self.view();
        let index_off = view.atomic_u64(OFF_INDEX_TABLE)?.load(Ordering::Acquire);
        view.arena_check(index_off, INDEX_HEADER_BYTES, "index table")?;
        let capacity = le_u64(view.bytes(index_off, 8)?, 0);
        let used = view
            .atomic_u64(index_off + INDEX_OFF_USED)?
            .load(Ordering::Acquire);
        if !capacity.is_power_of_two()
            || capacity < INDEX_CAPACITY_INITIAL
            || capacity > self.region_bytes / INDEX_SLOT_BYTES
            || used.saturating_mul(2) > capacity
        {
            return corrupt(
                index_off,
                format!("index table of capacity {capacity} with {used} keys"),
            );
        }
        view.arena_check(index_off, index_table_bytes(capacity), "index table")?;

        let events = view.list_count(OFF_EVENTS_LIST)?;
        if events != header.committed_position {
            return corrupt(
                OFF_EVENTS_LIST,
                format!(
                    "{events} events listed, committed position {}",
                    header.committed_position
                ),
            );
        }
        if events > 0 && view.event_at(events)?.is_none() {
            return corrupt(OFF_EVENTS_LIST, "the last event is missing");
        }
        let classes = view.list_count(OFF_CLASSES_LIST)?;
        let checkpoints = view.list_count(OFF_CHECKPOINTS_LIST)?;
        if checkpoints > 0 {
            let last = view.list_entry(OFF_CHECKPOINTS_LIST, checkpoints - 1)?;
            view.cell(last, CELL_CHECKPOINT)?;
        }
        let mut reserve =
            next_chunk_bytes(events) + next_chunk_bytes(classes) + next_chunk_bytes(checkpoints);
        let mut live_total = 0u64;
        for index in 0..classes {
            let header_off = view.list_entry(OFF_CLASSES_LIST, index)?;
            let class = view.class_header(header_off)?;
            // A class swap leaves a class with another class's key index, or one from the
            // swap range (docs/region.md).
            let key_index = u64::from(class.class_index);
            if key_index != index
                && key_index < u64::from(SWAP_KEY_INDEX_BASE)
                && key_index >= classes
            {
                return corrupt(
                    header_off,
                    format!("class {index} has index {}", class.class_index),
                );
            }
            let list_off = header_off + CLASS_OFF_ENTITY_LIST;
            let cells = view.list_count(list_off)?;
            if cells > 0 {
                view.list_entry(list_off, cells - 1)?;
            }
            reserve += next_chunk_bytes(cells);
            live_total += class.live_count.load(Ordering::Acquire);
        }
        if live_total != header.entity_count {
            return corrupt(
                OFF_ENTITY_COUNT,
                format!(
                    "entity count {} but the classes hold {live_total}",
                    header.entity_count
                ),
            );
        }
        self.index_off = index_off;
        self.index_capacity = capacity;
        self.index_used = used;
        self.last_position = events;
        self.garbage_bytes = header.garbage_bytes;
        self.entity_count = header.entity_count;
        self.stream_count = header.stream_count;
        self.chunk_reserve_bytes = reserve;
        Ok(())
    }
}

/// Magic, layout version, header size and arena tail of an image, before it is trusted.
fn check_image_header(image: &[u8], image_bytes: u64) -> Result<(), RegionError> {
    if &image[..REGION_MAGIC.len()] != REGION_MAGIC {
        return Err(RegionError::NotARegion("image has a bad magic".into()));
    }
    let found = le_u32(image, OFF_LAYOUT_VERSION as usize);
    if found != REGION_LAYOUT_VERSION {
        return Err(RegionError::LayoutVersion {
            found,
            expected: REGION_LAYOUT_VERSION,
        });
    }
    if u64::from(le_u32(image, OFF_HEADER_BYTES as usize)) != HEADER_BYTES {
        return Err(RegionError::NotARegion("image header size".into()));
    }
    let tail = le_u64(image, OFF_ARENA_TAIL as usize);
    if tail != image_bytes {
        return corrupt(
            OFF_ARENA_TAIL,
            format!("image of {image_bytes} bytes has arena tail {tail}"),
        );
    }
    Ok(())
}
