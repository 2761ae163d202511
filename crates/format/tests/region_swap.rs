//! Class swap (docs/region.md, "Swapping a class"): a reader sees the old entities or the new
//! ones, never a mix; the swapped-out entities are counted as garbage; the shadow starts empty
//! and a second rebuild can swap again; a region image of a swapped region loads.

mod region_support;

use eventsrv_format::protocol::EntityChange;
use eventsrv_format::region::{LogLocation, MappedRegion, RegionView, RegionWriter};
use region_support::*;

fn swap(class: &str, shadow: &str) -> EntityChange {
    EntityChange::SwapClass {
        class: class.into(),
        shadow: shadow.into(),
    }
}

fn apply(writer: &mut RegionWriter, changes: &[EntityChange]) {
    for change in changes {
        writer
            .ensure_room(RegionWriter::change_bytes_bound(change))
            .expect("room");
        writer.apply_change(change).expect("apply");
    }
}

fn index_of(view: &RegionView<'_>, class: &str) -> u32 {
    view.class_index(class.as_bytes())
        .expect("class index")
        .expect("class exists")
}

fn find_a(view: &RegionView<'_>, class: &str, uuid: &str) -> Option<i64> {
    let index = index_of(view, class);
    view.find_entity(index, uuid.as_bytes())
        .expect("find")
        .map(|entity| decode_ab(entity.data).0)
}

#[test]
fn a_swap_replaces_the_entities_whole_and_counts_the_old_ones_as_garbage() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    writer.publish().expect("publish");
    let live: Vec<EntityChange> = (0..40)
        .map(|i| upsert("Account", &format!("old-{i}"), row_ab(i, 0), 1))
        .collect();
    apply(&mut writer, &live);
    apply(&mut writer, &[upsert("Other", "o", row_ab(7, 7), 1)]);
    let rebuilt: Vec<EntityChange> = (0..25)
        .map(|i| {
            upsert(
                "Shadow\\Account",
                &format!("new-{i}"),
                row_ab(100 + i, 0),
                2,
            )
        })
        .collect();
    apply(&mut writer, &rebuilt);
    assert_eq!(writer.stats().entity_count, 40 + 1 + 25);
    let garbage_before = writer.stats().garbage_bytes;

    let mapped = MappedRegion::open(&path).expect("a reader maps the region");
    let view = mapped.view();
    let account = index_of(&view, "Account");
    // A reader that started iterating before the swap...
    let mut before: Vec<String> = Vec::new();
    let mut iterator = view.entities(account).expect("entities");
    for _ in 0..10 {
        let entity = iterator.next().expect("entity").expect("readable");
        before.push(String::from_utf8(entity.uuid.to_vec()).expect("utf8"));
    }

    apply(&mut writer, &[swap("Account", "Shadow\\Account")]);

    // ...finishes with the old entities, all of them.
    for entity in iterator {
        before.push(String::from_utf8(entity.expect("readable").uuid.to_vec()).expect("utf8"));
    }
    let old: Vec<String> = (0..40).map(|i| format!("old-{i}")).collect();
    assert_eq!(before, old);

    let view = writer.view();
    assert_eq!(
        index_of(&view, "Account"),
        account,
        "a class keeps its index"
    );
    let new: Vec<String> = (0..25).map(|i| format!("new-{i}")).collect();
    assert_eq!(uuids_in_order(&view, account), new);
    assert_eq!(view.entity_count(account).expect("count"), 25);
    assert_eq!(find_a(&view, "Account", "new-3"), Some(103));
    assert_eq!(find_a(&view, "Account", "old-3"), None);
    let shadow = index_of(&view, "Shadow\\Account");
    assert!(uuids_in_order(&view, shadow).is_empty());
    assert_eq!(find_a(&view, "Shadow\\Account", "new-3"), None);
    assert_eq!(find_a(&view, "Other", "o"), Some(7));
    assert_eq!(writer.stats().entity_count, 25 + 1);
    assert!(writer.stats().garbage_bytes > garbage_before + 40 * 32);
    let classes = writer.view().classes().expect("classes");
    let names: Vec<(String, u64)> = classes
        .into_iter()
        .map(|(name, _, live)| (name, live))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Account".to_string(), 25),
            ("Other".to_string(), 1),
            ("Shadow\\Account".to_string(), 0)
        ]
    );

    // The live class keeps living: updates, deletes and inserts land in the swapped-in entities.
    apply(
        &mut writer,
        &[
            upsert("Account", "new-3", row_ab(-3, 0), 3),
            delete("Account", "new-4"),
            upsert("Account", "late", row_ab(9, 0), 3),
        ],
    );
    let view = writer.view();
    assert_eq!(find_a(&view, "Account", "new-3"), Some(-3));
    assert_eq!(find_a(&view, "Account", "new-4"), None);
    assert_eq!(view.entity_count(account).expect("count"), 25);
    assert_eq!(
        uuids_in_order(&view, account).last().map(String::as_str),
        Some("late")
    );

    // A second rebuild: reset the shadow (the live class is untouched), fill it, swap again.
    apply(
        &mut writer,
        &[
            reset("Shadow\\Account"),
            upsert("Shadow\\Account", "third", row_ab(3, 3), 4),
        ],
    );
    assert_eq!(writer.view().entity_count(account).expect("count"), 25);
    apply(&mut writer, &[swap("Account", "Shadow\\Account")]);
    let view = writer.view();
    assert_eq!(uuids_in_order(&view, account), vec!["third".to_string()]);
    assert_eq!(find_a(&view, "Account", "third"), Some(3));
    assert_eq!(find_a(&view, "Account", "late"), None);
    assert_eq!(writer.stats().entity_count, 1 + 1);
}

