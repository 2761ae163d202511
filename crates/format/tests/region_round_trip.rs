//! Region round trips: what the writer stores, a reader of the same file sees (events, entities,
//! checkpoints, hash growth, file replacement, refusals, a full arena).

mod region_support;

use eventsrv_format::limits::REGION_BYTES_MIN;
use eventsrv_format::region::{
    layout, MappedRegion, RegionError, RegionState, RegionWriter, REGION_LAYOUT_VERSION,
};
use region_support::*;

#[test]
fn events_round_trip_across_streams_and_are_gated_by_the_committed_position() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    writer.publish().expect("publish");
    let streams = ["order-1", "order-2", "cart-9"];
    let mut versions = [0u64; 3];
    for position in 1..=30u64 {
        let which = (position % 3) as usize;
        versions[which] += 1;
        writer
            .append_event(
                position,
                &event(streams[which], versions[which], position as i64),
            )
            .expect("append");
        assert_eq!(writer.stream_version(streams[which]), versions[which]);
    }
    assert_eq!(writer.last_position(), 30);
    let region = MappedRegion::open(&path).expect("open");
    let view = region.view();
    assert_eq!(view.state(), RegionState::Live);

    // Nothing committed yet: readers see no events at all.
    assert!(view.event_at(1).expect("event_at").is_none());
    assert_eq!(view.stream_version(b"order-1").expect("version"), 0);
    let mut out = Vec::new();
    view.stream_events(b"order-1", 0, &mut out)
        .expect("stream events");
    assert!(out.is_empty());

    let seq_before = view.commit_seq().load(std::sync::atomic::Ordering::Acquire);
    writer.publish_committed(20);
    assert_eq!(
        view.commit_seq().load(std::sync::atomic::Ordering::Acquire),
        seq_before + 1
    );
    assert_eq!(view.committed_position(), 20);
    assert!(view.event_at(21).expect("event_at").is_none());
    assert!(view.event_at(0).expect("event_at").is_none());
    let event_20 = view.event_at(20).expect("event_at").expect("committed");
    assert_eq!(event_20.position, 20);
    assert_eq!(event_20.stream, b"cart-9");
    assert_eq!(event_20.stream_version, 7);
    assert_eq!(event_20.payload, &event("cart-9", 7, 20).payload[..]);
    assert_eq!(event_20.event_type, b"Happened2");
    assert_eq!(event_20.recorded_at_us, 1_700_000_000_000_020);

    // order-1 holds positions 3, 6, ..., 30; 18 is the last committed one (version 6).
    assert_eq!(view.stream_version(b"order-1").expect("version"), 6);
    out.clear();
    view.stream_events(b"order-1", 0, &mut out)
        .expect("stream events");
    let positions: Vec<u64> = out.iter().map(|event| event.position).collect();
    assert_eq!(positions, vec![3, 6, 9, 12, 15, 18]);
    out.clear();
    view.stream_events(b"order-1", 4, &mut out)
        .expect("stream events");
    let versions_seen: Vec<u64> = out.iter().map(|event| event.stream_version).collect();
    assert_eq!(versions_seen, vec![5, 6]);

    writer.publish_committed(30);
    out.clear();
    view.stream_events(b"order-1", 4, &mut out)
        .expect("stream events");
    assert_eq!(
        out.iter()
            .map(|event| event.stream_version)
            .collect::<Vec<_>>(),
        vec![5, 6, 7, 8, 9, 10]
    );
    out.clear();
    view.stream_events(b"nope", 0, &mut out)
        .expect("stream events");
    assert!(out.is_empty());
    for position in 1..=30 {
        assert_eq!(
            view.event_at(position)
                .expect("event_at")
                .expect("committed")
                .position,
            position
        );
    }
    let header = view.header();
    assert_eq!(header.stream_count, 3);
    assert_eq!(header.committed_position, 30);
    assert_eq!(header.layout_version, REGION_LAYOUT_VERSION);
    assert_eq!(writer.stats().stream_count, 3);
}

#[test]
#[should_panic(expected = "versions are dense")]
fn a_stream_version_gap_is_an_invariant_violation() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    writer.append_event(1, &event("s", 2, 1)).expect("append");
}

