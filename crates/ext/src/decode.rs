//! Value trees → PHP values, straight from the bytes (the shared mapping or a PHP string).
//!
//! Owns: building scalars, arrays, enum cases, `DateTimeInterface` objects and user-class
//! objects from a vtree, and hydrating an object from a property map. Objects are created
//! without calling their constructor; each property is written in the scope of the class that
//! declares it (so private, protected and readonly properties are set as the class itself
//! would); stored properties the class no longer declares are skipped.
//! The hot loop (a stored map of properties, every entity and event read) reads the bytes with
//! its own bounds-checked cursor and makes PHP strings itself (`string_zval`): the one raw
//! engine write outside `engine.rs`, kept here because it is the inner loop of every read.
//! Must never: trust a length or count in the bytes (the cursor and the format decoder
//! bounds-check them), or recurse deeper than `VALUE_DEPTH_MAX`.

use eventsrv_format::limits::VALUE_DEPTH_MAX;
use eventsrv_format::vtree::{
    Decoder, Node, VtreeError, TAG_FALSE, TAG_FLOAT, TAG_INT, TAG_MAP, TAG_NULL, TAG_STRING,
    TAG_TRUE,
};
use std::ptr;

use ext_php_rs::ffi;
use ext_php_rs::types::{ZendObject, ZendStr, Zval};
use ext_php_rs::zend::ClassEntry;

use crate::encode::{lossy, DATETIME_FORMAT};
use crate::engine::{self, ArrayBuilder, DeclaredProperty, Key};
use crate::exceptions::{ExtError, ExtResult};

/// Where the bytes came from: decides the error for bytes that are not a valid tree, and
/// names the thing in messages.
pub struct Source<'c> {
    pub what: What<'c>,
    /// Bytes from the shared region: broken bytes mean a corrupt region, not a bad argument.
    pub from_region: bool,
}

/// What is being decoded, rendered only when a message needs it (the hot path allocates
/// nothing for it).
#[derive(Clone, Copy)]
pub enum What<'c> {
    Value,
    Entity {
        class: &'c [u8],
        uuid: &'c [u8],
    },
    Event {
        kind: &'c [u8],
        stream: &'c [u8],
        version: u64,
        position: u64,
    },
}

impl std::fmt::Display for What<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Value => write!(f, "the value"),
            What::Entity { class, uuid } => write!(f, "entity {} {}", lossy(class), lossy(uuid)),
            What::Event {
                kind,
                stream,
                version,
                position,
            } => write!(
                f,
                "event {} (stream {}, version {version}, position {position})",
                lossy(kind),
                lossy(stream)
            ),
        }
    }
}

impl Source<'_> {
    fn broken(&self, error: VtreeError) -> ExtError {
        if self.from_region {
            ExtError::Region(format!(
                "state region holds a broken value for {}: {error}",
                self.what
            ))
        } else {
            ExtError::Serialization(format!("cannot decode {}: {error}", self.what))
        }
    }

    fn fail(&self, why: impl std::fmt::Display) -> ExtError {
        ExtError::Serialization(format!("cannot read {}: {why}", self.what))
    }
}

/// Decode one whole value.
pub fn decode_value(bytes: &[u8], source: &Source<'_>) -> ExtResult<Zval> {
    let mut decoder = Decoder::new(bytes);
    let value = value(&mut decoder, 0, source)?;
    if !decoder.is_at_end() {
        return Err(source.broken(VtreeError::TrailingBytes {
            offset: decoder.offset(),
        }));
    }
    Ok(value)
}

/// Where each stored property name of one class lands on its objects, learnt from the first
/// object and reused: entities (and events) of a class are stored with the same names in the
/// same order, so the next object checks a name by comparing bytes instead of hashing it into
/// the class's property table.
/// Valid only as long as its class entry lives: build one per reading call or per request.
pub struct PropertyPlan {
    /// Objects of the class use the standard handlers (slots may be written directly).
    standard: bool,
    /// stdClass takes undeclared names as dynamic properties.
    std_class: bool,
    /// (stored name, declared property) by position in the stored map.
    by_position: Vec<(Box<[u8]>, Option<DeclaredProperty>)>,
    /// How many positions to remember (0 for a one-off object: no allocation).
    positions_max: usize,
}

