//! Daemon start: open and recover the log, and build the state region from the best base there
//! is (docs/snapshots.md#boot): (1) the region file that survived its daemon, if it matches the
//! log; else (2) the newest snapshot that verifies, plus the log tail; else (3) the whole log.
//!
//! Owns: choosing the base, matching it against the log (the base's applied log location must
//! be a record boundary of this log, with the same record count and event position), replaying
//! only what the base lacks, the boot progress display, and the boot summary `eventsrv status`
//! shows.
//! Must never: publish a region that does not hold every record of the log, adopt a region or
//! load a snapshot that claims more than the log holds, or start on a log that failed
//! verification. A base that does not match is skipped with a logged reason, never repaired.

use crate::config::{ServeConfig, REPLAY_PROGRESS_INTERVAL, REPLAY_PROGRESS_RECORDS};
use crate::log::segment::{log_dir, parse_segment_name};
use crate::log::{self, BaseOpenError, Log, LogBase, LogError, RecoverySummary, TornTail};
use crate::snapshot;
use crate::state::StateStore;
use eventsrv_format::log_record::LogRecord;
use eventsrv_format::region::{LogLocation, MappedRegion, RegionError, RegionState, RegionWriter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub const SOURCE_SURVIVING_REGION: &str = "surviving region";
pub const SOURCE_SNAPSHOT: &str = "snapshot";
pub const SOURCE_FULL_REPLAY: &str = "full log replay";

/// How the running state was built, for `eventsrv status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootSummary {
    /// "surviving region", "snapshot" or "full log replay".
    pub source: String,
    /// The snapshot file the state was loaded from (source "snapshot").
    #[serde(default)]
    pub snapshot: Option<PathBuf>,
    /// Bases tried first and skipped, with the reason (a corrupt snapshot, a stale region, ...).
    #[serde(default)]
    pub skipped: Vec<String>,
    pub segments: u64,
    pub records: u64,
    pub events: u64,
    pub commits: u64,
    /// Records applied to the region at boot (the tail after the base; all of them for a full
    /// replay).
    #[serde(default)]
    pub records_replayed: u64,
    pub log_bytes: u64,
    pub duration_ms: u64,
    /// Bytes cut from a torn tail of the last segment, if any.
    pub torn_tail_bytes_cut: Option<u64>,
    #[serde(skip)]
    pub projected_position: u64,
    /// (position, records) of the newest snapshot the state already has on disk.
    #[serde(skip)]
    pub newest_snapshot: Option<(u64, u64)>,
}

