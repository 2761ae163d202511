//! Events between PHP and the daemon: the per-process event type names (`registerEventTypes`:
//! one written name per class, any number of names read back as it), the per-process set of
//! types that need upcasting (`registerUpcasts`), event objects built from the region (payload
//! properties plus the private `EventSrv\Event::$meta`), and `NewEvent`s built from PHP event
//! objects for `append`.
//!
//! Must never: guess a class for a stored type that neither has a name registered nor names a
//! loadable class (that is an `UnknownEventTypeException` naming the event); call PHP while
//! building an event whose type has no upcasters registered (that path stays as fast as
//! hydration alone).

use std::cell::RefCell;
use std::collections::HashMap;

use eventsrv_format::protocol::NewEvent;
use eventsrv_format::region::EventRef;
use ext_php_rs::types::{ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::ClassEntry;

use crate::decode::{self, PropertyPlan, Source, What};
use crate::encode::{self, lossy};
use crate::engine::{self, ArrayBuilder, DeclaredProperty, Key, SharedStr};
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
    /// The class of the last event appended and its stored type: consecutive appends mostly
    /// write one class, and comparing its name is cheaper than lowercasing and hashing it.
    /// Cleared by every registration.
    last_written: Option<(Vec<u8>, String)>,
}

thread_local! {
    static TYPES: RefCell<TypeMap> = RefCell::new(TypeMap::default());
    /// stored type → the current version of its class, for types with upcasters
    static UPCASTS: RefCell<HashMap<Vec<u8>, i64>> = RefCell::new(HashMap::new());
}

/// Names one class may be registered under (its written name and the aliases it reads).
const NAMES_PER_CLASS_MAX: usize = 64;

/// The userland static method that runs a chain of upcasters (docs/extension.md).
const UPCASTERS_CLASS: &[u8] = b"EventSrv\\Upcasters";
const UPCAST_METHOD_LC: &str = "upcaststored";
/// The metadata key holding the payload version an event was stored with (absent: 1).
const EVENT_VERSION_KEY: &str = "event_version";

/// Add `class => type` (or `class => [written type, alias, …]`) names; later registrations
/// of a class or type win.
pub fn register_types(map: &ZendHashTable) -> ExtResult<()> {
    let mut pairs = Vec::new();
    engine::for_each(map, |key, value| {
        let Key::Str(class) = key else {
            return Err(ExtError::InvalidArgument(
                "registerEventTypes() expects an array of class name => event type".to_owned(),
            ));
        };
        let class = engine::normalize_class(class).to_vec();
        let value = engine::deref(value);
        let names = if let Some(kind) = value.zend_str() {
            vec![kind.as_bytes().to_vec()]
        } else if let Some(list) = value.array() {
            let mut names = Vec::new();
            engine::for_each(list, |_, name| {
                let Some(name) = engine::deref(name).zend_str() else {
                    return Err(type_name_error(&class));
                };
                if names.len() == NAMES_PER_CLASS_MAX {
                    return Err(ExtError::InvalidArgument(format!(
                        "registerEventTypes(): {} has more than {NAMES_PER_CLASS_MAX} names",
                        lossy(&class)
                    )));
                }
                names.push(name.as_bytes().to_vec());
                Ok(())
            })?;
            names
        } else {
            return Err(type_name_error(&class));
        };
        if names.is_empty() {
            return Err(type_name_error(&class));
        }
        pairs.push((class, names));
        Ok(())
    })?;
    TYPES.with(|cell| {
        let mut types = cell.borrow_mut();
        types.last_written = None;
        for (class, names) in pairs {
            types
                .class_to_type
                .insert(class.to_ascii_lowercase(), names[0].clone());
            for name in names {
                types.type_to_class.insert(name, class.clone());
            }
        }
    });
    Ok(())
}

fn type_name_error(class: &[u8]) -> ExtError {
    ExtError::InvalidArgument(format!(
        "registerEventTypes(): the event type of {} must be a string or a non-empty list of strings",
        lossy(class)
    ))
}