#[test]
fn entities_upsert_update_delete_and_recreate_keep_insertion_order_and_counts() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    for (index, uuid) in ["a", "b", "c"].iter().enumerate() {
        writer
            .apply_change(&upsert("Account", uuid, row_int(index as i64), 1))
            .expect("upsert");
    }
    writer
        .apply_change(&upsert("Other", "x", row_int(99), 1))
        .expect("upsert");
    writer.publish().expect("publish");
    let region = MappedRegion::open(&path).expect("open");
    let view = region.view();
    let account = view
        .class_index(b"Account")
        .expect("lookup")
        .expect("class exists");
    let other = view
        .class_index(b"Other")
        .expect("lookup")
        .expect("class exists");
    assert_eq!((account, other), (0, 1));
    assert_eq!(view.class_index(b"Missing").expect("lookup"), None);
    assert_eq!(uuids_in_order(&view, account), ["a", "b", "c"]);
    assert_eq!(view.entity_count(account).expect("count"), 3);
    assert_eq!(view.header().entity_count, 4);

    writer
        .apply_change(&upsert("Account", "b", row_int(20), 2))
        .expect("update");
    let b = view
        .find_entity(account, b"b")
        .expect("find")
        .expect("b exists");
    assert_eq!((b.data, b.position), (&row_int(20)[..], 2));
    assert_eq!(uuids_in_order(&view, account), ["a", "b", "c"]);
    assert!(view.header().garbage_bytes > 0);

    writer
        .apply_change(&delete("Account", "a"))
        .expect("delete");
    writer
        .apply_change(&delete("Account", "never-there"))
        .expect("delete missing");
    writer
        .apply_change(&delete("NoSuchClass", "a"))
        .expect("delete in missing class");
    assert!(view.find_entity(account, b"a").expect("find").is_none());
    assert_eq!(uuids_in_order(&view, account), ["b", "c"]);
    assert_eq!(view.entity_count(account).expect("count"), 2);

    writer
        .apply_change(&upsert("Account", "a", row_int(30), 3))
        .expect("re-create");
    assert_eq!(uuids_in_order(&view, account), ["b", "c", "a"]);
    assert_eq!(
        view.find_entity(account, b"a")
            .expect("find")
            .expect("a")
            .data,
        &row_int(30)[..]
    );
    assert_eq!(view.entity_count(account).expect("count"), 3);
    assert_eq!(view.header().entity_count, 4);
    // Same uuid in another class is another entity.
    assert!(view.find_entity(other, b"a").expect("find").is_none());
    assert_eq!(view.entity_count(7).expect("count of unknown class"), 0);
    assert_eq!(
        view.entities(7).expect("entities of unknown class").count(),
        0
    );

    let classes = view.classes().expect("classes");
    assert_eq!(
        classes,
        vec![("Account".to_string(), 0, 3), ("Other".to_string(), 1, 1)]
    );
    let stats = writer.stats();
    assert_eq!((stats.entity_count, stats.class_count), (4, 2));
}

#[test]
fn reset_class_deletes_every_entity_of_that_class_only() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    for index in 0..40 {
        writer
            .apply_change(&upsert("A", &format!("a{index}"), row_int(index), 1))
            .expect("upsert");
        writer
            .apply_change(&upsert("B", &format!("b{index}"), row_int(index), 1))
            .expect("upsert");
    }
    writer.apply_change(&delete("A", "a3")).expect("delete");
    writer.apply_change(&reset("A")).expect("reset");
    writer
        .apply_change(&reset("Unknown"))
        .expect("reset unknown");
    let view = writer.view();
    assert_eq!(view.entity_count(0).expect("count"), 0);
    assert_eq!(view.entities(0).expect("entities").count(), 0);
    assert!(view.find_entity(0, b"a1").expect("find").is_none());
    assert_eq!(view.entity_count(1).expect("count"), 40);
    assert_eq!(view.header().entity_count, 40);
    writer
        .apply_change(&upsert("A", "a5", row_int(5), 2))
        .expect("upsert after reset");
    writer
        .apply_change(&upsert("A", "new", row_int(6), 2))
        .expect("upsert after reset");
    assert_eq!(uuids_in_order(&writer.view(), 0), ["a5", "new"]);
}