#[derive(Debug)]
pub enum BootError {
    Region(RegionError),
    Log(LogError),
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::Region(e) => write!(f, "state region: {e}"),
            BootError::Log(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BootError {}

/// Why [`replay`] did not bring a state up to the log's end.
#[derive(Debug)]
pub enum ReplayError {
    /// The state's applied location is not a place in this log (or lies beyond its end):
    /// nothing was applied; try another base.
    Mismatch(String),
    Fatal(BootError),
}

/// Build the state for `config`: a region holding every record of the log, published and live.
pub fn boot(config: &ServeConfig) -> Result<(Log, RegionWriter, BootSummary), BootError> {
    let started = Instant::now();
    let generation = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    if let Some(parent) = config.region.parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            BootError::Region(RegionError::Io(format!(
                "cannot create {}: {e}",
                parent.display()
            )))
        })?;
    }
    let snapshots_dir = snapshot::snapshots_dir(&config.data_dir);
    snapshot::remove_temporaries(&snapshots_dir);
    let mut skipped: Vec<String> = Vec::new();
    let mut skip = |why: String| {
        tracing::warn!("boot: {why}");
        skipped.push(why);
    };

    // (1) The region a previous daemon left at the path, if it matches the log.
    match surviving_region(config) {
        Ok(Some(mut region)) => {
            tracing::info!(region = %config.region.display(), "boot: trying the surviving state region");
            match replay(config, &mut region, started) {
                Ok((log, mut summary)) => {
                    summary.source = SOURCE_SURVIVING_REGION.into();
                    return finish(log, region, summary, &snapshots_dir, skipped);
                }
                Err(ReplayError::Mismatch(why)) => skip(format!(
                    "surviving region {} not adopted: {why}",
                    config.region.display()
                )),
                Err(ReplayError::Fatal(error)) => return Err(error),
            }
        }
        Ok(None) => {}
        Err(why) => skip(format!(
            "surviving region {} not adopted: {why}",
            config.region.display()
        )),
    }

    // (2) The newest snapshot that verifies and matches the log, plus the tail.
    let snapshots = snapshot::list_snapshots(&snapshots_dir).unwrap_or_else(|error| {
        tracing::warn!("boot: cannot list {}: {error}", snapshots_dir.display());
        Vec::new()
    });
    for (_, path) in snapshots.iter().rev() {
        let load_started = Instant::now();
        let (mut region, header) = match snapshot::load_snapshot(path, config, generation) {
            Ok(loaded) => loaded,
            Err(why) => {
                skip(format!("snapshot {} skipped: {why}", path.display()));
                continue;
            }
        };
        tracing::info!(
            snapshot = %path.display(),
            position = header.committed_position,
            records = header.location.records,
            bytes = header.file_bytes(),
            load_ms = load_started.elapsed().as_millis() as u64,
            "boot: loaded a snapshot; replaying the log tail after it"
        );
        match replay(config, &mut region, started) {
            Ok((log, mut summary)) => {
                summary.source = SOURCE_SNAPSHOT.into();
                summary.snapshot = Some(path.clone());
                return finish(log, region, summary, &snapshots_dir, skipped);
            }
            Err(ReplayError::Mismatch(why)) => {
                skip(format!("snapshot {} skipped: {why}", path.display()))
            }
            Err(ReplayError::Fatal(error)) => return Err(error),
        }
    }

    // (3) The whole log into an empty region.
    let mut region = RegionWriter::create(&config.region, config.region_bytes, generation)
        .map_err(BootError::Region)?;
    region.set_applied_location(
        LogLocation {
            segment: 1,
            offset: eventsrv_format::log_record::SEGMENT_HEADER_BYTES as u64,
            records: 0,
        },
        None,
    );
    match replay(config, &mut region, started) {
        Ok((log, mut summary)) => {
            summary.source = SOURCE_FULL_REPLAY.into();
            finish(log, region, summary, &snapshots_dir, skipped)
        }
        Err(ReplayError::Mismatch(why)) => unreachable!("an empty region matches any log: {why}"),
        Err(ReplayError::Fatal(error)) => Err(error),
    }
}

/// Publish the region (a no-op for the adopted one), claim it, and say how boot went.
fn finish(
    log: Log,
    mut region: RegionWriter,
    mut summary: BootSummary,
    snapshots_dir: &Path,
    skipped: Vec<String>,
) -> Result<(Log, RegionWriter, BootSummary), BootError> {
    region.publish().map_err(BootError::Region)?;
    region.set_daemon_pid(std::process::id());
    summary.skipped = skipped;
    summary.newest_snapshot = newest_snapshot(snapshots_dir);
    tracing::info!(
        source = %summary.source,
        snapshot = ?summary.snapshot,
        records = summary.records,
        records_replayed = summary.records_replayed,
        position = log.last_position(),
        duration_ms = summary.duration_ms,
        "boot from {}: {} of {} records replayed in {} ms",
        summary.source,
        summary.records_replayed,
        summary.records,
        summary.duration_ms
    );
    Ok((log, region, summary))
}

/// (position, records) of the newest snapshot file whose header reads.
fn newest_snapshot(dir: &Path) -> Option<(u64, u64)> {
    let snapshots = snapshot::list_snapshots(dir).ok()?;
    snapshots.iter().rev().find_map(|(_, path)| {
        let file = std::fs::File::open(path).ok()?;
        let header =
            eventsrv_format::snapshot::read_header(&mut std::io::BufReader::new(file)).ok()?;
        Some((header.committed_position, header.location.records))
    })
}

