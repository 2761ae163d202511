//! Layout version 2 (docs/region.md): what an entity costs in region bytes, that its id comes
//! back from the cell (the record holds none), and that the new invariants (entity record
//! padding, one-word hash slots, the largest region) are checked.

mod region_support;

use eventsrv_format::limits::{REGION_BYTES_MAX, REGION_BYTES_MIN};
use eventsrv_format::region::{layout, MappedRegion, RegionError, RegionWriter};
use region_support::*;

/// A uuid-shaped id (36 bytes of text), different for every `n`.
fn uuid_text(n: u64) -> String {
    let x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        (x >> 4) & 0xfff,
        n
    )
}

fn upsert_all(writer: &mut RegionWriter, class: &str, ids: std::ops::Range<u64>, data_len: usize) {
    for n in ids {
        let change = upsert(class, &uuid_text(n), vec![(n % 251) as u8; data_len], n);
        writer
            .ensure_room(RegionWriter::change_bytes_bound(&change))
            .expect("room");
        writer.apply_change(&change).expect("upsert");
    }
}

fn arena_tail(writer: &RegionWriter) -> u64 {
    writer.view().header().arena_tail
}

#[test]
fn an_entity_costs_at_most_twice_its_data_in_region_bytes_garbage_included() {
    // The shape of docs/bench.md scenario 6: 1,000 accounts (108-byte data), then 100,000
    // customers (162-byte data), uuid ids; the region's growth counts the superseded tables too.
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, 256 * 1024 * 1024, 1);
    let start = arena_tail(&writer);
    upsert_all(&mut writer, "Bank\\Account", 0..1_000, 108);
    let accounts_end = arena_tail(&writer);
    upsert_all(&mut writer, "BenchCustomer", 1_000..101_000, 162);
    let customers_end = arena_tail(&writer);

    let per_account = (accounts_end - start) as f64 / 1_000.0;
    let per_customer = (customers_end - accounts_end) as f64 / 100_000.0;
    assert!(
        per_account <= 2.0 * 108.0,
        "{per_account} region bytes per 108-byte account"
    );
    assert!(
        per_customer <= 2.0 * 162.0,
        "{per_customer} region bytes per 162-byte customer"
    );
    // Where they go: the record is its data plus a 16-byte header, the id is stored once.
    assert_eq!(layout::entity_record_bytes(162), 184);
    assert_eq!(layout::cell_bytes(4 + 36), 56);
    assert_eq!(layout::INDEX_SLOT_BYTES, 8);
}

#[test]
fn ids_come_back_from_the_cell_for_find_and_all_whatever_their_shape() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    // Not only uuids: any id text, of any length, including an empty one and one whose data is
    // empty (a record that is only its header).
    let ids = [
        uuid_text(1),
        "ACCOUNT-7".to_owned(),
        String::new(),
        "x".repeat(300),
        "ünïcødé id".to_owned(),
    ];
    for (n, id) in ids.iter().enumerate() {
        let data = vec![n as u8; n * 3];
        writer
            .apply_change(&upsert("App\\Account", id, data, 10 + n as u64))
            .expect("upsert");
    }
    writer.publish().expect("publish");
    let region = MappedRegion::open(&path).expect("open");
    let view = region.view();
    let class = view
        .class_index(b"App\\Account")
        .expect("class")
        .expect("exists");
    for (n, id) in ids.iter().enumerate() {
        let entity = view
            .find_entity(class, id.as_bytes())
            .expect("find")
            .expect("present");
        assert_eq!(entity.uuid, id.as_bytes());
        assert_eq!(entity.data, &vec![n as u8; n * 3][..]);
        assert_eq!(entity.position, 10 + n as u64);
    }
    assert!(view
        .find_entity(class, b"ACCOUNT-8")
        .expect("find")
        .is_none());
    let listed: Vec<Vec<u8>> = view
        .entities(class)
        .expect("entities")
        .map(|entity| entity.expect("entity").uuid.to_vec())
        .collect();
    let expected: Vec<Vec<u8>> = ids.iter().map(|id| id.as_bytes().to_vec()).collect();
    assert_eq!(listed, expected);
}

/// A region with one entity whose data is `data`; the offset of its record.
fn region_with_one_entity(path: &std::path::Path, data: &[u8]) -> u64 {
    let mut writer = new_writer(path, REGION_BYTES_MIN, 1);
    writer
        .apply_change(&upsert("App\\Account", "only", data.to_vec(), 1))
        .expect("upsert");
    writer.publish().expect("publish");
    drop(writer);
    let bytes = std::fs::read(path).expect("read");
    let data_off = bytes
        .windows(data.len())
        .position(|window| window == data)
        .expect("the data is in the file");
    data_off as u64 - layout::ENTITY_RECORD_HEADER_BYTES
}

