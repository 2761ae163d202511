//! eventsrv.so — the PHP extension of eventsrv (contract: docs/extension.md).
//!
//! Map of the crate:
//! - [`native`]: the `EventSrv\Native` class; glue only.
//! - [`reads`]: entities, streams, events, positions, checkpoints and waits, read from the
//!   shared region through [`mapping`] (lazy per-process mapping, remapped when superseded).
//! - [`writes`]: appends, projector commits and status, sent over [`client`] (one persistent
//!   Unix-socket connection per process).
//! - [`encode`] / [`decode`]: PHP values ⇄ value trees; [`events`]: event objects, event type
//!   aliases and `NewEvent`s; [`uuid`]: event ids; [`process`]: this process across `fork()`.
//! - [`entity_classes`]: per-request cache of entity classes (class entry, region class
//!   index, property plan) for the read hot path.
//! - [`engine`]: the raw Zend engine calls ext-php-rs does not wrap; [`exceptions`]: the one
//!   error type and its `EventSrv\…Exception` classes; [`ini`]: settings; [`info`]: `php --ri`.
//!
//! Data flow: a read maps the region (if not yet, or if replaced), borrows records straight
//! from it and builds PHP values from the bytes; a write encodes PHP values into a request,
//! sends one frame and turns the response into a PHP array.
//! Must never: map the region or connect at MINIT (php-fpm forks after MINIT and pools set
//! their own ini values).

#![cfg_attr(windows, feature(abi_vectorcall))]

mod client;
mod decode;
mod encode;
mod engine;
mod entity_classes;
mod events;
mod exceptions;
mod info;
mod ini;
mod mapping;
mod native;
mod process;
mod reads;
mod uuid;
mod writes;

use ext_php_rs::prelude::*;
use ext_php_rs::zend::IniEntryDef;

fn startup(_kind: i32, module_number: i32) -> i32 {
    IniEntryDef::register(ini::ENTRIES.as_slice(), module_number);
    0
}

/// RINIT: a new request is a new epoch for the region-path check (see [`mapping`]) and for
/// the class cache (see [`entity_classes`]).
unsafe extern "C" fn request_startup(_kind: i32, _module_number: i32) -> i32 {
    ini::start_request();
    mapping::start_request();
    entity_classes::start_request();
    0
}

#[php_module]
#[php(startup = startup)]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .name("eventsrv")
        .version(env!("CARGO_PKG_VERSION"))
        .class::<native::Native>()
        .request_startup_function(request_startup)
        .info_function(info::module_info)
}
