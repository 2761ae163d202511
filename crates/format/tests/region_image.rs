//! Region images: a copy of `[0, arena tail)` becomes a region equal to the original, and a
//! region file left behind is adopted only with its applied log location set.

mod region_support;

use eventsrv_format::region::{
    layout, LastRecord, LogLocation, MappedRegion, RegionError, RegionState, RegionView,
    RegionWriter,
};
use region_support::*;

/// Everything a reader can see, as comparable values.
fn dump(view: &RegionView<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let header = view.header();
    out.push(format!(
        "positions {} {} streams {} entities {}",
        header.committed_position,
        header.projected_position,
        header.stream_count,
        header.entity_count
    ));
    for position in 1..=header.committed_position {
        let event = view.event_at(position).expect("event").expect("committed");
        out.push(format!(
            "event {position} {:?} v{} {:?}",
            event.stream, event.stream_version, event.payload
        ));
    }
    for (name, index, live) in view.classes().expect("classes") {
        out.push(format!("class {name} {live}"));
        for entity in view.entities(index).expect("entities") {
            let entity = entity.expect("entity");
            out.push(format!(
                "  {:?} {:?} {}",
                entity.uuid, entity.data, entity.position
            ));
        }
    }
    out.push(format!(
        "checkpoints {:?}",
        view.checkpoints().expect("checkpoints")
    ));
    out
}

fn location(records: u64) -> LogLocation {
    LogLocation {
        segment: 1,
        offset: 64 + 100 * records,
        records,
    }
}

/// A published region with streams, entities (one deleted, one re-created) and checkpoints.
fn populated(path: &std::path::Path, events: u64) -> RegionWriter {
    let mut writer = new_writer(path, REGION_TEST_BYTES, 7);
    writer.publish().expect("publish");
    for position in 1..=events {
        let stream = format!("s-{}", position % 5);
        let version = writer.stream_version(&stream) + 1;
        writer
            .append_event(position, &event(&stream, version, position as i64))
            .expect("append");
        writer
            .apply_change(&upsert(
                "App\\Row",
                &format!("u-{}", position % 40),
                row_ab(position as i64, 1),
                position,
            ))
            .expect("upsert");
    }
    writer
        .apply_change(&delete("App\\Row", "u-3"))
        .expect("delete");
    writer
        .apply_change(&upsert("App\\Other", "x", row_ab(1, 2), events))
        .expect("upsert");
    writer
        .set_checkpoint("Projector\\A", events)
        .expect("checkpoint");
    writer.publish_committed(events);
    writer.publish_projected(events - 1);
    writer.set_applied_location(location(events + 4), None);
    writer
}

/// Continue writing the same way on any writer.
fn more(writer: &mut RegionWriter, from: u64, to: u64) {
    writer.clear_applied_location();
    for position in from..=to {
        let stream = format!("s-{}", position % 7);
        let version = writer.stream_version(&stream) + 1;
        writer
            .append_event(position, &event(&stream, version, position as i64))
            .expect("append");
        writer
            .apply_change(&upsert(
                "App\\Row",
                &format!("u-{}", position % 50),
                row_ab(0, position as i64),
                position,
            ))
            .expect("upsert");
    }
    writer
        .apply_change(&upsert("App\\Row", "u-3", row_ab(3, 3), to))
        .expect("re-create");
    writer
        .set_checkpoint("Projector\\B", to)
        .expect("checkpoint");
    writer.publish_committed(to);
    writer.set_applied_location(location(to + 10), None);
}

#[test]
fn an_image_becomes_a_region_equal_to_the_original_that_keeps_growing_the_same_way() {
    let (_dir, path) = region_path();
    let (_dir2, copy_path) = region_path();
    let events = 3000; // past the first hash-table growth and several list chunks
    let mut original = populated(&path, events);
    let image = original.copy_image();
    assert_eq!(image.location, location(events + 4));
    assert_eq!(image.committed_position, events);
    assert_eq!(image.projected_position, events - 1);

    let mut copy = region_from_image(&copy_path, REGION_TEST_BYTES * 2, 99, &image);
    copy.publish().expect("publish");
    copy.set_daemon_pid(1234);
    assert_eq!(copy.applied_location(), Some(location(events + 4)));
    assert_eq!(
        copy.stats().arena_used_bytes,
        original.stats().arena_used_bytes
    );
    assert_eq!(copy.stats().garbage_bytes, original.stats().garbage_bytes);
    {
        let mapped = MappedRegion::open(&copy_path).expect("open copy");
        let header = mapped.view().header();
        assert_eq!(header.generation, 99);
        assert_eq!(header.region_bytes, REGION_TEST_BYTES * 2);
        assert_eq!(header.state, RegionState::Live);
        assert_eq!(dump(&mapped.view()), dump(&original.view()));
    }

    // Both keep writing the same records and stay equal, byte for byte in the arena.
    more(&mut original, events + 1, events + 2000);
    more(&mut copy, events + 1, events + 2000);
    assert_eq!(dump(&copy.view()), dump(&original.view()));
    assert_eq!(copy.stats(), {
        let mut stats = original.stats();
        stats.region_bytes = REGION_TEST_BYTES * 2;
        stats
    });
    let (a, b) = (original.copy_image(), copy.copy_image());
    let header_end = layout::HEADER_BYTES as usize;
    assert_eq!(a.bytes[header_end..], b.bytes[header_end..]);
}