/// Add `stored type => current version` for the types whose reads may need upcasting.
pub fn register_upcasts(map: &ZendHashTable) -> ExtResult<()> {
    let mut pairs = Vec::new();
    engine::for_each(map, |key, value| {
        let Key::Str(kind) = key else {
            return Err(ExtError::InvalidArgument(
                "registerUpcasts() expects an array of event type => current version".to_owned(),
            ));
        };
        match engine::deref(value).long() {
            Some(version) if version >= 1 => {
                pairs.push((kind.to_vec(), version));
                Ok(())
            }
            _ => Err(ExtError::InvalidArgument(format!(
                "registerUpcasts(): the current version of {} must be an int of 1 or more",
                lossy(kind)
            ))),
        }
    })?;
    UPCASTS.with(|cell| cell.borrow_mut().extend(pairs));
    Ok(())
}

fn upcast_version_of(kind: &[u8]) -> Option<i64> {
    UPCASTS.with(|cell| cell.borrow().get(kind).copied())
}

/// The stored type new events of `class` are written under, as the protocol carries it.
fn written_type_of_class(class: &[u8]) -> String {
    TYPES.with(|cell| {
        let mut types = cell.borrow_mut();
        if let Some((last_class, stored)) = &types.last_written {
            if last_class.as_slice() == class {
                return stored.clone();
            }
        }
        let stored = match types.class_to_type.get(&class.to_ascii_lowercase()) {
            Some(stored) => lossy(stored),
            None => lossy(class),
        };
        types.last_written = Some((class.to_vec(), stored.clone()));
        stored
    })
}

fn class_of_type(kind: &[u8]) -> Vec<u8> {
    TYPES
        .with(|cell| cell.borrow().type_to_class.get(kind).cloned())
        .unwrap_or_else(|| kind.to_vec())
}

/// What one reading call knows about a stored type.
struct TypeEntry {
    /// The stored type it is for.
    stored: Box<[u8]>,
    class: &'static ClassEntry,
    plan: PropertyPlan,
    /// The class's current version if the type has upcasters registered.
    upcast_to: Option<i64>,
    /// The stored type as `$meta['type']`: one string shared by all events of the type.
    kind: SharedStr,
}

/// The keys of `EventSrv\Event::$meta`, made once per reading call (interned): building the
/// array of every event then allocates no key string (7 per event otherwise).
struct MetaKeys {
    position: SharedStr,
    stream: SharedStr,
    version: SharedStr,
    recorded_at_us: SharedStr,
    event_id: SharedStr,
    kind: SharedStr,
    metadata: SharedStr,
}

impl MetaKeys {
    fn new() -> Self {
        MetaKeys {
            position: engine::shared_str(b"position"),
            stream: engine::shared_str(b"stream"),
            version: engine::shared_str(b"version"),
            recorded_at_us: engine::shared_str(b"recorded_at_us"),
            event_id: engine::shared_str(b"event_id"),
            kind: engine::shared_str(b"type"),
            metadata: engine::shared_str(b"metadata"),
        }
    }
}

/// Builds event objects for one reading call (caches class lookups).
pub struct EventBuilder {
    types: Vec<TypeEntry>,
    /// stored type → index in `types`
    type_index: HashMap<Vec<u8>, usize>,
    /// The type of the previous event: consecutive events mostly share one, and comparing the
    /// name costs a fraction of hashing it (SipHash was ~700 instructions per event).
    last_type: usize,
    event_base: Option<&'static ClassEntry>,
    meta_name: ext_php_rs::boxed::ZBox<ZendStr>,
    /// `EventSrv\Event::$meta` as a declared slot, written in place like hydrated properties.
    meta_property: Option<DeclaredProperty>,
    meta_keys: MetaKeys,
    /// The previous event's stream and its `$meta['stream']` string: consecutive events mostly
    /// belong to one stream (the events of one persist, an aggregate's history), and sharing the
    /// string saves an allocation and a copy per event.
    last_stream: Option<(Vec<u8>, Zval)>,
}

impl EventBuilder {
    pub fn new() -> Self {
        let event_base = engine::lookup_class(EVENT_BASE_CLASS);
        EventBuilder {
            types: Vec::new(),
            type_index: HashMap::new(),
            last_type: 0,
            event_base,
            meta_name: ZendStr::new("meta", false),
            meta_property: event_base.and_then(|base| engine::declared_property(base, b"meta")),
            meta_keys: MetaKeys::new(),
            last_stream: None,
        }
    }

