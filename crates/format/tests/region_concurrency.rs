//! One writer thread churns entity rows whose two fields must agree (b == 3a + 1) while reader
//! threads with their own mapping of the same file iterate and look them up: a reader must never
//! see a torn row, a broken record or a corrupt offset. Bounded iterations, no timing asserts.

mod region_support;

use eventsrv_format::region::MappedRegion;
use region_support::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const ENTITIES: u64 = 3_000;
const ROUNDS: u64 = 16;
const LOOKUPS_PER_PASS: u64 = 64;
const READER_THREADS: usize = 2;
/// Bound on reader passes, in case the writer finishes long before a slow reader starts.
const READER_PASSES_MAX: u64 = 100_000;

fn check_row(data: &[u8]) {
    let (a, b) = decode_ab(data);
    assert_eq!(b, a * 3 + 1, "torn row: a={a} b={b}");
}

#[test]
fn readers_never_see_torn_rows_while_the_writer_churns() {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, 64 * 1024 * 1024, 1);
    writer.publish().expect("publish");
    let done = Arc::new(AtomicBool::new(false));
    let readers_ready = Arc::new(AtomicUsize::new(0));

    let readers: Vec<_> = (0..READER_THREADS)
        .map(|reader| {
            let path = path.clone();
            let done = Arc::clone(&done);
            let readers_ready = Arc::clone(&readers_ready);
            std::thread::spawn(move || {
                let region = MappedRegion::open(&path).expect("open");
                let view = region.view();
                readers_ready.fetch_add(1, Ordering::Release);
                let (mut passes, mut rows, mut lookups) = (0u64, 0u64, 0u64);
                while passes < READER_PASSES_MAX {
                    let finished = done.load(Ordering::Acquire);
                    if let Some(class_index) = view.class_index(b"Pair").expect("class index") {
                        for entity in view.entities(class_index).expect("entities") {
                            check_row(entity.expect("entity").data);
                            rows += 1;
                        }
                        for lookup in 0..LOOKUPS_PER_PASS {
                            let uuid = format!(
                                "e{}",
                                (passes * 7919 + lookup * 31 + reader as u64) % ENTITIES
                            );
                            if let Some(entity) = view
                                .find_entity(class_index, uuid.as_bytes())
                                .expect("find")
                            {
                                check_row(entity.data);
                                lookups += 1;
                            }
                        }
                        view.entity_count(class_index).expect("count");
                    }
                    passes += 1;
                    if finished {
                        break;
                    }
                }
                eprintln!("reader {reader}: {passes} passes, {rows} rows, {lookups} lookups");
                (passes, rows)
            })
        })
        .collect();

    // Start churning only once every reader has its mapping, so the two really overlap.
    while readers_ready.load(Ordering::Acquire) < READER_THREADS {
        std::thread::yield_now();
    }
    let mut position = 0u64;
    for round in 0..ROUNDS {
        for index in 0..ENTITIES {
            position += 1;
            let a = (round * ENTITIES + index) as i64;
            let uuid = format!("e{index}");
            if round % 2 == 1 && index % 5 == 0 {
                writer.apply_change(&delete("Pair", &uuid)).expect("delete");
            }
            writer
                .apply_change(&upsert("Pair", &uuid, row_ab(a, a * 3 + 1), position))
                .expect("upsert");
            if index % 100 == 0 {
                writer.publish_projected(position);
            }
        }
    }
    done.store(true, Ordering::Release);
    let mut total_rows = 0;
    for reader in readers {
        let (_, rows) = reader.join().expect("reader thread");
        total_rows += rows;
    }
    eprintln!("writer: {position} upserts; readers checked {total_rows} rows");
    let view = writer.view();
    assert_eq!(view.entity_count(0).expect("count"), ENTITIES);
    for entity in view.entities(0).expect("entities") {
        check_row(entity.expect("entity").data);
    }
}
