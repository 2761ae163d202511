//! Writer side of the region: the daemon's single writer thread is its only user.
//!
//! Owns: creating a region file, publishing it over the previous one, the arena allocator, the
//! room checks and byte bounds, and the public mutations (events, entity changes, checkpoints,
//! positions). Entity bookkeeping lives in `entities.rs`, the hash table in `index.rs`.
//! Must never: overwrite a published record; publish a position before the records it covers;
//! write past the mapping (an allocation that does not fit is `RegionError::Full`).

use super::layout::*;
use super::list::next_chunk_bytes;
use super::records::event_record_bytes_of;
use super::{RegionError, RegionView, REGION_LAYOUT_VERSION, REGION_MAGIC};
use crate::futex;
use crate::limits::{REGION_BYTES_MAX, REGION_BYTES_MIN};
use crate::log_record::EventRecord;
use crate::protocol::EntityChange;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;

/// Permission bits a region file is created with (before the daemon applies its configured mode).
pub const REGION_CREATE_MODE: u32 = 0o600;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Arena bytes each new key reserves towards later hash-table growth: growing from C to 2C slots
/// costs 16·C + 16 bytes and happens after C/4 new keys, i.e. 64 bytes per key plus rounding.
/// The first growth of a batch is covered by the reserve in [`RegionWriter::ensure_room`].
pub const INDEX_GROWTH_SHARE_PER_KEY_BYTES: u64 = 80;
/// Arena bytes each list entry reserves towards later chunks: chunk k+1 (256·2^k bytes) is needed
/// only after the 16·2^k entries of chunk k, i.e. 16 bytes per entry. The first new chunk of each
/// list in a batch is covered by the reserve in [`RegionWriter::ensure_room`].
pub const LIST_SHARE_PER_ENTRY_BYTES: u64 = 16;

/// Counts for `eventsrv status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionStats {
    pub region_bytes: u64,
    pub arena_used_bytes: u64,
    pub garbage_bytes: u64,
    pub committed_position: u64,
    pub projected_position: u64,
    pub stream_count: u64,
    pub entity_count: u64,
    pub class_count: u64,
}

pub struct RegionWriter {
    pub(super) mmap: memmap2::MmapMut,
    /// `mmap`'s first byte, taken once from `as_mut_ptr` so writes never go through a `&mut [u8]`
    /// that would alias the atomics readers (possibly in this process) hold.
    pub(super) base: *mut u8,
    pub(super) region_bytes: u64,
    pub(super) path: PathBuf,
    pub(super) building_path: Option<PathBuf>,
    /// First free arena byte (mirrored into the header on every allocation).
    pub(super) tail: u64,
    pub(super) last_position: u64,
    pub(super) index_off: u64,
    pub(super) index_capacity: u64,
    pub(super) index_used: u64,
    /// Sum over every list of the chunk its next chunk allocation takes (see `ensure_room`).
    pub(super) chunk_reserve_bytes: u64,
    pub(super) garbage_bytes: u64,
    pub(super) entity_count: u64,
    pub(super) stream_count: u64,
    /// The cell of the stream the last event went to: stream cells are never moved or removed,
    /// and an append of several events (or a busy stream) hits it without hashing the id.
    pub(super) last_stream_cell: Option<u64>,
}

// SAFETY: `base` points into `mmap`, which the writer owns and which moves with it; nothing else
// in the process holds the writer's `base`.
unsafe impl Send for RegionWriter {}
// SAFETY: every `&self` method only loads or stores atomics of the mapping or reads published,
// immutable bytes; all non-atomic writes need `&mut self`.
unsafe impl Sync for RegionWriter {}

impl Drop for RegionWriter {
    /// A region that was never published is of no use to anyone: remove its side file.
    fn drop(&mut self) {
        if let Some(building) = self.building_path.take() {
            let _ = std::fs::remove_file(building);
        }
    }
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> RegionError {
    RegionError::Io(format!("{what} {}: {error}", path.display()))
}

pub(super) fn now_us() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since_epoch
        .map(|elapsed| elapsed.as_micros() as u64)
        .unwrap_or(0)
}

impl RegionWriter {
    /// Create a fresh region for `path` in state "building", in a side file
    /// (`<path>.building-<pid>`) that [`RegionWriter::publish`] renames over `path`.
    /// The file is sized `region_bytes` (rounded down to 8) sparse.
    pub fn create(
        path: &Path,
        region_bytes: u64,
        generation: u64,
    ) -> Result<RegionWriter, RegionError> {
        let region_bytes = checked_region_bytes(region_bytes)?;
        let (mmap, building_path) = map_new_file(path, region_bytes)?;
        let mut writer = RegionWriter::from_mapping(mmap, path, Some(building_path));
        writer.write_header(generation);
        writer.create_index()?;
        Ok(writer)
    }