    pub fn build(&mut self, event: &EventRef<'_>) -> ExtResult<Zval> {
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
        let event_base = self.event_base;
        let index = self.type_for(event)?;
        let entry = &mut self.types[index];
        if let Some(current) = entry.upcast_to {
            return self.build_upcast(event, &source, index, current);
        }
        let (class, plan) = (entry.class, &mut entry.plan);
        let mut object = decode::instantiate(class, &source)?;
        decode::hydrate(&mut object, class, event.payload, &source, plan)?;
        if let Some(base) = event_base.filter(|base| class.instance_of(base)) {
            let meta = self.meta(event, &source, index)?;
            self.set_meta(base, class, &mut object, meta)?;
        }
        Ok(engine::object(object))
    }

    /// The slow path of a type with upcasters: the stored version decides whether the payload
    /// goes through `EventSrv\Upcasters::upcastStored()` before hydration.
    fn build_upcast(
        &mut self,
        event: &EventRef<'_>,
        source: &Source<'_>,
        index: usize,
        current: i64,
    ) -> ExtResult<Zval> {
        let meta = self.meta(event, source, index)?;
        let stored = stored_event_version(&meta);
        let upcast;
        let payload: &[u8] = if stored == current {
            event.payload
        } else {
            let upcasters = match engine::lookup_class(UPCASTERS_CLASS) {
                Some(class) => class,
                None if engine::exception_pending() => return Err(ExtError::Pending),
                None => {
                    return Err(ExtError::UnknownEventType(format!(
                        "{} needs upcasting, but {} cannot be loaded",
                        source.what,
                        lossy(UPCASTERS_CLASS)
                    )))
                }
            };
            let mut args = [
                engine::bytes(event.event_type),
                engine::long(stored),
                decode::decode_value(event.payload, source)?,
                meta.shallow_clone(),
            ];
            let result = match engine::call_static(upcasters, UPCAST_METHOD_LC, &mut args) {
                Some(result) if engine::deref(&result).array().is_some() => result,
                _ if engine::exception_pending() => return Err(ExtError::Pending),
                _ => {
                    return Err(ExtError::InvalidArgument(format!(
                        "{}::upcastStored() did not return an array for {}",
                        lossy(UPCASTERS_CLASS),
                        source.what
                    )))
                }
            };
            upcast = encode::encode_value(&result)?;
            &upcast
        };
        let event_base = self.event_base;
        let entry = &mut self.types[index];
        let (class, plan) = (entry.class, &mut entry.plan);
        let mut object = decode::instantiate(class, source)?;
        decode::hydrate(&mut object, class, payload, source, plan)?;
        if let Some(base) = event_base.filter(|base| class.instance_of(base)) {
            self.set_meta(base, class, &mut object, meta)?;
        }
        Ok(engine::object(object))
    }

    fn set_meta(
        &mut self,
        base: &ClassEntry,
        class: &ClassEntry,
        object: &mut decode::ZendObjectBox,
        meta: Zval,
    ) -> ExtResult<()> {
        match &self.meta_property {
            Some(property) => {
                let standard = engine::has_standard_objects(class);
                engine::assign_declared(object, property, meta, standard);
            }
            None => {
                let scope = std::ptr::from_ref(base).cast_mut();
                engine::write_property(scope, object, &mut *self.meta_name, meta);
            }
        }
        if engine::exception_pending() {
            return Err(ExtError::Pending);
        }
        Ok(())
    }

