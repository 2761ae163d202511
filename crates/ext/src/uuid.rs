//! Event ids: random, time-ordered UUIDv7 generation and the 8-4-4-4-12 text form.
//! Must never: hand out an id made from anything but the kernel's random bytes and the clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, 74 random bits, variant 10.
pub fn new_v7() -> Result<[u8; 16], String> {
    let mut id = [0u8; 16];
    fill_random(&mut id[6..])?;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0) as u64;
    id[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    id[6] = 0x70 | (id[6] & 0x0f);
    id[8] = 0x80 | (id[8] & 0x3f);
    Ok(id)
}

fn fill_random(out: &mut [u8]) -> Result<(), String> {
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
            return Err(format!("cannot read random bytes for an event id: {error}"));
        }
        filled += got as usize;
    }
    Ok(())
}

/// Lowercase `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
///
/// Runs once per event read (every event's meta has its id): digits from a table into one
/// buffer, not a `format!` per byte (that cost ~9,500 instructions per event, 30% of a replay).
/// Returned on the stack: the caller copies it once, into the PHP string.
pub fn format(id: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 36];
    let mut at = 0;
    for (index, byte) in id.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text[at] = b'-';
            at += 1;
        }
        text[at] = HEX[usize::from(byte >> 4)];
        text[at + 1] = HEX[usize::from(byte & 0x0f)];
        at += 2;
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