    /// A writer over `mmap` with nothing known yet: `create` writes a header and index into it,
    /// `image.rs` restores the bookkeeping from the header it finds.
    pub(super) fn from_mapping(
        mut mmap: memmap2::MmapMut,
        path: &Path,
        building_path: Option<PathBuf>,
    ) -> RegionWriter {
        let base = mmap.as_mut_ptr();
        let region_bytes = mmap.len() as u64;
        RegionWriter {
            mmap,
            base,
            region_bytes,
            path: path.to_path_buf(),
            building_path,
            tail: ARENA_START,
            last_position: 0,
            index_off: 0,
            index_capacity: 0,
            index_used: 0,
            chunk_reserve_bytes: 3 * LIST_FIRST_CHUNK_BYTES,
            garbage_bytes: 0,
            entity_count: 0,
            stream_count: 0,
            last_stream_cell: None,
        }
    }

    fn write_header(&mut self, generation: u64) {
        self.write_at(OFF_MAGIC, REGION_MAGIC);
        self.write_at(OFF_LAYOUT_VERSION, &REGION_LAYOUT_VERSION.to_le_bytes());
        self.write_at(OFF_HEADER_BYTES, &(HEADER_BYTES as u32).to_le_bytes());
        self.write_at(OFF_REGION_BYTES, &self.region_bytes.to_le_bytes());
        self.write_at(OFF_GENERATION, &generation.to_le_bytes());
        self.write_at(OFF_CREATED_AT_US, &now_us().to_le_bytes());
        self.atomic_u32(OFF_STATE)
            .store(STATE_BUILDING, Ordering::Release);
        self.atomic_u64(OFF_ARENA_TAIL)
            .store(self.tail, Ordering::Release);
    }

    /// Set state live, rename the side file over the published path, and mark the file that
    /// was there before (if it is a region) superseded so readers remap. Idempotent.
    pub fn publish(&mut self) -> Result<(), RegionError> {
        let Some(building_path) = self.building_path.clone() else {
            return Ok(());
        };
        let previous = map_previous_region(&self.path)?;
        self.atomic_u32(OFF_STATE)
            .store(STATE_LIVE, Ordering::Release);
        std::fs::rename(&building_path, &self.path).map_err(|error| {
            io_error("cannot rename the new state region over", &self.path, error)
        })?;
        self.building_path = None;
        if let Some(mut previous) = previous {
            let state_ptr =
                previous.as_mut_ptr().wrapping_add(OFF_STATE as usize) as *const AtomicU32;
            // SAFETY: the mapping is page aligned and at least HEADER_BYTES long (checked in
            // map_previous_region), so the state word is an aligned u32 inside it.
            let state = unsafe { &*state_ptr };
            state.store(STATE_SUPERSEDED, Ordering::Release);
        }
        Ok(())
    }

    /// Mark this region superseded (used when another file replaces it).
    pub fn mark_superseded(&self) {
        self.atomic_u32(OFF_STATE)
            .store(STATE_SUPERSEDED, Ordering::Release);
    }