#[test]
fn checkpoints_round_trip_in_creation_order() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    writer.set_checkpoint("projector-b", 5).expect("checkpoint");
    writer.set_checkpoint("projector-a", 3).expect("checkpoint");
    writer.set_checkpoint("never", 0).expect("checkpoint at 0");
    writer.set_checkpoint("projector-b", 9).expect("checkpoint");
    assert_eq!(writer.checkpoint("projector-b"), 9);
    assert_eq!(writer.checkpoint("never"), 0);
    let view = writer.view();
    assert_eq!(
        view.checkpoint(b"projector-a").expect("checkpoint"),
        Some(3)
    );
    assert_eq!(view.checkpoint(b"never").expect("checkpoint"), None);
    assert_eq!(
        view.checkpoints().expect("checkpoints"),
        vec![
            ("projector-b".to_string(), 9),
            ("projector-a".to_string(), 3)
        ]
    );
}

#[test]
fn the_hash_table_grows_through_several_doublings() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, 64 * 1024 * 1024, 1);
    let table_before = writer.view().header().arena_tail;
    let entities = 50_000u64;
    for index in 0..entities {
        let change = upsert(
            if index % 2 == 0 { "Even" } else { "Odd" },
            &format!("{index:08}"),
            row_int(index as i64),
            index,
        );
        writer
            .ensure_room(RegionWriter::change_bytes_bound(&change))
            .expect("room");
        writer.apply_change(&change).expect("upsert");
    }
    writer.publish().expect("publish");
    let region = MappedRegion::open(&path).expect("open");
    let view = region.view();
    assert_eq!(view.header().entity_count, entities);
    // 50k entities + 2 classes need 2^17 slots: 7 doublings from 1024, each leaving the old
    // table as garbage (and nothing else is superseded here).
    let superseded_tables: u64 = (0..7)
        .map(|doubling| layout::index_table_bytes(1024 << doubling))
        .sum();
    assert_eq!(view.header().garbage_bytes, superseded_tables);
    assert!(view.header().arena_tail > table_before);
    for index in (0..entities).step_by(7) {
        let class_index = (index % 2) as u32;
        let uuid = format!("{index:08}");
        let entity = view
            .find_entity(class_index, uuid.as_bytes())
            .expect("find")
            .expect("present");
        assert_eq!(entity.data, &row_int(index as i64)[..]);
    }
    let odd = uuids_in_order(&view, 1);
    assert_eq!(odd.len() as u64, entities / 2);
    assert!(
        odd.windows(2).all(|pair| pair[0] < pair[1]),
        "insertion order kept"
    );
}

#[test]
fn publishing_supersedes_the_previous_file() {
    let (dir, path) = region_path();
    let mut first = new_writer(&path, REGION_BYTES_MIN, 111);
    first
        .apply_change(&upsert("A", "x", row_int(1), 1))
        .expect("upsert");
    first.publish().expect("publish");
    let old = MappedRegion::open(&path).expect("open first");
    assert_eq!(old.generation, 111);
    assert_eq!(old.view().state(), RegionState::Live);

    let mut second = new_writer(&path, REGION_BYTES_MIN, 222);
    assert_eq!(second.view().state(), RegionState::Building);
    assert_eq!(
        old.view().state(),
        RegionState::Live,
        "building a new file does not disturb readers"
    );
    second.publish().expect("publish");
    assert_eq!(old.view().state(), RegionState::Superseded);
    // The old mapping still reads fine until the reader remaps.
    assert!(old.view().find_entity(0, b"x").expect("find").is_some());

    let fresh = MappedRegion::open(&path).expect("open second");
    assert_eq!(fresh.generation, 222);
    assert_ne!(fresh.inode, old.inode);
    assert_eq!(fresh.view().state(), RegionState::Live);
    assert!(fresh.view().find_entity(0, b"x").expect("find").is_none());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|entry| entry.expect("entry").file_name())
        .filter(|name| name.to_string_lossy().contains(".building-"))
        .collect();
    assert!(leftovers.is_empty(), "no side files left: {leftovers:?}");
    second.mark_superseded();
    assert_eq!(fresh.view().state(), RegionState::Superseded);
}

