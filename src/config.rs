//! Settings of `eventsrv serve` and the daemon's own named bounds.
//!
//! Owns: resolving each setting with the precedence flag > environment > config file > default
//! (clap folds flag and environment together; this module adds the file and the defaults), and
//! every bound that only the daemon enforces (the shared ones live in `eventsrv_format::limits`).
//! Must never: touch the file system beyond reading the config file (and the user/group
//! database, to resolve `owner`/`group` names).

use crate::access::{self, Access};
use eventsrv_format::limits::{REGION_BYTES_DEFAULT, REGION_BYTES_MIN, SEGMENT_BYTES_MAX};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DATA_DIR_DEFAULT: &str = "/var/lib/eventsrv";
pub const SOCKET_DEFAULT: &str = "/run/eventsrv/eventsrv.sock";
pub const REGION_DEFAULT: &str = "/dev/shm/eventsrv.region";
pub const SOCKET_MODE_DEFAULT: u32 = 0o660;
/// PHP only reads the region: owner read-write (the daemon), group read-only.
pub const REGION_MODE_DEFAULT: u32 = 0o640;
/// A snapshot is written after this many new events (0: never by count).
pub const SNAPSHOT_EVERY_EVENTS_DEFAULT: u64 = 100_000;
/// A snapshot is written this long after the previous one if anything changed (0: never by time).
pub const SNAPSHOT_EVERY_SECONDS_DEFAULT: u64 = 300;
/// A snapshot by event count waits until the writer ran at least this many times as long as the
/// last snapshot's region copy paused it (so the pauses stay under 1% of the time).
pub const SNAPSHOT_RUN_PER_PAUSE_MIN: u32 = 100;
/// Snapshot files kept; older ones are removed once a new one is durable.
pub const SNAPSHOTS_KEEP_DEFAULT: u64 = 3;
/// Most snapshot files kept (each can be as large as the region's used bytes).
pub const SNAPSHOTS_KEEP_MAX: u64 = 1_000;

/// Once the first byte of a frame arrived, the rest must arrive within this bound.
pub const FRAME_REST_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on writing one response to a client that does not read.
pub const RESPONSE_WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on probing an existing socket file for a live daemon before calling it stale.
pub const SOCKET_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Bound on waiting, during shutdown, for connections to get the answers to their requests in
/// flight.
pub const SHUTDOWN_CONNECTIONS_WAIT: Duration = Duration::from_secs(10);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// Boot logs a progress line every this many replayed records...
pub const REPLAY_PROGRESS_RECORDS: u64 = 100_000;
/// ...or after this long, whichever comes first (when stderr is not a terminal).
pub const REPLAY_PROGRESS_INTERVAL: Duration = Duration::from_secs(1);
/// `eventsrv tail --follow` polls the log this often.
pub const FOLLOW_POLL_INTERVAL: Duration = Duration::from_millis(200);
/// `eventsrv status` gives up on the daemon after this long and reads the region instead.
pub const STATUS_SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
/// Smallest segment size the hidden `--segment-bytes` flag accepts (tests force tiny segments).
pub const SEGMENT_BYTES_MIN: u64 = 4096;
/// Bytes the event loop reads from one socket at once (one buffer shared by every connection):
/// a whole small frame in one `recv`.
pub const CONNECTION_READ_BUFFER_BYTES: usize = 16 * 1024;
/// Readiness events the event loop takes from one `epoll_wait`.
pub const EVENTS_PER_WAIT_MAX: usize = 256;
/// Connections accepted per wake before the loop serves the ready ones (the rest stay in the
/// backlog until the next wake).
pub const ACCEPTS_PER_WAKE_MAX: usize = 64;
/// Frames one connection gets answered per wake before the others get their turn (a client
/// flooding pings cannot starve the rest).
pub const FRAMES_PER_WAKE_MAX: usize = 16;
/// Largest config file read.
pub const CONFIG_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Fully resolved settings of one daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub region: PathBuf,
    pub region_bytes: u64,
    pub socket_mode: u32,
    pub region_mode: u32,
    /// Owner given to the socket and region (`None`: the daemon's user).
    pub owner: Option<u32>,
    /// Group given to the socket and region (`None`: the daemon's group).
    pub group: Option<u32>,
    pub segment_bytes_max: u64,
    pub snapshot_every_events: u64,
    pub snapshot_every_seconds: u64,
    pub snapshots_keep: u64,
}

/// Values given as flags or environment variables (clap merges the two).
#[derive(Debug, Clone, Default)]
pub struct ServeOverrides {
    pub data_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub region: Option<PathBuf>,
    pub region_bytes: Option<u64>,
    pub socket_mode: Option<u32>,
    pub region_mode: Option<u32>,
    /// User name or uid.
    pub owner: Option<String>,
    /// Group name or gid.
    pub group: Option<String>,
    pub config: Option<PathBuf>,
    pub segment_bytes_max: Option<u64>,
    pub snapshot_every_events: Option<u64>,
    pub snapshot_every_seconds: Option<u64>,
    pub snapshots_keep: Option<u64>,
}