    /// A reader's view of this same mapping (for lookups the writer needs).
    pub fn view(&self) -> RegionView<'_> {
        // SAFETY: `base` is the page-aligned start of `mmap`, which is ≥ REGION_BYTES_MIN long
        // and lives as long as the borrow of `self`.
        unsafe { RegionView::from_parts(self.base, self.mmap.len()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> RegionStats {
        let header = self.view().header();
        RegionStats {
            region_bytes: self.region_bytes,
            arena_used_bytes: self.tail - ARENA_START,
            garbage_bytes: self.garbage_bytes,
            committed_position: header.committed_position,
            projected_position: header.projected_position,
            stream_count: self.stream_count,
            entity_count: self.entity_count,
            class_count: header.class_count,
        }
    }

    /// Upper bound of arena bytes `append_event` may use for this event.
    pub fn event_bytes_bound(event: &EventRecord) -> u64 {
        event_record_bytes_of(event)
            + cell_bytes(event.stream.len() as u64)
            + INDEX_GROWTH_SHARE_PER_KEY_BYTES
            + LIST_SHARE_PER_ENTRY_BYTES
    }

    /// Upper bound of arena bytes `apply_change` may use for this change.
    pub fn change_bytes_bound(change: &EntityChange) -> u64 {
        match change {
            EntityChange::Upsert {
                class, uuid, data, ..
            } => {
                let class_len = class.len() as u64;
                entity_record_bytes(data.len() as u64)
                    + cell_bytes(4 + uuid.len() as u64)
                    + class_header_bytes(class_len)
                    + cell_bytes(class_len)
                    // a new class's entity list takes its first chunk at once
                    + LIST_FIRST_CHUNK_BYTES
                    + 2 * INDEX_GROWTH_SHARE_PER_KEY_BYTES
                    + 2 * LIST_SHARE_PER_ENTRY_BYTES
            }
            EntityChange::Delete { .. } | EntityChange::ResetClass { .. } => 0,
            EntityChange::SwapClass { class, shadow } => Self::swap_bytes_bound(class, shadow),
        }
    }

    /// Upper bound of arena bytes `set_checkpoint` may use for this checkpoint.
    pub fn checkpoint_bytes_bound(name: &str) -> u64 {
        cell_bytes(name.len() as u64)
            + INDEX_GROWTH_SHARE_PER_KEY_BYTES
            + LIST_SHARE_PER_ENTRY_BYTES
    }

    /// Ok if `bytes` more fit in the arena, on top of a reserve for one hash-table growth and the
    /// next chunk of every list (what the per-item bounds do not cover; see the share constants).
    pub fn ensure_room(&self, bytes: u64) -> Result<(), RegionError> {
        let reserve = index_table_bytes(self.index_capacity * 2) + self.chunk_reserve_bytes;
        self.check_room(bytes.saturating_add(reserve))
    }

    /// Current version of a stream (0 if none), including events appended but not yet published.
    pub fn stream_version(&self, stream: &str) -> u64 {
        self.find_key(CELL_STREAM, stream.as_bytes())
            .map_or(0, |found| self.stream_version_at(found.value))
    }

    /// Current checkpoint of a projector/reactor (0 if none).
    pub fn checkpoint(&self, name: &str) -> u64 {
        self.find_key(CELL_CHECKPOINT, name.as_bytes())
            .map_or(0, |found| found.value)
    }

    /// Last event position appended (published or not).
    pub fn last_position(&self) -> u64 {
        self.last_position
    }

    /// Add an event. Asserts: `position == last_position() + 1` and
    /// `event.stream_version == stream_version(stream) + 1`. Visible to readers only after
    /// [`RegionWriter::publish_committed`]. On `Full` nothing was written.
    pub fn append_event(&mut self, position: u64, event: &EventRecord) -> Result<(), RegionError> {
        assert_eq!(
            position,
            self.last_position + 1,
            "event positions are dense"
        );
        let stream = event.stream.as_bytes();
        // One lookup serves the version check and the cell update: (cell, its last record).
        let found = self.last_stream_cell_of(stream).or_else(|| {
            self.find_key(CELL_STREAM, stream)
                .map(|found| (found.cell_off, found.value))
        });
        let current_version = found.map_or(0, |(_, record_off)| self.stream_version_at(record_off));
        assert_eq!(
            event.stream_version,
            current_version + 1,
            "stream {} versions are dense",
            event.stream
        );

        let mut needed = event_record_bytes_of(event) + self.list_append_bytes(OFF_EVENTS_LIST);
        if found.is_none() {
            needed += cell_bytes(stream.len() as u64) + self.index_growth_bytes(1);
        }
        self.check_room(needed)?;

        let prev = found.map_or(0, |(_, record_off)| record_off);
        let record_off = self.write_event_record(position, prev, event)?;
        let cell_off = match found {
            Some((cell_off, _)) => {
                self.atomic_u64(cell_off)
                    .store(record_off, Ordering::Release);
                cell_off
            }
            None => {
                let cell_off = self.write_cell(CELL_STREAM, stream, record_off)?;
                self.insert_key(CELL_STREAM, stream, cell_off)?;
                self.stream_count += 1;
                self.atomic_u64(OFF_STREAM_COUNT)
                    .store(self.stream_count, Ordering::Release);
                cell_off
            }
        };
        self.last_stream_cell = Some(cell_off);
        self.list_append(OFF_EVENTS_LIST, record_off)?;
        self.last_position = position;
        Ok(())
    }

    /// The last appended stream's cell, if `stream` is that stream (a key compare instead of a
    /// hash and a probe): the cell and the record it points to.
    fn last_stream_cell_of(&self, stream: &[u8]) -> Option<(u64, u64)> {
        let cell_off = self.last_stream_cell?;
        let cell = self
            .view()
            .cell(cell_off, CELL_STREAM)
            .expect("the writer's own stream cell");
        (cell.key == stream).then(|| (cell_off, cell.value.load(Ordering::Acquire)))
    }

    /// Apply one entity change (upsert, delete, reset class, swap class). On `Full` nothing was written.
    pub fn apply_change(&mut self, change: &EntityChange) -> Result<(), RegionError> {
        match change {
            EntityChange::Upsert {
                class,
                uuid,
                data,
                position,
            } => self.upsert_entity(class.as_bytes(), uuid.as_bytes(), data, *position),
            EntityChange::Delete { class, uuid } => {
                self.delete_entity(class.as_bytes(), uuid.as_bytes());
                Ok(())
            }
            EntityChange::ResetClass { class } => {
                self.reset_class(class.as_bytes());
                Ok(())
            }
            EntityChange::SwapClass { class, shadow } => {
                self.swap_class(class.as_bytes(), shadow.as_bytes())
            }
        }
    }

    /// Set a checkpoint; 0 means absent, so setting a never-seen checkpoint to 0 stores nothing.
    /// On `Full` nothing was written.
    pub fn set_checkpoint(&mut self, name: &str, position: u64) -> Result<(), RegionError> {
        let key = name.as_bytes();
        match self.find_key(CELL_CHECKPOINT, key) {
            Some(found) => self
                .atomic_u64(found.cell_off)
                .store(position, Ordering::Release),
            None if position == 0 => {}
            None => {
                let needed = cell_bytes(key.len() as u64)
                    + self.list_append_bytes(OFF_CHECKPOINTS_LIST)
                    + self.index_growth_bytes(1);
                self.check_room(needed)?;
                let cell_off = self.write_cell(CELL_CHECKPOINT, key, position)?;
                self.insert_key(CELL_CHECKPOINT, key, cell_off)?;
                self.list_append(OFF_CHECKPOINTS_LIST, cell_off)?;
            }
        }
        Ok(())
    }

    /// Publish the committed position (release), bump the commit futex word, wake waiters.
    pub fn publish_committed(&mut self, position: u64) {
        assert!(
            position <= self.last_position,
            "committed position {position} not appended yet"
        );
        let committed = self.atomic_u64(OFF_COMMITTED_POSITION);
        assert!(
            position >= committed.load(Ordering::Relaxed),
            "committed position moves forward"
        );
        committed.store(position, Ordering::Release);
        let seq = self.atomic_u32(OFF_COMMIT_SEQ);
        seq.fetch_add(1, Ordering::Release);
        futex::wake_all(seq);
    }

    /// Publish the projected position (release), bump the projected futex word, wake waiters.
    pub fn publish_projected(&mut self, position: u64) {
        self.atomic_u64(OFF_PROJECTED_POSITION)
            .store(position, Ordering::Release);
        let seq = self.atomic_u32(OFF_PROJECTED_SEQ);
        seq.fetch_add(1, Ordering::Release);
        futex::wake_all(seq);
    }

    pub fn set_daemon_pid(&self, pid: u32) {
        self.atomic_u32(OFF_DAEMON_PID)
            .store(pid, Ordering::Release);
    }
    pub fn set_workers_attached(&self, workers: u32) {
        self.atomic_u32(OFF_WORKERS_ATTACHED)
            .store(workers, Ordering::Release);
    }
    pub fn set_clients_connected(&self, clients: u32) {
        self.atomic_u32(OFF_CLIENTS_CONNECTED)
            .store(clients, Ordering::Release);
    }

    // ---- arena and raw access ---------------------------------------------------------------

    /// Full unless `bytes` more fit between the arena tail and the end of the region.
    pub(super) fn check_room(&self, bytes: u64) -> Result<(), RegionError> {
        let available = self.region_bytes - self.tail;
        if bytes > available {
            return Err(RegionError::Full {
                needed: bytes,
                available,
                region_bytes: self.region_bytes,
            });
        }
        Ok(())
    }

    /// Take `bytes` (rounded up to 8) from the arena. The bytes are zero (fresh sparse file).
    pub(super) fn allocate(&mut self, bytes: u64) -> Result<u64, RegionError> {
        let bytes = align8(bytes);
        self.check_room(bytes)?;
        let off = self.tail;
        self.tail += bytes;
        self.atomic_u64(OFF_ARENA_TAIL)
            .store(self.tail, Ordering::Release);
        Ok(off)
    }

    /// Copy `bytes` to `off`, which must lie in the header or in allocated arena bytes.
    pub(super) fn write_at(&mut self, off: u64, bytes: &[u8]) {
        let end = off
            .checked_add(bytes.len() as u64)
            .expect("write offset overflow");
        assert!(
            end <= self.tail,
            "write at {off}..{end} past the arena tail {}",
            self.tail
        );
        // SAFETY: off..end lies inside the mapping (tail ≤ region_bytes). The writer only writes
        // bytes it allocated and has not yet published, so no reader reads them concurrently.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.add(off as usize), bytes.len())
        };
    }

    pub(super) fn atomic_u64(&self, off: u64) -> &AtomicU64 {
        assert!(
            off.is_multiple_of(8) && off + 8 <= self.region_bytes,
            "atomic u64 at {off}"
        );
        // SAFETY: 8-aligned (page-aligned base) and inside the mapping, which lives with `self`.
        unsafe { &*(self.base.add(off as usize) as *const AtomicU64) }
    }

    pub(super) fn atomic_u32(&self, off: u64) -> &AtomicU32 {
        assert!(
            off.is_multiple_of(4) && off + 4 <= HEADER_BYTES,
            "header atomic u32 at {off}"
        );
        // SAFETY: 4-aligned and inside the header of the mapping, which lives with `self`.
        unsafe { &*(self.base.add(off as usize) as *const AtomicU32) }
    }

    pub(super) fn add_garbage(&mut self, bytes: u64) {
        self.garbage_bytes += bytes;
        self.atomic_u64(OFF_GARBAGE_BYTES)
            .store(self.garbage_bytes, Ordering::Release);
    }

    /// A new list will take a first chunk at its first append.
    pub(super) fn reserve_new_list(&mut self) {
        self.chunk_reserve_bytes += next_chunk_bytes(0);
    }
}

/// Map the region currently at `path` read-write, if there is one, so it can be marked
/// superseded once the new file has replaced it.
fn map_previous_region(path: &Path) -> Result<Option<memmap2::MmapMut>, RegionError> {
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(io_error(
                "cannot open the previous state region",
                path,
                error,
            ))
        }
    };
    let file_bytes = file
        .metadata()
        .map_err(|error| io_error("cannot stat the previous state region", path, error))?
        .len();
    if file_bytes < HEADER_BYTES {
        return Ok(None);
    }
    // SAFETY: only the header is touched (a magic check and one atomic u32 store); the daemon
    // never truncates region files.
    let mmap = unsafe {
        memmap2::MmapOptions::new()
            .len(HEADER_BYTES as usize)
            .map_mut(&file)
    }
    .map_err(|error| io_error("cannot map the previous state region", path, error))?;
    if &mmap[..REGION_MAGIC.len()] != REGION_MAGIC {
        return Ok(None);
    }
    Ok(Some(mmap))
}