#[test]
fn an_unpublished_region_removes_its_side_file() {
    let (dir, path) = region_path();
    let writer = new_writer(&path, REGION_BYTES_MIN, 1);
    drop(writer);
    assert_eq!(std::fs::read_dir(dir.path()).expect("read dir").count(), 0);
}

fn published_region(path: &std::path::Path) {
    let mut writer = new_writer(path, REGION_BYTES_MIN, 1);
    writer.publish().expect("publish");
}

#[test]
fn a_reader_refuses_another_layout_version() {
    let (_dir, path) = region_path();
    published_region(&path);
    overwrite(&path, layout::OFF_LAYOUT_VERSION, &7u32.to_le_bytes());
    match MappedRegion::open(&path) {
        Err(RegionError::LayoutVersion { found: 7, expected }) => {
            assert_eq!(expected, REGION_LAYOUT_VERSION)
        }
        Err(other) => panic!("expected a layout version error, got {other}"),
        Ok(_) => panic!("expected a layout version error"),
    }
    let error = MappedRegion::open(&path).err().expect("refused");
    assert!(error.to_string().contains("layout version 7"), "{error}");
}

#[test]
fn a_reader_refuses_files_that_are_not_regions() {
    let (dir, path) = region_path();
    published_region(&path);
    overwrite(&path, layout::OFF_MAGIC, b"NOTMAGIC");
    assert!(matches!(
        MappedRegion::open(&path),
        Err(RegionError::NotARegion(_))
    ));

    let small = dir.path().join("small");
    std::fs::write(&small, b"EVSRVRGN").expect("write");
    let error = MappedRegion::open(&small).err().expect("refused");
    assert!(
        matches!(error, RegionError::NotARegion(ref why) if why.contains("smaller")),
        "{error}"
    );

    assert!(matches!(
        MappedRegion::open(&dir.path().join("missing")),
        Err(RegionError::Io(_))
    ));
}

#[test]
fn create_refuses_a_region_below_the_minimum_size() {
    let (_dir, path) = region_path();
    assert!(RegionWriter::create(&path, REGION_BYTES_MIN - 1, 1).is_err());
}

