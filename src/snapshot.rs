//! Snapshot files on the daemon side (docs/snapshots.md): naming, writing one durably, keeping
//! the last K, listing and loading them at boot, the writer's schedule, and `eventsrv snapshot`.
//!
//! Owns: `<data-dir>/snapshots/snapshot-<position>.snap`; a snapshot is written to
//! `<name>.tmp`, fsynced, renamed into place, and the directory fsynced, on a background thread
//! from an image the writer copied between two batches (the writer pauses only for the memcpy).
//! Must never: leave a file under a final name that is not complete and fsynced, remove the
//! newest snapshot, or stop the daemon because a snapshot failed (the log is the source of truth;
//! a failed snapshot only makes the next boot slower).
//! Byte layouts: `eventsrv_format::snapshot` (file) and `eventsrv_format::region` (image).

use crate::client::Client;
use crate::config::{ServeConfig, SNAPSHOT_RUN_PER_PAUSE_MIN};
use crate::reply::Sender;
use eventsrv_format::protocol::{ErrorCode, Request, Response};
use eventsrv_format::region::{
    LogLocation, RegionError, RegionImage, RegionWriter, REGION_LAYOUT_VERSION,
};
use eventsrv_format::snapshot::{self as format, BodyChecksum, SnapshotError, SnapshotHeader};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SNAPSHOTS_DIR_NAME: &str = "snapshots";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".snap";
const TEMPORARY_SUFFIX: &str = ".snap.tmp";
/// A timed snapshot that comes due while another is being written is looked at again after this.
pub const SNAPSHOT_BUSY_RECHECK: Duration = Duration::from_millis(100);
/// `eventsrv snapshot` waits this long for the daemon to answer (a large region takes a while).
pub const SNAPSHOT_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);
/// Threads that load a snapshot body at boot (at most; fewer on fewer cores). One writes into
/// the new region file with `pwrite`, which holds the file's lock, the others through mappings
/// of their own, whose page faults run in parallel.
pub const SNAPSHOT_LOADERS_MAX: usize = 4;
/// Body bytes a loader claims at a time: large enough that the claims read the file almost
/// sequentially (readahead) and their checksums are few to combine, small enough to share the
/// work out evenly.
pub const SNAPSHOT_LOAD_PIECE_BYTES: u64 = 16 << 20;

pub fn snapshots_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(SNAPSHOTS_DIR_NAME)
}

pub fn snapshot_path(dir: &Path, position: u64) -> PathBuf {
    dir.join(format!("{SNAPSHOT_PREFIX}{position:020}{SNAPSHOT_SUFFIX}"))
}

