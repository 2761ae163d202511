//! Who may read the state and append: the daemon runs as its own user (as systemd's `User=`
//! would start it) with a permissive umask (0022) and `--group <the PHP group> --socket-mode 0660
//! --region-mode 0640`. Then the socket and the region belong to that group with exactly those
//! modes, whatever the umask; a PHP process of a user in the group reads and appends; a PHP
//! process of a user outside it can do neither. A group the daemon cannot give its files to, or
//! one that does not exist, stops the start with an error naming it.
//!
//! Needs root to switch users; without it the tests say SKIPPED and pass.

mod php_support;
mod support;

use php_support::{extension_path, repo_root};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::Client;

/// Ids no real account uses in the test container.
const DAEMON_UID: u32 = 64_201;
/// The daemon user's own primary group: not the group its files are given to.
const DAEMON_GID: u32 = 64_204;
/// The PHP group (php-fpm's): the daemon is a member and gives the socket and region to it.
const EVENTSRV_GID: u32 = 64_201;
const MEMBER_UID: u32 = 64_202;
const STRANGER_UID: u32 = 64_203;
const STRANGER_GID: u32 = 64_203;
const START_WAIT: Duration = Duration::from_secs(60);

struct Daemon {
    child: Child,
    region: PathBuf,
    stderr: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.region);
    }
}

fn setpriv(uid: u32, gid: u32, groups: Option<u32>) -> Command {
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"));
    match groups {
        Some(group) => command.arg(format!("--groups={group}")),
        None => command.arg("--clear-groups"),
    };
    command.arg("--");
    command
}

/// `php permission_probe.php` as `uid`:`gid` (plus `group`), against the daemon.
fn probe(uid: u32, gid: u32, group: Option<u32>, socket: &Path, region: &Path) -> String {
    let output = setpriv(uid, gid, group)
        .arg("php")
        .arg("-n")
        .arg("-d")
        .arg(format!("extension={}", extension_path().display()))
        .arg("-d")
        .arg(format!("eventsrv.socket={}", socket.display()))
        .arg("-d")
        .arg(format!("eventsrv.region={}", region.display()))
        .arg("-d")
        .arg("eventsrv.persist_wait_ms=0")
        .arg(repo_root().join("tests/php/permission_probe.php"))
        .arg("0190a7f3-0000-7000-8000-0000000aa001")
        .current_dir(repo_root())
        .output()
        .expect("php runs");
    assert!(
        output.status.success(),
        "probe as {uid}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn line<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} line:\n{output}"))
}

fn can_switch_users() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: switching users needs root");
        return false;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIPPED: setpriv (util-linux) is missing");
        return false;
    }
    true
}

/// A temp dir other users can enter, with data/ and run/ owned by the daemon's user.
fn daemon_dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    // Other users must reach the socket directory and the PHP files; the data stays private.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data_dir = dir.path().join("data");
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&data_dir).expect("data dir");
    std::fs::create_dir(&run_dir).expect("run dir");
    std::os::unix::fs::chown(&data_dir, Some(DAEMON_UID), Some(DAEMON_GID)).expect("chown");
    std::os::unix::fs::chown(&run_dir, Some(DAEMON_UID), Some(DAEMON_GID)).expect("chown");
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (dir, data_dir, run_dir)
}

/// `eventsrv serve` as the daemon user (primary group DAEMON_GID, member of `member_of`) with
/// umask 0022 and `--group group`.
fn serve_as_daemon_user(
    data_dir: &Path,
    socket: &Path,
    region: &Path,
    member_of: u32,
    group: &str,
    stderr: &Path,
) -> Child {
    setpriv(DAEMON_UID, DAEMON_GID, Some(member_of))
        .arg("sh")
        .arg("-c")
        .arg("umask 0022 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_eventsrv"))
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--socket")
        .arg(socket)
        .arg("--region")
        .arg(region)
        .arg("--region-size")
        .arg(support::TEST_REGION_BYTES.to_string())
        .arg("--socket-mode")
        .arg("0660")
        .arg("--region-mode")
        .arg("0640")
        .arg("--group")
        .arg(group)
        .env_remove("EVENTSRV_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).expect("stderr file"))
        .spawn()
        .expect("spawn the daemon as its own user")
}

fn test_region(what: &str) -> PathBuf {
    PathBuf::from(format!(
        "/dev/shm/eventsrv-test-permissions-{what}-{}.region",
        std::process::id()
    ))
}

