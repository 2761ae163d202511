//! Who may read the state region and talk to the socket: the owner, group and mode the daemon
//! gives both files (`--owner`, `--group`, `--region-mode`, `--socket-mode`).
//!
//! Owns: resolving user and group names to ids (once, at config time, so a typo stops the start
//! with a clear error), and applying owner, group and mode to a path (chown, then chmod: the mode
//! is exact, whatever the umask).
//! Must never: leave a file with more permissions than configured, or start serving when the
//! configured owner or group could not be applied (PHP would then fail later with a less clear
//! "Permission denied").

use std::ffi::CString;
use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The ids and modes a daemon applies to its socket and region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// `None`: the daemon's own user (no chown of the owner).
    pub owner: Option<u32>,
    /// `None`: the daemon's own group (no chown of the group).
    pub group: Option<u32>,
    pub socket_mode: u32,
    pub region_mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessError(pub String);

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AccessError {}

impl Access {
    pub fn apply_to_socket(&self, path: &Path) -> Result<(), AccessError> {
        self.apply(path, "socket", self.socket_mode)
    }

    pub fn apply_to_region(&self, path: &Path) -> Result<(), AccessError> {
        self.apply(path, "state region", self.region_mode)
    }

    fn apply(&self, path: &Path, what: &str, mode: u32) -> Result<(), AccessError> {
        if self.owner.is_some() || self.group.is_some() {
            std::os::unix::fs::chown(path, self.owner, self.group).map_err(|e| {
                AccessError(format!(
                    "cannot give the {what} {} to {}: {e} (changing the owner needs root; \
                     changing the group needs the daemon's user to be in that group)",
                    path.display(),
                    self.describe_ids()
                ))
            })?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
            AccessError(format!(
                "cannot set mode {mode:04o} on the {what} {}: {e}",
                path.display()
            ))
        })
    }

    fn describe_ids(&self) -> String {
        match (self.owner, self.group) {
            (Some(uid), Some(gid)) => format!("uid {uid}, gid {gid}"),
            (Some(uid), None) => format!("uid {uid}"),
            (None, Some(gid)) => format!("gid {gid}"),
            (None, None) => "its current owner".into(),
        }
    }
}

/// Bound on the buffer getpwnam_r/getgrnam_r may ask for (a group with thousands of members).
const NSS_BUFFER_BYTES_MAX: usize = 1 << 20;

/// A user name or numeric uid → uid.
pub fn resolve_user(text: &str) -> Result<u32, String> {
    // SAFETY: getpwnam_r gets valid pointers and the buffer's real length from `look_up`.
    look_up(
        text,
        "user",
        |name, entry: &mut libc::passwd, buffer, found| unsafe {
            libc::getpwnam_r(name, entry, buffer.as_mut_ptr().cast(), buffer.len(), found)
        },
    )
    .map(|entry| entry.pw_uid)
}

/// A group name or numeric gid → gid.
pub fn resolve_group(text: &str) -> Result<u32, String> {
    // SAFETY: getgrnam_r gets valid pointers and the buffer's real length from `look_up`.
    look_up(
        text,
        "group",
        |name, entry: &mut libc::group, buffer, found| unsafe {
            libc::getgrnam_r(name, entry, buffer.as_mut_ptr().cast(), buffer.len(), found)
        },
    )
    .map(|entry| entry.gr_gid)
}

/// A numeric id as itself, else the name looked up with a reentrant `get*nam_r`, growing its
/// buffer (up to `NSS_BUFFER_BYTES_MAX`) while it says ERANGE. Only the numeric fields of the
/// returned entry may be used: its pointers point into a buffer that is gone.
fn look_up<T: NumericId>(
    text: &str,
    what: &str,
    call: impl Fn(*const libc::c_char, &mut T, &mut [u8], &mut *mut T) -> libc::c_int,
) -> Result<T, String> {
    if let Ok(id) = text.parse::<u32>() {
        return Ok(T::with_id(id));
    }
    let name = CString::new(text).map_err(|_| format!("{what} name {text:?} contains a NUL"))?;
    let mut buffer = vec![0u8; 1024];
    loop {
        // SAFETY: all-zero is a valid passwd/group (null pointers, zero ids) for the call to fill.
        let mut entry: T = unsafe { std::mem::zeroed() };
        let mut found: *mut T = std::ptr::null_mut();
        let rc = call(name.as_ptr(), &mut entry, &mut buffer, &mut found);
        if rc == libc::ERANGE && buffer.len() < NSS_BUFFER_BYTES_MAX {
            buffer.resize(buffer.len() * 4, 0);
            continue;
        }
        if rc != 0 {
            return Err(format!(
                "cannot look up {what} {text:?}: {}",
                std::io::Error::from_raw_os_error(rc)
            ));
        }
        if found.is_null() {
            return Err(format!("there is no {what} named {text:?}"));
        }
        return Ok(entry);
    }
}

/// An NSS entry that can stand for a bare numeric id.
trait NumericId {
    fn with_id(id: u32) -> Self;
}

impl NumericId for libc::passwd {
    fn with_id(id: u32) -> Self {
        // SAFETY: all-zero is a valid passwd; only the id is read afterwards.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        entry.pw_uid = id;
        entry
    }
}

impl NumericId for libc::group {
    fn with_id(id: u32) -> Self {
        // SAFETY: all-zero is a valid group; only the id is read afterwards.
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        entry.gr_gid = id;
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_resolve_and_unknown_names_are_refused_by_name() {
        assert_eq!(resolve_user("root"), Ok(0));
        assert_eq!(resolve_group("root"), Ok(0));
        assert_eq!(resolve_user("4242"), Ok(4242));
        assert_eq!(resolve_group("4242"), Ok(4242));
        assert_eq!(
            resolve_user("no-such-user-eventsrv"),
            Err("there is no user named \"no-such-user-eventsrv\"".into())
        );
        assert_eq!(
            resolve_group("no-such-group-eventsrv"),
            Err("there is no group named \"no-such-group-eventsrv\"".into())
        );
    }

    #[test]
    fn the_mode_is_exact_whatever_the_file_had() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("region");
        std::fs::write(&path, b"x").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let access = Access {
            owner: None,
            group: None,
            socket_mode: 0o660,
            region_mode: 0o640,
        };
        access.apply_to_region(&path).expect("apply");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }
}
