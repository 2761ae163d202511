//! The `eventsrv.*` ini settings (docs/extension.md#ini-settings).
//!
//! Owns: their names, defaults and registration. Values are read at call time, never cached,
//! so php-fpm pool-level `php_admin_value` and `ini_set()` take effect (the settings read on
//! every request to the daemon or every read have their ini *entry* found once per request).
//! Must never: be read at MINIT to decide anything a worker process depends on.

use std::cell::Cell;
use std::time::Duration;

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::{IniEntryDef, IniEntryDefs};

use crate::engine::{self, IniEntry};

pub const SOCKET: &str = "eventsrv.socket";
pub const REGION: &str = "eventsrv.region";
pub const CONNECT_TIMEOUT_MS: &str = "eventsrv.connect_timeout_ms";
pub const IO_TIMEOUT_MS: &str = "eventsrv.io_timeout_ms";

const SOCKET_DEFAULT: &str = "/run/eventsrv/eventsrv.sock";
const REGION_DEFAULT: &str = "/dev/shm/eventsrv.region";
const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 1000;
const IO_TIMEOUT_MS_DEFAULT: u64 = 10_000;

pub static ENTRIES: IniEntryDefs<6> = IniEntryDefs::new([
    IniEntryDef::new(
        c"eventsrv.socket",
        c"/run/eventsrv/eventsrv.sock",
        IniEntryPermission::All,
    ),
    IniEntryDef::new(
        c"eventsrv.region",
        c"/dev/shm/eventsrv.region",
        IniEntryPermission::All,
    ),
    IniEntryDef::new(
        c"eventsrv.persist_wait_ms",
        c"1000",
        IniEntryPermission::All,
    ),
    IniEntryDef::new(
        c"eventsrv.connect_timeout_ms",
        c"1000",
        IniEntryPermission::All,
    ),
    IniEntryDef::new(c"eventsrv.io_timeout_ms", c"10000", IniEntryPermission::All),
    IniEntryDef::end(),
]);

/// The current `eventsrv.socket`, for display.
pub fn socket_path() -> String {
    String::from_utf8_lossy(&socket_path_bytes()).into_owned()
}

/// The current `eventsrv.socket` as bytes (a path need not be UTF-8), for connecting.
pub fn socket_path_bytes() -> Vec<u8> {
    current(Cached::Socket)
        .unwrap_or(SOCKET_DEFAULT.as_bytes())
        .to_vec()
}

/// Whether `eventsrv.socket` currently is `path`: no lookup by name and no copy after the
/// first call of a request (this runs on every request to the daemon).
pub fn socket_path_is(path: &[u8]) -> bool {
    current(Cached::Socket).unwrap_or(SOCKET_DEFAULT.as_bytes()) == path
}

pub fn region_path() -> String {
    engine::ini_string(REGION).unwrap_or_else(|| REGION_DEFAULT.to_owned())
}

/// The settings read on hot paths, each with its slot in `FOUND`.
#[derive(Clone, Copy)]
enum Cached {
    Socket,
    Region,
    IoTimeout,
}

impl Cached {
    const COUNT: usize = 3;

    fn name(self) -> &'static str {
        match self {
            Cached::Socket => SOCKET,
            Cached::Region => REGION,
            Cached::IoTimeout => IO_TIMEOUT_MS,
        }
    }
}

thread_local! {
    // The entries of the `Cached` settings, each found once per request (reset at RINIT).
    static FOUND: Cell<[Option<IniEntry>; Cached::COUNT]> =
        const { Cell::new([None; Cached::COUNT]) };
}

/// Called at request start (RINIT).
pub fn start_request() {
    FOUND.with(|found| found.set([None; Cached::COUNT]));
}

/// The current value of a `Cached` setting, borrowed from the ini table: use it at once.
fn current(setting: Cached) -> Option<&'static [u8]> {
    let entry = FOUND.with(|found| {
        let mut entries = found.get();
        let slot = &mut entries[setting as usize];
        if slot.is_none() {
            *slot = engine::ini_entry(setting.name());
            found.set(entries);
        }
        entries[setting as usize]
    });
    match entry {
        Some(entry) => entry.value(),
        None => engine::ini_bytes(setting.name()),
    }
}

/// Whether `eventsrv.region` currently is `path`: no lookup by name and no copy after the
/// first call of a request (this runs on every read).
pub fn region_path_is(path: &[u8]) -> bool {
    current(Cached::Region).unwrap_or(REGION_DEFAULT.as_bytes()) == path
}

pub fn connect_timeout() -> Duration {
    let text = engine::ini_string(CONNECT_TIMEOUT_MS);
    Duration::from_millis(millis(
        text.as_deref().map(str::as_bytes),
        CONNECT_TIMEOUT_MS_DEFAULT,
    ))
}

/// Read on every request to the daemon: from the cached entry, without an allocation.
pub fn io_timeout() -> Duration {
    Duration::from_millis(millis(current(Cached::IoTimeout), IO_TIMEOUT_MS_DEFAULT))
}

/// A whole number of milliseconds (ASCII blanks around it allowed), or `default`. Parsed from
/// the bytes (io_timeout is read per request to the daemon; `str::parse` cost ~300 instructions).
fn millis(text: Option<&[u8]>, default: u64) -> u64 {
    let Some(text) = text.map(<[u8]>::trim_ascii) else {
        return default;
    };
    let digits = text.strip_prefix(b"+").unwrap_or(text);
    if digits.is_empty() {
        return default;
    }
    let mut value = 0u64;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return default;
        }
        value = match value
            .checked_mul(10)
            .and_then(|tens| tens.checked_add(u64::from(byte - b'0')))
        {
            Some(next) => next,
            None => return default,
        };
    }
    value
}
