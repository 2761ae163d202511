//! Test harness: a real `eventsrv serve` process in a temporary directory, and a small client.
//!
//! Each [`TestDaemon`] owns a tempdir (data dir, socket, stderr logs) and a unique region file
//! under /dev/shm, removed on drop. Start waits (bounded) until the socket answers `Ping`; stop
//! sends SIGTERM and waits (bounded); kill sends SIGKILL. Every wait is a bound, never a timing
//! assertion.
#![allow(dead_code)]

use eventsrv_format::limits::EXPECTED_VERSION_ANY;
use eventsrv_format::protocol::{
    read_message, write_message, CheckpointMove, EntityChange, FrameError, NewEvent, Request,
    Response,
};
use eventsrv_format::vtree;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Bound on waiting for the daemon to answer after start, or to exit after a signal.
pub const START_WAIT: Duration = Duration::from_secs(60);
pub const STOP_WAIT: Duration = Duration::from_secs(60);
pub const POLL_STEP: Duration = Duration::from_millis(20);
/// Bound on one client round trip.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Region size the tests use (sparse; only touched pages cost memory).
pub const TEST_REGION_BYTES: u64 = 64 << 20;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub region: PathBuf,
    /// Extra `serve` arguments used on every start (e.g. `--segment-bytes`).
    pub extra_args: Vec<String>,
    /// `--region-size` (default [`TEST_REGION_BYTES`]; long soaks need more).
    pub region_bytes: u64,
    child: Option<Child>,
    starts: u32,
}

/// The daemon exited before it answered.
#[derive(Debug)]
pub struct StartFailure {
    pub status: ExitStatus,
    pub stderr: String,
}

