//! The `eventsrv.*` ini settings (docs/extension.md#ini-settings).
//!
//! Owns: their names, defaults and registration. Values are read at call time, never cached,
//! so php-fpm pool-level `php_admin_value` and `ini_set()` take effect.
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

pub fn socket_path() -> String {
    engine::ini_string(SOCKET).unwrap_or_else(|| SOCKET_DEFAULT.to_owned())
}

pub fn region_path() -> String {
    engine::ini_string(REGION).unwrap_or_else(|| REGION_DEFAULT.to_owned())
}

thread_local! {
    // The `eventsrv.region` entry, found once per request (reset at RINIT).
    static REGION_ENTRY: Cell<Option<IniEntry>> = const { Cell::new(None) };
}

/// Called at request start (RINIT).
pub fn start_request() {
    REGION_ENTRY.with(|entry| entry.set(None));
}

/// Whether `eventsrv.region` currently is `path`: no lookup by name and no copy after the
/// first call of a request (this runs on every read).
pub fn region_path_is(path: &[u8]) -> bool {
    let entry = REGION_ENTRY.with(|cached| {
        cached.get().or_else(|| {
            let found = engine::ini_entry(REGION);
            cached.set(found);
            found
        })
    });
    let current = match entry {
        Some(entry) => entry.value(),
        None => engine::ini_bytes(REGION),
    };
    current.unwrap_or(REGION_DEFAULT.as_bytes()) == path
}

pub fn connect_timeout() -> Duration {
    Duration::from_millis(millis(CONNECT_TIMEOUT_MS, CONNECT_TIMEOUT_MS_DEFAULT))
}

pub fn io_timeout() -> Duration {
    Duration::from_millis(millis(IO_TIMEOUT_MS, IO_TIMEOUT_MS_DEFAULT))
}

fn millis(name: &str, default: u64) -> u64 {
    engine::ini_string(name)
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(default)
}
