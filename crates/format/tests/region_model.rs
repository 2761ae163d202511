//! Property test: random upserts, deletes, class resets and checkpoint moves against a plain
//! in-memory model; a reader of the region must agree with the model after every operation.

mod region_support;

use eventsrv_format::region::{MappedRegion, RegionView, RegionWriter};
use proptest::prelude::*;
use region_support::*;
use std::collections::BTreeMap;

const CLASSES: [&str; 3] = ["Alpha", "Beta", "Gamma"];
const UUIDS_MAX: u8 = 12;
const PROJECTORS: [&str; 3] = ["p-one", "p-two", "p-three"];

#[derive(Debug, Clone)]
enum Op {
    Upsert { class: usize, uuid: u8, value: i64 },
    Delete { class: usize, uuid: u8 },
    Reset { class: usize },
    Checkpoint { name: usize, position: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..CLASSES.len(), 0..UUIDS_MAX, any::<i64>()).prop_map(|(class, uuid, value)| Op::Upsert { class, uuid, value }),
        3 => (0..CLASSES.len(), 0..UUIDS_MAX).prop_map(|(class, uuid)| Op::Delete { class, uuid }),
        1 => (0..CLASSES.len()).prop_map(|class| Op::Reset { class }),
        2 => (0..PROJECTORS.len(), 0..5u64).prop_map(|(name, position)| Op::Checkpoint { name, position }),
    ]
}

/// What the region should hold: live rows per class, insertion order, checkpoints.
#[derive(Default)]
struct Model {
    rows: BTreeMap<(usize, u8), i64>,
    order: BTreeMap<usize, Vec<u8>>,
    /// Classes in creation order (a class exists once anything was upserted into it).
    classes: Vec<usize>,
    checkpoints: BTreeMap<usize, u64>,
    checkpoint_order: Vec<usize>,
}

impl Model {
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Upsert { class, uuid, value } => {
                if !self.classes.contains(&class) {
                    self.classes.push(class);
                }
                if self.rows.insert((class, uuid), value).is_none() {
                    self.order.entry(class).or_default().push(uuid);
                }
            }
            Op::Delete { class, uuid } => {
                if self.rows.remove(&(class, uuid)).is_some() {
                    self.order
                        .entry(class)
                        .or_default()
                        .retain(|&kept| kept != uuid);
                }
            }
            Op::Reset { class } => {
                self.rows.retain(|&(row_class, _), _| row_class != class);
                self.order.remove(&class);
            }
            Op::Checkpoint { name, position } => {
                let known = self.checkpoints.contains_key(&name);
                if !known && position == 0 {
                    return;
                }
                if !self.checkpoint_order.contains(&name) {
                    self.checkpoint_order.push(name);
                }
                self.checkpoints.insert(name, position);
            }
        }
    }

    fn check(&self, view: &RegionView<'_>) {
        let classes = view.classes().expect("classes");
        assert_eq!(classes.len(), self.classes.len());
        for (class_index, &class) in self.classes.iter().enumerate() {
            let class_index = class_index as u32;
            assert_eq!(
                view.class_index(CLASSES[class].as_bytes())
                    .expect("class index"),
                Some(class_index)
            );
            let order = self.order.get(&class).cloned().unwrap_or_default();
            let expected: Vec<String> = order.iter().map(|uuid| uuid.to_string()).collect();
            assert_eq!(
                uuids_in_order(view, class_index),
                expected,
                "order of {}",
                CLASSES[class]
            );
            assert_eq!(
                view.entity_count(class_index).expect("count"),
                order.len() as u64
            );
            assert_eq!(
                classes[class_index as usize],
                (CLASSES[class].to_string(), class_index, order.len() as u64)
            );
            for uuid in 0..UUIDS_MAX {
                let found = view
                    .find_entity(class_index, uuid.to_string().as_bytes())
                    .expect("find");
                match self.rows.get(&(class, uuid)) {
                    Some(&value) => assert_eq!(found.expect("present").data, &row_int(value)[..]),
                    None => assert!(
                        found.is_none(),
                        "{} {uuid} should be absent",
                        CLASSES[class]
                    ),
                }
            }
        }
        for (class, name) in CLASSES.iter().enumerate() {
            if !self.classes.contains(&class) {
                assert_eq!(
                    view.class_index(name.as_bytes()).expect("class index"),
                    None
                );
            }
        }
        assert_eq!(view.header().entity_count, self.rows.len() as u64);
        let expected: Vec<(String, u64)> = self
            .checkpoint_order
            .iter()
            .map(|&name| (PROJECTORS[name].to_string(), self.checkpoints[&name]))
            .filter(|&(_, position)| position != 0)
            .collect();
        assert_eq!(view.checkpoints().expect("checkpoints"), expected);
        for (name, projector) in PROJECTORS.iter().enumerate() {
            let expected = self
                .checkpoints
                .get(&name)
                .copied()
                .filter(|&position| position != 0);
            assert_eq!(
                view.checkpoint(projector.as_bytes()).expect("checkpoint"),
                expected
            );
        }
    }
}

fn apply(writer: &mut RegionWriter, op: &Op, position: u64) {
    match *op {
        Op::Upsert { class, uuid, value } => writer
            .apply_change(&upsert(
                CLASSES[class],
                &uuid.to_string(),
                row_int(value),
                position,
            ))
            .expect("upsert"),
        Op::Delete { class, uuid } => writer
            .apply_change(&delete(CLASSES[class], &uuid.to_string()))
            .expect("delete"),
        Op::Reset { class } => writer.apply_change(&reset(CLASSES[class])).expect("reset"),
        Op::Checkpoint { name, position } => writer
            .set_checkpoint(PROJECTORS[name], position)
            .expect("checkpoint"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_reader_agrees_with_a_model_after_every_operation(ops in prop::collection::vec(op(), 1..80)) {
        let (_dir, path) = region_path();
        let mut writer = new_writer(&path, REGION_TEST_BYTES, 1);
        writer.publish().expect("publish");
        let region = MappedRegion::open(&path).expect("open");
        let mut model = Model::default();
        for (index, op) in ops.iter().enumerate() {
            apply(&mut writer, op, index as u64 + 1);
            model.apply(op);
            model.check(&region.view());
        }
        model.check(&writer.view());
    }
}
