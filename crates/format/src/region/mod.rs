//! The shared-memory state region (layout: docs/region.md).
//!
//! Owns: the region's byte layout, the daemon-side [`RegionWriter`] (the only code that ever
//! writes a region) and the reader-side [`RegionView`] / [`MappedRegion`] used by the extension
//! and by `eventsrv status`.
//! Must never: let a reader follow an offset without bounds-checking it against the mapping and
//! the arena tail; write a published byte other than the fields marked atomic in docs/region.md.
//!
//! Files: `layout` (constants and size arithmetic), `reader` (mapping, view, header, checked
//! primitives), `queries` (the reader's entity, stream and checkpoint lookups),
//! `writer` (file lifecycle, allocator, public mutations), and one file per structure, each
//! holding both its checked reader side and its writer side: `records` (cells, class headers,
//! entity and event records), `index` (the hash table), `list` (chunked lists), and `entities`
//! (the writer's entity bookkeeping), and `image` (the applied log location, region images for
//! snapshots, adopting a surviving region file), and `swap` (the writer's class swap that makes a
//! rebuilt projection live).

mod entities;
mod image;
mod index;
pub mod layout;
mod list;
mod queries;
mod reader;
mod records;
mod swap;
mod writer;

pub use image::{LastRecord, LogLocation, RegionImage};
pub use queries::{EntityIter, EntityRef, EventRef};
pub use reader::{HeaderSnapshot, MappedRegion, RegionView};
pub use writer::{
    RegionStats, RegionWriter, INDEX_GROWTH_SHARE_PER_KEY_BYTES, LIST_SHARE_PER_ENTRY_BYTES,
};

use std::fmt;

pub const REGION_MAGIC: &[u8; 8] = b"EVSRVRGN";
pub const REGION_LAYOUT_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionState {
    Building,
    Live,
    Superseded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionError {
    Io(String),
    /// The file is not an eventsrv region (bad magic or too small).
    NotARegion(String),
    LayoutVersion {
        found: u32,
        expected: u32,
    },
    /// A reader found a broken invariant at `offset`.
    Corrupt {
        offset: u64,
        what: String,
    },
    /// The arena has no room for what the writer was asked to add.
    Full {
        needed: u64,
        available: u64,
        region_bytes: u64,
    },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::Io(why) => write!(f, "{why}"),
            RegionError::NotARegion(why) => write!(f, "not an eventsrv state region: {why}"),
            RegionError::LayoutVersion { found, expected } => write!(
                f,
                "state region has layout version {found}, this build reads layout version \
                 {expected}: run a daemon and extension of the same release"
            ),
            RegionError::Corrupt { offset, what } => {
                write!(f, "state region corrupt at byte {offset}: {what}")
            }
            RegionError::Full {
                needed,
                available,
                region_bytes,
            } => write!(
                f,
                "state region full: need {needed} bytes, {available} free of {region_bytes}; \
                 restart the daemon with a larger --region-size"
            ),
        }
    }
}

impl std::error::Error for RegionError {}