/// Create `<path>.building-<pid>` sized `region_bytes` (sparse) and map it read-write.
pub(super) fn map_new_file(
    path: &Path,
    region_bytes: u64,
) -> Result<(memmap2::MmapMut, PathBuf), RegionError> {
    let mut building_name = path.as_os_str().to_owned();
    building_name.push(format!(".building-{}", std::process::id()));
    let building_path = PathBuf::from(building_name);
    match std::fs::remove_file(&building_path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error("cannot remove stale", &building_path, error)),
    }
    // Owner-only until the daemon applies the configured owner, group and mode (`--region-mode`):
    // no other user may map a region the daemon has not opened to them yet.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(REGION_CREATE_MODE)
        .open(&building_path)
        .map_err(|error| io_error("cannot create state region", &building_path, error))?;
    file.set_len(region_bytes)
        .map_err(|error| io_error("cannot size state region", &building_path, error))?;
    // SAFETY: the file was just created by us under a per-process name and is never
    // truncated while mapped; readers only map it read-only.
    let mmap = unsafe { memmap2::MmapMut::map_mut(&file) }
        .map_err(|error| io_error("cannot map state region", &building_path, error))?;
    Ok((mmap, building_path))
}

/// `region_bytes` rounded down to 8, if it is at least the minimum and can be mapped.
pub(super) fn checked_region_bytes(region_bytes: u64) -> Result<u64, RegionError> {
    if region_bytes < REGION_BYTES_MIN {
        return Err(RegionError::Io(format!(
            "state region size {region_bytes} bytes is below the minimum of {REGION_BYTES_MIN}; \
             raise --region-size"
        )));
    }
    if region_bytes > REGION_BYTES_MAX {
        return Err(RegionError::Io(format!(
            "state region size {region_bytes} bytes is above the maximum of {REGION_BYTES_MAX} \
             (8 TiB, what a hash slot can address); lower --region-size"
        )));
    }
    let region_bytes = region_bytes & !7;
    if usize::try_from(region_bytes).is_err() {
        return Err(RegionError::Io(format!(
            "state region size {region_bytes} bytes cannot be mapped"
        )));
    }
    Ok(region_bytes)
}
