//! Who may read the state and append: the daemon runs as its own user and group (as systemd's
//! `User=`/`Group=` would start it) with `UMask=0007` and `--socket-mode 0660`. Then the
//! region and the socket belong to that user and group with mode 0660; a PHP process of a user
//! in the group reads and appends; a PHP process of a user outside it can do neither.
//!
//! eventsrv has no owner/group/mode settings of its own for the region: they follow the
//! daemon's credentials and umask (docs/testing.md says how to deploy). Needs root to switch
//! users; without it the test says SKIPPED and passes.

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

#[test]
fn a_php_process_outside_the_daemons_group_can_neither_read_the_region_nor_append() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: switching users needs root");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("SKIPPED: setpriv (util-linux) is missing");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Other users must reach the socket directory and the PHP files; the data stays private.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let data_dir = dir.path().join("data");
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&data_dir).expect("data dir");
    std::fs::create_dir(&run_dir).expect("run dir");
    std::os::unix::fs::chown(&data_dir, Some(DAEMON_UID), Some(EVENTSRV_GID)).expect("chown");
    std::os::unix::fs::chown(&run_dir, Some(DAEMON_UID), Some(EVENTSRV_GID)).expect("chown");
    std::fs::set_permissions(&run_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let socket = run_dir.join("eventsrv.sock");
    let region = PathBuf::from(format!(
        "/dev/shm/eventsrv-test-permissions-{}.region",
        std::process::id()
    ));
    let stderr = dir.path().join("daemon.log");
    let child = setpriv(DAEMON_UID, EVENTSRV_GID, None)
        .arg("sh")
        .arg("-c")
        .arg("umask 0007 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_eventsrv"))
        .arg("serve")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--socket")
        .arg(&socket)
        .arg("--region")
        .arg(&region)
        .arg("--region-size")
        .arg(support::TEST_REGION_BYTES.to_string())
        .arg("--socket-mode")
        .arg("0660")
        .env_remove("EVENTSRV_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .expect("spawn the daemon as its own user");
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

    for (what, path) in [("socket", &socket), ("region", &region)] {
        let metadata = std::fs::metadata(path).expect("stat");
        assert_eq!(metadata.uid(), DAEMON_UID, "{what} owner");
        assert_eq!(metadata.gid(), EVENTSRV_GID, "{what} group");
        assert_eq!(metadata.mode() & 0o777, 0o660, "{what} mode");
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
        "permissions: socket and region {DAEMON_UID}:{EVENTSRV_GID} mode 0660; group member \
         read + appended; outsider refused:\n  {read}\n  {append}"
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
