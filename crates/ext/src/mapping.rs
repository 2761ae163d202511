//! This process's read-only mapping of the state region.
//!
//! Owns: mapping lazily (in the php-fpm worker, never at MINIT, so pool-level ini applies),
//! remapping when the mapped file says superseded (one atomic load, checked at the start of
//! every reading call) or the path now names another file (one `stat`, checked on the first
//! reading call of each request: a request is short, so it is the natural epoch; on every call
//! while no daemon serves the mapped file, and on every round of a wait, so a long-running
//! process such as the worker finds a region the next daemon built after the old file was
//! removed), and turning region errors into the exceptions of docs/extension.md.
//! Must never: keep using a mapping the daemon has superseded when a newer file is available,
//! or unmap a region while a caller (possibly re-entered through an autoloader) still reads it.

use std::cell::{Cell, RefCell};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::rc::Rc;

use eventsrv_format::region::{MappedRegion, RegionError, RegionState, RegionView};

use crate::exceptions::{ExtError, ExtResult};
use crate::ini;

/// One mapped region file and the path it was opened from.
pub struct Mapping {
    pub region: MappedRegion,
    pub path: String,
}

impl Mapping {
    pub fn view(&self) -> RegionView<'_> {
        self.region.view()
    }

    /// Convert an error met while reading this mapping.
    pub fn error(&self, error: RegionError) -> ExtError {
        region_error(&self.path, error)
    }
}

thread_local! {
    // PHP NTS runs one request thread per process; `Rc` lets a re-entrant call (an
    // autoloader that reads the region) remap without invalidating the outer caller's view.
    static CURRENT: RefCell<Option<Rc<Mapping>>> = const { RefCell::new(None) };
    // Whether this request already checked that the path still names the mapped file.
    static PATH_CHECKED_THIS_REQUEST: Cell<bool> = const { Cell::new(false) };
}

/// Called at request start (RINIT): the next read re-checks which file the path names.
pub fn start_request() {
    PATH_CHECKED_THIS_REQUEST.with(|checked| checked.set(false));
}

/// Make the next read re-check which file the path names (each round of a long wait).
pub fn recheck_path() {
    PATH_CHECKED_THIS_REQUEST.with(|checked| checked.set(false));
}

/// The current mapping, (re)mapped if needed.
pub fn current() -> ExtResult<Rc<Mapping>> {
    let existing = CURRENT.with(|cell| cell.borrow().clone());
    if let Some(mapping) = existing {
        // Compared as bytes borrowed from the ini table: no allocation on the hot path.
        if ini::region_path_is(mapping.path.as_bytes()) && still_current(&mapping) {
            return Ok(mapping);
        }
    }
    let path = ini::region_path();
    let fresh = Rc::new(open(&path)?);
    PATH_CHECKED_THIS_REQUEST.with(|checked| checked.set(true));
    CURRENT.with(|cell| *cell.borrow_mut() = Some(fresh.clone()));
    Ok(fresh)
}

/// The mapping if one is already open (for `php --ri`, which must not fail).
pub fn existing() -> Option<Rc<Mapping>> {
    CURRENT.with(|cell| cell.borrow().clone())
}

fn still_current(mapping: &Mapping) -> bool {
    if mapping.view().state() == RegionState::Superseded {
        return false;
    }
    // A file no daemon serves (pid 0 after a clean stop) may be replaced by the next daemon
    // without being marked superseded (e.g. after it was removed): look at the path each time.
    if PATH_CHECKED_THIS_REQUEST.with(Cell::get) && mapping.view().daemon_pid() != 0 {
        return true;
    }
    let current = match std::fs::metadata(&mapping.path) {
        Ok(meta) => meta.ino() == mapping.region.inode,
        // The file went away (daemon stopped and cleaned up): what we have is the newest.
        Err(_) => true,
    };
    PATH_CHECKED_THIS_REQUEST.with(|checked| checked.set(current));
    current
}

fn open(path: &str) -> ExtResult<Mapping> {
    if let Err(error) = std::fs::metadata(path) {
        return Err(ExtError::Region(format!(
            "cannot open the eventsrv state region {path} ({}): is `eventsrv serve` running \
             with --region {path}? The region path comes from the ini setting {}",
            io_reason(&error),
            ini::REGION
        )));
    }
    let region = MappedRegion::open(Path::new(path)).map_err(|e| region_error(path, e))?;
    Ok(Mapping {
        region,
        path: path.to_owned(),
    })
}

pub fn region_error(path: &str, error: RegionError) -> ExtError {
    match error {
        RegionError::LayoutVersion { .. } => {
            ExtError::RegionLayoutMismatch(format!("state region {path}: {error}"))
        }
        // These already name the file.
        RegionError::Io(_) | RegionError::NotARegion(_) => ExtError::Region(format!(
            "{error} (the region path comes from the ini setting {})",
            ini::REGION
        )),
        _ => ExtError::Region(format!("state region {path}: {error}")),
    }
}

/// "No such file or directory" rather than "No such file or directory (os error 2)".
pub fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}