/// The position in a snapshot file name, or None for any other name.
pub fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SNAPSHOT_PREFIX)?
        .strip_suffix(SNAPSHOT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Every snapshot file in `dir` as (position, path), oldest first. A missing dir has none.
pub fn list_snapshots(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(position) = entry.file_name().to_str().and_then(parse_snapshot_name) {
            found.push((position, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Remove `*.snap.tmp` left by a daemon that died while writing one.
pub fn remove_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.ends_with(TEMPORARY_SUFFIX))
        {
            tracing::warn!(file = %entry.path().display(), "removing an unfinished snapshot");
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A snapshot file that is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub path: PathBuf,
    pub position: u64,
    pub records: u64,
    pub bytes: u64,
    pub written_at_unix_us: u64,
    /// Writer pause for the copy + background write and fsync.
    pub copy_ms: u64,
    pub write_ms: u64,
}

/// Write `image` durably as `snapshot-<position>.snap` in `dir`, then keep only the newest
/// `keep` snapshots.
pub fn write_snapshot_file(
    dir: &Path,
    image: &RegionImage,
    keep: u64,
) -> Result<SnapshotInfo, String> {
    let started = Instant::now();
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if let Some(parent) = dir.parent() {
            fsync_dir(parent).map_err(|e| format!("cannot fsync {}: {e}", parent.display()))?;
        }
    }
    let written_at_unix_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let header = SnapshotHeader {
        region_layout_version: REGION_LAYOUT_VERSION,
        location: image.location,
        committed_position: image.committed_position,
        projected_position: image.projected_position,
        body_bytes: image.bytes.len() as u64,
        created_at_us: written_at_unix_us,
    };
    let path = snapshot_path(dir, image.committed_position);
    let mut temporary_name = path.as_os_str().to_owned();
    temporary_name.push(".tmp");
    let temporary = PathBuf::from(temporary_name);
    let result = (|| -> std::io::Result<()> {
        let mut file = File::create(&temporary)?;
        format::write_snapshot(&mut file, &header, &image.bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, &path)?;
        fsync_dir(dir)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(format!("cannot write snapshot {}: {error}", path.display()));
    }
    prune(dir, keep);
    Ok(SnapshotInfo {
        path,
        position: image.committed_position,
        records: image.location.records,
        bytes: header.file_bytes(),
        written_at_unix_us,
        copy_ms: 0,
        write_ms: started.elapsed().as_millis() as u64,
    })
}

/// Remove all but the newest `keep` snapshots (oldest first).
fn prune(dir: &Path, keep: u64) {
    assert!(keep >= 1, "the newest snapshot is always kept");
    let Ok(snapshots) = list_snapshots(dir) else {
        return;
    };
    let excess = snapshots.len().saturating_sub(keep as usize);
    for (_, path) in &snapshots[..excess] {
        match std::fs::remove_file(path) {
            Ok(()) => tracing::info!(snapshot = %path.display(), "removed an old snapshot"),
            Err(error) => tracing::warn!("cannot remove old snapshot {}: {error}", path.display()),
        }
    }
    if excess > 0 {
        let _ = fsync_dir(dir);
    }
}

/// Read and check a snapshot's header and body without loading it (`eventsrv verify`).
pub fn verify_snapshot_file(path: &Path) -> Result<SnapshotHeader, SnapshotError> {
    let (header, mut file) = open_snapshot(path)?;
    file.seek(SeekFrom::Start(format::body_offset(0)))
        .map_err(|e| SnapshotError::Io(format!("cannot seek: {e}")))?;
    let mut input = BufReader::with_capacity(format::SNAPSHOT_CHUNK_BYTES, file);
    format::read_body(&mut input, &header, None)?;
    Ok(header)
}

/// Open a snapshot and check its header against this build and the file's size.
fn open_snapshot(path: &Path) -> Result<(SnapshotHeader, File), SnapshotError> {
    let file = File::open(path).map_err(|e| SnapshotError::Io(format!("cannot open: {e}")))?;
    let file_bytes = file
        .metadata()
        .map_err(|e| SnapshotError::Io(format!("cannot stat: {e}")))?
        .len();
    let header = format::read_header_at(&file)?;
    if header.file_bytes() != file_bytes {
        return Err(SnapshotError::Corrupt(format!(
            "the header describes {} bytes, the file has {file_bytes}",
            header.file_bytes()
        )));
    }
    if header.region_layout_version != REGION_LAYOUT_VERSION {
        return Err(SnapshotError::Corrupt(format!(
            "region layout version {}, this build has {REGION_LAYOUT_VERSION}",
            header.region_layout_version
        )));
    }
    Ok((header, file))
}

/// Build a fresh (unpublished) region for `config` from the snapshot at `path`. Every error is
/// a reason to skip this snapshot.
pub fn load_snapshot(
    path: &Path,
    config: &ServeConfig,
    generation: u64,
) -> Result<(RegionWriter, SnapshotHeader), String> {
    let (header, input) = open_snapshot(path).map_err(|e| e.to_string())?;
    // A torn or foreign file is usually refused here, before anything is copied.
    let stored_crc = format::read_trailer_at(&input, &header).map_err(|e| e.to_string())?;
    // SAFETY: posix_fadvise only reads the descriptor, which `input` keeps open.
    unsafe { libc::posix_fadvise(input.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL) };
    let region = RegionWriter::create_from_image_file(
        &config.region,
        config.region_bytes,
        generation,
        header.body_bytes,
        |dest| {
            load_body(&input, &header, dest)?
                .verify(&header, stored_crc)
                .map_err(|e| e.to_string())
        },
    )
    .map_err(|error| match error {
        RegionError::Corrupt { offset: 0, what } => what,
        other => other.to_string(),
    })?;
    let location = region.applied_location();
    if location != Some(header.location) {
        return Err(format!(
            "the image's log location {location:?} differs from the header's {:?}",
            header.location
        ));
    }
    Ok((region, header))
}

/// Copy the body of the snapshot `input` into `dest` (the new region file, sized and empty) at
/// the same offsets from 0, on up to [`SNAPSHOT_LOADERS_MAX`] threads (one per core) that claim
/// pieces of [`SNAPSHOT_LOAD_PIECE_BYTES`] in file order, and checksum every piece on the way.
/// Loader 0 (this thread) writes with `pwrite`; the others read straight into mappings of their
/// own. Measured on a 1.6 GB body, `pwrite` costs 11 ms of CPU per piece and a mapping 17 ms
/// (page faults, zeroed pages), but mappings fault in parallel while `pwrite`s take turns on the
/// file's lock.
fn load_body(input: &File, header: &SnapshotHeader, dest: &File) -> Result<BodyChecksum, String> {
    let body_bytes = header.body_bytes;
    let piece_bytes = SNAPSHOT_LOAD_PIECE_BYTES
        .max(body_bytes.div_ceil(format::SNAPSHOT_PIECES_MAX as u64))
        .next_multiple_of(format::SNAPSHOT_CHUNK_BYTES as u64);
    let loaders = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(SNAPSHOT_LOADERS_MAX)
        .min(body_bytes.div_ceil(piece_bytes) as usize);
    load_body_with(input, header, dest, loaders, piece_bytes)
}

fn load_body_with(
    input: &File,
    header: &SnapshotHeader,
    dest: &File,
    loaders: usize,
    piece_bytes: u64,
) -> Result<BodyChecksum, String> {
    assert!(
        (1..=SNAPSHOT_LOADERS_MAX).contains(&loaders),
        "{loaders} loaders"
    );
    assert!(
        piece_bytes % format::SNAPSHOT_CHUNK_BYTES as u64 == 0,
        "pieces start on page boundaries, so no two loaders write one page"
    );
    let body_bytes = header.body_bytes;
    let claims = PieceClaims {
        next: AtomicU64::new(0),
        piece_bytes,
        body_bytes,
        failed: AtomicBool::new(false),
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..loaders)
            .map(|_| scope.spawn(|| load_pieces_mapped(input, dest, &claims)))
            .collect();
        let mut checksum = load_pieces_written(input, dest, &claims);
        for helper in helpers {
            let helped = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            checksum = match (checksum, helped) {
                (Ok(mut mine), Ok(theirs)) => {
                    mine.extend(theirs);
                    Ok(mine)
                }
                (Err(why), _) | (_, Err(why)) => Err(why),
            };
        }
        checksum
    })
}

/// The pieces of a body still to load, handed out in file order to whichever loader asks.
struct PieceClaims {
    next: AtomicU64,
    piece_bytes: u64,
    body_bytes: u64,
    /// A loader failed: the others stop at their next claim.
    failed: AtomicBool,
}

impl PieceClaims {
    fn claim(&self) -> Option<Range<u64>> {
        if self.failed.load(Ordering::Relaxed) {
            return None;
        }
        let start = self.next.fetch_add(self.piece_bytes, Ordering::Relaxed);
        (start < self.body_bytes).then(|| start..(start + self.piece_bytes).min(self.body_bytes))
    }

    /// Run `load` on every piece this loader claims; the first error stops every loader.
    fn run(
        &self,
        mut load: impl FnMut(Range<u64>) -> std::io::Result<u32>,
    ) -> Result<BodyChecksum, String> {
        let started = Instant::now();
        let mut pieces = 0u64;
        let result = self.run_pieces(&mut load, &mut pieces);
        tracing::debug!(
            pieces,
            piece_bytes = self.piece_bytes,
            ms = started.elapsed().as_millis() as u64,
            thread_cpu_ms = thread_cpu_ms(),
            "snapshot loader done"
        );
        result
    }

    fn run_pieces(
        &self,
        load: &mut impl FnMut(Range<u64>) -> std::io::Result<u32>,
        pieces: &mut u64,
    ) -> Result<BodyChecksum, String> {
        let mut checksum = BodyChecksum::default();
        while let Some(piece) = self.claim() {
            match load(piece.clone()) {
                Ok(crc) => {
                    *pieces += 1;
                    checksum.add(piece, crc)
                }
                Err(error) => {
                    self.failed.store(true, Ordering::Relaxed);
                    return Err(if error.kind() == std::io::ErrorKind::UnexpectedEof {
                        "corrupt snapshot: the file ends early".to_owned()
                    } else {
                        format!("cannot load the body: {error}")
                    });
                }
            }
        }
        Ok(checksum)
    }
}

fn thread_cpu_ms() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// Loader 0: read each chunk into a buffer, checksum it, `pwrite` it into the region file.
fn load_pieces_written(
    input: &File,
    dest: &File,
    claims: &PieceClaims,
) -> Result<BodyChecksum, String> {
    let mut buffer = vec![0u8; format::SNAPSHOT_CHUNK_BYTES];
    claims.run(|piece| {
        let mut crc = 0u32;
        let mut at = piece.start;
        while at < piece.end {
            let chunk_bytes = (piece.end - at).min(format::SNAPSHOT_CHUNK_BYTES as u64);
            let chunk = &mut buffer[..chunk_bytes as usize];
            input.read_exact_at(chunk, format::body_offset(at))?;
            crc = crc32c::crc32c_append(crc, chunk);
            dest.write_all_at(chunk, at)?;
            at += chunk.len() as u64;
        }
        Ok(crc)
    })
}

/// The other loaders: read each chunk straight into a shared mapping of the region file (its
/// page faults do not take the file's lock, unlike `pwrite`), then checksum it there.
fn load_pieces_mapped(
    input: &File,
    dest: &File,
    claims: &PieceClaims,
) -> Result<BodyChecksum, String> {
    // SAFETY: the region file is this boot's side file, sized past the body: nothing outside
    // this load maps it, and the mapping is dropped before the region is used.
    let mut mapping = unsafe {
        memmap2::MmapOptions::new()
            .len(claims.body_bytes as usize)
            .map_mut(dest)
    }
    .map_err(|error| format!("cannot map the new region: {error}"))?;
    let base = mapping.as_mut_ptr();
    claims.run(|piece| {
        let mut crc = 0u32;
        for chunk_start in (piece.start..piece.end).step_by(format::SNAPSHOT_CHUNK_BYTES) {
            let chunk_end = (chunk_start + format::SNAPSHOT_CHUNK_BYTES as u64).min(piece.end);
            // SAFETY: the chunk lies inside the mapping (piece.end ≤ body bytes = its length),
            // and inside a piece only this loader claimed: no other thread and no `pwrite`
            // touches these bytes while this slice lives. (A slice of the whole mapping would
            // alias the pieces the others are writing.)
            let chunk = unsafe {
                std::slice::from_raw_parts_mut(
                    base.add(chunk_start as usize),
                    (chunk_end - chunk_start) as usize,
                )
            };
            input.read_exact_at(chunk, format::body_offset(chunk_start))?;
            crc = crc32c::crc32c_append(crc, chunk);
        }
        Ok(crc)
    })
}

/// What the status report says about snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotStatus {
    pub last: Option<SnapshotInfo>,
    pub written: u64,
    pub failed: u64,
    pub last_error: Option<String>,
}

/// When the writer takes snapshots, and the one being written.
pub struct SnapshotSchedule {
    dir: PathBuf,
    every_events: u64,
    every: Option<Duration>,
    keep: u64,
    /// Position and records count of the newest snapshot (taken or found at boot).
    last_position: u64,
    last_records: Option<u64>,
    /// Records count of the newest snapshot found on disk at boot.
    found_at_boot: Option<u64>,
    last_at: Instant,
    /// How long copying the region paused the writer for the newest snapshot this daemon took.
    last_copy: Duration,
    in_flight: Option<JoinHandle<()>>,
    pub status: Arc<Mutex<SnapshotStatus>>,
}

/// Why a snapshot is taken now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotCause {
    Events,
    Time,
    Requested,
    Shutdown,
}

