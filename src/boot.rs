//! Daemon start: open and recover the log, replay it into a fresh state region, publish it.
//!
//! Owns: the order of start-up (region created in state "building", every record replayed,
//! positions published, the file renamed over the region path, daemon pid set) and the boot
//! summary `eventsrv status` shows.
//! Must never: publish a region that does not hold every record of the log, or start on a log
//! that failed verification.

use crate::config::{ServeConfig, REPLAY_PROGRESS_RECORDS};
use crate::log::{self, Log, LogError, TornTail};
use crate::state::StateStore;
use eventsrv_format::log_record::LogRecord;
use eventsrv_format::region::{RegionError, RegionWriter};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// How the running state was built, for `eventsrv status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootSummary {
    /// Where the state came from ("log replay": every boot rebuilds the region from the log).
    pub source: String,
    pub segments: u64,
    pub records: u64,
    pub events: u64,
    pub commits: u64,
    pub log_bytes: u64,
    pub duration_ms: u64,
    /// Bytes cut from a torn tail of the last segment, if any.
    pub torn_tail_bytes_cut: Option<u64>,
    #[serde(skip)]
    pub projected_position: u64,
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

/// Build the state for `config`: a fresh region replayed from the log, published and live.
pub fn boot(config: &ServeConfig) -> Result<(Log, RegionWriter, BootSummary), BootError> {
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
    let mut region = RegionWriter::create(&config.region, config.region_bytes, generation)
        .map_err(BootError::Region)?;
    // On error the unpublished region is dropped, which removes its side file.
    let (log, summary) = replay(config, &mut region)?;
    region.publish().map_err(BootError::Region)?;
    region.set_daemon_pid(std::process::id());
    Ok((log, region, summary))
}

/// Open the log (recovering it) and apply every record to `state`, then publish the positions.
pub fn replay<S: StateStore>(
    config: &ServeConfig,
    state: &mut S,
) -> Result<(Log, BootSummary), BootError> {
    let started = Instant::now();
    tracing::info!(data_dir = %config.data_dir.display(), "opening the log and replaying it into the state region");
    let mut projected_position = 0u64;
    let mut replayed = 0u64;
    let mut visit = |record: &LogRecord| -> Result<(), String> {
        apply_record(state, record, &mut projected_position).map_err(|e| e.to_string())?;
        replayed += 1;
        if replayed % REPLAY_PROGRESS_RECORDS == 0 {
            tracing::info!(
                records = replayed,
                position = record.position(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "replaying the log"
            );
        }
        Ok(())
    };
    let (log, recovery) = log::open(&config.data_dir, config.segment_bytes_max, &mut visit)
        .map_err(BootError::Log)?;
    assert_eq!(
        state.last_position(),
        log.last_position(),
        "the region holds every event of the log"
    );
    state.publish_committed(log.last_position());
    if projected_position > 0 {
        state.publish_projected(projected_position);
    }
    let summary = BootSummary {
        source: "log replay".into(),
        segments: recovery.segments,
        records: recovery.records,
        events: recovery.events,
        commits: recovery.commits,
        log_bytes: recovery.bytes,
        duration_ms: started.elapsed().as_millis() as u64,
        torn_tail_bytes_cut: recovery.torn_tail.as_ref().map(|t: &TornTail| t.bytes_cut),
        projected_position,
    };
    tracing::info!(
        records = summary.records,
        events = summary.events,
        commits = summary.commits,
        segments = summary.segments,
        position = log.last_position(),
        duration_ms = summary.duration_ms,
        "replayed {} records ({} events, {} commits) in {} ms",
        summary.records,
        summary.events,
        summary.commits,
        summary.duration_ms
    );
    Ok((log, summary))
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