impl TestDaemon {
    /// Paths only; nothing runs yet.
    pub fn new() -> TestDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let region = PathBuf::from(format!(
            "/dev/shm/eventsrv-test-{}-{id}-{nanos}.region",
            std::process::id()
        ));
        TestDaemon {
            data_dir: dir.path().join("data"),
            socket: dir.path().join("run").join("eventsrv.sock"),
            region,
            dir,
            extra_args: Vec::new(),
            region_bytes: TEST_REGION_BYTES,
            child: None,
            starts: 0,
        }
    }

    /// A daemon that served `count` appends of one event each to `stream`, then stopped cleanly
    /// (a log to damage in recovery and corruption tests).
    pub fn stopped_with_events(stream: &str, count: i64) -> TestDaemon {
        let mut daemon = TestDaemon::start_new();
        let mut client = daemon.client();
        for n in 1..=count {
            client.append_one(stream, (n - 1) as u64, n);
        }
        drop(client);
        daemon.stop_clean();
        daemon
    }

    /// A started daemon.
    pub fn start_new() -> TestDaemon {
        let mut daemon = TestDaemon::new();
        daemon.start();
        daemon
    }

    pub fn start(&mut self) {
        if let Err(failure) = self.try_start() {
            panic!(
                "daemon did not start ({}):\n{}",
                failure.status, failure.stderr
            );
        }
    }

    /// Start and wait until `Ping` is answered, or until the process exits.
    pub fn try_start(&mut self) -> Result<(), StartFailure> {
        assert!(self.child.is_none(), "already running");
        self.starts += 1;
        let stderr = std::fs::File::create(self.stderr_path()).expect("stderr file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_eventsrv"));
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--socket")
            .arg(&self.socket)
            .arg("--region")
            .arg(&self.region)
            .arg("--region-size")
            .arg(self.region_bytes.to_string())
            .args(&self.extra_args)
            .env_remove("EVENTSRV_CONFIG")
            .env("EVENTSRV_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = command.spawn().expect("spawn eventsrv");
        let deadline = Instant::now() + START_WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Err(StartFailure {
                    status,
                    stderr: self.stderr(),
                });
            }
            // Ready once *this* process answers (another daemon may hold the socket).
            if self.ping() && self.serving_pid() == Some(child.id()) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "daemon did not answer within {START_WAIT:?}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(POLL_STEP);
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// SIGTERM, then wait for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.wait();
    }

    pub fn signal(&self, signal: i32) {
        let pid = self.pid() as libc::pid_t;
        // SAFETY: sending a signal to our own child process; no memory is involved.
        let result = unsafe { libc::kill(pid, signal) };
        assert_eq!(result, 0, "kill({pid}, {signal})");
    }

    /// Wait (bounded) for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + STOP_WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "daemon did not exit within {STOP_WAIT:?}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(POLL_STEP);
        }
    }

    pub fn stop_clean(&mut self) {
        let status = self.stop();
        assert!(status.success(), "daemon exit {status}:\n{}", self.stderr());
    }

    pub fn restart(&mut self) {
        self.stop_clean();
        self.start();
    }

    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join(format!("stderr-{}.log", self.starts))
    }

    /// Stderr of the latest start.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("log")
    }

    pub fn snapshots_dir(&self) -> PathBuf {
        self.data_dir.join("snapshots")
    }

    /// The snapshot files, oldest first (none while the directory does not exist).
    pub fn snapshot_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = match std::fs::read_dir(self.snapshots_dir()) {
            Ok(entries) => entries
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|e| e == "snap"))
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        files
    }

    pub fn segment_path(&self, index: u64) -> PathBuf {
        self.log_dir().join(format!("{index:020}.seg"))
    }

    /// Segment `index`'s records: its bytes without the zero-filled tail the daemon keeps after
    /// them (docs/formats.md, "Zero-filled tail").
    pub fn segment_records(&self, index: u64) -> Vec<u8> {
        use eventsrv_format::log_record::{decode_record, SEGMENT_HEADER_BYTES};
        let mut bytes = std::fs::read(self.segment_path(index)).expect("segment");
        let mut at = SEGMENT_HEADER_BYTES;
        while let Ok((_, len)) = decode_record(&bytes[at..]) {
            at += len;
        }
        assert!(
            bytes[at..].iter().all(|b| *b == 0),
            "only zeros follow the records of segment {index}"
        );
        bytes.truncate(at);
        bytes
    }

    /// Every segment's bytes, in order.
    pub fn log_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.log_dir())
            .expect("log dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "seg"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .map(|p| (p.clone(), std::fs::read(&p).expect("segment")))
            .collect()
    }

    pub fn client(&self) -> Client {
        Client::connect(&self.socket).expect("connect to the daemon")
    }

    pub fn ping(&self) -> bool {
        let Ok(mut client) = Client::connect(&self.socket) else {
            return false;
        };
        client
            .stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        matches!(client.request(&Request::Ping), Ok(Response::Pong))
    }

    /// The pid of the daemon answering on the socket, from its status report.
    pub fn serving_pid(&self) -> Option<u32> {
        let mut client = Client::connect(&self.socket).ok()?;
        match client.request(&Request::Status).ok()? {
            Response::Status { json } => {
                let report: serde_json::Value = serde_json::from_str(&json).ok()?;
                report["daemon"]["pid"].as_u64().map(|pid| pid as u32)
            }
            _ => None,
        }
    }

    /// Run an `eventsrv` CLI subcommand; (exit status, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (ExitStatus, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_eventsrv"))
            .args(args)
            .env_remove("EVENTSRV_DATA_DIR")
            .env_remove("EVENTSRV_SOCKET")
            .env_remove("EVENTSRV_REGION")
            .output()
            .expect("run eventsrv");
        (
            output.status,
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// `eventsrv events --stream` as parsed JSON lines.
    pub fn stream_events(&self, stream: &str) -> Vec<serde_json::Value> {
        let data_dir = self.data_dir.to_str().expect("utf-8 path");
        let (status, stdout, stderr) =
            self.cli(&["events", "--stream", stream, "--data-dir", data_dir]);
        assert!(status.success(), "eventsrv events: {stderr}");
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    /// `eventsrv tail` as parsed JSON lines.
    pub fn all_events(&self) -> Vec<serde_json::Value> {
        let data_dir = self.data_dir.to_str().expect("utf-8 path");
        let (status, stdout, stderr) = self.cli(&["tail", "--data-dir", data_dir]);
        assert!(status.success(), "eventsrv tail: {stderr}");
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.region);
        // A building side file left by a killed daemon.
        if let (Some(dir), Some(name)) = (
            self.region.parent(),
            self.region.file_name().and_then(|n| n.to_str()),
        ) {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    if entry
                        .file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(&format!("{name}.building-")))
                    {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
        }
    }
}