impl SnapshotSchedule {
    /// `newest`: (position, records) of the newest snapshot already on disk.
    pub fn new(config: &ServeConfig, newest: Option<(u64, u64)>) -> SnapshotSchedule {
        SnapshotSchedule {
            dir: snapshots_dir(&config.data_dir),
            every_events: config.snapshot_every_events,
            every: (config.snapshot_every_seconds > 0)
                .then(|| Duration::from_secs(config.snapshot_every_seconds)),
            keep: config.snapshots_keep,
            last_position: newest.map_or(0, |(position, _)| position),
            last_records: newest.map(|(_, records)| records),
            found_at_boot: newest.map(|(_, records)| records),
            last_at: Instant::now(),
            last_copy: Duration::ZERO,
            in_flight: None,
            status: Arc::new(Mutex::new(SnapshotStatus::default())),
        }
    }

    /// Is a periodic snapshot due for a state at (`position`, `records`)?
    pub fn due(&self, position: u64, records: u64) -> Option<SnapshotCause> {
        if self.last_records == Some(records) {
            return None;
        }
        if self.events_due(position) && self.pause_rest().is_zero() {
            return Some(SnapshotCause::Events);
        }
        match self.every {
            Some(every) if self.last_at.elapsed() >= every => Some(SnapshotCause::Time),
            _ => None,
        }
    }