/// Whether two property names are equal. Property names are short: up to 16 bytes they are
/// compared as two overlapping words from each end (a `memcmp` call or a byte loop costs
/// several times more on the hot path), longer ones with `==`.
#[inline]
pub fn same_name(known: &[u8], name: &[u8]) -> bool {
    fn word4(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
    }
    fn word8(bytes: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    }
    let len = name.len();
    if known.len() != len {
        return false;
    }
    match len {
        0..=3 => known == name,
        4..=8 => word4(known, 0) == word4(name, 0) && word4(known, len - 4) == word4(name, len - 4),
        9..=16 => {
            word8(known, 0) == word8(name, 0) && word8(known, len - 8) == word8(name, len - 8)
        }
        _ => known == name,
    }
}

/// Positions a plan remembers; properties past it are looked up each time.
const PLAN_POSITIONS_MAX: usize = 256;

impl PropertyPlan {
    /// A plan that learns, for many objects of `class`.
    pub fn new(class: &ClassEntry) -> PropertyPlan {
        PropertyPlan {
            standard: engine::has_standard_objects(class),
            std_class: engine::class_name(class) == b"stdClass",
            by_position: Vec::new(),
            positions_max: PLAN_POSITIONS_MAX,
        }
    }

    /// A plan for one object (nested objects): looks every name up, remembers nothing.
    fn one_off(class: &ClassEntry) -> PropertyPlan {
        PropertyPlan {
            positions_max: 0,
            ..PropertyPlan::new(class)
        }
    }

    #[inline]
    fn declared(
        &mut self,
        class: &ClassEntry,
        position: usize,
        name: &[u8],
    ) -> Option<DeclaredProperty> {
        if let Some((known, target)) = self.by_position.get(position) {
            if same_name(known, name) {
                return *target;
            }
        }
        self.learn(class, position, name)
    }

    #[inline(never)]
    fn learn(
        &mut self,
        class: &ClassEntry,
        position: usize,
        name: &[u8],
    ) -> Option<DeclaredProperty> {
        let target = engine::declared_property(class, name);
        if position < self.by_position.len() {
            self.by_position[position] = (name.into(), target);
        } else if position == self.by_position.len() && position < self.positions_max {
            self.by_position.push((name.into(), target));
        }
        target
    }
}

/// Set the properties stored in `bytes` (a map of name → value, or an object whose class is
/// ignored) on `object` of class `class`.
pub fn hydrate(
    object: &mut ZendObject,
    class: &ClassEntry,
    bytes: &[u8],
    source: &Source<'_>,
    plan: &mut PropertyPlan,
) -> ExtResult<()> {
    // The common form (a map of properties) goes through the tight loop of `map_properties`.
    if bytes.first() == Some(&TAG_MAP) {
        let mut cursor = Cursor { bytes, at: 1 };
        let count = cursor.u32().map_err(|e| source.broken(e))?;
        map_properties(&mut cursor, object, class, count, plan, source)?;
        if cursor.at != bytes.len() {
            return Err(source.broken(VtreeError::TrailingBytes { offset: cursor.at }));
        }
        return Ok(());
    }
    let mut decoder = Decoder::new(bytes);
    match decoder.node().map_err(|e| source.broken(e))? {
        Node::Object { count, .. } => {
            properties(&mut decoder, object, class, count, plan, 1, source)?
        }
        Node::Null => {}
        _ => return Err(source.fail("the stored data is not a map of properties")),
    }
    if !decoder.is_at_end() {
        return Err(source.broken(VtreeError::TrailingBytes {
            offset: decoder.offset(),
        }));
    }
    Ok(())
}

/// A new PHP string (refcount 1) holding `bytes`, as `zend_string_init` makes it, inline:
/// the hot path creates one per string property, and the ext-php-rs wrapper (a C call that
/// calls the allocator) costs about twice as many instructions.
fn string_zval(bytes: &[u8]) -> Zval {
    // zend_string: refcounted header (8), hash (8), length (8), the bytes and a NUL.
    const HEADER_BYTES: usize = std::mem::offset_of!(ffi::zend_string, val);
    let size = (HEADER_BYTES + bytes.len() + 1 + 7) & !7;
    let mut out = Zval::new();
    // SAFETY: `_emalloc` returns `size` writable bytes or bails out (never null); we fill in
    // every field of the zend_string before it is reachable, and the zval takes the one
    // reference, typed as a refcounted non-interned string (IS_STRING_EX), exactly as
    // `ZVAL_STR(zv, zend_string_init(...))` leaves it.
    unsafe {
        let string = ffi::_emalloc(size).cast::<ffi::zend_string>();
        (*string).gc.refcount = 1;
        (*string).gc.u.type_info = GC_STRING;
        (*string).h = 0;
        (*string).len = bytes.len();
        let text = ptr::addr_of_mut!((*string).val).cast::<u8>();
        ptr::copy_nonoverlapping(bytes.as_ptr(), text, bytes.len());
        *text.add(bytes.len()) = 0;
        out.value.str_ = string;
        out.u1.type_info = IS_STRING_EX;
    }
    out
}

