//! The status report: built by the writer for `Status` requests, or from the region file
//! header when the daemon is down; printed by `eventsrv status` as text or JSON.
//!
//! Owns: the report's JSON shape (also what the PHP `Native::status()` returns) and its text
//! rendering.
//! Must never: change state; reading the region here goes through the format crate's reader.

use crate::boot::BootSummary;
use crate::client::Client;
use crate::config::STATUS_SOCKET_TIMEOUT;
use crate::log::LogStats;
use crate::snapshot::SnapshotStatus;
use crate::state::StateStore;
use eventsrv_format::protocol::{Request, Response};
use eventsrv_format::region::{MappedRegion, RegionError, RegionState};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Facts about the running daemon that the writer includes in its report.
#[derive(Debug, Clone)]
pub struct DaemonFacts {
    pub pid: u32,
    pub version: String,
    pub started: Instant,
    pub started_at_unix_us: i64,
    pub socket: PathBuf,
    pub data_dir: PathBuf,
}

impl DaemonFacts {
    pub fn now(socket: PathBuf, data_dir: PathBuf) -> DaemonFacts {
        DaemonFacts {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").into(),
            started: Instant::now(),
            started_at_unix_us: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(0),
            socket,
            data_dir,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    pub daemon_running: bool,
    pub daemon: Option<DaemonSection>,
    pub committed_position: u64,
    pub projected_position: u64,
    pub streams: u64,
    pub entities: u64,
    pub classes: Vec<ClassCount>,
    pub checkpoints: Vec<CheckpointPosition>,
    pub region: RegionSection,
    pub clients_connected: u32,
    pub workers_attached: u32,
    pub log: Option<LogSection>,
    pub boot: Option<BootSummary>,
    /// Snapshots written by this daemon (docs/snapshots.md).
    #[serde(default)]
    pub snapshots: Option<SnapshotStatus>,
    /// Projector statuses stored by the worker (docs/php.md, "Projector statuses"): only
    /// projectors that ever had one (no status entity means active).
    #[serde(default)]
    pub projectors: Vec<ProjectorStatusLine>,
}

/// The entity class the PHP worker stores projector statuses in (`EventSrv\ProjectorStatus`).
pub const PROJECTOR_STATUS_CLASS: &str = "EventSrv\\ProjectorStatus";

/// One `EventSrv\ProjectorStatus` entity, with the checkpoint of the same name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectorStatusLine {
    pub name: String,
    /// active, paused, failed or rebuilding
    pub status: String,
    /// failed: the failing event; rebuilding: the last event the rebuild committed
    pub position: u64,
    /// rebuilding: the head it works towards
    pub target: u64,
    pub checkpoint: u64,
    pub exception: String,
    pub error: String,
    pub handler: String,
    pub event: String,
    pub since: String,
}

/// Projector statuses from the (uuid, vtree data) of the status entities; an entity whose data
/// cannot be read is reported as status "unreadable" rather than hidden.
fn projector_statuses(
    entities: Vec<(String, Vec<u8>)>,
    checkpoints: &[(String, u64)],
) -> Vec<ProjectorStatusLine> {
    entities
        .into_iter()
        .map(|(name, data)| {
            let json = eventsrv_format::vtree::to_json(&data).unwrap_or_default();
            let text = |field: &str| {
                json.get(field)
                    .and_then(|value| value.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let number = |field: &str| {
                json.get(field)
                    .and_then(|value| value.as_u64())
                    .unwrap_or_default()
            };
            let status = match json.get("status").and_then(|value| value.as_str()) {
                Some(status) => status.to_owned(),
                None => "unreadable".to_owned(),
            };
            let checkpoint = checkpoints
                .iter()
                .find(|(checkpoint, _)| *checkpoint == name)
                .map_or(0, |(_, position)| *position);
            ProjectorStatusLine {
                status,
                position: number("position"),
                target: number("target"),
                checkpoint,
                exception: text("exception"),
                error: text("error"),
                handler: text("handler"),
                event: text("event"),
                since: text("since"),
                name,
            }
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonSection {
    pub pid: u32,
    pub version: String,
    pub uptime_s: u64,
    pub started_at_unix_us: i64,
    pub socket: PathBuf,
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassCount {
    pub class: String,
    pub entities: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointPosition {
    pub name: String,
    pub position: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionSection {
    pub path: PathBuf,
    pub bytes: u64,
    pub used_bytes: u64,
    pub garbage_bytes: u64,
    /// Header fields, when read from the file (daemon down).
    pub generation: Option<u64>,
    pub state: Option<String>,
    pub header_daemon_pid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogSection {
    pub segments: u64,
    pub bytes: u64,
    pub last_position: u64,
}

/// The report of a running daemon (built on the writer thread).
pub fn daemon_report<S: StateStore>(
    state: &S,
    log: &LogStats,
    boot: &BootSummary,
    facts: &DaemonFacts,
    projected_position: u64,
    (clients, workers): (u32, u32),
) -> StatusReport {
    let stats = state.stats();
    let classes = state.classes().unwrap_or_else(|e| {
        tracing::error!("status: cannot list classes: {e}");
        Vec::new()
    });
    let checkpoints = state.checkpoints().unwrap_or_else(|e| {
        tracing::error!("status: cannot list checkpoints: {e}");
        Vec::new()
    });
    let status_entities = state
        .entities_of(PROJECTOR_STATUS_CLASS)
        .unwrap_or_else(|e| {
            tracing::error!("status: cannot read projector statuses: {e}");
            Vec::new()
        });
    let projectors = projector_statuses(status_entities, &checkpoints);
    StatusReport {
        daemon_running: true,
        daemon: Some(DaemonSection {
            pid: facts.pid,
            version: facts.version.clone(),
            uptime_s: facts.started.elapsed().as_secs(),
            started_at_unix_us: facts.started_at_unix_us,
            socket: facts.socket.clone(),
            data_dir: facts.data_dir.clone(),
        }),
        committed_position: log.last_position,
        projected_position,
        streams: stats.stream_count,
        entities: stats.entity_count,
        classes: classes
            .into_iter()
            .map(|(class, entities)| ClassCount { class, entities })
            .collect(),
        checkpoints: checkpoints
            .into_iter()
            .map(|(name, position)| CheckpointPosition { name, position })
            .collect(),
        region: RegionSection {
            path: state.path().into(),
            bytes: stats.region_bytes,
            used_bytes: stats.arena_used_bytes,
            garbage_bytes: stats.garbage_bytes,
            generation: None,
            state: None,
            header_daemon_pid: None,
        },
        clients_connected: clients,
        workers_attached: workers,
        log: Some(LogSection {
            segments: log.segments,
            bytes: log.bytes,
            last_position: log.last_position,
        }),
        boot: Some(boot.clone()),
        snapshots: None,
        projectors,
    }
}

/// What the region file says when no daemon answers.
pub fn region_report(path: &Path) -> Result<StatusReport, RegionError> {
    let mapped = MappedRegion::open(path)?;
    let view = mapped.view();
    let header = view.header();
    let classes = view.classes()?;
    let checkpoints = view.checkpoints()?;
    let mut status_entities = Vec::new();
    if let Some(index) = view.class_index(PROJECTOR_STATUS_CLASS.as_bytes())? {
        for entity in view.entities(index)? {
            let entity = entity?;
            status_entities.push((
                String::from_utf8_lossy(entity.uuid).into_owned(),
                entity.data.to_vec(),
            ));
        }
    }
    let projectors = projector_statuses(status_entities, &checkpoints);
    let state = match header.state {
        RegionState::Building => "building",
        RegionState::Live => "live",
        RegionState::Superseded => "superseded",
    };
    Ok(StatusReport {
        daemon_running: false,
        daemon: None,
        committed_position: header.committed_position,
        projected_position: header.projected_position,
        streams: header.stream_count,
        entities: header.entity_count,
        classes: classes
            .into_iter()
            .map(|(class, _, entities)| ClassCount { class, entities })
            .collect(),
        checkpoints: checkpoints
            .into_iter()
            .map(|(name, position)| CheckpointPosition { name, position })
            .collect(),
        region: RegionSection {
            path: path.into(),
            bytes: header.region_bytes,
            used_bytes: header.arena_tail,
            garbage_bytes: header.garbage_bytes,
            generation: Some(header.generation),
            state: Some(state.into()),
            header_daemon_pid: Some(header.daemon_pid),
        },
        clients_connected: header.clients_connected,
        workers_attached: header.workers_attached,
        log: None,
        boot: None,
        snapshots: None,
        projectors,
    })
}

/// Ask the daemon for its report.
pub fn ask_daemon(socket: &Path) -> Result<StatusReport, String> {
    let mut client = Client::connect(socket, STATUS_SOCKET_TIMEOUT).map_err(|e| e.to_string())?;
    match client
        .request(&Request::Status)
        .map_err(|e| e.to_string())?
    {
        Response::Status { json } => {
            serde_json::from_str(&json).map_err(|e| format!("unreadable status: {e}"))
        }
        Response::Error { code, message } => Err(format!("daemon error {code:?}: {message}")),
        other => Err(format!("unexpected answer {other:?}")),
    }
}

/// `eventsrv status`: exit 0 if the daemon runs, 3 if it is down (the region was read), 1 if
/// neither the daemon nor the region could be read.
pub fn run_status_command(socket: &Path, region: &Path, json: bool) -> ExitCode {
    let (report, down_reason) = match ask_daemon(socket) {
        Ok(report) => (report, None),
        Err(why) => match region_report(region) {
            Ok(report) => (report, Some(why)),
            Err(region_error) => {
                eprintln!(
                    "eventsrv daemon is down (socket {}: {why}) and the region {} cannot be read: {region_error}",
                    socket.display(),
                    region.display()
                );
                return ExitCode::from(1);
            }
        },
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a status report always serializes")
        );
    } else {
        if let Some(why) = &down_reason {
            println!(
                "eventsrv daemon is down (socket {}: {why}); from the region file:",
                socket.display()
            );
        }
        print!("{}", render_text(&report));
    }
    if down_reason.is_some() {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn render_text(report: &StatusReport) -> String {
    let mut out = String::new();
    let w = &mut out;
    match &report.daemon {
        Some(d) => {
            let _ = writeln!(
                w,
                "daemon:       running, pid {}, version {}, up {} s",
                d.pid, d.version, d.uptime_s
            );
            let _ = writeln!(w, "socket:       {}", d.socket.display());
            let _ = writeln!(w, "data dir:     {}", d.data_dir.display());
        }
        None => {
            let _ = writeln!(w, "daemon:       not running");
        }
    }
    let _ = writeln!(
        w,
        "positions:    committed {}, projected {}",
        report.committed_position, report.projected_position
    );
    let _ = writeln!(w, "streams:      {}", report.streams);
    let _ = writeln!(w, "entities:     {}", report.entities);
    for class in &report.classes {
        let _ = writeln!(w, "  {:<40} {}", class.class, class.entities);
    }
    let _ = writeln!(w, "checkpoints:  {}", report.checkpoints.len());
    for checkpoint in &report.checkpoints {
        let _ = writeln!(w, "  {:<40} {}", checkpoint.name, checkpoint.position);
    }
    if !report.projectors.is_empty() {
        let _ = writeln!(w, "projectors:   {} with a status", report.projectors.len());
    }
    for projector in &report.projectors {
        let detail = match projector.status.as_str() {
            "failed" => format!(
                "on event #{} in {}: {}: {}",
                projector.position, projector.handler, projector.exception, projector.error
            ),
            "rebuilding" => format!("at #{} of #{}", projector.position, projector.target),
            _ => format!("checkpoint {}", projector.checkpoint),
        };
        let _ = writeln!(w, "  {:<40} {} {detail}", projector.name, projector.status);
    }
    let region = &report.region;
    let _ = writeln!(
        w,
        "region:       {}, {} bytes, {} used, {} garbage",
        region.path.display(),
        region.bytes,
        region.used_bytes,
        region.garbage_bytes
    );
    if let (Some(state), Some(generation)) = (&region.state, region.generation) {
        let pid = region.header_daemon_pid.unwrap_or(0);
        let _ = writeln!(
            w,
            "region file:  state {state}, generation {generation}, daemon pid {pid}"
        );
    }
    let _ = writeln!(
        w,
        "connections:  {} clients, {} workers",
        report.clients_connected, report.workers_attached
    );
    if let Some(log) = &report.log {
        let _ = writeln!(
            w,
            "log:          {} segments, {} bytes",
            log.segments, log.bytes
        );
    }
    if let Some(boot) = &report.boot {
        let source = match &boot.snapshot {
            Some(path) => format!("{} {} + log tail", boot.source, path.display()),
            None => boot.source.clone(),
        };
        let _ = writeln!(
            w,
            "boot:         from {source} in {} ms: {} of {} records replayed ({} events, {} \
             commits in the log)",
            boot.duration_ms, boot.records_replayed, boot.records, boot.events, boot.commits
        );
        for why in &boot.skipped {
            let _ = writeln!(w, "  skipped:    {why}");
        }
    }
    if let Some(snapshots) = &report.snapshots {
        match &snapshots.last {
            Some(last) => {
                let _ = writeln!(
                    w,
                    "snapshots:    last {} (position {}, {} bytes), {} written, {} failed",
                    last.path.display(),
                    last.position,
                    last.bytes,
                    snapshots.written,
                    snapshots.failed
                );
            }
            None => {
                let _ = writeln!(
                    w,
                    "snapshots:    none written since start, {} failed",
                    snapshots.failed
                );
            }
        }
        if let Some(error) = &snapshots.last_error {
            let _ = writeln!(w, "  last error: {error}");
        }
    }
    out
}