#[test]
fn a_php_process_outside_the_configured_group_can_neither_read_the_region_nor_append() {
    if !can_switch_users() {
        return;
    }
    let (dir, data_dir, run_dir) = daemon_dirs();
    let socket = run_dir.join("eventsrv.sock");
    let region = test_region("group");
    let stderr = dir.path().join("daemon.log");
    let child = serve_as_daemon_user(
        &data_dir,
        &socket,
        &region,
        EVENTSRV_GID,
        &EVENTSRV_GID.to_string(),
        &stderr,
    );
    let mut daemon = Daemon {
        child,
        region: region.clone(),
        stderr,
    };
    let deadline = Instant::now() + START_WAIT;
    loop {
        let answered = Client::connect(&socket)
            .ok()
            .and_then(|mut c| c.request(&eventsrv_format::protocol::Request::Ping).ok());
        if answered.is_some() {
            break;
        }
        if let Some(status) = daemon.child.try_wait().expect("try_wait") {
            panic!(
                "daemon exited ({status}):\n{}",
                std::fs::read_to_string(&daemon.stderr).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "daemon did not answer");
        std::thread::sleep(support::POLL_STEP);
    }

    for (what, path, mode) in [("socket", &socket, 0o660), ("region", &region, 0o640)] {
        let metadata = std::fs::metadata(path).expect("stat");
        assert_eq!(metadata.uid(), DAEMON_UID, "{what} owner");
        assert_eq!(metadata.gid(), EVENTSRV_GID, "{what} group");
        assert_eq!(
            metadata.mode() & 0o777,
            mode,
            "{what} mode, despite umask 0022"
        );
    }

    let member = probe(MEMBER_UID, MEMBER_UID, Some(EVENTSRV_GID), &socket, &region);
    assert_eq!(line(&member, "read: "), "read: ok 0", "{member}");
    assert_eq!(line(&member, "append: "), "append: ok 1", "{member}");

    let stranger = probe(STRANGER_UID, STRANGER_GID, None, &socket, &region);
    let read = line(&stranger, "read: ");
    assert!(
        read.starts_with("read: EventSrv\\RegionException") && read.contains("ermission denied"),
        "the region is closed to users outside the group: {read}"
    );
    let append = line(&stranger, "append: ");
    assert!(
        append.starts_with("append: EventSrv\\DaemonUnavailableException")
            && append.contains("ermission denied"),
        "the socket is closed to users outside the group: {append}"
    );

    let mut client = Client::connect(&socket).expect("connect as root");
    let status = client.status();
    assert_eq!(
        status["committed_position"], 1,
        "only the member's append landed"
    );
    eprintln!(
        "permissions: socket {DAEMON_UID}:{EVENTSRV_GID} 0660, region 0640 (umask 0022); group \
         member read + appended; outsider refused:\n  {read}\n  {append}"
    );
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(daemon.child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + START_WAIT;
    while daemon.child.try_wait().expect("try_wait").is_none() {
        assert!(Instant::now() < deadline, "daemon did not stop");
        std::thread::sleep(support::POLL_STEP);
    }
}

#[test]
fn a_group_the_daemon_cannot_give_its_files_to_stops_the_start_with_a_clear_error() {
    if !can_switch_users() {
        return;
    }
    // (group, exit code, message): 1 = the start failed, 2 = the settings are invalid.
    for (group, code, expected) in [
        // A real group the daemon's user is not in: chown is refused.
        (
            STRANGER_GID.to_string(),
            1,
            "needs the daemon's user to be in that group".to_string(),
        ),
        (
            "no-such-group-eventsrv".to_string(),
            2,
            "there is no group named \"no-such-group-eventsrv\"".to_string(),
        ),
    ] {
        let (dir, data_dir, run_dir) = daemon_dirs();
        let socket = run_dir.join("eventsrv.sock");
        let region = test_region("refused");
        let stderr = dir.path().join("daemon.log");
        let mut child =
            serve_as_daemon_user(&data_dir, &socket, &region, EVENTSRV_GID, &group, &stderr);
        let deadline = Instant::now() + START_WAIT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("the daemon kept running with --group {group}");
            }
            std::thread::sleep(support::POLL_STEP);
        };
        let _ = std::fs::remove_file(&region);
        let log = std::fs::read_to_string(&stderr).unwrap_or_default();
        assert_eq!(status.code(), Some(code), "--group {group}: {log}");
        assert!(log.contains(&expected), "--group {group}: {log}");
        assert!(
            !socket.exists(),
            "no socket is left behind for --group {group}"
        );
        eprintln!(
            "--group {group} refused: {}",
            log.lines().last().unwrap_or("")
        );
    }
}