/// A zval of a type that holds no reference (null, bools, int, float), its value set by
/// `set`: what `ZVAL_LONG` and friends do, without ext-php-rs's check for an old value to
/// release (a fresh zval has none).
fn plain_zval(type_code: u8, set: impl FnOnce(&mut ffi::zend_value)) -> Zval {
    let mut out = Zval::new();
    set(&mut out.value);
    out.u1.type_info = u32::from(type_code);
    out
}

/// `IS_STRING | GC_NOT_COLLECTABLE << GC_FLAGS_SHIFT` (Zend/zend_types.h).
const GC_STRING: u32 = engine::IS_STRING as u32 | (1 << 4);
/// `IS_STRING | IS_TYPE_REFCOUNTED << Z_TYPE_FLAGS_SHIFT` (Zend/zend_types.h).
const IS_STRING_EX: u32 = engine::IS_STRING as u32 | (1 << 8);

/// Bytes of one vtree being read by `map_properties`: the same bounds checks as
/// [`Decoder`], without building a [`Node`] per key and value.
struct Cursor<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Cursor<'b> {
    fn take(&mut self, len: usize) -> Result<&'b [u8], VtreeError> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(VtreeError::Truncated { offset: self.at })?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn tag(&mut self) -> Result<u8, VtreeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, VtreeError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes(
            bytes.try_into().expect("take(4) returns 4 bytes"),
        ))
    }

    fn eight(&mut self) -> Result<[u8; 8], VtreeError> {
        Ok(self.take(8)?.try_into().expect("take(8) returns 8 bytes"))
    }

    fn raw_bytes(&mut self) -> Result<&'b [u8], VtreeError> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// The scalar value at the cursor, consumed; `None` (nothing consumed) for any other node.
    fn scalar(&mut self) -> Result<Option<Zval>, VtreeError> {
        let Some(&tag) = self.bytes.get(self.at) else {
            return Err(VtreeError::Truncated { offset: self.at });
        };
        let value = match tag {
            TAG_NULL => plain_zval(engine::IS_NULL, |_| {}),
            TAG_FALSE => plain_zval(engine::IS_FALSE, |_| {}),
            TAG_TRUE => plain_zval(engine::IS_TRUE, |_| {}),
            TAG_INT | TAG_FLOAT | TAG_STRING => {
                let start = self.at;
                self.at += 1;
                let value = match tag {
                    TAG_INT => self.eight().map(|bytes| {
                        plain_zval(engine::IS_LONG, |value| {
                            value.lval = i64::from_le_bytes(bytes);
                        })
                    }),
                    TAG_FLOAT => self.eight().map(|bytes| {
                        plain_zval(engine::IS_DOUBLE, |value| {
                            value.dval = f64::from_bits(u64::from_le_bytes(bytes));
                        })
                    }),
                    _ => self.raw_bytes().map(string_zval),
                };
                if value.is_err() {
                    self.at = start;
                }
                return value.map(Some);
            }
            _ => return Ok(None),
        };
        self.at += 1;
        Ok(Some(value))
    }

    /// Run `with` on a [`Decoder`] continuing at the cursor, then move past what it read.
    fn with_decoder<T>(
        &mut self,
        with: impl FnOnce(&mut Decoder<'b>) -> ExtResult<T>,
    ) -> ExtResult<T> {
        let mut decoder = Decoder::starting_at(self.bytes, self.at);
        let result = with(&mut decoder);
        self.at = decoder.offset();
        result
    }
}

