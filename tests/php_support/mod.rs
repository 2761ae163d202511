//! Running real PHP processes against a test daemon: the extension built beside the daemon
//! binary under test, the scripts in `tests/php/`, and the projector worker
//! (`php/bin/eventsrv-worker`). Every child is killed when its handle drops.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The extension of the same build profile as the daemon under test
/// (`target/<profile>/libeventsrv.so`), or `$EVENTSRV_EXTENSION`.
pub fn extension_path() -> PathBuf {
    if let Ok(path) = std::env::var("EVENTSRV_EXTENSION") {
        return PathBuf::from(path);
    }
    let daemon = PathBuf::from(env!("CARGO_BIN_EXE_eventsrv"));
    let beside = daemon
        .parent()
        .expect("binary has a directory")
        .join("libeventsrv.so");
    assert!(
        beside.exists(),
        "{} is missing: build the extension with the same profile first \
         (`cargo build --workspace`, or `--release`), or set EVENTSRV_EXTENSION",
        beside.display()
    );
    beside
}

/// How PHP processes reach one daemon.
#[derive(Clone, Debug)]
pub struct Php {
    pub socket: PathBuf,
    pub region: PathBuf,
    pub persist_wait_ms: u64,
    pub env: Vec<(String, String)>,
}

impl Php {
    pub fn new(socket: &Path, region: &Path) -> Php {
        Php {
            socket: socket.to_owned(),
            region: region.to_owned(),
            persist_wait_ms: 5_000,
            env: Vec::new(),
        }
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Php {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `php -n -d extension=… <path>` with this daemon's ini settings.
    pub fn command(&self, path: &Path) -> Command {
        let mut command = Command::new("php");
        command
            .arg("-n")
            .arg("-d")
            .arg(format!("extension={}", extension_path().display()))
            .arg("-d")
            .arg(format!("eventsrv.socket={}", self.socket.display()))
            .arg("-d")
            .arg(format!("eventsrv.region={}", self.region.display()))
            .arg("-d")
            .arg(format!("eventsrv.persist_wait_ms={}", self.persist_wait_ms))
            .arg("-d")
            .arg("error_reporting=E_ALL")
            .arg("-d")
            .arg("display_errors=stderr")
            .arg(path)
            .current_dir(repo_root());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// A script from `tests/php/`.
    pub fn script(&self, name: &str) -> Command {
        self.command(&repo_root().join("tests/php").join(name))
    }

    /// Run a script to completion; panics with its output unless it exits 0.
    pub fn run(&self, name: &str, args: &[&str]) -> String {
        let output = self.run_raw(name, args);
        assert!(
            output.status.success(),
            "php {name} {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("script prints UTF-8")
    }

    pub fn run_raw(&self, name: &str, args: &[&str]) -> Output {
        self.script(name).args(args).output().expect("php runs")
    }

    /// Start a script in the background (killed on drop).
    pub fn spawn(&self, name: &str, args: &[&str]) -> PhpChild {
        let child = self
            .script(name)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("php starts");
        PhpChild::new(child)
    }

    /// The projector worker with `tests/php/worker.php` as its bootstrap; its output goes to
    /// `log` (a file, so a chatty worker never blocks on a full pipe).
    pub fn spawn_worker(&self, log: &Path, extra_args: &[&str]) -> PhpChild {
        self.spawn_worker_for(&repo_root().join("tests/php/worker.php"), log, extra_args)
    }

    /// The projector worker with another bootstrap file (e.g. the bank example's).
    pub fn spawn_worker_for(&self, bootstrap: &Path, log: &Path, extra_args: &[&str]) -> PhpChild {
        let mut command = self.command(&repo_root().join("php/bin/eventsrv-worker"));
        command.arg(bootstrap).args(extra_args);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("worker log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("dup log file"))
            .stderr(file)
            .spawn()
            .expect("worker starts");
        PhpChild::new(child)
    }

    /// Run the worker (tests/php/worker.php) to completion, e.g. with `--once` or `--replay`.
    pub fn run_worker(&self, args: &[&str]) -> Output {
        let mut command = self.command(&repo_root().join("php/bin/eventsrv-worker"));
        command
            .arg(repo_root().join("tests/php/worker.php"))
            .args(args);
        command.output().expect("worker runs")
    }
}

/// A PHP child process; killed (SIGKILL) on drop unless it was waited for.
pub struct PhpChild {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
}

impl PhpChild {
    fn new(mut child: Child) -> PhpChild {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        PhpChild {
            child: Some(child),
            stdin,
            stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn write_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin piped");
        writeln!(stdin, "{line}").expect("child reads stdin");
        stdin.flush().expect("flush");
    }

    pub fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self
            .stdout
            .as_mut()
            .expect("stdout piped")
            .read_line(&mut line)
        {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end().to_owned()),
        }
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Send a signal (e.g. libc::SIGTERM).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we own; a stale pid at worst gets ESRCH.
        unsafe {
            libc::kill(self.pid() as i32, signal);
        }
    }

    /// Wait for exit; returns (success, stdout rest, stderr).
    pub fn wait(mut self) -> (bool, String, String) {
        self.stdin.take();
        let mut child = self.child.take().expect("running");
        let mut stdout = String::new();
        if let Some(mut reader) = self.stdout.take() {
            std::io::Read::read_to_string(&mut reader, &mut stdout).ok();
        }
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            std::io::Read::read_to_string(&mut err, &mut stderr).ok();
        }
        let status = child.wait().expect("wait");
        (status.success(), stdout, stderr)
    }

    pub fn kill(mut self) -> String {
        let mut child = self.child.take().expect("running");
        child.kill().ok();
        child.wait().ok();
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            std::io::Read::read_to_string(&mut err, &mut stderr).ok();
        }
        stderr
    }
}

impl Drop for PhpChild {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}
