//! Reader side of the region: bounds-checked, lock-free views for PHP processes and the CLI.
//!
//! Owns: [`MappedRegion`] (a read-only mapping of a region file), [`RegionView`] with its header
//! accessors, and the checked primitives (`bytes`, `atomic_u64`, `arena_check`) every other reader
//! path goes through. The entity, stream and checkpoint queries live in `queries.rs`.
//! Must never: write to the mapping, trust an offset before checking it, or panic on any bytes.

use super::layout::*;
use super::{RegionError, RegionState, REGION_LAYOUT_VERSION, REGION_MAGIC};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[cfg(target_endian = "big")]
compile_error!("the state region stores atomics natively and is specified little-endian");

/// A read-only mapping of a region file, with the identity it was opened with.
pub struct MappedRegion {
    mmap: memmap2::Mmap,
    pub inode: u64,
    pub generation: u64,
}

impl MappedRegion {
    /// Map `path` read-only and check magic, layout version and size.
    pub fn open(path: &Path) -> Result<MappedRegion, RegionError> {
        let shown = path.display();
        let file = File::open(path).map_err(|error| {
            RegionError::Io(format!("cannot open state region {shown}: {error}"))
        })?;
        let metadata = file.metadata().map_err(|error| {
            RegionError::Io(format!("cannot stat state region {shown}: {error}"))
        })?;
        if metadata.len() < HEADER_BYTES {
            return Err(RegionError::NotARegion(format!(
                "{shown} is {} bytes, smaller than the {HEADER_BYTES}-byte header",
                metadata.len()
            )));
        }
        if usize::try_from(metadata.len()).is_err() {
            return Err(RegionError::NotARegion(format!(
                "{shown} is too large to map"
            )));
        }
        // SAFETY: the daemon never truncates a region file, and it only changes bytes of a mapped
        // region that are either unreachable yet or atomic fields; every read of this mapping goes
        // through RegionView, which bounds-checks against the mapping length fixed here.
        let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(|error| {
            RegionError::Io(format!("cannot map state region {shown}: {error}"))
        })?;
        // SAFETY: `mmap` stays mapped as long as the returned MappedRegion; the view is dropped here.
        let view =
            unsafe { RegionView::from_raw(mmap.as_ptr(), mmap.len()) }.map_err(
                |error| match error {
                    RegionError::NotARegion(why) => {
                        RegionError::NotARegion(format!("{shown}: {why}"))
                    }
                    other => other,
                },
            )?;
        let generation = view.generation();
        Ok(MappedRegion {
            mmap,
            inode: metadata.ino(),
            generation,
        })
    }

    pub fn view(&self) -> RegionView<'_> {
        // SAFETY: `open` checked that the mapping is at least HEADER_BYTES long and page aligned,
        // and it stays mapped for the borrow of `self`. Magic and version are not re-checked: they
        // are semantics, not memory safety, and every accessor bounds-checks regardless.
        unsafe { RegionView::from_parts(self.mmap.as_ptr(), self.mmap.len()) }
    }
}

/// A view of one mapped region. Every accessor is lock-free and never blocks the writer.
#[derive(Clone, Copy)]
pub struct RegionView<'a> {
    base: *const u8,
    len: usize,
    _mapping: std::marker::PhantomData<&'a [u8]>,
}

// SAFETY: a RegionView is a shared borrow of `len` mapped bytes, like `&'a [u8]`. The only bytes
// that change while it is alive (written by the daemon, possibly in another process) are the
// fields docs/region.md marks atomic, which the view accesses only through atomics, and arena
// bytes that no published pointer reaches yet. So sending or sharing it across threads is as
// sound as sending `&'a [u8]` plus `&'a AtomicU64`.
unsafe impl Send for RegionView<'_> {}
// SAFETY: see `Send` above; the view has no interior state of its own.
unsafe impl Sync for RegionView<'_> {}

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
    /// The log location the region holds every record before; None while a batch is applied.
    pub applied_location: Option<super::LogLocation>,
}

#[cold]
#[inline(never)]
pub(super) fn corrupt<T>(offset: u64, what: impl Into<String>) -> Result<T, RegionError> {
    Err(RegionError::Corrupt {
        offset,
        what: what.into(),
    })
}

/// Little-endian u32 at `at` of a slice the caller sized.
pub(super) fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("slice of 4 bytes"))
}

/// Little-endian u64 at `at` of a slice the caller sized.
pub(super) fn le_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("slice of 8 bytes"))
}

