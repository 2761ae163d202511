//! `php --ri eventsrv` / `phpinfo()`: version, region and connection state, then the ini table.
//! Must never: fail or throw; whatever cannot be read is shown as such.

use ext_php_rs::zend::ModuleEntry;
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

use crate::client;
use crate::engine;
use crate::ini;
use crate::mapping;
use crate::reads::state_name;

pub extern "C" fn module_info(module: *mut ModuleEntry) {
    info_table_start!();
    info_table_row!("eventsrv support", "enabled");
    info_table_row!("extension version", env!("CARGO_PKG_VERSION"));
    info_table_row!("region path (eventsrv.region)", ini::region_path());
    let region = match mapping::existing() {
        Some(mapping) => Ok(mapping),
        // Mapping (read-only) is harmless here and tells the operator whether it would work.
        None => std::panic::catch_unwind(mapping::current).unwrap_or_else(|_| {
            Err(crate::exceptions::ExtError::Region(
                "the region reader panicked".to_owned(),
            ))
        }),
    };
    match region {
        Ok(mapping) => {
            let header = mapping.view().header();
            info_table_row!("layout version", header.layout_version.to_string());
            info_table_row!("mapped generation", header.generation.to_string());
            info_table_row!("region state", state_name(header.state));
            info_table_row!("committed position", header.committed_position.to_string());
            info_table_row!("projected position", header.projected_position.to_string());
            info_table_row!("workers attached", header.workers_attached.to_string());
            info_table_row!("daemon pid", header.daemon_pid.to_string());
        }
        Err(error) => {
            let text = format!("not mapped: {error}");
            info_table_row!("region", sanitize(&text));
        }
    }
    info_table_row!("socket (eventsrv.socket)", ini::socket_path());
    info_table_row!("connection", sanitize(&client::connection_state()));
    info_table_end!();
    engine::print_ini_entries(module);
}

/// Info rows are C strings: no NUL bytes.
fn sanitize(text: &str) -> String {
    text.replace('\0', "\\0")
}