/// The properties of a stored map (`count` pairs at the cursor) set on `object`: the hot
/// loop of every entity and event read. Scalars (what entities mostly hold) are read and
/// written to their slot in place; any other value goes through [`value`].
fn map_properties(
    cursor: &mut Cursor<'_>,
    object: &mut ZendObject,
    class: &ClassEntry,
    count: u32,
    plan: &mut PropertyPlan,
    source: &Source<'_>,
) -> ExtResult<()> {
    const DEPTH: usize = 1;
    for position in 0..count as usize {
        let key_at = cursor.at;
        let name = match cursor.tag().map_err(|e| source.broken(e))? {
            TAG_STRING => Some(cursor.raw_bytes().map_err(|e| source.broken(e))?),
            TAG_INT => {
                cursor.eight().map_err(|e| source.broken(e))?;
                None
            }
            _ => return Err(source.broken(VtreeError::BadMapKey { offset: key_at })),
        };
        let declared = name.and_then(|name| plan.declared(class, position, name));
        // Only engine code can leave an exception pending (a coercing or readonly write, a
        // nested value's autoload or enum lookup): a scalar moved into its slot runs none.
        let engine_ran = match (name, declared) {
            (_, Some(declared)) => match cursor.scalar().map_err(|e| source.broken(e))? {
                Some(item) => !engine::assign_declared(object, &declared, item, plan.standard),
                None => {
                    let item = cursor.with_decoder(|decoder| value(decoder, DEPTH, source))?;
                    engine::assign_declared(object, &declared, item, plan.standard);
                    true
                }
            },
            (Some(name), None) if plan.std_class => {
                let item = cursor.with_decoder(|decoder| value(decoder, DEPTH, source))?;
                let mut dynamic = ZendStr::new(name, false);
                let scope = std::ptr::from_ref(class).cast_mut();
                engine::write_property(scope, object, &mut *dynamic, item);
                true
            }
            _ => {
                cursor.with_decoder(|decoder| {
                    decoder.skip_value(DEPTH).map_err(|e| source.broken(e))
                })?;
                false
            }
        };
        if engine_ran && engine::exception_pending() {
            return Err(ExtError::Pending);
        }
    }
    Ok(())
}

/// A new instance of `class`, constructor not called.
pub fn instantiate(class: &ClassEntry, source: &Source<'_>) -> ExtResult<ZendObjectBox> {
    if let Some(why) = engine::not_instantiable(class) {
        return Err(source.fail(format_args!(
            "class {} {why} and cannot be instantiated",
            lossy(engine::class_name(class))
        )));
    }
    match engine::new_object(class) {
        Some(object) => Ok(object),
        None if engine::exception_pending() => Err(ExtError::Pending),
        None => Err(source.fail(format_args!(
            "class {} cannot be instantiated",
            lossy(engine::class_name(class))
        ))),
    }
}

pub type ZendObjectBox = ext_php_rs::boxed::ZBox<ZendObject>;

