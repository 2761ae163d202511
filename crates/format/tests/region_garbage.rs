//! A reader given damaged or random bytes returns Ok or Err from every call, and never panics or
//! reads outside the mapping. Seeded, so a failure reproduces.

mod region_support;

use eventsrv_format::region::{layout, RegionError, RegionView};
use region_support::*;

const REGION_BYTES: u64 = eventsrv_format::limits::REGION_BYTES_MIN;
const MUTATIONS: u64 = 400;

/// xorshift64*: enough randomness for damage, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// An 8-aligned copy of a valid region with entities, events and checkpoints.
fn valid_region_words() -> Vec<u64> {
    let (_dir, path) = region_path();
    let mut writer = new_writer(&path, REGION_BYTES, 1);
    for index in 0..60u64 {
        let class = ["A", "B", "C"][(index % 3) as usize];
        writer
            .apply_change(&upsert(
                class,
                &format!("u{index}"),
                row_ab(index as i64, 1),
                index,
            ))
            .expect("upsert");
    }
    writer.apply_change(&delete("A", "u3")).expect("delete");
    writer
        .apply_change(&upsert("A", "u3", row_int(3), 61))
        .expect("re-create");
    for position in 1..=40u64 {
        let stream = format!("s{}", position % 4);
        let version = writer.stream_version(&stream) + 1;
        writer
            .append_event(position, &event(&stream, version, position as i64))
            .expect("append");
    }
    writer.publish_committed(35);
    writer.set_checkpoint("proj", 30).expect("checkpoint");
    writer.publish().expect("publish");
    let bytes = std::fs::read(&path).expect("read region");
    let mut words = vec![0u64; bytes.len() / 8];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        *word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    words
}

fn as_bytes_mut(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 has no padding and any byte pattern is a valid u8; same allocation and length.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr() as *mut u8, words.len() * 8) }
}

/// Call every reader entry point; count how many answered Err. Panics are the failure mode.
fn exercise(words: &[u64]) -> u64 {
    // SAFETY: `words` outlives the view and nothing writes it meanwhile.
    let view = match unsafe { RegionView::from_raw(words.as_ptr() as *const u8, words.len() * 8) } {
        Ok(view) => view,
        Err(_) => return 1,
    };
    let mut errors = 0u64;
    let mut note = |result: Result<(), RegionError>| {
        if result.is_err() {
            errors += 1;
        }
    };
    let _ = (
        view.header(),
        view.state(),
        view.generation(),
        view.projected_position(),
        view.workers_attached(),
    );
    note(view.classes().map(drop));
    for class in [&b"A"[..], b"B", b"C", b"Z"] {
        note(view.class_index(class).map(drop));
    }
    for class_index in 0..4u32 {
        note(view.entity_count(class_index).map(drop));
        match view.entities(class_index) {
            Ok(entities) => {
                for entity in entities {
                    note(entity.map(drop));
                }
            }
            Err(error) => note(Err(error)),
        }
        for index in (0..60).step_by(5) {
            note(
                view.find_entity(class_index, format!("u{index}").as_bytes())
                    .map(drop),
            );
        }
    }
    let mut out = Vec::new();
    for stream in 0..5 {
        let stream = format!("s{stream}");
        note(view.stream_version(stream.as_bytes()).map(drop));
        note(view.stream_events(stream.as_bytes(), 0, &mut out));
        note(view.stream_events(stream.as_bytes(), 3, &mut out));
    }
    for position in 0..=45 {
        note(view.event_at(position).map(drop));
    }
    note(view.event_at(u64::MAX).map(drop));
    note(view.checkpoints().map(drop));
    note(view.checkpoint(b"proj").map(drop));
    errors
}

#[test]
fn the_valid_region_reads_without_errors() {
    let words = valid_region_words();
    assert_eq!(exercise(&words), 0);
}

#[test]
fn flipped_bytes_never_panic_the_reader() {
    let valid = valid_region_words();
    let tail = {
        // SAFETY: as in `exercise`.
        let view = unsafe { RegionView::from_raw(valid.as_ptr() as *const u8, valid.len() * 8) }
            .expect("valid");
        view.header().arena_tail
    };
    let mut rng = Rng(0x5eed_0001);
    let mut errors = 0;
    for _ in 0..MUTATIONS {
        let mut words = valid.clone();
        let bytes = as_bytes_mut(&mut words);
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(tail) as usize;
            bytes[at] ^= 1 << rng.below(8);
        }
        errors += exercise(&words);
    }
    eprintln!("flipped bytes: {errors} errors reported over {MUTATIONS} damaged regions");
}

#[test]
fn plausible_but_wrong_offsets_never_panic_the_reader() {
    let valid = valid_region_words();
    let tail_word = (layout::OFF_ARENA_TAIL / 8) as usize;
    let tail = valid[tail_word];
    let mut rng = Rng(0x5eed_0002);
    let mut errors = 0;
    for round in 0..MUTATIONS {
        let mut words = valid.clone();
        for _ in 0..1 + rng.below(4) {
            // Any aligned word below the tail, including header pointers and list counts.
            let at = (rng.below(tail / 8)) as usize;
            words[at] = match rng.below(4) {
                0 => rng.below(tail + 64) & !7,
                1 => rng.below(tail + 64),
                2 => rng.next(),
                _ => rng.below(64),
            };
        }
        if round % 10 == 0 {
            words[tail_word] = rng.below(REGION_BYTES + 4096);
        }
        errors += exercise(&words);
    }
    eprintln!("wrong offsets: {errors} errors reported over {MUTATIONS} damaged regions");
}

#[test]
fn random_bytes_behind_a_valid_header_never_panic_the_reader() {
    let valid = valid_region_words();
    let mut rng = Rng(0x5eed_0003);
    for _ in 0..50 {
        let mut words = valid.clone();
        // Keep magic, version, sizes; randomise everything else up to a random tail.
        for word in words.iter_mut().skip(4) {
            *word = rng.next();
        }
        words[(layout::OFF_ARENA_TAIL / 8) as usize] = rng.below(REGION_BYTES + 1);
        let small = rng.below(layout::ARENA_START * 4) & !7;
        words[(layout::OFF_INDEX_TABLE / 8) as usize] = layout::ARENA_START + small;
        exercise(&words);
    }
}

#[test]
fn short_or_misaligned_mappings_are_refused() {
    let words = vec![0u64; 256];
    // SAFETY: `words` outlives the calls.
    unsafe {
        assert!(matches!(
            RegionView::from_raw(words.as_ptr() as *const u8, 2048),
            Err(RegionError::NotARegion(_))
        ));
        let misaligned = (words.as_ptr() as *const u8).add(1);
        assert!(matches!(
            RegionView::from_raw(misaligned, 2040),
            Err(RegionError::NotARegion(_))
        ));
    }
}