fn find_only(path: &std::path::Path) -> Result<Option<Vec<u8>>, RegionError> {
    let region = MappedRegion::open(path).expect("open");
    let view = region.view();
    let class = view.class_index(b"App\\Account")?.expect("class");
    let found = view.find_entity(class, b"only")?.map(|e| e.data.to_vec());
    let listed = view
        .entities(class)?
        .next()
        .transpose()?
        .map(|e| e.data.to_vec());
    assert_eq!(found, listed, "find and all read the same record");
    Ok(found)
}

#[test]
fn an_entity_record_with_impossible_padding_is_reported_corrupt() {
    let data = b"0123456789abcdefghi"; // 19 bytes: 5 bytes of padding
    let (_dir, path) = region_path();
    let record_off = region_with_one_entity(&path, data);
    assert_eq!(find_only(&path).expect("intact"), Some(data.to_vec()));

    let padding_at = record_off + layout::ENTITY_OFF_PADDING as u64;
    for bad in [8u8, 0xff] {
        overwrite(&path, padding_at, &[bad]);
        let error = find_only(&path).expect_err("padding above 7");
        assert!(
            matches!(error, RegionError::Corrupt { offset, ref what }
                if offset == record_off && what.contains("padding")),
            "{error}"
        );
    }
    // A record size that is not a multiple of 8.
    overwrite(&path, padding_at, &[5]);
    overwrite(&path, record_off, &37u32.to_le_bytes());
    assert!(matches!(
        find_only(&path),
        Err(RegionError::Corrupt { offset, .. }) if offset == record_off
    ));
    // Padding larger than what the record holds beyond its header.
    overwrite(&path, record_off, &16u32.to_le_bytes());
    overwrite(&path, padding_at, &[7]);
    assert!(find_only(&path).is_err());
}

#[test]
fn a_hash_slot_leading_outside_the_arena_or_to_another_key_is_not_followed() {
    let (_dir, path) = region_path();
    region_with_one_entity(&path, b"some entity data");
    let region_file = std::fs::read(&path).expect("read");
    let le_u64 = |at: u64| {
        let at = at as usize;
        u64::from_le_bytes(region_file[at..at + 8].try_into().expect("8 bytes"))
    };
    let table_off = le_u64(layout::OFF_INDEX_TABLE);
    let capacity = le_u64(table_off);
    let slots: Vec<u64> = (0..capacity)
        .map(|slot| table_off + layout::INDEX_HEADER_BYTES + slot * layout::INDEX_SLOT_BYTES)
        .filter(|&slot_off| le_u64(slot_off) != 0)
        .collect();
    assert_eq!(slots.len(), 2, "one class key and one entity key");
    for &slot_off in &slots {
        let word = le_u64(slot_off);
        let cell_off = layout::slot_cell_off(word);
        assert!(cell_off >= layout::ARENA_START && cell_off < le_u64(layout::OFF_ARENA_TAIL));
    }
    // Every used slot now points far past the arena tail (tags kept): reported, not followed.
    for &slot_off in &slots {
        let word = le_u64(slot_off);
        let beyond = (word & !layout::SLOT_CELL_MASK) | layout::SLOT_CELL_MASK;
        overwrite(&path, slot_off, &beyond.to_le_bytes());
    }
    let region = MappedRegion::open(&path).expect("open");
    let error = region
        .view()
        .class_index(b"App\\Account")
        .expect_err("a slot past the arena");
    assert!(matches!(error, RegionError::Corrupt { .. }), "{error}");
    drop(region);

    // Both slots swapped: each tag now leads to the other key's cell, which the reader compares
    // and rejects, so the keys read as absent rather than as each other.
    let (first, second) = (le_u64(slots[0]), le_u64(slots[1]));
    let swapped =
        |word: u64, other: u64| (word & !layout::SLOT_CELL_MASK) | (other & layout::SLOT_CELL_MASK);
    overwrite(&path, slots[0], &swapped(first, second).to_le_bytes());
    overwrite(&path, slots[1], &swapped(second, first).to_le_bytes());
    let region = MappedRegion::open(&path).expect("open");
    assert_eq!(
        region.view().class_index(b"App\\Account").expect("class"),
        None
    );
}

#[test]
fn a_reader_refuses_a_layout_version_1_region() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_BYTES_MIN, 1);
    writer.publish().expect("publish");
    drop(writer);
    overwrite(&path, layout::OFF_LAYOUT_VERSION, &1u32.to_le_bytes());
    let error = MappedRegion::open(&path).err().expect("refused");
    assert!(
        matches!(
            error,
            RegionError::LayoutVersion {
                found: 1,
                expected: 2
            }
        ),
        "{error}"
    );
    assert!(
        RegionWriter::open_existing(&path).is_err(),
        "a daemon does not continue a version 1 region either"
    );
}

#[test]
fn create_refuses_a_region_a_hash_slot_cannot_address() {
    let (dir, path) = region_path();
    let error = RegionWriter::create(&path, REGION_BYTES_MAX + 8, 1)
        .err()
        .expect("refused");
    assert!(error.to_string().contains("above the maximum"), "{error}");
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("read dir").count(),
        0,
        "no file is created"
    );
}
