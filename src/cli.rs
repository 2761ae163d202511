//! The command line: `serve`, `status`, `snapshot`, `verify`, `tail`, `events`, `--version`.
//!
//! Owns: argument and environment parsing (clap) and dispatch to the module that does the work.
//! Must never: hold logic of its own beyond turning arguments into calls.

use crate::config::{
    parse_size, parse_socket_mode, ConfigError, ServeConfig, ServeOverrides, DATA_DIR_DEFAULT,
    REGION_DEFAULT, SOCKET_DEFAULT,
};
use crate::logging::{self, LogFormat};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "eventsrv",
    version,
    about = "Event-sourced application state for PHP, served from shared memory"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: own the event log, publish the state region, serve the socket.
    Serve(ServeArgs),
    /// Show the daemon's state (or the region file's, when the daemon is down).
    Status(StatusArgs),
    /// Ask the running daemon to write a snapshot of the state region now.
    Snapshot(SnapshotArgs),
    /// Check every log segment and snapshot file (offline; read-only) and print what was found.
    Verify(VerifyArgs),
    /// Print events from the log as JSON lines (reads the log files; no daemon needed).
    Tail(TailArgs),
    /// Print one stream's events from the log as JSON lines.
    Events(EventsArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of the event log [default: /var/lib/eventsrv]
    #[arg(long, env = "EVENTSRV_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Unix socket clients connect to [default: /run/eventsrv/eventsrv.sock]
    #[arg(long, env = "EVENTSRV_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// State region file PHP maps [default: /dev/shm/eventsrv.region]
    #[arg(long, env = "EVENTSRV_REGION", value_name = "PATH")]
    pub region: Option<PathBuf>,
    /// Size of the (sparse) state region: bytes, or with KiB/MiB/GiB [default: 1GiB]
    #[arg(long, env = "EVENTSRV_REGION_SIZE", value_name = "BYTES", value_parser = parse_size)]
    pub region_size: Option<u64>,
    /// Permission bits of the socket file, octal [default: 0660]
    #[arg(long, env = "EVENTSRV_SOCKET_MODE", value_name = "MODE", value_parser = parse_socket_mode)]
    pub socket_mode: Option<u32>,
    /// Permission bits of the state region, octal; PHP needs read only [default: 0640]
    #[arg(long, env = "EVENTSRV_REGION_MODE", value_name = "MODE", value_parser = parse_socket_mode)]
    pub region_mode: Option<u32>,
    /// Owner of the socket and region: user name or uid (needs root) [default: the daemon's user]
    #[arg(long, env = "EVENTSRV_OWNER", value_name = "USER")]
    pub owner: Option<String>,
    /// Group of the socket and region, e.g. the PHP-FPM group: name or gid [default: the
    /// daemon's group]
    #[arg(long, env = "EVENTSRV_GROUP", value_name = "GROUP")]
    pub group: Option<String>,
    /// TOML file with data_dir, socket, region, region_size, socket_mode, region_mode, owner,
    /// group, snapshot_every_events, snapshot_every_seconds, snapshots_keep
    #[arg(long, env = "EVENTSRV_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log line format on stderr (filter with EVENTSRV_LOG, e.g. "debug")
    #[arg(long, env = "EVENTSRV_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Write a snapshot after this many new events; 0 = never by count [default: 100000]
    #[arg(long, env = "EVENTSRV_SNAPSHOT_EVERY_EVENTS", value_name = "N")]
    pub snapshot_every_events: Option<u64>,
    /// Write a snapshot this long after the previous one if anything changed; 0 = never by time
    /// [default: 300]
    #[arg(long, env = "EVENTSRV_SNAPSHOT_EVERY_SECONDS", value_name = "T")]
    pub snapshot_every_seconds: Option<u64>,
    /// Snapshot files to keep [default: 3]
    #[arg(long, env = "EVENTSRV_SNAPSHOTS_KEEP", value_name = "K")]
    pub snapshots_keep: Option<u64>,
    /// Seal log segments past this size (tests use tiny segments)
    #[arg(long, hide = true, value_parser = parse_size)]
    pub segment_bytes: Option<u64>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long, env = "EVENTSRV_SOCKET", default_value = SOCKET_DEFAULT, value_name = "PATH")]
    pub socket: PathBuf,
    #[arg(long, env = "EVENTSRV_REGION", default_value = REGION_DEFAULT, value_name = "PATH")]
    pub region: PathBuf,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[arg(long, env = "EVENTSRV_SOCKET", default_value = SOCKET_DEFAULT, value_name = "PATH")]
    pub socket: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[arg(long, env = "EVENTSRV_DATA_DIR", default_value = DATA_DIR_DEFAULT, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    #[arg(long, env = "EVENTSRV_DATA_DIR", default_value = DATA_DIR_DEFAULT, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// First position to print
    #[arg(long, default_value_t = 1, value_name = "POSITION")]
    pub from: u64,
    /// Keep printing new events as they are written
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Stream (aggregate) id
    #[arg(long, value_name = "ID")]
    pub stream: String,
    #[arg(long, env = "EVENTSRV_DATA_DIR", default_value = DATA_DIR_DEFAULT, value_name = "DIR")]
    pub data_dir: PathBuf,
}

impl ServeArgs {
    pub fn resolve(&self) -> Result<ServeConfig, ConfigError> {
        ServeConfig::resolve(ServeOverrides {
            data_dir: self.data_dir.clone(),
            socket: self.socket.clone(),
            region: self.region.clone(),
            region_bytes: self.region_size,
            socket_mode: self.socket_mode,
            region_mode: self.region_mode,
            owner: self.owner.clone(),
            group: self.group.clone(),
            config: self.config.clone(),
            segment_bytes_max: self.segment_bytes,
            snapshot_every_events: self.snapshot_every_events,
            snapshot_every_seconds: self.snapshot_every_seconds,
            snapshots_keep: self.snapshots_keep,
        })
    }
}

/// Parse the command line and run it; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            logging::init(args.log_format);
            match args.resolve() {
                Ok(config) => crate::serve::run(config),
                Err(e) => {
                    tracing::error!("eventsrv cannot start: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Status(args) => {
            logging::init(LogFormat::Text);
            crate::status::run_status_command(&args.socket, &args.region, args.json)
        }
        Command::Snapshot(args) => {
            logging::init(LogFormat::Text);
            crate::snapshot::run_snapshot_command(&args.socket)
        }
        Command::Verify(args) => {
            logging::init(LogFormat::Text);
            crate::verify::run_verify_command(&args.data_dir, args.json)
        }
        Command::Tail(args) => {
            logging::init(LogFormat::Text);
            crate::inspect::run_tail(&args.data_dir, args.from, args.follow)
        }
        Command::Events(args) => {
            logging::init(LogFormat::Text);
            crate::inspect::run_events(&args.data_dir, &args.stream)
        }
    }
}
