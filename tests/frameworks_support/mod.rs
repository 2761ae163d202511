//! The framework example apps (examples/laravel, examples/symfony) served by nginx + php-fpm on
//! 127.0.0.1 for tests: configuration comes from `scripts/frameworks.sh configure` (the same
//! script the load test uses), the processes are children of the test, killed on drop, and
//! everything writable lives in a tempdir. Every wait is bounded.
#![allow(dead_code)]

use crate::php_support::{extension_path, repo_root};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on waiting for nginx + php-fpm to answer after start.
pub const SERVE_WAIT: Duration = Duration::from_secs(60);
/// Bound on one HTTP exchange.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on a response body.
pub const RESPONSE_BYTES_MAX: usize = 8 << 20;
/// php-fpm children per app (2 cores: more only adds context switches).
pub const FPM_CHILDREN: u32 = 4;

/// `composer install` of one app must not run twice at once (tests run in parallel threads).
static PREPARE: Mutex<()> = Mutex::new(());

/// Held while something outside ServedApp runs `scripts/frameworks.sh prepare` (the load test).
pub fn prepare_guard() -> std::sync::MutexGuard<'static, ()> {
    PREPARE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn frameworks_sh() -> PathBuf {
    repo_root().join("scripts/frameworks.sh")
}

/// Fails the test, naming the missing Debian packages, unless everything is installed.
pub fn require_packages() {
    let output = Command::new("bash")
        .arg(frameworks_sh())
        .arg("check")
        .output()
        .expect("run scripts/frameworks.sh check");
    assert!(
        output.status.success(),
        "the framework tests need Debian packages that are not installed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A free port on 127.0.0.1 (the OS picks it; nginx binds it right after).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// One example app behind its own nginx and php-fpm.
pub struct ServedApp {
    pub name: &'static str,
    pub port: u16,
    pub dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl ServedApp {
    /// Prepares (composer, offline), configures and starts the app against a daemon.
    pub fn start(name: &'static str, socket: &Path, region: &Path) -> ServedApp {
        let mut app = ServedApp::configure(name, socket, region);
        app.serve();
        app
    }

    /// Prepares and writes the configuration (php.ini, fpm.conf, nginx.conf, env); starts nothing.
    pub fn configure(name: &'static str, socket: &Path, region: &Path) -> ServedApp {
        require_packages();
        {
            let _guard = prepare_guard();
            run_ok(
                Command::new("bash")
                    .arg(frameworks_sh())
                    .args(["prepare", name]),
            );
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        run_ok(
            Command::new("bash")
                .arg(frameworks_sh())
                .arg("configure")
                .arg(name)
                .arg(dir.path())
                .arg(port.to_string())
                .arg(extension_path())
                .arg(socket)
                .arg(region)
                .arg(FPM_CHILDREN.to_string()),
        );
        ServedApp {
            name,
            port,
            dir,
            children: Vec::new(),
        }
    }

    fn serve(&mut self) {
        let app = self;
        let path = app.dir.path().to_owned();
        let fpm = Command::new("php-fpm8.2")
            .args(["-F", "-R", "-y"])
            .arg(path.join("fpm.conf"))
            .arg("-c")
            .arg(path.join("php.ini"))
            .env("PHP_INI_SCAN_DIR", path.join("ini.d"))
            .stdin(Stdio::null())
            .stdout(log_file(&path.join("fpm.out")))
            .stderr(log_file(&path.join("fpm.out")))
            .spawn()
            .expect("php-fpm8.2 starts");
        app.children.push(fpm);
        let nginx = Command::new("nginx")
            .arg("-c")
            .arg(path.join("nginx.conf"))
            .arg("-p")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log_file(&path.join("nginx.out")))
            .stderr(log_file(&path.join("nginx.out")))
            .spawn()
            .expect("nginx starts");
        app.children.push(nginx);
        app.wait_until_serving();
    }

    fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + SERVE_WAIT;
        loop {
            if let Ok(response) = try_http(self.port, "GET", "/api/status", None) {
                if response.status == 200 {
                    return;
                }
            }
            for child in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{}: a server process exited ({status}):\n{}",
                        self.name,
                        self.logs()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer on 127.0.0.1:{} within {SERVE_WAIT:?}:\n{}",
                self.name,
                self.port,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in [
            "fpm.out",
            "fpm.log",
            "nginx.out",
            "nginx-error.log",
            "php-errors.log",
        ] {
            if let Ok(content) = std::fs::read_to_string(self.dir.path().join(name)) {
                let tail: Vec<&str> = content.lines().rev().take(30).collect();
                text.push_str(&format!("--- {name}\n"));
                for line in tail.into_iter().rev() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text
    }

    /// The app's console (artisan or bin/console) with the served copy's php.ini and env.
    pub fn console(&self, args: &[&str]) -> Command {
        let script = match self.name {
            "laravel" => repo_root().join("examples/laravel/artisan"),
            _ => repo_root().join("examples/symfony/bin/console"),
        };
        self.console_script(&script, args)
    }

    /// Another console script (e.g. a copy's artisan) with this copy's php.ini and env.
    pub fn console_script(&self, script: &Path, args: &[&str]) -> Command {
        let path = self.dir.path();
        let mut command = Command::new("php");
        command
            .arg("-c")
            .arg(path.join("php.ini"))
            .arg(script)
            .args(args)
            .env("PHP_INI_SCAN_DIR", path.join("ini.d"))
            .current_dir(repo_root());
        let env = std::fs::read_to_string(path.join("env")).expect("env written by configure");
        for line in env.lines() {
            if let Some((key, value)) = line.split_once('=') {
                command.env(key, value);
            }
        }
        command
    }

    /// Runs a console command to completion; panics with its output unless it exits 0.
    pub fn run_console(&self, args: &[&str]) -> String {
        let output = self.console(args).output().expect("console runs");
        assert!(
            output.status.success(),
            "{} console {args:?} failed ({}):\n{}\n{}",
            self.name,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn console_output(&self, args: &[&str]) -> Output {
        self.console(args).output().expect("console runs")
    }

    /// `eventsrv:work` in the background, output to `worker.log`; killed on drop.
    pub fn spawn_worker(&self) -> Worker {
        let log = self.dir.path().join("worker.log");
        let child = self
            .console(&["eventsrv:work", "--sleep-ms=200"])
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .expect("worker starts");
        Worker {
            child: Some(child),
            log,
        }
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http(self.port, "GET", path, None)
    }

    /// POST with a form body (`name=Ada&...`).
    pub fn post(&self, path: &str, form: &str) -> HttpResponse {
        http(self.port, "POST", path, Some(form))
    }
}

impl Drop for ServedApp {
    fn drop(&mut self) {
        for child in &mut self.children {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// The projector worker run by a framework command.
pub struct Worker {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Worker {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then wait (bounded); returns whether it exited 0.
    pub fn terminate(mut self) -> bool {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + SERVE_WAIT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status.success();
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                panic!(
                    "worker did not stop within {SERVE_WAIT:?} of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// One HTTP/1.0 exchange over loopback; panics if the server does not answer.
pub fn http(port: u16, method: &str, path: &str, form: Option<&str>) -> HttpResponse {
    try_http(port, method, path, form)
        .unwrap_or_else(|e| panic!("{method} http://127.0.0.1:{port}{path}: {e}"))
}

pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    form: Option<&str>,
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let body = form.unwrap_or("");
    let mut request =
        format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n");
    if form.is_some() {
        request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut bytes = Vec::new();
    stream
        .take(RESPONSE_BYTES_MAX as u64)
        .read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in: {text}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in: {head}")))?;
    Ok(HttpResponse {
        status,
        headers: head.to_owned(),
        body: body.to_owned(),
    })
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("log file")
}

fn run_ok(command: &mut Command) {
    let output = command.output().expect("command runs");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