#[test]
fn a_full_region_refuses_changes_and_stays_consistent() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_BYTES_MIN, 1);
    let mut big = eventsrv_format::vtree::Encoder::new();
    big.string(&[b'x'; 10_000]);
    let big = big.into_bytes();

    let mut stored = 0u64;
    let mut refused_by_ensure_room = false;
    loop {
        let change = upsert("Blob", &format!("{stored}"), big.clone(), stored + 1);
        if writer
            .ensure_room(RegionWriter::change_bytes_bound(&change))
            .is_err()
        {
            refused_by_ensure_room = true;
            // ensure_room is conservative; the change itself may still fit. Push until Full.
        }
        match writer.apply_change(&change) {
            Ok(()) => stored += 1,
            Err(RegionError::Full {
                needed,
                available,
                region_bytes,
            }) => {
                assert!(needed > available);
                assert_eq!(region_bytes, REGION_BYTES_MIN);
                break;
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert!(
        refused_by_ensure_room,
        "ensure_room refuses before the arena is exhausted"
    );
    assert!(stored > 50);
    let tail_after_full = writer.view().header().arena_tail;

    // Events hit Full too, and a refused event leaves nothing behind.
    let mut position = 0;
    loop {
        let next = event("s", position + 1, position as i64);
        match writer.append_event(position + 1, &next) {
            Ok(()) => position += 1,
            Err(RegionError::Full { .. }) => break,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    writer.publish_committed(position);
    assert_eq!(writer.last_position(), position);
    let tail = writer.view().header().arena_tail;
    assert!(tail >= tail_after_full);
    assert!(writer
        .apply_change(&upsert("Blob", "one-more", big.clone(), 0))
        .is_err());
    assert_eq!(
        writer.view().header().arena_tail,
        tail,
        "a refused change writes nothing"
    );
    writer.publish().expect("publish");

    let region = MappedRegion::open(&path).expect("open");
    let view = region.view();
    assert_eq!(view.header().entity_count, stored);
    assert_eq!(view.entity_count(0).expect("count"), stored);
    let uuids = uuids_in_order(&view, 0);
    assert_eq!(uuids.len() as u64, stored);
    assert!(view.find_entity(0, b"one-more").expect("find").is_none());
    assert_eq!(view.stream_version(b"s").expect("version"), position);
    let mut out = Vec::new();
    view.stream_events(b"s", 0, &mut out)
        .expect("stream events");
    assert_eq!(out.len() as u64, position);
}

#[test]
fn ensure_room_with_the_summed_bounds_means_the_whole_batch_fits() {
    // Batches the way the daemon makes them: sum the bounds, ensure_room, then apply everything.
    // Right up to a nearly full arena, nothing inside an admitted batch may hit Full.
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_BYTES_MIN, 1);
    let mut batches = 0u64;
    let mut position = 0u64;
    loop {
        let changes: Vec<_> = (0..40u64)
            .map(|index| {
                let serial = batches * 40 + index;
                let class = format!("Class{}", serial % 13);
                if serial % 9 == 8 {
                    delete(&class, &format!("u{}", serial - 3))
                } else {
                    upsert(
                        &class,
                        &format!("u{serial}"),
                        row_int(serial as i64),
                        serial,
                    )
                }
            })
            .collect();
        let events: Vec<_> = (0..20u64)
            .map(|index| format!("stream-{}", (batches * 20 + index) % 17))
            .collect();
        let mut bound: u64 = changes.iter().map(RegionWriter::change_bytes_bound).sum();
        let mut versions = std::collections::HashMap::new();
        let mut records = Vec::new();
        for stream in &events {
            let version = versions
                .entry(stream.clone())
                .or_insert_with(|| writer.stream_version(stream));
            *version += 1;
            let record = event(stream, *version, position as i64);
            bound += RegionWriter::event_bytes_bound(&record);
            records.push(record);
        }
        bound += RegionWriter::checkpoint_bytes_bound(&format!("projector-{batches}"));
        if writer.ensure_room(bound).is_err() {
            break;
        }
        for record in &records {
            position += 1;
            writer
                .append_event(position, record)
                .expect("admitted event fits");
        }
        for change in &changes {
            writer.apply_change(change).expect("admitted change fits");
        }
        writer
            .set_checkpoint(&format!("projector-{batches}"), position)
            .expect("admitted checkpoint fits");
        writer.publish_committed(position);
        batches += 1;
    }
    assert!(batches > 10, "only {batches} batches fit");
    let view = writer.view();
    assert_eq!(
        view.event_at(position)
            .expect("event")
            .expect("committed")
            .position,
        position
    );
    assert_eq!(
        view.checkpoints().expect("checkpoints").len() as u64,
        batches
    );
    eprintln!(
        "{batches} batches admitted, arena tail {}",
        view.header().arena_tail
    );
}

#[test]
fn runs_of_one_stream_and_streams_sharing_a_prefix_keep_their_own_chains() {
    // Consecutive events of one stream reuse its cell without a hash lookup; an id that merely
    // starts like the last one must not.
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    writer.publish().expect("publish");
    let appends = ["s", "s", "s", "s-longer", "s-longer", "s", "s"];
    let mut versions = std::collections::HashMap::new();
    for (index, stream) in appends.iter().enumerate() {
        let version = versions.entry(*stream).or_insert(0u64);
        *version += 1;
        let position = index as u64 + 1;
        writer
            .append_event(position, &event(stream, *version, position as i64))
            .expect("append");
    }
    assert_eq!(
        (
            writer.stream_version("s"),
            writer.stream_version("s-longer")
        ),
        (5, 2)
    );
    writer.publish_committed(appends.len() as u64);
    let region = MappedRegion::open(&path).expect("open");
    let view = region.view();
    for (stream, positions) in [("s", vec![1, 2, 3, 6, 7]), ("s-longer", vec![4, 5])] {
        let mut out = Vec::new();
        view.stream_events(stream.as_bytes(), 0, &mut out)
            .expect("stream events");
        let seen: Vec<u64> = out.iter().map(|event| event.position).collect();
        assert_eq!(seen, positions, "stream {stream}");
    }
}

#[test]
#[should_panic(expected = "versions are dense")]
fn a_version_gap_right_after_the_same_stream_is_still_refused() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    writer.append_event(1, &event("s", 1, 1)).expect("append");
    let _ = writer.append_event(2, &event("s", 3, 2));
}
