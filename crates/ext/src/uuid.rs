//! Ids: random, time-ordered UUIDv7 generation and the 8-4-4-4-12 text form.
//!
//! Owns: the per-process pool of kernel random bytes ids are made from (one `getrandom(2)` per
//! `RANDOM_POOL_BYTES`, not one per id; refilled in a forked child before its first id, so
//! parent and child never hand out the same bytes) and the per-process order of v7 ids.
//! Must never: hand out an id made from anything but the kernel's random bytes and the clock,
//! or the same random bytes twice.

use std::cell::RefCell;

use crate::process;

/// Random bytes fetched from the kernel at once: 25 to 32 ids per `getrandom(2)`.
const RANDOM_POOL_BYTES: usize = 256;
/// The 12 bits of `rand_a` count the ids made in one millisecond, as `EventSrv\Uuid::v7()`
/// does in PHP: ids of one process sort in the order they were made.
const SEQUENCE_MAX: u16 = 0xFFF;

struct RandomPool {
    bytes: [u8; RANDOM_POOL_BYTES],
    /// Bytes at the front already handed out (and zeroed).
    used: usize,
    /// The fork generation the bytes were fetched in.
    generation: u64,
}

struct V7Order {
    last_millis: u64,
    sequence: u16,
}

thread_local! {
    static POOL: RefCell<RandomPool> = const {
        RefCell::new(RandomPool {
            bytes: [0; RANDOM_POOL_BYTES],
            used: RANDOM_POOL_BYTES,
            generation: 0,
        })
    };
    static ORDER: RefCell<V7Order> = const {
        RefCell::new(V7Order {
            last_millis: 0,
            sequence: 0,
        })
    };
}

/// A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, a 12-bit sequence within the
/// millisecond (starting at a random value in its lower half; past its end the id borrows the
/// next millisecond rather than lose the order), variant 10, 62 random bits.
pub fn new_v7() -> Result<[u8; 16], String> {
    let mut id = [0u8; 16];
    let mut start = [0u8; 2];
    fill_random(&mut id[8..])?;
    let now = unix_millis();
    let (millis, sequence) = ORDER.with(|cell| -> Result<(u64, u16), String> {
        let mut order = cell.borrow_mut();
        let mut millis = now;
        let mut fresh_sequence = true;
        if millis <= order.last_millis {
            millis = order.last_millis;
            if order.sequence < SEQUENCE_MAX {
                order.sequence += 1;
                fresh_sequence = false;
            } else {
                millis += 1;
            }
        }
        if fresh_sequence {
            fill_random(&mut start)?;
            order.sequence = u16::from_be_bytes(start) & (SEQUENCE_MAX >> 1);
        }
        order.last_millis = millis;
        Ok((millis, order.sequence))
    })?;
    id[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    id[6..8].copy_from_slice(&(0x7000 | sequence).to_be_bytes());
    id[8] = 0x80 | (id[8] & 0x3f);
    Ok(id)
}

/// The wall clock in Unix milliseconds (0 before 1970): one `clock_gettime` (vDSO, no syscall)
/// and integer arithmetic, where `SystemTime` arithmetic cost ~150 instructions per id.
fn unix_millis() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    match (u64::try_from(now.tv_sec), u64::try_from(now.tv_nsec)) {
        (Ok(seconds), Ok(nanos)) if status == 0 => seconds * 1000 + nanos / 1_000_000,
        _ => 0,
    }
}

/// Random bytes from the pool, refilled from the kernel when it runs short or this process
/// is a fork of the one that filled it.
fn fill_random(out: &mut [u8]) -> Result<(), String> {
    debug_assert!(out.len() <= RANDOM_POOL_BYTES);
    POOL.with(|cell| {
        let mut pool = cell.borrow_mut();
        let generation = process::generation();
        if pool.generation != generation || RANDOM_POOL_BYTES - pool.used < out.len() {
            fill_from_kernel(&mut pool.bytes)?;
            pool.used = 0;
            pool.generation = generation;
        }
        let start = pool.used;
        let taken = &mut pool.bytes[start..start + out.len()];
        out.copy_from_slice(taken);
        // What was handed out is not kept: a later look at this memory finds no past id's bytes.
        taken.fill(0);
        pool.used += out.len();
        Ok(())
    })
}

fn fill_from_kernel(out: &mut [u8]) -> Result<(), String> {
    let mut filled = 0;
    while filled < out.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `out`.
        let got =
            unsafe { libc::getrandom(out[filled..].as_mut_ptr().cast(), out.len() - filled, 0) };
        if got < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("cannot read random bytes for an id: {error}"));
        }
        filled += got as usize;
    }
    Ok(())
}

/// Lowercase `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
///
/// Runs once per event read (every event's meta has its id) and per id made: digits from a
/// table into one buffer whose hyphens are in place, at each byte's fixed position (not a
/// `format!` per byte: that cost ~9,500 instructions per event, 30% of a replay).
/// Returned on the stack: the caller copies it once, into the PHP string.
pub fn format(id: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    /// Where the two digits of each byte go.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut text = [b'-'; 36];
    for (byte, at) in id.iter().zip(AT) {
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 0x0f)];
    }
    text
}

/// Parse uuid text (hyphens optional, any case).
pub fn parse(text: &[u8]) -> Option<[u8; 16]> {
    let digits: Vec<u8> = text.iter().copied().filter(|b| *b != b'-').collect();
    if digits.len() != 32 || text.len() > 36 {
        return None;
    }
    let mut id = [0u8; 16];
    for (index, pair) in digits.chunks(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        id[index] = (high * 16 + low) as u8;
    }
    Some(id)
}
