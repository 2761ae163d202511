//! Events between PHP and the daemon: the per-process event type aliases
//! (`registerEventTypes`), event objects built from the region (payload properties plus the
//! private `EventSrv\Event::$meta`), and `NewEvent`s built from PHP event objects for `append`.
//!
//! Must never: guess a class for a stored type that neither has an alias nor names a loadable
//! class (that is an `UnknownEventTypeException` naming the event).

use std::cell::RefCell;
use std::collections::HashMap;

use eventsrv_format::protocol::NewEvent;
use eventsrv_format::region::EventRef;
use ext_php_rs::types::{ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::ClassEntry;

use crate::decode::{self, PropertyPlan, Source, What};
use crate::encode::{self, lossy};
use crate::engine::{self, ArrayBuilder, Key};
use crate::exceptions::{ExtError, ExtResult};
use crate::uuid;

/// The userland base class whose private `$meta` carries an event's position and identity.
const EVENT_BASE_CLASS: &[u8] = b"EventSrv\\Event";

#[derive(Default)]
struct TypeMap {
    /// lowercase class name → stored type
    class_to_type: HashMap<Vec<u8>, Vec<u8>>,
    /// stored type → class name
    type_to_class: HashMap<Vec<u8>, Vec<u8>>,
}

thread_local! {
    static TYPES: RefCell<TypeMap> = RefCell::new(TypeMap::default());
}

/// Add `class => type` aliases (later registrations of a class or type win).
pub fn register_types(map: &ZendHashTable) -> ExtResult<()> {
    let mut pairs = Vec::new();
    engine::for_each(map, |key, value| {
        let Key::Str(class) = key else {
            return Err(ExtError::InvalidArgument(
                "registerEventTypes() expects an array of class name => event type".to_owned(),
            ));
        };
        let Some(kind) = engine::deref(value).zend_str() else {
            return Err(ExtError::InvalidArgument(format!(
                "registerEventTypes(): the event type of {} must be a string",
                lossy(class)
            )));
        };
        pairs.push((
            engine::normalize_class(class).to_vec(),
            kind.as_bytes().to_vec(),
        ));
        Ok(())
    })?;
    TYPES.with(|cell| {
        let mut types = cell.borrow_mut();
        for (class, kind) in pairs {
            types
                .class_to_type
                .insert(class.to_ascii_lowercase(), kind.clone());
            types.type_to_class.insert(kind, class);
        }
    });
    Ok(())
}

/// The stored type of an event object: its alias, else its class name.
pub fn type_of_class(class: &[u8]) -> Vec<u8> {
    TYPES
        .with(|cell| {
            cell.borrow()
                .class_to_type
                .get(&class.to_ascii_lowercase())
                .cloned()
        })
        .unwrap_or_else(|| class.to_vec())
}

fn class_of_type(kind: &[u8]) -> Vec<u8> {
    TYPES
        .with(|cell| cell.borrow().type_to_class.get(kind).cloned())
        .unwrap_or_else(|| kind.to_vec())
}

/// Builds event objects for one reading call (caches class lookups).
pub struct EventBuilder {
    classes: HashMap<Vec<u8>, (&'static ClassEntry, PropertyPlan)>,
    event_base: Option<&'static ClassEntry>,
    meta_name: ext_php_rs::boxed::ZBox<ZendStr>,
}

impl EventBuilder {
    pub fn new() -> Self {
        EventBuilder {
            classes: HashMap::new(),
            event_base: engine::lookup_class(EVENT_BASE_CLASS),
            meta_name: ZendStr::new("meta", false),
        }
    }

    pub fn build(&mut self, event: &EventRef<'_>) -> ExtResult<Zval> {
        let (class, plan) = self.class_for(event)?;
        let what = What::Event {
            kind: event.event_type,
            stream: event.stream,
            version: event.stream_version,
            position: event.position,
        };
        let source = Source {
            what,
            from_region: true,
        };
        let mut object = decode::instantiate(class, &source)?;
        decode::hydrate(&mut object, class, event.payload, &source, plan)?;
        if let Some(base) = self.event_base.filter(|base| class.instance_of(base)) {
            let meta = self.meta(event, &source)?;
            let scope = std::ptr::from_ref(base).cast_mut();
            engine::write_property(scope, &mut object, &mut *self.meta_name, meta);
            if engine::exception_pending() {
                return Err(ExtError::Pending);
            }
        }
        Ok(engine::object(object))
    }

    fn class_for(
        &mut self,
        event: &EventRef<'_>,
    ) -> ExtResult<(&'static ClassEntry, &mut PropertyPlan)> {
        if self.classes.contains_key(event.event_type) {
            let (class, plan) = self
                .classes
                .get_mut(event.event_type)
                .expect("checked just above");
            return Ok((*class, plan));
        }
        let name = class_of_type(event.event_type);
        match engine::lookup_class(&name) {
            Some(class) => {
                let (class, plan) = self
                    .classes
                    .entry(event.event_type.to_vec())
                    .or_insert((class, PropertyPlan::new(class)));
                Ok((*class, plan))
            }
            None if engine::exception_pending() => Err(ExtError::Pending),
            None => Err(ExtError::UnknownEventType(format!(
                "unknown event type {} (stream {}, version {}, position {}): it has no alias \
                 registered with registerEventTypes() and is not a class that can be loaded",
                lossy(event.event_type),
                lossy(event.stream),
                event.stream_version,
                event.position
            ))),
        }
    }

    fn meta(&self, event: &EventRef<'_>, source: &Source<'_>) -> ExtResult<Zval> {
        let mut meta = ArrayBuilder::with_capacity(8);
        meta.insert_str("position", engine::long(event.position as i64));
        meta.insert_str("stream", engine::bytes(event.stream));
        meta.insert_str("version", engine::long(event.stream_version as i64));
        meta.insert_str("recorded_at_us", engine::long(event.recorded_at_us));
        meta.insert_str(
            "event_id",
            engine::bytes(uuid::format(&event.event_id).as_bytes()),
        );
        meta.insert_str("type", engine::bytes(event.event_type));
        let metadata = if event.metadata.is_empty() {
            ArrayBuilder::with_capacity(0).into_zval()
        } else {
            decode::decode_value(event.metadata, source)?
        };
        meta.insert_str("metadata", metadata);
        Ok(meta.into_zval())
    }
}

/// An event object and its metadata array as a `NewEvent` for `append`.
pub fn new_event(index: usize, event: &Zval, metadata: Option<&Zval>) -> ExtResult<NewEvent> {
    let Some(object) = engine::deref(event).object() else {
        return Err(ExtError::InvalidArgument(format!(
            "append(): events[{index}] is not an object"
        )));
    };
    let class = engine::class_name(object.get_class_entry());
    let payload = encode::encode_public_properties(object)?;
    let event_id = match metadata.and_then(|m| explicit_event_id(m)) {
        Some(text) => uuid::parse(text).ok_or_else(|| {
            ExtError::InvalidArgument(format!(
                "append(): metadata[{index}]['event_id'] is not a uuid: {}",
                lossy(text)
            ))
        })?,
        None => uuid::new_v7().map_err(ExtError::InvalidArgument)?,
    };
    let metadata = match metadata {
        Some(value) => encode::encode_value(value)?,
        None => {
            let mut empty = eventsrv_format::vtree::Encoder::new();
            empty.begin_map(0);
            empty.into_bytes()
        }
    };
    Ok(NewEvent {
        event_id,
        event_type: String::from_utf8_lossy(&type_of_class(class)).into_owned(),
        metadata,
        payload,
    })
}

fn explicit_event_id(metadata: &Zval) -> Option<&[u8]> {
    let table = engine::deref(metadata).array()?;
    table
        .get("event_id")
        .and_then(|value| engine::deref(value).zend_str())
        .map(|s| s.as_bytes())
}
