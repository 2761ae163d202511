//! `final class EventSrv\Native`: the static methods of docs/extension.md, as thin glue from
//! PHP arguments to [`crate::reads`], [`crate::writes`] and the codec.
//!
//! Must never: hold logic of its own beyond argument plumbing.

use ext_php_rs::binary_slice::BinarySlice;
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendHashTable, Zval};

use crate::client;
use crate::decode::{self, Source, What};
use crate::encode;
use crate::engine;
use crate::events;
use crate::exceptions::ExtError;
use crate::reads;
use crate::uuid;
use crate::writes;

#[php_class]
#[php(name = "EventSrv\\Native")]
#[php(flags = ClassFlags::Final)]
pub struct Native;

#[php_impl]
impl Native {
    pub fn find(class: BinarySlice<u8>, uuid: BinarySlice<u8>) -> PhpResult<Zval> {
        Ok(reads::find(&class, &uuid)?)
    }

    pub fn all(class: BinarySlice<u8>) -> PhpResult<Zval> {
        Ok(reads::all(&class)?)
    }

    pub fn count(class: BinarySlice<u8>) -> PhpResult<i64> {
        Ok(reads::count(&class)?)
    }

    pub fn stream_version(stream: BinarySlice<u8>) -> PhpResult<i64> {
        Ok(reads::stream_version(&stream)?)
    }

    #[php(defaults(after_version = 0))]
    pub fn stream_events(stream: BinarySlice<u8>, after_version: i64) -> PhpResult<Zval> {
        Ok(reads::stream_events(&stream, after_version)?)
    }

    pub fn events_after(position: i64, limit: i64) -> PhpResult<Zval> {
        Ok(reads::events_after(position, limit)?)
    }

    pub fn wait_for_events(after_position: i64, timeout_ms: i64) -> PhpResult<i64> {
        Ok(reads::wait_for_events(after_position, timeout_ms)?)
    }

    pub fn wait_for_projection(position: i64, timeout_ms: i64) -> PhpResult<bool> {
        Ok(reads::wait_for_projection(position, timeout_ms)?)
    }

    pub fn positions() -> PhpResult<Zval> {
        Ok(reads::positions()?)
    }

    pub fn checkpoint(name: BinarySlice<u8>) -> PhpResult<i64> {
        Ok(reads::checkpoint(&name)?)
    }

    pub fn checkpoints() -> PhpResult<Zval> {
        Ok(reads::checkpoints()?)
    }

    pub fn append(
        stream: BinarySlice<u8>,
        expected_version: i64,
        events: &ZendHashTable,
        metadata: &ZendHashTable,
    ) -> PhpResult<Zval> {
        Ok(writes::append(&stream, expected_version, events, metadata)?)
    }

    pub fn commit(
        changes: &ZendHashTable,
        checkpoints: &ZendHashTable,
        projected_position: Option<i64>,
    ) -> PhpResult<Zval> {
        Ok(writes::commit(changes, checkpoints, projected_position)?)
    }

    pub fn attach_worker() -> PhpResult<()> {
        Ok(writes::attach_worker()?)
    }

    pub fn status() -> PhpResult<Zval> {
        Ok(writes::status()?)
    }

    pub fn ping() -> bool {
        writes::ping()
    }

    pub fn register_event_types(class_to_type: &ZendHashTable) -> PhpResult<()> {
        Ok(events::register_types(class_to_type)?)
    }

    pub fn register_upcasts(type_to_version: &ZendHashTable) -> PhpResult<()> {
        Ok(events::register_upcasts(type_to_version)?)
    }

    pub fn encode(value: &Zval) -> PhpResult<Zval> {
        let bytes = encode::encode_value(value)?;
        Ok(engine::bytes(&bytes))
    }

    pub fn decode(bytes: BinarySlice<u8>) -> PhpResult<Zval> {
        let source = Source {
            what: What::Value,
            from_region: false,
        };
        Ok(decode::decode_value(&bytes, &source)?)
    }

    pub fn uuid_v7() -> PhpResult<Zval> {
        let id = uuid::new_v7().map_err(ExtError::InvalidArgument)?;
        Ok(engine::bytes(&uuid::format(&id)))
    }

    pub fn connection_state() -> String {
        client::connection_state()
    }
}