/// A blocking client speaking the daemon's protocol through the format crate.
pub struct Client {
    pub stream: UnixStream,
}

impl Client {
    pub fn connect(socket: &Path) -> std::io::Result<Client> {
        let stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
        stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
        Ok(Client { stream })
    }

    pub fn request(&mut self, request: &Request) -> Result<Response, FrameError> {
        write_message(&mut self.stream, request)?;
        read_message(&mut self.stream)
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// The next response, or the error that ended the connection.
    pub fn read_response(&mut self) -> Result<Response, FrameError> {
        read_message(&mut self.stream)
    }

    pub fn append(
        &mut self,
        stream: &str,
        expected_version: u64,
        events: Vec<NewEvent>,
    ) -> Response {
        let request = Request::Append {
            stream: stream.into(),
            expected_version,
            events,
        };
        self.request(&request).expect("append answered")
    }

    /// Append one event with `{"n": n}` as payload; panics unless it was appended.
    pub fn append_one(&mut self, stream: &str, expected_version: u64, n: i64) -> u64 {
        match self.append(
            stream,
            expected_version,
            vec![new_event("Test\\Happened", n)],
        ) {
            Response::Appended { stream_version, .. } => stream_version,
            other => panic!("append to {stream} at {expected_version}: {other:?}"),
        }
    }

    pub fn append_any(&mut self, stream: &str, n: i64) -> u64 {
        self.append_one(stream, EXPECTED_VERSION_ANY, n)
    }

    pub fn commit(
        &mut self,
        checkpoints: Vec<CheckpointMove>,
        projected_position: Option<u64>,
        changes: Vec<EntityChange>,
    ) -> Response {
        let request = Request::Commit {
            checkpoints,
            projected_position,
            changes,
        };
        self.request(&request).expect("commit answered")
    }

    pub fn status(&mut self) -> serde_json::Value {
        match self.request(&Request::Status).expect("status answered") {
            Response::Status { json } => serde_json::from_str(&json).expect("status json"),
            other => panic!("status: {other:?}"),
        }
    }
}

/// `{"n": n}` as a value tree.
pub fn payload(n: i64) -> Vec<u8> {
    let mut encoder = vtree::Encoder::new();
    encoder.begin_map(1);
    encoder.string(b"n");
    encoder.int(n);
    encoder.into_bytes()
}

pub fn empty_map() -> Vec<u8> {
    let mut encoder = vtree::Encoder::new();
    encoder.begin_map(0);
    encoder.into_bytes()
}

pub fn new_event(event_type: &str, n: i64) -> NewEvent {
    let mut event_id = [0u8; 16];
    event_id[..8].copy_from_slice(&(n as u64).to_le_bytes());
    event_id[8..].copy_from_slice(&NEXT_ID.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    NewEvent {
        event_id,
        event_type: event_type.into(),
        metadata: empty_map(),
        payload: payload(n),
    }
}

/// An event id as the CLI and the extension print it (8-4-4-4-12 lowercase hex).
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A test stream id: a uuid whose last group is `base + index` (each test file picks its base).
pub fn numbered_stream(base: u64, index: u64) -> String {
    format!("0190a7f3-0000-7000-8000-{:012x}", base + index)
}

/// `Fixture\CounterIncreased(1)` as the extension would encode it, with the event id
/// `id_prefix` (8 bytes) + `0x8000… | sequence`, so a test knows every id it appended.
pub fn counter_increased(id_prefix: u64, sequence: u64) -> NewEvent {
    let mut payload = vtree::Encoder::new();
    payload.begin_map(1);
    payload.string(b"by");
    payload.int(1);
    let mut metadata = vtree::Encoder::new();
    metadata.begin_map(0);
    let mut event_id = [0u8; 16];
    event_id[..8].copy_from_slice(&id_prefix.to_be_bytes());
    event_id[8..].copy_from_slice(&(0x8000_0000_0000_0000 | sequence).to_be_bytes());
    NewEvent {
        event_id,
        event_type: "Fixture\\CounterIncreased".into(),
        metadata: metadata.into_bytes(),
        payload: payload.into_bytes(),
    }
}
