//! Offsets and sizes of docs/region.md, as constants. Nothing outside `region` hard-codes these.

pub const HEADER_BYTES: u64 = 4096;
pub const ARENA_START: u64 = HEADER_BYTES;

pub const OFF_MAGIC: u64 = 0;
pub const OFF_LAYOUT_VERSION: u64 = 8;
pub const OFF_HEADER_BYTES: u64 = 12;
pub const OFF_REGION_BYTES: u64 = 16;
pub const OFF_GENERATION: u64 = 24;
pub const OFF_STATE: u64 = 32;
pub const OFF_DAEMON_PID: u64 = 36;
pub const OFF_ARENA_TAIL: u64 = 40;
pub const OFF_COMMITTED_POSITION: u64 = 48;
pub const OFF_PROJECTED_POSITION: u64 = 56;
pub const OFF_COMMIT_SEQ: u64 = 64;
pub const OFF_PROJECTED_SEQ: u64 = 68;
pub const OFF_INDEX_TABLE: u64 = 72;
pub const OFF_STREAM_COUNT: u64 = 80;
pub const OFF_ENTITY_COUNT: u64 = 88;
pub const OFF_WORKERS_ATTACHED: u64 = 96;
pub const OFF_CLIENTS_CONNECTED: u64 = 100;
pub const OFF_GARBAGE_BYTES: u64 = 104;
pub const OFF_CREATED_AT_US: u64 = 112;
pub const OFF_EVENTS_LIST: u64 = 128;
pub const OFF_CLASSES_LIST: u64 = 512;
pub const OFF_CHECKPOINTS_LIST: u64 = 896;

pub const STATE_BUILDING: u32 = 0;
pub const STATE_LIVE: u32 = 1;
pub const STATE_SUPERSEDED: u32 = 2;

/// Chunked list: u64 count + CHUNKS_MAX chunk offsets.
pub const LIST_CHUNKS_MAX: usize = 40;
pub const LIST_BYTES: u64 = 8 + 8 * LIST_CHUNKS_MAX as u64;
pub const LIST_FIRST_CHUNK_ENTRIES: u64 = 16;

pub const CELL_CLASS: u8 = 1;
pub const CELL_ENTITY: u8 = 2;
pub const CELL_STREAM: u8 = 3;
pub const CELL_CHECKPOINT: u8 = 4;
pub const CELL_HEADER_BYTES: u64 = 16;

pub const RECORD_EVENT: u8 = 1;
pub const RECORD_ENTITY: u8 = 2;
pub const EVENT_RECORD_HEADER_BYTES: u64 = 72;
pub const ENTITY_RECORD_HEADER_BYTES: u64 = 32;
pub const CLASS_HEADER_BYTES: u64 = 16 + LIST_BYTES;

pub const INDEX_HEADER_BYTES: u64 = 16;
pub const INDEX_SLOT_BYTES: u64 = 16;
pub const INDEX_CAPACITY_INITIAL: u64 = 1024;

/// Round up to the 8-byte alignment every record and cell keeps.
pub const fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

/// FNV-1a 64 over the cell kind then the key; 0 is reserved for "empty slot".
pub fn key_hash(kind: u8, key: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in std::iter::once(&kind).chain(key) {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    if hash == 0 {
        1
    } else {
        hash
    }
}