fn properties(
    decoder: &mut Decoder<'_>,
    object: &mut ZendObject,
    class: &ClassEntry,
    count: u32,
    plan: &mut PropertyPlan,
    depth: usize,
    source: &Source<'_>,
) -> ExtResult<()> {
    for position in 0..count as usize {
        let name = decoder.prop_name().map_err(|e| source.broken(e))?;
        property(
            decoder,
            object,
            class,
            Some(name),
            position,
            plan,
            depth,
            source,
        )?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn property(
    decoder: &mut Decoder<'_>,
    object: &mut ZendObject,
    class: &ClassEntry,
    name: Option<&[u8]>,
    position: usize,
    plan: &mut PropertyPlan,
    depth: usize,
    source: &Source<'_>,
) -> ExtResult<()> {
    let Some(name) = name else {
        return decoder.skip_value(depth).map_err(|e| source.broken(e));
    };
    match plan.declared(class, position, name) {
        Some(declared) => {
            let item = value(decoder, depth, source)?;
            engine::assign_declared(object, &declared, item, plan.standard);
        }
        None if plan.std_class => {
            let item = value(decoder, depth, source)?;
            let mut dynamic = ZendStr::new(name, false);
            let scope = std::ptr::from_ref(class).cast_mut();
            engine::write_property(scope, object, &mut *dynamic, item);
        }
        None => decoder.skip_value(depth).map_err(|e| source.broken(e))?,
    }
    if engine::exception_pending() {
        return Err(ExtError::Pending);
    }
    Ok(())
}

fn value(decoder: &mut Decoder<'_>, depth: usize, source: &Source<'_>) -> ExtResult<Zval> {
    if depth > VALUE_DEPTH_MAX {
        return Err(source.broken(VtreeError::TooDeep {
            offset: decoder.offset(),
        }));
    }
    let at = decoder.offset();
    Ok(match decoder.node().map_err(|e| source.broken(e))? {
        Node::Null => engine::null(),
        Node::Bool(flag) => engine::bool_value(flag),
        Node::Int(number) => engine::long(number),
        Node::Float(number) => engine::double(number),
        Node::Str(bytes) => engine::bytes(bytes),
        Node::List(count) => {
            let mut list = ArrayBuilder::with_capacity(count.min(1024));
            for _ in 0..count {
                list.push(value(decoder, depth + 1, source)?);
            }
            list.into_zval()
        }
        Node::Map(count) => {
            let mut map = ArrayBuilder::with_capacity(count.min(1024));
            for _ in 0..count {
                let key_at = decoder.offset();
                let key = match decoder.node().map_err(|e| source.broken(e))? {
                    Node::Int(index) => Key::Int(index),
                    Node::Str(text) => Key::Str(text),
                    _ => return Err(source.broken(VtreeError::BadMapKey { offset: key_at })),
                };
                map.insert(key, value(decoder, depth + 1, source)?);
            }
            map.into_zval()
        }
        Node::Object { class, count } => {
            let entry = find_class(class, "an object", source)?;
            let mut object = instantiate(entry, source)?;
            let mut plan = PropertyPlan::one_off(entry);
            properties(
                decoder,
                &mut object,
                entry,
                count,
                &mut plan,
                depth + 1,
                source,
            )?;
            engine::object(object)
        }
        Node::Enum { class } => {
            let entry = find_class(class, "an enum case", source)?;
            let case_at = decoder.offset();
            let case = match decoder.node().map_err(|e| source.broken(e))? {
                Node::Int(number) => Key::Int(number),
                Node::Str(text) => Key::Str(text),
                _ => return Err(source.broken(VtreeError::BadMapKey { offset: case_at })),
            };
            enum_case(entry, case, source)?
        }
        Node::DateTime { class, text } => {
            let entry = find_class(class, "a date", source)?;
            let mut args = [
                engine::bytes(DATETIME_FORMAT.as_bytes()),
                engine::bytes(text),
            ];
            match engine::call_static(entry, "createfromformat", &mut args) {
                Some(result) if result.is_object() => result,
                _ if engine::exception_pending() => return Err(ExtError::Pending),
                _ => {
                    return Err(source.fail(format_args!(
                        "the stored date '{}' does not parse as {} (format {DATETIME_FORMAT}, \
                         at byte {at})",
                        lossy(text),
                        lossy(class)
                    )))
                }
            }
        }
    })
}

fn find_class(name: &[u8], what: &str, source: &Source<'_>) -> ExtResult<&'static ClassEntry> {
    match engine::lookup_class(name) {
        Some(entry) => Ok(entry),
        None if engine::exception_pending() => Err(ExtError::Pending),
        None => Err(source.fail(format_args!(
            "it contains {what} of class {}, which does not exist and could not be autoloaded",
            lossy(name)
        ))),
    }
}

fn enum_case(class: &ClassEntry, case: Key<'_>, source: &Source<'_>) -> ExtResult<Zval> {
    let name = lossy(engine::class_name(class));
    if class.ce_flags & engine::ACC_ENUM == 0 {
        return Err(source.fail(format_args!(
            "it contains an enum case of {name}, which is not an enum"
        )));
    }
    let found = if class.enum_backing_type as u8 == engine::IS_UNDEF {
        match case {
            Key::Str(case_name) => engine::enum_case_by_name(class, case_name),
            Key::Int(_) => None,
        }
    } else {
        engine::enum_case_by_value(class, case)
    };
    if engine::exception_pending() {
        return Err(ExtError::Pending);
    }
    found.ok_or_else(|| {
        let shown = match case {
            Key::Int(number) => number.to_string(),
            Key::Str(text) => format!("'{}'", lossy(text)),
        };
        source.fail(format_args!("enum {name} has no case {shown} any more"))
    })
}