    fn events_due(&self, position: u64) -> bool {
        self.every_events > 0 && position.saturating_sub(self.last_position) >= self.every_events
    }

    /// How long a snapshot by event count still waits, so that copying the region pauses the
    /// writer for at most 1/`SNAPSHOT_RUN_PER_PAUSE_MIN` of the time: at 100k events between
    /// snapshots, a busy writer over a 440 MB region would otherwise pause ~0.6 s every few
    /// seconds, and every append waits through it.
    fn pause_rest(&self) -> Duration {
        (self.last_copy * SNAPSHOT_RUN_PER_PAUSE_MIN).saturating_sub(self.last_at.elapsed())
    }

    /// How long the writer may block waiting for requests before a snapshot is due.
    pub fn wait_budget(&self, position: u64, records: u64) -> Option<Duration> {
        if self.last_records == Some(records) {
            return None;
        }
        let by_time = self
            .every
            .map(|every| every.saturating_sub(self.last_at.elapsed()));
        let by_events = self.events_due(position).then(|| self.pause_rest());
        let budget = match (by_time, by_events) {
            (Some(a), Some(b)) => a.min(b),
            (one, other) => one.or(other)?,
        };
        // Due while one is still being written: look again later instead of spinning.
        Some(if self.busy() {
            budget.max(SNAPSHOT_BUSY_RECHECK)
        } else {
            budget
        })
    }