#[test]
fn swapping_in_a_shadow_that_never_had_entities_empties_the_class_and_a_new_class_can_be_swapped_in(
) {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
    apply(&mut writer, &[upsert("A", "x", row_ab(1, 1), 1)]);
    apply(&mut writer, &[swap("A", "Shadow\\A")]);
    let view = writer.view();
    let a = index_of(&view, "A");
    assert!(uuids_in_order(&view, a).is_empty());
    assert_eq!(find_a(&view, "A", "x"), None);
    assert_eq!(writer.stats().entity_count, 0);

    apply(&mut writer, &[upsert("Shadow\\B", "y", row_ab(2, 2), 1)]);
    apply(&mut writer, &[swap("B", "Shadow\\B")]);
    assert_eq!(find_a(&writer.view(), "B", "y"), Some(2));
    assert_eq!(writer.stats().entity_count, 1);

    // A class swapped with itself is left alone.
    apply(&mut writer, &[swap("B", "B")]);
    assert_eq!(find_a(&writer.view(), "B", "y"), Some(2));
}

#[test]
fn an_image_of_a_swapped_region_loads_and_keeps_swapping_the_same_way() {
    let (_dir, path) = region_path();
    let (_dir2, copy_path) = region_path();
    let mut original = new_writer(&path, REGION_TEST_BYTES, 1);
    original.publish().expect("publish");
    let changes: Vec<EntityChange> = (0..30)
        .map(|i| upsert("A", &format!("a-{i}"), row_ab(i, 0), 1))
        .chain((0..20).map(|i| upsert("Shadow\\A", &format!("s-{i}"), row_ab(i, 1), 1)))
        .chain([swap("A", "Shadow\\A")])
        .collect();
    apply(&mut original, &changes);
    original.set_applied_location(
        LogLocation {
            segment: 1,
            offset: 64,
            records: 1,
        },
        None,
    );
    let image = original.copy_image();
    let mut copy = region_from_image(&copy_path, REGION_TEST_BYTES, 2, &image);
    let again = [
        upsert("Shadow\\A", "t", row_ab(5, 5), 2),
        swap("A", "Shadow\\A"),
        upsert("A", "u", row_ab(6, 6), 2),
    ];
    apply(&mut original, &again);
    apply(&mut copy, &again);
    for writer in [&original, &copy] {
        let view = writer.view();
        let a = index_of(&view, "A");
        assert_eq!(
            uuids_in_order(&view, a),
            vec!["t".to_string(), "u".to_string()]
        );
        assert_eq!(writer.stats().entity_count, 2);
    }
    assert_eq!(copy.stats().garbage_bytes, original.stats().garbage_bytes);
}
