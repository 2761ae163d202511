//! PHP values → value trees (docs/formats.md#value-tree-vtree).
//!
//! Owns: what a PHP value becomes when stored, and the [`ExtError::Serialization`] messages for
//! what cannot be stored (they name the class, the property path and why).
//! Must never: call user code other than `DateTimeInterface::format`, or produce a tree that
//! `vtree::validate` would refuse.

use std::ffi::{c_char, CStr};

use eventsrv_format::limits::{FRAME_BYTES_MAX, VALUE_DEPTH_MAX};
use eventsrv_format::vtree::Encoder;
use ext_php_rs::ffi::{zend_resource, HashTable as RawHashTable};
use ext_php_rs::types::{ZendObject, Zval};
use ext_php_rs::zend::ClassEntry;

use crate::engine::{self, Key};
use crate::exceptions::{ExtError, ExtResult};

/// `DateTimeInterface` values are stored as this text (and parsed back with it).
pub const DATETIME_FORMAT: &str = "Y-m-d\\TH:i:s.uP";

const PATH_SEGMENTS_SHOWN: usize = 12;
const ZEND_INTERNAL_CLASS: c_char = 1;

extern "C" {
    fn zend_rsrc_list_get_rsrc_type(resource: *mut zend_resource) -> *const c_char;
}

/// Bytes an encoding starts with room for: a typical event payload or metadata map fits.
const OUT_BYTES_INITIAL: usize = 256;

/// Encode any PHP value (`Native::encode`, event metadata).
pub fn encode_value(value: &Zval) -> ExtResult<Vec<u8>> {
    Encoding::new().value(value)
}

/// Encode an object's initialized public properties as a map (event payloads, entity rows).
pub fn encode_public_properties(object: &ZendObject) -> ExtResult<Vec<u8>> {
    Encoding::new().public_properties(object)
}

/// Encodes values one after another with one set of scratch buffers (the property path and the
/// enclosing values): the payloads and metadata of one append share them instead of each
/// allocating its own.
pub struct Encoding<'a> {
    encoder: ValueEncoder<'a>,
}

impl<'a> Encoding<'a> {
    pub fn new() -> Self {
        Encoding {
            encoder: ValueEncoder::new(Root::Named("value")),
        }
    }

    /// Any PHP value.
    pub fn value(&mut self, value: &'a Zval) -> ExtResult<Vec<u8>> {
        let root = match engine::type_of(engine::deref(value)) {
            engine::IS_OBJECT => match engine::deref(value).object() {
                Some(object) => Root::Class(object.get_class_entry()),
                None => Root::Named("object"),
            },
            engine::IS_ARRAY => Root::Named("array"),
            _ => Root::Named("value"),
        };
        let encoder = &mut self.encoder;
        encoder.begin(root);
        encoder.value(value, 0)?;
        encoder.finish()
    }

    /// An object's initialized public properties, as a map.
    pub fn public_properties(&mut self, object: &'a ZendObject) -> ExtResult<Vec<u8>> {
        let encoder = &mut self.encoder;
        encoder.begin(Root::Class(object.get_class_entry()));
        encoder.ancestors.push(object as *const ZendObject as usize);
        let mark = encoder.out.begin_map(0);
        let mut count = 0u32;
        engine::for_each_property(object, |key, value| {
            // Only public names are unmangled (they start with a NUL byte otherwise).
            let Key::Str(name) = key else {
                return Ok(());
            };
            if name.first() == Some(&0) {
                return Ok(());
            }
            encoder.out.string(name);
            encoder.path.push(Segment::Prop(name));
            encoder.value(value, 1)?;
            encoder.path.pop();
            count += 1;
            Ok(())
        })?;
        encoder.out.patch_count(mark, count);
        encoder.finish()
    }
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    Prop(&'a [u8]),
    Key(Key<'a>),
}

/// What is being stored, for messages (named only when a message is made).
#[derive(Clone, Copy)]
enum Root<'a> {
    Class(&'a ClassEntry),
    Named(&'static str),
}

impl std::fmt::Display for Root<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Root::Class(class) => f.write_str(&shown_class(class)),
            Root::Named(name) => f.write_str(name),
        }
    }
}

