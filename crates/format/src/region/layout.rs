//! Offsets and sizes of docs/region.md, as constants, plus the arithmetic that derives record
//! sizes and chunked-list positions from them. Nothing outside `region` hard-codes these.
//! Must never: disagree with docs/region.md.

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
/// Applied log location (docs/region.md): the region holds exactly the log records before it.
/// The segment word is 0 while a batch is being applied (or for a region no daemon ever marked),
/// which makes the region not adoptable by a later daemon.
pub const OFF_APPLIED_SEGMENT: u64 = 1280;
pub const OFF_APPLIED_OFFSET: u64 = 1288;
pub const OFF_APPLIED_RECORDS: u64 = 1296;
/// Where the last record before the applied location starts in its segment, and the position of
/// the last commit record up to it ([`super::LastRecord`]): let a boot check the location with one
/// frame instead of walking the segment. 0 = not recorded (the boot walks the segment instead).
pub const OFF_APPLIED_LAST_RECORD: u64 = 1312;
pub const OFF_APPLIED_LAST_COMMIT: u64 = 1320;
/// Class swaps applied so far (docs/region.md, "Swapping a class"); the n-th swap gives the
/// emptied shadow the entity key index `SWAP_KEY_INDEX_BASE + n`.
pub const OFF_CLASS_SWAPS: u64 = 1304;
/// Entity key indexes from here on belong to class headers made by a swap; class indexes (the
/// position in the classes list) stay below it.
pub const SWAP_KEY_INDEX_BASE: u32 = 0x8000_0000;

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
pub const ENTITY_RECORD_HEADER_BYTES: u64 = 16;
/// Entity record: `u8 padding` (zero bytes after the data) at 5, position at 8.
pub const ENTITY_OFF_PADDING: usize = 5;
pub const ENTITY_OFF_POSITION: usize = 8;
pub const CLASS_HEADER_BYTES: u64 = 16 + LIST_BYTES;

pub const INDEX_HEADER_BYTES: u64 = 16;
pub const INDEX_SLOT_BYTES: u64 = 8;
/// A hash slot is one u64: the cell offset / 8 in the low `SLOT_CELL_BITS` bits, the top bits of
/// the key's hash (its tag) above them; 0 is an empty slot.
pub const SLOT_CELL_BITS: u32 = 40;
pub const SLOT_CELL_MASK: u64 = (1 << SLOT_CELL_BITS) - 1;
pub const INDEX_CAPACITY_INITIAL: u64 = 1024;

/// Class header: `u32 class index, u32 name_len` at 0, live count at 8, the entity list at 16.
pub const CLASS_OFF_LIVE_COUNT: u64 = 8;
pub const CLASS_OFF_ENTITY_LIST: u64 = 16;
/// Hash table: `u64 capacity` at 0, `u64 used` at 8, slots from 16.
pub const INDEX_OFF_USED: u64 = 8;
/// Bytes of the first chunk of a chunked list; chunk k is this << k.
pub const LIST_FIRST_CHUNK_BYTES: u64 = 8 * LIST_FIRST_CHUNK_ENTRIES;

/// Round up to the 8-byte alignment every record and cell keeps.
pub const fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

/// Where entry `index` of a chunked list lives: (chunk, entry inside the chunk).
/// The chunk may be ≥ [`LIST_CHUNKS_MAX`] for absurd indexes; callers check.
pub fn list_slot(index: u64) -> (u64, u64) {
    let chunk = u64::from((index / LIST_FIRST_CHUNK_ENTRIES + 1).ilog2());
    // chunk ≤ 60 here, so neither the shift nor the product overflows.
    let first_in_chunk = LIST_FIRST_CHUNK_ENTRIES * ((1u64 << chunk) - 1);
    (chunk, index - first_in_chunk)
}

/// Bytes of chunk `chunk` of a chunked list (`chunk` < [`LIST_CHUNKS_MAX`]).
pub const fn list_chunk_bytes(chunk: u64) -> u64 {
    LIST_FIRST_CHUNK_BYTES << chunk
}

pub const fn cell_bytes(key_len: u64) -> u64 {
    align8(CELL_HEADER_BYTES + key_len)
}

pub const fn class_header_bytes(name_len: u64) -> u64 {
    align8(CLASS_HEADER_BYTES + name_len)
}