/// The region file at the configured path, if a previous daemon left one that this daemon may
/// continue: layout-compatible, live, same size, its daemon gone, and marked between batches.
/// Ok(None): there is no file. Err: there is one, with the reason it is not adopted.
fn surviving_region(config: &ServeConfig) -> Result<Option<RegionWriter>, String> {
    if !config.region.exists() {
        return Ok(None);
    }
    let mapped = MappedRegion::open(&config.region).map_err(|e| e.to_string())?;
    let header = mapped.view().header();
    drop(mapped);
    if header.state != RegionState::Live {
        return Err(format!("its state is {:?}, not live", header.state));
    }
    let region_bytes = config.region_bytes & !7;
    if header.region_bytes != region_bytes {
        return Err(format!(
            "it has {} bytes and --region-size asks for {region_bytes}",
            header.region_bytes
        ));
    }
    if header.daemon_pid != 0 && header.daemon_pid != std::process::id() && alive(header.daemon_pid)
    {
        return Err(format!(
            "its daemon pid {} is still alive (another daemon on the same --region?)",
            header.daemon_pid
        ));
    }
    if header.applied_location.is_none() {
        return Err(
            "it has no applied log location: its daemon stopped in the middle of a \
                    batch, or an older release wrote it"
                .into(),
        );
    }
    RegionWriter::open_existing(&config.region)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks whether the process exists; nothing is delivered.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Open the log (recovering it) and bring `state` up to its end: the records `state` already
/// holds (up to its applied location) are verified but not applied, every later one is applied;
/// then the positions and the new applied location are published.
pub fn replay<S: StateStore>(
    config: &ServeConfig,
    state: &mut S,
    started: Instant,
) -> Result<(Log, BootSummary), ReplayError> {
    let base = state
        .applied_location()
        .expect("a boot base carries an applied log location");
    let base_position = state.last_position();
    if base.records > 0 {
        match replay_after_base(config, state, started, base, base_position) {
            Ok(done) => return Ok(done),
            Err(BaseOpenError::Unverified(why)) => tracing::warn!(
                "boot: the base's log location does not check out ({why}); verifying the whole \
                 log against it instead"
            ),
            Err(BaseOpenError::Log(error)) => {
                return Err(ReplayError::Fatal(BootError::Log(error)))
            }
        }
    }
    tracing::info!(
        data_dir = %config.data_dir.display(),
        base_records = base.records,
        base_position,
        "opening the log; replaying what the state lacks"
    );
    let mut projected_position = state.stats().projected_position;
    let mut progress = Progress::new(&config.data_dir, base.records);
    let mut seen = 0u64;
    let mut seen_position = 0u64;
    let mut mismatch: Option<String> = None;
    let mut visit = |record: &LogRecord, segment: u64, end: u64| -> Result<(), String> {
        seen += 1;
        if let LogRecord::Event { position, .. } = record {
            seen_position = *position;
        }
        if seen <= base.records {
            if seen == base.records {
                let found = (segment, end, seen_position);
                let expected = (base.segment, base.offset, base_position);
                if found != expected {
                    let why = format!(
                        "record {seen} of the log ends at segment {segment} byte {end} after \
                         event position {seen_position}; the base says segment {} byte {} after \
                         position {base_position}: it belongs to another log",
                        base.segment, base.offset
                    );
                    mismatch = Some(why.clone());
                    return Err(why);
                }
            }
            progress.record(seen, segment, end, false);
            return Ok(());
        }
        if seen == base.records + 1 {
            // From here the state holds records its location does not cover: a daemon that dies
            // before the end of the replay must leave a region no later daemon adopts.
            state.clear_applied_location();
        }
        apply_record(state, record, &mut projected_position).map_err(|e| e.to_string())?;
        progress.record(seen, segment, end, true);
        Ok(())
    };
    let opened = log::open_located(&config.data_dir, config.segment_bytes_max, &mut visit);
    progress.finish();
    let (log, recovery) = match opened {
        Ok(opened) => opened,
        Err(error) => {
            return Err(match mismatch {
                Some(why) => ReplayError::Mismatch(why),
                None => ReplayError::Fatal(BootError::Log(error)),
            })
        }
    };
    if recovery.records < base.records {
        let why = format!(
            "it holds {} log records (up to position {base_position}) but the log has only {} \
             (up to position {}): the log lost data or belongs to another region",
            base.records,
            recovery.records,
            log.last_position()
        );
        tracing::error!("REFUSING a state that is ahead of the log: {why}");
        return Err(ReplayError::Mismatch(why));
    }
    assert_eq!(seen, recovery.records, "every record was visited once");
    Ok(finish_replay(
        state,
        log,
        recovery,
        base.records,
        projected_position,
        started,
    ))
}

/// [`replay`] when the base covers records: verify and replay only the log after the base's
/// location ([`log::open_from_base`]); the covered records are not read. Unverified: the location
/// does not check out and nothing was applied (the caller verifies the whole log instead).
fn replay_after_base<S: StateStore>(
    config: &ServeConfig,
    state: &mut S,
    started: Instant,
    base: LogLocation,
    base_position: u64,
) -> Result<(Log, BootSummary), BaseOpenError> {
    tracing::info!(
        data_dir = %config.data_dir.display(),
        base_segment = base.segment,
        base_offset = base.offset,
        base_records = base.records,
        base_position,
        "opening the log after the base's location; replaying what the state lacks"
    );
    let mut projected_position = state.stats().projected_position;
    let state_last_record = state.applied_last_record();
    let mut progress = Progress::new(&config.data_dir, base.records);
    let mut seen = base.records;
    let cell = RefCell::new(state);
    let base_version = |stream: &str| cell.borrow().stream_version(stream);
    let mut visit = |record: &LogRecord, segment: u64, end: u64| -> Result<(), String> {
        seen += 1;
        let mut state = cell.borrow_mut();
        if seen == base.records + 1 {
            // From here the state holds records its location does not cover: a daemon that dies
            // before the end of the replay must leave a region no later daemon adopts.
            state.clear_applied_location();
        }
        apply_record(&mut **state, record, &mut projected_position).map_err(|e| e.to_string())?;
        progress.record(seen, segment, end, true);
        Ok(())
    };
    let location = LogBase {
        segment: base.segment,
        offset: base.offset,
        records: base.records,
        last_position: base_position,
        last_record: state_last_record,
    };
    let opened = log::open_from_base(
        &config.data_dir,
        config.segment_bytes_max,
        &location,
        &base_version,
        &mut visit,
    );
    progress.finish();
    let (log, recovery) = opened?;
    assert_eq!(seen, recovery.records, "every record was visited once");
    let state = cell.into_inner();
    Ok(finish_replay(
        state,
        log,
        recovery,
        base.records,
        projected_position,
        started,
    ))
}

/// Publish the positions and the new applied location after a replay, and summarise it.
fn finish_replay<S: StateStore>(
    state: &mut S,
    log: Log,
    recovery: RecoverySummary,
    base_records: u64,
    projected_position: u64,
    started: Instant,
) -> (Log, BootSummary) {
    assert_eq!(
        state.last_position(),
        log.last_position(),
        "the region holds every event of the log"
    );
    state.publish_committed(log.last_position());
    if projected_position > 0 {
        state.publish_projected(projected_position);
    }
    let (segment, offset) = log.end();
    state.set_applied_location(
        LogLocation {
            segment,
            offset,
            records: recovery.records,
        },
        log.last_record(),
    );
    let summary = BootSummary {
        source: String::new(),
        snapshot: None,
        skipped: Vec::new(),
        segments: recovery.segments,
        records: recovery.records,
        events: recovery.events,
        commits: recovery.commits,
        records_replayed: recovery.records - base_records,
        log_bytes: recovery.bytes,
        duration_ms: started.elapsed().as_millis() as u64,
        torn_tail_bytes_cut: recovery.torn_tail.as_ref().map(|t: &TornTail| t.bytes_cut),
        projected_position,
        newest_snapshot: None,
    };
    (log, summary)
}

/// Apply one log record to the state: the same code path for boot replay and live writes.
pub fn apply_record<S: StateStore>(
    state: &mut S,
    record: &LogRecord,
    projected_position: &mut u64,
) -> Result<(), RegionError> {
    match record {
        LogRecord::Event { position, event } => state.append_event(*position, event),
        LogRecord::Commit { commit, .. } => {
            for change in &commit.changes {
                state.apply_change(change)?;
            }
            for (name, position) in &commit.checkpoints {
                state.set_checkpoint(name, *position)?;
            }
            if let Some(projected) = commit.projected_position {
                *projected_position = (*projected_position).max(projected);
            }
            Ok(())
        }
    }
}

/// Boot progress over the log's bytes (known up front from the segment sizes; the record count
/// is not, until the log is read): a bar on a terminal, otherwise a log line every
/// `REPLAY_PROGRESS_RECORDS` records or `REPLAY_PROGRESS_INTERVAL`.
struct Progress {
    started: Instant,
    /// Bytes of all segments before segment i (index = segment index).
    bytes_before: BTreeMap<u64, u64>,
    total_bytes: u64,
    base_records: u64,
    applied: u64,
    bar: Option<ProgressBar>,
    last_line: Instant,
    last_line_records: u64,
}

impl Progress {
    fn new(data_dir: &Path, base_records: u64) -> Progress {
        let mut sizes: Vec<(u64, u64)> = std::fs::read_dir(log_dir(data_dir))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| {
                        let index = entry.file_name().to_str().and_then(parse_segment_name)?;
                        Some((index, entry.metadata().ok()?.len()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        sizes.sort_unstable();
        let mut bytes_before = BTreeMap::new();
        let mut total_bytes = 0;
        for (index, bytes) in sizes {
            bytes_before.insert(index, total_bytes);
            total_bytes += bytes;
        }
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(
                Some(total_bytes),
                ProgressDrawTarget::stderr_with_hz(4),
            );
            bar.set_style(
                ProgressStyle::with_template(
                    "booting [{bar:30}] {bytes}/{total_bytes} of log, {msg}, ETA {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar
        });
        Progress {
            started: Instant::now(),
            bytes_before,
            total_bytes,
            base_records,
            applied: 0,
            bar,
            last_line: Instant::now(),
            last_line_records: 0,
        }
    }

    fn record(&mut self, records: u64, segment: u64, end: u64, applied: bool) {
        self.applied += u64::from(applied);
        if records % 256 != 0 {
            return;
        }
        let done_bytes = self.bytes_before.get(&segment).copied().unwrap_or(0) + end;
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = records as f64 / elapsed;
        let message = format!(
            "{records} records read ({} replayed, {} from the base), {rate:.0} records/s",
            self.applied,
            self.base_records.min(records)
        );
        if let Some(bar) = &self.bar {
            bar.set_position(done_bytes);
            bar.set_message(message);
            return;
        }
        if records - self.last_line_records < REPLAY_PROGRESS_RECORDS
            && self.last_line.elapsed() < REPLAY_PROGRESS_INTERVAL
        {
            return;
        }
        let byte_rate = done_bytes as f64 / elapsed;
        let eta_s = (self.total_bytes.saturating_sub(done_bytes)) as f64 / byte_rate.max(1.0);
        tracing::info!(
            records,
            replayed = self.applied,
            log_bytes = done_bytes,
            log_bytes_total = self.total_bytes,
            records_per_s = rate as u64,
            eta_s = eta_s.ceil() as u64,
            "booting: {message}, {done_bytes}/{} log bytes, ETA {:.0} s",
            self.total_bytes,
            eta_s.ceil()
        );
        self.last_line = Instant::now();
        self.last_line_records = records;
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