/// The TOML config file. Unknown keys are refused so a typo is loud.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    data_dir: Option<PathBuf>,
    socket: Option<PathBuf>,
    region: Option<PathBuf>,
    region_size: Option<SizeValue>,
    socket_mode: Option<ModeValue>,
    region_mode: Option<ModeValue>,
    owner: Option<IdValue>,
    group: Option<IdValue>,
    snapshot_every_events: Option<u64>,
    snapshot_every_seconds: Option<u64>,
    snapshots_keep: Option<u64>,
}

/// `region_size = 1073741824` or `region_size = "1GiB"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// `socket_mode = "0660"` (octal text) or `socket_mode = 0o660` (a TOML octal integer).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ModeValue {
    Mode(u32),
    Text(String),
}

/// `group = "www-data"` or `group = 33`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IdValue {
    Id(u32),
    Name(String),
}

impl IdValue {
    fn into_text(self) -> String {
        match self {
            IdValue::Id(id) => id.to_string(),
            IdValue::Name(name) => name,
        }
    }
}

fn file_mode(value: Option<ModeValue>, key: &str) -> Result<Option<u32>, ConfigError> {
    match value {
        Some(ModeValue::Mode(mode)) => Ok(Some(mode)),
        Some(ModeValue::Text(text)) => parse_socket_mode(&text)
            .map(Some)
            .map_err(|why| ConfigError(format!("config {key}: {why}"))),
        None => Ok(None),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl ServeConfig {
    /// Owner, group and modes of the socket and the region.
    pub fn access(&self) -> Access {
        Access {
            owner: self.owner,
            group: self.group,
            socket_mode: self.socket_mode,
            region_mode: self.region_mode,
        }
    }

    pub fn resolve(overrides: ServeOverrides) -> Result<ServeConfig, ConfigError> {
        let file = match &overrides.config {
            Some(path) => read_config_file(path)?,
            None => ConfigFile::default(),
        };
        let file_region_bytes = match file.region_size {
            Some(SizeValue::Bytes(bytes)) => Some(bytes),
            Some(SizeValue::Text(text)) => Some(
                parse_size(&text)
                    .map_err(|why| ConfigError(format!("config region_size: {why}")))?,
            ),
            None => None,
        };
        let file_socket_mode = file_mode(file.socket_mode, "socket_mode")?;
        let file_region_mode = file_mode(file.region_mode, "region_mode")?;
        let owner = match overrides.owner.or(file.owner.map(IdValue::into_text)) {
            Some(text) => Some(
                access::resolve_user(&text).map_err(|why| ConfigError(format!("owner: {why}")))?,
            ),
            None => None,
        };
        let group = match overrides.group.or(file.group.map(IdValue::into_text)) {
            Some(text) => Some(
                access::resolve_group(&text).map_err(|why| ConfigError(format!("group: {why}")))?,
            ),
            None => None,
        };
        let config = ServeConfig {
            data_dir: overrides
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| DATA_DIR_DEFAULT.into()),
            socket: overrides
                .socket
                .or(file.socket)
                .unwrap_or_else(|| SOCKET_DEFAULT.into()),
            region: overrides
                .region
                .or(file.region)
                .unwrap_or_else(|| REGION_DEFAULT.into()),
            region_bytes: overrides
                .region_bytes
                .or(file_region_bytes)
                .unwrap_or(REGION_BYTES_DEFAULT),
            socket_mode: overrides
                .socket_mode
                .or(file_socket_mode)
                .unwrap_or(SOCKET_MODE_DEFAULT),
            region_mode: overrides
                .region_mode
                .or(file_region_mode)
                .unwrap_or(REGION_MODE_DEFAULT),
            owner,
            group,
            segment_bytes_max: overrides.segment_bytes_max.unwrap_or(SEGMENT_BYTES_MAX),
            snapshot_every_events: overrides
                .snapshot_every_events
                .or(file.snapshot_every_events)
                .unwrap_or(SNAPSHOT_EVERY_EVENTS_DEFAULT),
            snapshot_every_seconds: overrides
                .snapshot_every_seconds
                .or(file.snapshot_every_seconds)
                .unwrap_or(SNAPSHOT_EVERY_SECONDS_DEFAULT),
            snapshots_keep: overrides
                .snapshots_keep
                .or(file.snapshots_keep)
                .unwrap_or(SNAPSHOTS_KEEP_DEFAULT),
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.region_bytes < REGION_BYTES_MIN {
            return Err(ConfigError(format!(
                "region size {} bytes is below the minimum of {REGION_BYTES_MIN}",
                self.region_bytes
            )));
        }
        for (what, mode) in [("socket", self.socket_mode), ("region", self.region_mode)] {
            if mode > 0o777 {
                return Err(ConfigError(format!(
                    "{what} mode {mode:o} is not a permission mode"
                )));
            }
        }
        if self.region_mode & 0o600 != 0o600 {
            return Err(ConfigError(format!(
                "region mode {:04o} must let its owner (the daemon) read and write",
                self.region_mode
            )));
        }
        if self.segment_bytes_max < SEGMENT_BYTES_MIN {
            return Err(ConfigError(format!(
                "segment size must be at least {SEGMENT_BYTES_MIN} bytes"
            )));
        }
        if !(1..=SNAPSHOTS_KEEP_MAX).contains(&self.snapshots_keep) {
            return Err(ConfigError(format!(
                "snapshots to keep must be 1..={SNAPSHOTS_KEEP_MAX}, not {}",
                self.snapshots_keep
            )));
        }
        for (what, path) in [
            ("data dir", &self.data_dir),
            ("socket", &self.socket),
            ("region", &self.region),
        ] {
            if path.as_os_str().is_empty() {
                return Err(ConfigError(format!("{what} path is empty")));
            }
        }
        Ok(())
    }
}

fn read_config_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let fail = |why: String| ConfigError(format!("config file {}: {why}", path.display()));
    let metadata = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if metadata.len() > CONFIG_FILE_BYTES_MAX {
        return Err(fail(format!("larger than {CONFIG_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    toml::from_str(&text).map_err(|e| fail(e.to_string()))
}

/// Octal permission bits, e.g. `0660` or `660`.
pub fn parse_socket_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim().trim_start_matches("0o");
    let mode = u32::from_str_radix(digits, 8)
        .map_err(|_| format!("{text:?} is not an octal mode like 0660"))?;
    if mode > 0o777 {
        return Err(format!("{text:?} has bits outside 0777"));
    }
    Ok(mode)
}

/// Bytes, optionally with a binary suffix: `1073741824`, `64MiB`, `1G`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size in bytes"))?;
    let shift = match suffix.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        "T" | "TiB" => 40,
        other => return Err(format!("unknown size suffix {other:?} (use KiB, MiB, GiB)")),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_file_beats_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("eventsrv.toml");
        std::fs::write(
            &path,
            "socket = \"/tmp/from-file.sock\"\nregion_size = \"64MiB\"\nsocket_mode = \"0600\"\n",
        )
        .expect("write config");
        let overrides = ServeOverrides {
            socket: Some("/tmp/from-flag.sock".into()),
            config: Some(path),
            ..ServeOverrides::default()
        };
        let config = ServeConfig::resolve(overrides).expect("resolves");
        assert_eq!(config.socket, PathBuf::from("/tmp/from-flag.sock"));
        assert_eq!(config.region_bytes, 64 << 20);
        assert_eq!(config.socket_mode, 0o600);
        assert_eq!(config.data_dir, PathBuf::from(DATA_DIR_DEFAULT));
        assert_eq!(config.region, PathBuf::from(REGION_DEFAULT));
        assert_eq!(config.snapshot_every_events, SNAPSHOT_EVERY_EVENTS_DEFAULT);
        assert_eq!(config.snapshots_keep, SNAPSHOTS_KEEP_DEFAULT);
    }

    #[test]
    fn snapshot_settings_come_from_flag_or_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("eventsrv.toml");
        std::fs::write(
            &path,
            "snapshot_every_events = 500\nsnapshot_every_seconds = 0\nsnapshots_keep = 2\n",
        )
        .expect("write config");
        let config = ServeConfig::resolve(ServeOverrides {
            config: Some(path.clone()),
            snapshots_keep: Some(5),
            ..ServeOverrides::default()
        })
        .expect("resolves");
        assert_eq!(config.snapshot_every_events, 500);
        assert_eq!(config.snapshot_every_seconds, 0);
        assert_eq!(config.snapshots_keep, 5);
        let none_kept = ServeOverrides {
            snapshots_keep: Some(0),
            ..ServeOverrides::default()
        };
        assert!(ServeConfig::resolve(none_kept).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("eventsrv.toml");
        std::fs::write(&path, "sockett = \"/x\"\n").expect("write config");
        let error = ServeConfig::resolve(ServeOverrides {
            config: Some(path),
            ..Default::default()
        });
        assert!(error.is_err());
        assert!(parse_socket_mode("0999").is_err());
        assert_eq!(parse_socket_mode("0660"), Ok(0o660));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("12 parsecs").is_err());
        let small = ServeOverrides {
            region_bytes: Some(1),
            ..Default::default()
        };
        assert!(ServeConfig::resolve(small).is_err());
    }
}
