//! Snapshot files: a state-region image between a header and a checksummed trailer
//! (docs/snapshots.md).
//!
//! Owns: the snapshot file layout, its encoding while streaming the body (the CRC32C is computed
//! chunk by chunk, never over a second copy), and its checked decoding, streamed or by parallel
//! loaders that each checksum the pieces they copy ([`BodyChecksum`]).
//! Must never: accept a body whose length, checksum or trailer does not verify, or allocate what
//! a header claims before the caller compared it with the file's real size.

use crate::region::LogLocation;
use std::fmt;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;

pub const SNAPSHOT_MAGIC: &[u8; 8] = b"EVSRVSNP";
pub const SNAPSHOT_TRAILER_MAGIC: &[u8; 8] = b"EVSRVEND";
pub const SNAPSHOT_FORMAT_VERSION: u32 = 1;
pub const SNAPSHOT_HEADER_BYTES: usize = 128;
pub const SNAPSHOT_TRAILER_BYTES: usize = 24;
/// Bytes per write / read / CRC step while streaming a body.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;
/// Most pieces a body is checksummed in when loaded in parallel ([`BodyChecksum`]); a loader
/// sizes its pieces so a body of any size stays under it.
pub const SNAPSHOT_PIECES_MAX: usize = 4096;

/// What a snapshot covers, as its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub region_layout_version: u32,
    /// Just after the last log record the image holds.
    pub location: LogLocation,
    pub committed_position: u64,
    pub projected_position: u64,
    /// Bytes of the region image (= its arena tail).
    pub body_bytes: u64,
    pub created_at_us: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    Io(String),
    /// Not a snapshot, a damaged one, or one cut short.
    Corrupt(String),
    FormatVersion {
        found: u32,
        expected: u32,
    },
}

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Io(why) => write!(f, "{why}"),
            SnapshotError::Corrupt(why) => write!(f, "corrupt snapshot: {why}"),
            SnapshotError::FormatVersion { found, expected } => write!(
                f,
                "snapshot format version {found}, this build reads version {expected}"
            ),
        }
    }
}

impl std::error::Error for SnapshotError {}