pub const fn entity_record_bytes(data_len: u64) -> u64 {
    align8(ENTITY_RECORD_HEADER_BYTES + data_len)
}

pub const fn event_record_bytes(
    stream_len: u64,
    type_len: u64,
    metadata_len: u64,
    payload_len: u64,
) -> u64 {
    align8(EVENT_RECORD_HEADER_BYTES + stream_len + type_len + metadata_len + payload_len)
}

pub const fn index_table_bytes(capacity: u64) -> u64 {
    INDEX_HEADER_BYTES + capacity * INDEX_SLOT_BYTES
}

/// Key of an entity cell: the class index (LE) followed by the uuid bytes.
pub fn entity_key(class_index: u32, uuid: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + uuid.len());
    key.extend_from_slice(&class_index.to_le_bytes());
    key.extend_from_slice(uuid);
    key
}

/// The hash slot word for a key of hash `hash` whose cell is at `cell_off`: never 0.
pub fn slot_word(hash: u64, cell_off: u64) -> u64 {
    assert!(
        cell_off >= ARENA_START && cell_off.is_multiple_of(8) && cell_off >> 3 <= SLOT_CELL_MASK,
        "cell offset {cell_off} cannot be held by a hash slot"
    );
    (hash & !SLOT_CELL_MASK) | (cell_off >> 3)
}

/// The cell offset a (non-empty) hash slot word holds.
pub const fn slot_cell_off(word: u64) -> u64 {
    (word & SLOT_CELL_MASK) << 3
}

/// Whether a slot word carries the tag of `hash` (a hint: the cell's key decides).
pub const fn slot_tag_matches(word: u64, hash: u64) -> bool {
    (word ^ hash) & !SLOT_CELL_MASK == 0
}

/// FNV-1a 64 over the cell kind then the key.
pub fn key_hash(kind: u8, key: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    // A plain loop over the key (not `once(kind).chain(key)`): this runs on every read, and
    // the chained iterator costs about twice the instructions per byte.
    let mut hash: u64 = (0xcbf2_9ce4_8422_2325 ^ kind as u64).wrapping_mul(PRIME);
    for &byte in key {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_slot_matches_the_documented_chunking() {
        assert_eq!(list_slot(0), (0, 0));
        assert_eq!(list_slot(15), (0, 15));
        assert_eq!(list_slot(16), (1, 0));
        assert_eq!(list_slot(47), (1, 31));
        assert_eq!(list_slot(48), (2, 0));
        assert_eq!(list_slot(u64::MAX).0, 60);
        let mut index = 0;
        for chunk in 0..12u64 {
            for entry in 0..(LIST_FIRST_CHUNK_ENTRIES << chunk) {
                assert_eq!(list_slot(index), (chunk, entry));
                index += 1;
            }
        }
    }

    #[test]
    fn a_slot_word_holds_the_cell_offset_and_the_hash_tag() {
        let hash = 0xabcd_ef01_2345_6789;
        let word = slot_word(hash, 4096 + 8 * 5);
        assert_eq!(slot_cell_off(word), 4096 + 40);
        assert!(slot_tag_matches(word, hash));
        assert!(!slot_tag_matches(word, hash ^ (1 << 63)));
        // Low hash bits pick the slot, they are not part of the tag.
        assert!(slot_tag_matches(word, hash ^ 1));
        let last = crate::limits::REGION_BYTES_MAX - 8;
        assert_eq!(slot_cell_off(slot_word(u64::MAX, last)), last);
        assert_ne!(slot_word(0, ARENA_START), 0, "a used slot is never empty");
    }

    #[test]
    #[should_panic(expected = "cannot be held by a hash slot")]
    fn a_cell_past_the_largest_region_has_no_slot_word() {
        slot_word(1, crate::limits::REGION_BYTES_MAX);
    }

    #[test]
    fn key_hash_is_fnv1a_over_kind_then_key() {
        // Pinned values (FNV-1a 64 reference): the hash is part of the region layout, so a
        // faster implementation must give the same slots as the one that built old regions.
        assert_eq!(key_hash(2, b"Bank\\Account"), 0x707a_1f40_3d9d_6b90);
        assert_eq!(key_hash(0, b""), 0xaf63_bd4c_8601_b7df);
        assert_eq!(key_hash(b'a', b""), 0xaf63_dc4c_8601_ec8c);
    }
}