#[test]
fn a_damaged_image_or_one_taken_mid_batch_is_refused_and_leaves_no_side_file() {
    let (dir, path) = region_path();
    let mut original = populated(&path, 100);
    let image = original.copy_image();
    let load = |bytes: Vec<u8>| {
        RegionWriter::create_from_image(
            &dir.path().join("copy.region"),
            REGION_TEST_BYTES,
            1,
            bytes.len() as u64,
            move |dest| {
                dest.copy_from_slice(&bytes);
                Ok(())
            },
        )
    };
    let mut no_location = image.bytes.clone();
    no_location[layout::OFF_APPLIED_SEGMENT as usize..][..8].fill(0);
    assert!(matches!(
        load(no_location),
        Err(RegionError::Corrupt { .. })
    ));
    let mut bad_magic = image.bytes.clone();
    bad_magic[0] ^= 1;
    assert!(matches!(load(bad_magic), Err(RegionError::NotARegion(_))));
    let mut bad_count = image.bytes.clone();
    bad_count[layout::OFF_ENTITY_COUNT as usize] ^= 1;
    assert!(matches!(load(bad_count), Err(RegionError::Corrupt { .. })));
    let too_big = RegionWriter::create_from_image(
        &dir.path().join("small.region"),
        eventsrv_format::limits::REGION_BYTES_MIN,
        1,
        2 * eventsrv_format::limits::REGION_BYTES_MIN,
        |_| Ok(()),
    );
    assert!(matches!(too_big, Err(RegionError::Full { .. })));
    let failed_fill = RegionWriter::create_from_image(
        &dir.path().join("fill.region"),
        REGION_TEST_BYTES,
        1,
        image.bytes.len() as u64,
        |_| Err("checksum mismatch".into()),
    );
    assert!(matches!(failed_fill, Err(RegionError::Corrupt { .. })));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".building-"))
        .collect();
    assert!(leftovers.is_empty(), "side files left: {leftovers:?}");
}

#[test]
fn a_surviving_region_is_adopted_only_between_batches() {
    let (_dir, path) = region_path();
    let writer = populated(&path, 500);
    let before = dump(&writer.view());
    drop(writer);
    let mut adopted = RegionWriter::open_existing(&path).expect("adopt");
    assert_eq!(adopted.applied_location(), Some(location(504)));
    assert_eq!(dump(&adopted.view()), before);
    more(&mut adopted, 501, 900);
    // Killed in the middle of the next batch: the location is cleared, the region is refused.
    adopted.clear_applied_location();
    adopted
        .append_event(901, &event("s-1", adopted.stream_version("s-1") + 1, 901))
        .expect("append");
    drop(adopted);
    assert!(matches!(
        RegionWriter::open_existing(&path),
        Err(RegionError::Corrupt { .. })
    ));
}

#[test]
fn the_last_record_travels_with_the_applied_location_and_a_misfit_reads_as_unknown() {
    let (_dir, path) = region_path();
    let mut writer = populated(&path, 50);
    assert_eq!(writer.applied_last_record(), None, "set without one");
    let last = LastRecord {
        offset: location(54).offset - 100,
        commit_position: 49,
    };
    writer.set_applied_location(location(54), Some(last));
    assert_eq!(writer.applied_last_record(), Some(last));
    let image = writer.copy_image();
    let (_dir2, copy_path) = region_path();
    let copy = region_from_image(&copy_path, REGION_TEST_BYTES, 3, &image);
    assert_eq!(
        copy.applied_last_record(),
        Some(last),
        "an image carries it"
    );
    writer.clear_applied_location();
    assert_eq!(
        writer.applied_last_record(),
        None,
        "not while a batch is applied"
    );
    writer.set_applied_location(location(54), Some(last));
    drop(writer);
    assert_eq!(
        RegionWriter::open_existing(&path)
            .expect("adopt")
            .applied_last_record(),
        Some(last),
        "a surviving region carries it"
    );
    // A stored start that does not lie before the location (bytes from outside the process)
    // reads as unknown: the boot walks the segment instead.
    for misfit in [location(54).offset, 63, u64::MAX] {
        overwrite(
            &path,
            layout::OFF_APPLIED_LAST_RECORD,
            &misfit.to_le_bytes(),
        );
        let adopted = RegionWriter::open_existing(&path).expect("adopt");
        assert_eq!(adopted.applied_last_record(), None, "{misfit}");
    }
}