fn io_error(error: io::Error) -> SnapshotError {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        SnapshotError::Corrupt("the file ends early".into())
    } else {
        SnapshotError::Io(error.to_string())
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

impl SnapshotHeader {
    /// Bytes of the whole file this header describes.
    pub fn file_bytes(&self) -> u64 {
        SNAPSHOT_HEADER_BYTES as u64 + self.body_bytes + SNAPSHOT_TRAILER_BYTES as u64
    }

    pub fn encode(&self) -> [u8; SNAPSHOT_HEADER_BYTES] {
        self.assert_valid();
        let mut out = [0u8; SNAPSHOT_HEADER_BYTES];
        out[0..8].copy_from_slice(SNAPSHOT_MAGIC);
        out[8..12].copy_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&(SNAPSHOT_HEADER_BYTES as u32).to_le_bytes());
        out[16..20].copy_from_slice(&self.region_layout_version.to_le_bytes());
        let words = [
            self.location.segment,
            self.location.offset,
            self.location.records,
            self.committed_position,
            self.projected_position,
            self.body_bytes,
            self.created_at_us,
        ];
        for (i, word) in words.iter().enumerate() {
            out[24 + 8 * i..32 + 8 * i].copy_from_slice(&word.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out[..SNAPSHOT_HEADER_BYTES - 4]);
        out[SNAPSHOT_HEADER_BYTES - 4..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotError> {
        let bad = |why: String| Err(SnapshotError::Corrupt(why));
        if bytes.len() < SNAPSHOT_HEADER_BYTES {
            return bad(format!("{} bytes, shorter than a header", bytes.len()));
        }
        if &bytes[0..8] != SNAPSHOT_MAGIC {
            return bad("bad magic (not an eventsrv snapshot)".into());
        }
        let crc = u32_at(bytes, SNAPSHOT_HEADER_BYTES - 4);
        if crc != crc32c::crc32c(&bytes[..SNAPSHOT_HEADER_BYTES - 4]) {
            return bad("header checksum mismatch".into());
        }
        let version = u32_at(bytes, 8);
        if version != SNAPSHOT_FORMAT_VERSION {
            return Err(SnapshotError::FormatVersion {
                found: version,
                expected: SNAPSHOT_FORMAT_VERSION,
            });
        }
        if u32_at(bytes, 12) as usize != SNAPSHOT_HEADER_BYTES {
            return bad(format!("header size {}", u32_at(bytes, 12)));
        }
        let word = |i: usize| u64_at(bytes, 24 + 8 * i);
        let header = SnapshotHeader {
            region_layout_version: u32_at(bytes, 16),
            location: LogLocation {
                segment: word(0),
                offset: word(1),
                records: word(2),
            },
            committed_position: word(3),
            projected_position: word(4),
            body_bytes: word(5),
            created_at_us: word(6),
        };
        header.check().map_err(SnapshotError::Corrupt)?;
        Ok(header)
    }

    fn check(&self) -> Result<(), String> {
        let header_end = crate::log_record::SEGMENT_HEADER_BYTES as u64;
        if self.location.segment == 0 || self.location.offset < header_end {
            return Err(format!("log location {:?}", self.location));
        }
        if self.committed_position > self.location.records {
            return Err(format!(
                "committed position {} beyond {} records",
                self.committed_position, self.location.records
            ));
        }
        if self.body_bytes < 4096 || !self.body_bytes.is_multiple_of(8) {
            return Err(format!("region image of {} bytes", self.body_bytes));
        }
        Ok(())
    }

    fn assert_valid(&self) {
        if let Err(why) = self.check() {
            panic!("writing a snapshot header that would not read back: {why}");
        }
    }
}

/// Write a whole snapshot: header, `body` (streamed in chunks with its CRC), trailer.
pub fn write_snapshot(
    out: &mut impl Write,
    header: &SnapshotHeader,
    body: &[u8],
) -> io::Result<()> {
    assert_eq!(
        header.body_bytes,
        body.len() as u64,
        "the header states the body length"
    );
    out.write_all(&header.encode())?;
    let mut crc = 0u32;
    for chunk in body.chunks(SNAPSHOT_CHUNK_BYTES) {
        crc = crc32c::crc32c_append(crc, chunk);
        out.write_all(chunk)?;
    }
    out.write_all(&encode_trailer(header.body_bytes, crc))?;
    Ok(())
}

fn encode_trailer(body_bytes: u64, body_crc: u32) -> [u8; SNAPSHOT_TRAILER_BYTES] {
    let mut out = [0u8; SNAPSHOT_TRAILER_BYTES];
    out[0..8].copy_from_slice(&body_bytes.to_le_bytes());
    out[8..12].copy_from_slice(&body_crc.to_le_bytes());
    out[16..24].copy_from_slice(SNAPSHOT_TRAILER_MAGIC);
    out
}

/// Read the header at the start of `input`.
pub fn read_header(input: &mut impl Read) -> Result<SnapshotHeader, SnapshotError> {
    let mut bytes = [0u8; SNAPSHOT_HEADER_BYTES];
    input.read_exact(&mut bytes).map_err(io_error)?;
    SnapshotHeader::decode(&bytes)
}

/// Read the body that follows `header` (into `dest` when given, which must be exactly
/// `body_bytes` long; otherwise only checksummed), then the trailer, then expect the end.
pub fn read_body(
    input: &mut impl Read,
    header: &SnapshotHeader,
    mut dest: Option<&mut [u8]>,
) -> Result<(), SnapshotError> {
    if let Some(dest) = dest.as_deref() {
        assert_eq!(
            dest.len() as u64,
            header.body_bytes,
            "destination sized by the header"
        );
    }
    let mut crc = 0u32;
    let mut scratch = Vec::new();
    let mut done = 0u64;
    while done < header.body_bytes {
        let step = (header.body_bytes - done).min(SNAPSHOT_CHUNK_BYTES as u64) as usize;
        let chunk: &mut [u8] = match dest.as_deref_mut() {
            Some(dest) => &mut dest[done as usize..done as usize + step],
            None => {
                scratch.resize(step, 0);
                &mut scratch[..]
            }
        };
        input.read_exact(chunk).map_err(io_error)?;
        crc = crc32c::crc32c_append(crc, chunk);
        done += step as u64;
    }
    let mut trailer = [0u8; SNAPSHOT_TRAILER_BYTES];
    input.read_exact(&mut trailer).map_err(io_error)?;
    let stored = decode_trailer(&trailer, header)?;
    check_body_crc(stored, crc)?;
    let mut extra = [0u8; 1];
    match input.read(&mut extra) {
        Ok(0) => Ok(()),
        Ok(_) => Err(SnapshotError::Corrupt("bytes after the trailer".into())),
        Err(error) => Err(io_error(error)),
    }
}

/// The body checksum a trailer stores, once its magic, padding and length match `header`.
fn decode_trailer(
    trailer: &[u8; SNAPSHOT_TRAILER_BYTES],
    header: &SnapshotHeader,
) -> Result<u32, SnapshotError> {
    if &trailer[16..24] != SNAPSHOT_TRAILER_MAGIC || trailer[12..16] != [0; 4] {
        return Err(SnapshotError::Corrupt("bad trailer magic".into()));
    }
    if u64_at(trailer, 0) != header.body_bytes {
        return Err(SnapshotError::Corrupt(format!(
            "trailer says {} body bytes, header {}",
            u64_at(trailer, 0),
            header.body_bytes
        )));
    }
    Ok(u32_at(trailer, 8))
}

fn check_body_crc(stored: u32, computed: u32) -> Result<(), SnapshotError> {
    if stored != computed {
        return Err(SnapshotError::Corrupt(format!(
            "body checksum mismatch (stored {stored:08x}, computed {computed:08x})"
        )));
    }
    Ok(())
}

/// Read the header at the start of `file` (positional: the file's cursor is not used).
pub fn read_header_at(file: &impl FileExt) -> Result<SnapshotHeader, SnapshotError> {
    let mut bytes = [0u8; SNAPSHOT_HEADER_BYTES];
    file.read_exact_at(&mut bytes, 0).map_err(io_error)?;
    SnapshotHeader::decode(&bytes)
}

/// Read and check the trailer after `header`'s body, for a loader that reads the body with
/// positional reads (the caller has compared the file's size with [`SnapshotHeader::file_bytes`],
/// so nothing follows it). Returns the checksum the body must have ([`BodyChecksum::verify`]).
pub fn read_trailer_at(file: &impl FileExt, header: &SnapshotHeader) -> Result<u32, SnapshotError> {
    let mut trailer = [0u8; SNAPSHOT_TRAILER_BYTES];
    file.read_exact_at(&mut trailer, body_offset(0) + header.body_bytes)
        .map_err(io_error)?;
    decode_trailer(&trailer, header)
}

/// Where body byte `at` is in the file.
pub fn body_offset(at: u64) -> u64 {
    SNAPSHOT_HEADER_BYTES as u64 + at
}

/// The body's CRC32C put together from the CRC32Cs of pieces that loaders copied in any order
/// and on any thread. The pieces must tile the body exactly (a loader's bookkeeping, so a gap
/// or an overlap is a panic, not a corrupt file).
#[derive(Debug, Default)]
pub struct BodyChecksum {
    /// (start, end, CRC32C of body bytes start..end).
    pieces: Vec<(u64, u64, u32)>,
}

impl BodyChecksum {
    pub fn add(&mut self, piece: Range<u64>, crc: u32) {
        assert!(
            self.pieces.len() < SNAPSHOT_PIECES_MAX,
            "a loader checksums a body in at most {SNAPSHOT_PIECES_MAX} pieces"
        );
        self.pieces.push((piece.start, piece.end, crc));
    }

    pub fn extend(&mut self, other: BodyChecksum) {
        for (start, end, crc) in other.pieces {
            self.add(start..end, crc);
        }
    }

    /// Compare the combined checksum with the one the trailer stores.
    pub fn verify(mut self, header: &SnapshotHeader, stored: u32) -> Result<(), SnapshotError> {
        self.pieces.sort_unstable();
        let mut crc = 0u32;
        let mut covered = 0u64;
        for (start, end, piece_crc) in self.pieces {
            assert_eq!(start, covered, "body pieces tile the body without gaps");
            assert!(end > start, "a body piece holds bytes");
            crc = crc32c::crc32c_combine(crc, piece_crc, (end - start) as usize);
            covered = end;
        }
        assert_eq!(covered, header.body_bytes, "body pieces cover the body");
        check_body_crc(stored, crc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(body_bytes: u64) -> SnapshotHeader {
        SnapshotHeader {
            region_layout_version: 1,
            location: LogLocation {
                segment: 2,
                offset: 4242,
                records: 17,
            },
            committed_position: 12,
            projected_position: 9,
            body_bytes,
            created_at_us: 1,
        }
    }

    fn encoded(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_snapshot(&mut out, &header(body.len() as u64), body).expect("write to a vec");
        out
    }

    #[test]
    fn a_snapshot_round_trips() {
        let body: Vec<u8> = (0..(3 * SNAPSHOT_CHUNK_BYTES as u64 / 2 + 8))
            .map(|i| (i % 251) as u8)
            .collect();
        let file = encoded(&body);
        let mut input = &file[..];
        let read = read_header(&mut input).expect("header");
        assert_eq!(read, header(body.len() as u64));
        assert_eq!(read.file_bytes(), file.len() as u64);
        let mut dest = vec![0u8; body.len()];
        read_body(&mut input, &read, Some(&mut dest)).expect("body");
        assert_eq!(dest, body);
    }

    #[test]
    fn pieces_checksummed_in_any_order_verify_like_the_streamed_body() {
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        let file = encoded(&body);
        let header = read_header(&mut &file[..]).expect("header");
        let trailer = file[file.len() - SNAPSHOT_TRAILER_BYTES..]
            .try_into()
            .expect("a trailer");
        let stored = decode_trailer(trailer, &header).expect("trailer");
        let pieces = [4096..10_000u64, 0..1000, 1000..4096];
        let checksum = |body: &[u8]| {
            let mut checksum = BodyChecksum::default();
            for piece in pieces.clone() {
                let bytes = &body[piece.start as usize..piece.end as usize];
                checksum.add(piece, crc32c::crc32c(bytes));
            }
            checksum
        };
        assert_eq!(checksum(&body).verify(&header, stored), Ok(()));
        let mut damaged = body.clone();
        damaged[5000] ^= 1;
        let why = checksum(&damaged)
            .verify(&header, stored)
            .expect_err("flip");
        assert!(why.to_string().contains("body checksum mismatch"), "{why}");
    }

    #[test]
    #[should_panic(expected = "without gaps")]
    fn pieces_that_leave_a_gap_are_a_loader_bug() {
        let mut checksum = BodyChecksum::default();
        checksum.add(0..4096, 0);
        checksum.add(8192..(4 * 4096), 0);
        let _ = checksum.verify(&header(4 * 4096), 0);
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_found() {
        let body = vec![7u8; 4096];
        let file = encoded(&body);
        let verify = |bytes: &[u8]| -> Result<(), SnapshotError> {
            let mut input = bytes;
            let header = read_header(&mut input)?;
            read_body(&mut input, &header, None)
        };
        assert_eq!(verify(&file), Ok(()));
        let trailer_start = file.len() - SNAPSHOT_TRAILER_BYTES;
        for at in (0..file.len()).step_by(97).chain(trailer_start..file.len()) {
            let mut damaged = file.clone();
            damaged[at] ^= 0x10;
            assert!(verify(&damaged).is_err(), "flip at {at} went unnoticed");
        }
        for len in [0, 10, SNAPSHOT_HEADER_BYTES, file.len() - 1] {
            assert!(verify(&file[..len]).is_err(), "cut at {len} went unnoticed");
        }
        let mut longer = file.clone();
        longer.push(0);
        assert!(verify(&longer).is_err());
    }
}