struct ValueEncoder<'a> {
    out: Encoder,
    root: Root<'a>,
    path: Vec<Segment<'a>>,
    /// Arrays and objects enclosing the current value (recursion detection).
    ancestors: Vec<usize>,
    builtin: engine::BuiltinClasses,
}

impl<'a> ValueEncoder<'a> {
    fn new(root: Root<'a>) -> Self {
        ValueEncoder {
            out: Encoder::new(),
            root,
            path: Vec::new(),
            ancestors: Vec::new(),
            builtin: engine::builtin_classes(),
        }
    }

    /// Ready for the next value (whatever a failed one left behind).
    fn begin(&mut self, root: Root<'a>) {
        self.out = Encoder::with_capacity(OUT_BYTES_INITIAL);
        self.root = root;
        self.path.clear();
        self.ancestors.clear();
    }

    /// The value's bytes, taken out of the encoder.
    fn finish(&mut self) -> ExtResult<Vec<u8>> {
        if self.out.len() > FRAME_BYTES_MAX {
            return Err(ExtError::FrameTooLarge(format!(
                "cannot store {}: it encodes to {} bytes, more than the {} MiB frame limit; \
                 nothing was sent",
                self.root,
                self.out.len(),
                FRAME_BYTES_MAX >> 20
            )));
        }
        Ok(std::mem::take(&mut self.out).into_bytes())
    }

    fn fail(&self, why: impl std::fmt::Display) -> ExtError {
        let place = if self.path.is_empty() {
            "the value".to_owned()
        } else {
            let prefix = if matches!(self.path[0], Segment::Prop(_)) {
                "property "
            } else {
                "element "
            };
            format!("{prefix}{}", self.render_path())
        };
        ExtError::Serialization(format!("cannot store {}: {place} {why}", self.root))
    }

    fn render_path(&self) -> String {
        let mut text = String::new();
        let shown = self.path.len().min(PATH_SEGMENTS_SHOWN);
        for (index, segment) in self.path[..shown].iter().enumerate() {
            match segment {
                Segment::Prop(name) if index == 0 => text.push_str(&format!("${}", lossy(name))),
                Segment::Prop(name) => text.push_str(&format!("->{}", lossy(name))),
                Segment::Key(Key::Int(index)) => text.push_str(&format!("[{index}]")),
                Segment::Key(Key::Str(key)) => text.push_str(&format!("['{}']", lossy(key))),
            }
        }
        if self.path.len() > shown {
            text.push_str(&format!("…({} more levels)", self.path.len() - shown));
        }
        text
    }

    fn value(&mut self, value: &'a Zval, depth: usize) -> ExtResult<()> {
        if depth > VALUE_DEPTH_MAX {
            return Err(self.fail(format_args!(
                "is nested more than {VALUE_DEPTH_MAX} levels deep (the value tree limit)"
            )));
        }
        let value = engine::deref(value);
        match engine::type_of(value) {
            engine::IS_UNDEF | engine::IS_NULL => self.out.null(),
            engine::IS_FALSE => self.out.bool(false),
            engine::IS_TRUE => self.out.bool(true),
            engine::IS_LONG => self.out.int(value.long().unwrap_or_default()),
            engine::IS_DOUBLE => self.out.float(value.double().unwrap_or_default()),
            engine::IS_STRING => {
                let bytes = value.zend_str().map(|s| s.as_bytes()).unwrap_or_default();
                self.out.string(bytes);
            }
            engine::IS_ARRAY => match value.array() {
                Some(table) => self.array(table, depth)?,
                None => self.out.null(),
            },
            engine::IS_OBJECT => match value.object() {
                Some(object) => self.object(object, depth)?,
                None => self.out.null(),
            },
            engine::IS_RESOURCE => {
                let kind = value
                    .resource()
                    // SAFETY: the resource is live while the zval holds it; the type name is a
                    // static string owned by the engine (or null for a closed resource).
                    .map(|resource| unsafe { zend_rsrc_list_get_rsrc_type(resource) })
                    .filter(|name| !name.is_null())
                    // SAFETY: non-null, NUL-terminated engine string.
                    .map(|name| {
                        unsafe { CStr::from_ptr(name) }
                            .to_string_lossy()
                            .into_owned()
                    })
                    .unwrap_or_else(|| "closed".to_owned());
                return Err(self.fail(format_args!(
                    "is a resource ({kind}); resources cannot be stored"
                )));
            }
            other => {
                return Err(self.fail(format_args!("has an unsupported type (zval type {other})")))
            }
        }
        Ok(())
    }