    /// Is a written (durable) snapshot holding exactly `records` log records?
    pub fn has_snapshot_of(&self, records: u64) -> bool {
        let written = self.status.lock().last.as_ref().map(|last| last.records);
        written == Some(records) || (written.is_none() && self.found_at_boot == Some(records))
    }

    pub fn busy(&self) -> bool {
        self.in_flight.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Wait for the snapshot being written, if any.
    pub fn finish_in_flight(&mut self) {
        if let Some(thread) = self.in_flight.take() {
            let _ = thread.join();
        }
    }

    /// Hand `image` (copied by the writer just now, in `copy`) to a background thread that
    /// writes it; `replies` are answered once it is durable (or failed). `wait` joins it.
    pub fn start(
        &mut self,
        image: RegionImage,
        copy: Duration,
        cause: SnapshotCause,
        replies: Vec<Sender<Response>>,
        wait: bool,
    ) {
        self.finish_in_flight();
        self.last_position = image.committed_position;
        self.last_records = Some(image.location.records);
        self.last_at = Instant::now();
        self.last_copy = copy;
        let dir = self.dir.clone();
        let keep = self.keep;
        let status = Arc::clone(&self.status);
        let job = move || write_in_background(&dir, keep, image, copy, cause, replies, &status);
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(job);
        match spawned {
            Ok(thread) if wait => {
                let _ = thread.join();
            }
            Ok(thread) => self.in_flight = Some(thread),
            Err(error) => tracing::error!("cannot start the snapshot thread: {error}"),
        }
    }
}

fn write_in_background(
    dir: &Path,
    keep: u64,
    image: RegionImage,
    copy: Duration,
    cause: SnapshotCause,
    replies: Vec<Sender<Response>>,
    status: &Mutex<SnapshotStatus>,
) {
    let location: LogLocation = image.location;
    match write_snapshot_file(dir, &image, keep) {
        Ok(mut info) => {
            info.copy_ms = copy.as_millis() as u64;
            tracing::info!(
                snapshot = %info.path.display(),
                position = info.position,
                records = location.records,
                bytes = info.bytes,
                copy_ms = info.copy_ms,
                write_ms = info.write_ms,
                ?cause,
                "snapshot written"
            );
            for reply in replies {
                let _ = reply.send(Response::Snapshotted {
                    path: info.path.display().to_string(),
                    position: info.position,
                    bytes: info.bytes,
                });
            }
            let mut status = status.lock();
            status.written += 1;
            status.last = Some(info);
        }
        Err(why) => {
            tracing::error!(?cause, "snapshot failed (the daemon keeps serving): {why}");
            for reply in replies {
                let _ = reply.send(Response::Error {
                    code: ErrorCode::Storage,
                    message: why.clone(),
                });
            }
            let mut status = status.lock();
            status.failed += 1;
            status.last_error = Some(why);
        }
    }
}

/// `eventsrv snapshot`: exit 0 once the daemon wrote one, 1 otherwise.
pub fn run_snapshot_command(socket: &Path) -> ExitCode {
    let answer = Client::connect(socket, SNAPSHOT_COMMAND_TIMEOUT)
        .map_err(|e| e.to_string())
        .and_then(|mut client| {
            client
                .request(&Request::Snapshot)
                .map_err(|e| e.to_string())
        });
    match answer {
        Ok(Response::Snapshotted {
            path,
            position,
            bytes,
        }) => {
            println!("snapshot {path}: position {position}, {bytes} bytes");
            ExitCode::SUCCESS
        }
        Ok(Response::Error { code, message }) => {
            eprintln!("eventsrv snapshot: daemon error {code:?}: {message}");
            ExitCode::from(1)
        }
        Ok(other) => {
            eprintln!("eventsrv snapshot: unexpected answer {other:?}");
            ExitCode::from(1)
        }
        Err(why) => {
            eprintln!(
                "eventsrv snapshot: cannot reach the daemon at {}: {why}",
                socket.display()
            );
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_ignored() {
        let path = snapshot_path(Path::new("/d"), 42);
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(name, "snapshot-00000000000000000042.snap");
        assert_eq!(parse_snapshot_name(name), Some(42));
        assert_eq!(parse_snapshot_name("snapshot-42.snap"), None);
        assert_eq!(parse_snapshot_name(&format!("{name}.tmp")), None);
    }

    fn schedule(every_events: u64, every_seconds: u64) -> SnapshotSchedule {
        let config = ServeConfig {
            data_dir: PathBuf::from("/nonexistent"),
            socket: PathBuf::from("/nonexistent/s.sock"),
            region: PathBuf::from("/nonexistent/r.region"),
            region_bytes: 1 << 30,
            socket_mode: 0o600,
            region_mode: 0o600,
            owner: None,
            group: None,
            segment_bytes_max: 1 << 28,
            snapshot_every_events: every_events,
            snapshot_every_seconds: every_seconds,
            snapshots_keep: 3,
        };
        SnapshotSchedule::new(&config, Some((1_000, 1_000)))
    }

    /// A snapshot by count is due once enough events came, unless the last copy's pause asks for
    /// more time first; then the writer's wait budget ends when the deferral does, not later.
    /// (No clock is asserted: the pauses are an hour or nothing.)
    #[test]
    fn snapshots_by_count_wait_out_a_hundred_times_the_last_copy_pause() {
        let mut due_now = schedule(100, 0);
        assert_eq!(due_now.due(1_099, 1_099), None, "99 events are not enough");
        assert_eq!(
            due_now.wait_budget(1_099, 1_099),
            None,
            "nothing to wake for"
        );
        assert_eq!(due_now.due(1_100, 1_100), Some(SnapshotCause::Events));
        assert_eq!(due_now.wait_budget(1_100, 1_100), Some(Duration::ZERO));

        due_now.last_copy = Duration::from_secs(3_600);
        due_now.last_at = Instant::now();
        assert_eq!(
            due_now.due(1_100, 1_100),
            None,
            "deferred: the last copy paused an hour"
        );
        let budget = due_now
            .wait_budget(1_100, 1_100)
            .expect("a deferred snapshot wakes the writer");
        assert!(
            budget > Duration::from_secs(3_600 * 99) && budget <= Duration::from_secs(3_600 * 100)
        );

        // A timed snapshot is not deferred by the pause rule, and the earlier wake wins.
        let mut timed = schedule(100, 1);
        timed.last_copy = Duration::from_secs(3_600);
        timed.last_at = Instant::now() - Duration::from_secs(2);
        assert_eq!(timed.due(1_100, 1_100), Some(SnapshotCause::Time));
        assert_eq!(timed.wait_budget(1_100, 1_100), Some(Duration::ZERO));
    }

    const CHUNK: u64 = format::SNAPSHOT_CHUNK_BYTES as u64;

    /// A snapshot file of a body of `body_bytes` patterned bytes, and the body.
    fn snapshot_file(dir: &Path, body_bytes: u64) -> (PathBuf, Vec<u8>) {
        let body: Vec<u8> = (0..body_bytes).map(|i| (i * 7 % 251) as u8).collect();
        let header = SnapshotHeader {
            region_layout_version: REGION_LAYOUT_VERSION,
            location: LogLocation {
                segment: 1,
                offset: 64,
                records: 0,
            },
            committed_position: 0,
            projected_position: 0,
            body_bytes,
            created_at_us: 1,
        };
        let path = dir.join("body.snap");
        let mut file = File::create(&path).expect("create");
        format::write_snapshot(&mut file, &header, &body).expect("write");
        (path, body)
    }

    /// Load `path` into a fresh sparse file with `loaders` threads and 1 MiB pieces.
    fn load(path: &Path, dir: &Path, loaders: usize) -> Result<Vec<u8>, String> {
        let (header, input) = open_snapshot(path).map_err(|e| e.to_string())?;
        let stored = format::read_trailer_at(&input, &header).map_err(|e| e.to_string())?;
        let dest_path = dir.join("region");
        let _ = std::fs::remove_file(&dest_path);
        let dest = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&dest_path)
            .expect("dest");
        dest.set_len(header.body_bytes + 3 * CHUNK).expect("size");
        load_body_with(&input, &header, &dest, loaders, CHUNK)?
            .verify(&header, stored)
            .map_err(|e| e.to_string())?;
        let mut loaded = std::fs::read(&dest_path).expect("read back");
        loaded.truncate(header.body_bytes as usize);
        Ok(loaded)
    }

    #[test]
    fn parallel_loaders_copy_every_piece_and_their_checksums_combine() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Five whole pieces and a short one, shared out between pwrite and mapped loaders.
        let (path, body) = snapshot_file(dir.path(), 5 * CHUNK + 4096 + 8);
        for loaders in 1..=SNAPSHOT_LOADERS_MAX {
            assert_eq!(
                load(&path, dir.path(), loaders).as_ref(),
                Ok(&body),
                "{loaders}"
            );
        }
    }

    #[test]
    fn a_flipped_byte_in_any_loaders_piece_fails_the_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = snapshot_file(dir.path(), 6 * CHUNK);
        let pristine = std::fs::read(&path).expect("read");
        for at in [0, CHUNK + 5, 3 * CHUNK, 6 * CHUNK - 1] {
            let mut damaged = pristine.clone();
            damaged[format::body_offset(at) as usize] ^= 0x04;
            std::fs::write(&path, &damaged).expect("write");
            for loaders in [1, 2, SNAPSHOT_LOADERS_MAX] {
                let why = load(&path, dir.path(), loaders).expect_err("a flipped byte fails");
                assert!(why.contains("body checksum mismatch"), "{why}");
            }
        }
    }

    #[test]
    fn a_file_cut_short_or_with_a_bad_trailer_is_refused_before_the_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, _) = snapshot_file(dir.path(), 2 * CHUNK);
        let pristine = std::fs::read(&path).expect("read");
        std::fs::write(&path, &pristine[..pristine.len() - 1]).expect("cut");
        let why = load(&path, dir.path(), 2).expect_err("cut");
        assert!(why.contains("the file has"), "{why}");
        let mut damaged = pristine.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0x01; // the trailer magic
        std::fs::write(&path, &damaged).expect("write");
        let why = load(&path, dir.path(), 2).expect_err("trailer");
        assert!(why.contains("bad trailer magic"), "{why}");
    }
}