impl<'a> RegionView<'a> {
    /// # Safety
    /// `base..base+len` must stay mapped (read-only is enough) for `'a`.
    pub unsafe fn from_raw(base: *const u8, len: usize) -> Result<RegionView<'a>, RegionError> {
        if len < HEADER_BYTES as usize {
            return Err(RegionError::NotARegion(format!(
                "{len} bytes, smaller than the {HEADER_BYTES}-byte header"
            )));
        }
        if base.is_null() || !(base as usize).is_multiple_of(8) {
            return Err(RegionError::NotARegion(
                "mapping is not 8-byte aligned".into(),
            ));
        }
        // SAFETY: length and alignment checked above; the caller guarantees the mapping.
        let view = unsafe { RegionView::from_parts(base, len) };
        let magic = view.header_bytes(OFF_MAGIC, 8);
        if magic != REGION_MAGIC {
            return Err(RegionError::NotARegion(format!(
                "bad magic {:?} (expected {:?})",
                String::from_utf8_lossy(magic),
                String::from_utf8_lossy(REGION_MAGIC)
            )));
        }
        let found = le_u32(view.header_bytes(OFF_LAYOUT_VERSION, 4), 0);
        if found != REGION_LAYOUT_VERSION {
            return Err(RegionError::LayoutVersion {
                found,
                expected: REGION_LAYOUT_VERSION,
            });
        }
        let header_bytes = le_u32(view.header_bytes(OFF_HEADER_BYTES, 4), 0);
        if u64::from(header_bytes) != HEADER_BYTES {
            return Err(RegionError::NotARegion(format!(
                "header says {header_bytes} header bytes, layout has {HEADER_BYTES}"
            )));
        }
        let region_bytes = view.region_bytes();
        if region_bytes != len as u64 {
            return Err(RegionError::NotARegion(format!(
                "header says {region_bytes} bytes but the mapping has {len} (file resized?)"
            )));
        }
        Ok(view)
    }

    /// A view without the magic/version checks (used on mappings already checked once).
    ///
    /// # Safety
    /// `base` is 8-byte aligned, `len >= HEADER_BYTES`, and `base..base+len` stays mapped for `'a`.
    pub(super) unsafe fn from_parts(base: *const u8, len: usize) -> RegionView<'a> {
        debug_assert!(len >= HEADER_BYTES as usize && (base as usize).is_multiple_of(8));
        RegionView {
            base,
            len,
            _mapping: std::marker::PhantomData,
        }
    }

    // ---- checked primitives -------------------------------------------------------------

    /// Bytes of the mapping (every bound a reader checks is capped by this).
    #[inline]
    pub(super) fn mapping_bytes(&self) -> u64 {
        self.len as u64
    }

    /// `len` bytes at `off`, or Corrupt if they are not all inside the mapping.
    #[inline]
    pub(super) fn bytes(&self, off: u64, len: u64) -> Result<&'a [u8], RegionError> {
        match off.checked_add(len) {
            Some(end) if end <= self.mapping_bytes() => {}
            _ => return corrupt(off, format!("{len} bytes run past the end of the mapping")),
        }
        // SAFETY: off..off+len is inside the mapping (checked above), which lives for 'a; the
        // bytes are immutable once reachable (docs/region.md), so a shared slice is sound.
        Ok(unsafe { std::slice::from_raw_parts(self.base.add(off as usize), len as usize) })
    }

    /// The atomic u64 at `off`, or Corrupt if it is misaligned or outside the mapping.
    #[inline]
    pub(super) fn atomic_u64(&self, off: u64) -> Result<&'a AtomicU64, RegionError> {
        let inside = matches!(off.checked_add(8), Some(end) if end <= self.mapping_bytes());
        if !off.is_multiple_of(8) || !inside {
            return corrupt(off, "atomic field misaligned or outside the mapping");
        }
        // SAFETY: 8-aligned (base is 8-aligned, off.is_multiple_of(8)) and inside the mapping for 'a.
        Ok(unsafe { &*(self.base.add(off as usize) as *const AtomicU64) })
    }

    fn header_atomic_u64(&self, off: u64) -> &'a AtomicU64 {
        assert!(
            off.is_multiple_of(8) && off + 8 <= HEADER_BYTES,
            "header field offset"
        );
        // SAFETY: inside the header, which every view has (len >= HEADER_BYTES), 8-aligned.
        unsafe { &*(self.base.add(off as usize) as *const AtomicU64) }
    }

    fn header_atomic_u32(&self, off: u64) -> &'a AtomicU32 {
        assert!(
            off.is_multiple_of(4) && off + 4 <= HEADER_BYTES,
            "header field offset"
        );
        // SAFETY: inside the header, which every view has (len >= HEADER_BYTES), 4-aligned.
        unsafe { &*(self.base.add(off as usize) as *const AtomicU32) }
    }

    /// Non-atomic header bytes (magic, sizes, generation): written once before the file is live.
    fn header_bytes(&self, off: u64, len: u64) -> &'a [u8] {
        assert!(off + len <= HEADER_BYTES, "header field offset");
        // SAFETY: inside the header, which every view has (len >= HEADER_BYTES).
        unsafe { std::slice::from_raw_parts(self.base.add(off as usize), len as usize) }
    }

    /// First byte past what a reader may follow: the arena tail, loaded now, capped by the mapping.
    /// Load it *after* the pointer being checked, so a record published before is covered.
    #[inline]
    pub(super) fn arena_bound(&self) -> u64 {
        self.header_atomic_u64(OFF_ARENA_TAIL)
            .load(Ordering::Acquire)
            .min(self.mapping_bytes())
    }

    /// Check that a record of `bytes` at `off` lies inside the published arena.
    #[inline]
    pub(super) fn arena_check(&self, off: u64, bytes: u64, what: &str) -> Result<(), RegionError> {
        if off < ARENA_START || !off.is_multiple_of(8) {
            return corrupt(
                off,
                format!("{what}: offset below the arena or not 8-aligned"),
            );
        }
        let bound = self.arena_bound();
        match off.checked_add(bytes) {
            Some(end) if end <= bound => Ok(()),
            _ => corrupt(
                off,
                format!("{what}: {bytes} bytes run past the arena tail {bound}"),
            ),
        }
    }

    // ---- header ---------------------------------------------------------------------------

    fn region_bytes(&self) -> u64 {
        le_u64(self.header_bytes(OFF_REGION_BYTES, 8), 0)
    }

    pub fn header(&self) -> HeaderSnapshot {
        let atomic_u32 = |off| self.header_atomic_u32(off).load(Ordering::Acquire);
        let atomic_u64 = |off| self.header_atomic_u64(off).load(Ordering::Acquire);
        HeaderSnapshot {
            layout_version: le_u32(self.header_bytes(OFF_LAYOUT_VERSION, 4), 0),
            region_bytes: self.region_bytes(),
            generation: self.generation(),
            state: self.state(),
            daemon_pid: atomic_u32(OFF_DAEMON_PID),
            arena_tail: atomic_u64(OFF_ARENA_TAIL),
            committed_position: atomic_u64(OFF_COMMITTED_POSITION),
            projected_position: atomic_u64(OFF_PROJECTED_POSITION),
            stream_count: atomic_u64(OFF_STREAM_COUNT),
            entity_count: atomic_u64(OFF_ENTITY_COUNT),
            class_count: atomic_u64(OFF_CLASSES_LIST),
            workers_attached: atomic_u32(OFF_WORKERS_ATTACHED),
            clients_connected: atomic_u32(OFF_CLIENTS_CONNECTED),
            garbage_bytes: atomic_u64(OFF_GARBAGE_BYTES),
            created_at_us: le_u64(self.header_bytes(OFF_CREATED_AT_US, 8), 0),
            applied_location: self.applied_location(),
        }
    }
    /// An unknown state value reads as Superseded, so a reader remaps instead of trusting it.
    pub fn state(&self) -> RegionState {
        match self.header_atomic_u32(OFF_STATE).load(Ordering::Acquire) {
            STATE_BUILDING => RegionState::Building,
            STATE_LIVE => RegionState::Live,
            _ => RegionState::Superseded,
        }
    }
    pub fn generation(&self) -> u64 {
        le_u64(self.header_bytes(OFF_GENERATION, 8), 0)
    }
    pub fn committed_position(&self) -> u64 {
        self.header_atomic_u64(OFF_COMMITTED_POSITION)
            .load(Ordering::Acquire)
    }
    pub fn projected_position(&self) -> u64 {
        self.header_atomic_u64(OFF_PROJECTED_POSITION)
            .load(Ordering::Acquire)
    }
    pub fn workers_attached(&self) -> u32 {
        self.header_atomic_u32(OFF_WORKERS_ATTACHED)
            .load(Ordering::Acquire)
    }
    /// The pid of the daemon serving this region; 0 once it stopped cleanly.
    pub fn daemon_pid(&self) -> u32 {
        self.header_atomic_u32(OFF_DAEMON_PID)
            .load(Ordering::Acquire)
    }
    /// Futex word bumped after the committed position moves.
    pub fn commit_seq(&self) -> &'a AtomicU32 {
        self.header_atomic_u32(OFF_COMMIT_SEQ)
    }
    /// Futex word bumped after the projected position moves.
    pub fn projected_seq(&self) -> &'a AtomicU32 {
        self.header_atomic_u32(OFF_PROJECTED_SEQ)
    }
}