    /// The index in `types` of the event's type, looked up (and its class loaded) once per call.
    fn type_for(&mut self, event: &EventRef<'_>) -> ExtResult<usize> {
        if let Some(entry) = self.types.get(self.last_type) {
            if *entry.stored == *event.event_type {
                return Ok(self.last_type);
            }
        }
        if let Some(&index) = self.type_index.get(event.event_type) {
            self.last_type = index;
            return Ok(index);
        }
        let name = class_of_type(event.event_type);
        match engine::lookup_class(&name) {
            Some(class) => {
                self.types.push(TypeEntry {
                    stored: event.event_type.into(),
                    class,
                    plan: PropertyPlan::new(class),
                    upcast_to: upcast_version_of(event.event_type),
                    kind: engine::shared_str(event.event_type),
                });
                let index = self.types.len() - 1;
                self.type_index.insert(event.event_type.to_vec(), index);
                self.last_type = index;
                Ok(index)
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

    /// The `$meta['stream']` string: the previous event's when the stream is the same.
    fn stream(&mut self, stream: &[u8]) -> Zval {
        if let Some((bytes, shared)) = &self.last_stream {
            if bytes.as_slice() == stream {
                return shared.shallow_clone();
            }
        }
        let value = engine::bytes(stream);
        self.last_stream = Some((stream.to_vec(), value.shallow_clone()));
        value
    }

    /// The `$meta` array; runs once per event read, so its keys are interned (`MetaKeys`), the
    /// type string is shared per type, the stream string with the previous event's, and an empty
    /// metadata map is the engine's empty array.
    fn meta(&mut self, event: &EventRef<'_>, source: &Source<'_>, index: usize) -> ExtResult<Zval> {
        let stream = self.stream(event.stream);
        let keys = &self.meta_keys;
        let kind = self.types[index].kind.to_zval();
        let metadata = if is_empty_container(event.metadata) {
            engine::empty_array()
        } else {
            decode::decode_value(event.metadata, source)?
        };
        let mut meta = ArrayBuilder::with_capacity(8);
        meta.add_new(&keys.position, engine::long(event.position as i64));
        meta.add_new(&keys.stream, stream);
        meta.add_new(&keys.version, engine::long(event.stream_version as i64));
        meta.add_new(&keys.recorded_at_us, engine::long(event.recorded_at_us));
        meta.add_new(
            &keys.event_id,
            engine::bytes(&uuid::format(&event.event_id)),
        );
        meta.add_new(&keys.kind, kind);
        meta.add_new(&keys.metadata, metadata);
        Ok(meta.into_zval())
    }
}

/// Whether stored metadata is nothing, or an empty list or map (what `append()` of `[]` stores).
fn is_empty_container(bytes: &[u8]) -> bool {
    use eventsrv_format::vtree::{TAG_LIST, TAG_MAP};
    matches!(bytes, [] | [TAG_LIST | TAG_MAP, 0, 0, 0, 0])
}

/// `$meta['metadata']['event_version']`, 1 when absent or not an int.
fn stored_event_version(meta: &Zval) -> i64 {
    meta.array()
        .and_then(|meta| meta.get("metadata"))
        .and_then(|metadata| engine::deref(metadata).array())
        .and_then(|metadata| metadata.get(EVENT_VERSION_KEY))
        .and_then(|version| engine::deref(version).long())
        .unwrap_or(1)
}

/// Builds the `NewEvent`s of one append from event objects and their metadata arrays: one
/// encoder's scratch buffers serve every payload and metadata, and a metadata array given for
/// several events in a row (persist() gives the events of one command the same array) is
/// encoded once.
pub struct NewEventBuilder<'a> {
    encoding: encode::Encoding<'a>,
    /// The address of the previous event's metadata array (the caller's table holds it for
    /// the whole append).
    previous_metadata: Option<*const ZendHashTable>,
}

impl<'a> NewEventBuilder<'a> {
    pub fn new() -> Self {
        NewEventBuilder {
            encoding: encode::Encoding::new(),
            previous_metadata: None,
        }
    }

    /// The event `index` of the append, from its object and its metadata (if any);
    /// `previous` is the event built just before it.
    pub fn build(
        &mut self,
        index: usize,
        event: &'a Zval,
        metadata: Option<&'a Zval>,
        previous: Option<&NewEvent>,
    ) -> ExtResult<NewEvent> {
        let Some(object) = engine::deref(event).object() else {
            return Err(ExtError::InvalidArgument(format!(
                "append(): events[{index}] is not an object"
            )));
        };
        let class = engine::class_name(object.get_class_entry());
        let payload = self.encoding.public_properties(object)?;
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
            Some(value) => self.metadata(value, previous)?,
            None => {
                self.previous_metadata = None;
                let mut empty = eventsrv_format::vtree::Encoder::new();
                empty.begin_map(0);
                empty.into_bytes()
            }
        };
        Ok(NewEvent {
            event_id,
            event_type: written_type_of_class(class),
            metadata,
            payload,
        })
    }

    fn metadata(&mut self, value: &'a Zval, previous: Option<&NewEvent>) -> ExtResult<Vec<u8>> {
        let address = engine::deref(value).array().map(std::ptr::from_ref);
        let same = address.is_some() && address == self.previous_metadata;
        self.previous_metadata = address;
        match previous {
            Some(previous) if same => Ok(previous.metadata.clone()),
            _ => self.encoding.value(value),
        }
    }
}

fn explicit_event_id(metadata: &Zval) -> Option<&[u8]> {
    let table = engine::deref(metadata).array()?;
    table
        .get("event_id")
        .and_then(|value| engine::deref(value).zend_str())
        .map(|s| s.as_bytes())
}