    fn enter(&mut self, identity: usize) -> ExtResult<()> {
        if self.ancestors.contains(&identity) {
            return Err(self.fail("refers back to a value that contains it (recursion)"));
        }
        self.ancestors.push(identity);
        Ok(())
    }

    fn array(&mut self, table: &'a RawHashTable, depth: usize) -> ExtResult<()> {
        self.enter(table as *const RawHashTable as usize)?;
        let count = engine::element_count(table);
        let mut next_index = 0i64;
        let is_list = engine::for_each(table, |key, _| match key {
            Key::Int(index) if index == next_index => {
                next_index += 1;
                Ok(())
            }
            _ => Err(()),
        })
        .is_ok();
        if is_list {
            self.out.begin_list(count);
        } else {
            self.out.begin_map(count);
        }
        engine::for_each(table, |key, item| {
            if !is_list {
                match key {
                    Key::Int(index) => self.out.int(index),
                    Key::Str(text) => self.out.string(text),
                }
            }
            self.path.push(Segment::Key(key));
            self.value(item, depth + 1)?;
            self.path.pop();
            Ok(())
        })?;
        self.ancestors.pop();
        Ok(())
    }

    fn object(&mut self, object: &'a ZendObject, depth: usize) -> ExtResult<()> {
        let class = object.get_class_entry();
        let name = engine::class_name(class);
        if class.ce_flags & engine::ACC_ANON_CLASS != 0 {
            let shown = shown_class(class);
            return Err(self.fail(format_args!(
                "is an instance of an anonymous class ({shown}); only named classes can be stored"
            )));
        }
        if self
            .builtin
            .closure
            .is_some_and(|closure| class.instance_of(closure))
        {
            return Err(self.fail("is a Closure; closures cannot be stored"));
        }
        if self
            .builtin
            .generator
            .is_some_and(|generator| class.instance_of(generator))
        {
            return Err(self.fail("is a Generator; generators cannot be stored"));
        }
        if class.ce_flags & engine::ACC_ENUM != 0 {
            self.out.begin_enum(name);
            let backing = class.enum_backing_type as u8;
            let case = engine::deref(engine::property_slot(object, usize::from(backing != 0)));
            match engine::type_of(case) {
                engine::IS_LONG => self.out.int(case.long().unwrap_or_default()),
                _ => self
                    .out
                    .string(case.zend_str().map(|s| s.as_bytes()).unwrap_or_default()),
            }
            return Ok(());
        }
        if self
            .builtin
            .datetime_interface
            .is_some_and(|datetime| class.instance_of(datetime))
        {
            let text = object
                .try_call_method("format", vec![&DATETIME_FORMAT])
                .ok()
                .filter(|_| !engine::exception_pending());
            let Some(text) = text else {
                return Err(ExtError::Pending);
            };
            let bytes = text.zend_str().map(|s| s.as_bytes()).unwrap_or_default();
            self.out.datetime(name, bytes);
            return Ok(());
        }
        if class.type_ == ZEND_INTERNAL_CLASS && name != b"stdClass" {
            return Err(self.fail(format_args!(
                "is an instance of the built-in class {}, whose state is not in its properties; \
                 store plain values or your own classes",
                lossy(name)
            )));
        }
        self.enter(object as *const ZendObject as usize)?;
        let mark = self.out.begin_object(name, 0);
        let mut count = 0u32;
        engine::for_each_property(object, |key, value| {
            let name = match key {
                Key::Str(mangled) => engine::unmangle(mangled).0,
                Key::Int(_) => return Ok(()),
            };
            self.out.prop_name(name);
            self.path.push(Segment::Prop(name));
            self.value(value, depth + 1)?;
            self.path.pop();
            count += 1;
            Ok(())
        })?;
        self.out.patch_count(mark, count);
        self.ancestors.pop();
        Ok(())
    }
}

/// A class name for messages: anonymous classes carry a NUL and their file after the name.
fn shown_class(class: &ClassEntry) -> String {
    lossy(
        engine::class_name(class)
            .split(|b| *b == 0)
            .next()
            .unwrap_or_default(),
    )
}

pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
