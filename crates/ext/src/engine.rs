//! Thin wrappers over the Zend engine calls and structures ext-php-rs does not wrap (or wraps
//! in a way that is not binary-safe): zval types, raw hash-table iteration, array building with
//! byte-string keys, class lookup with autoload, property writes in a class scope, enum cases,
//! static method calls.
//!
//! Owns: every `extern "C"` declaration of the extension and every raw pointer walk over engine
//! structures. Must never: hand out a borrowed engine pointer past the call that produced it, or
//! drop a zval whose ownership moved into a hash table.

use std::ffi::{c_char, c_int};
use std::ptr;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::ffi::{
    self, zend_class_entry, zend_object, zend_string, zval, HashTable as RawHashTable,
};
use ext_php_rs::types::{ZendHashTable, ZendObject, ZendStr, Zval};
use ext_php_rs::zend::{ClassEntry, ExecutorGlobals, ModuleEntry};

// Zend type codes (Zend/zend_types.h).
pub const IS_UNDEF: u8 = 0;
pub const IS_NULL: u8 = 1;
pub const IS_FALSE: u8 = 2;
pub const IS_TRUE: u8 = 3;
pub const IS_LONG: u8 = 4;
pub const IS_DOUBLE: u8 = 5;
pub const IS_STRING: u8 = 6;
pub const IS_ARRAY: u8 = 7;
pub const IS_OBJECT: u8 = 8;
pub const IS_RESOURCE: u8 = 9;
pub const IS_REFERENCE: u8 = 10;
pub const IS_INDIRECT: u8 = 12;

// Class and member flags (Zend/zend_compile.h).
pub const ACC_STATIC: u32 = 1 << 4;
pub const ACC_INTERFACE: u32 = 1 << 0;
pub const ACC_TRAIT: u32 = 1 << 1;
pub const ACC_ANON_CLASS: u32 = 1 << 2;
pub const ACC_IMPLICIT_ABSTRACT_CLASS: u32 = 1 << 4;
pub const ACC_EXPLICIT_ABSTRACT_CLASS: u32 = 1 << 6;
pub const ACC_ENUM: u32 = 1 << 28;
const CLASS_CONST_IS_CASE: u32 = 1 << 6;
const HASH_FLAG_PACKED: u32 = 1 << 2;

extern "C" {
    // All exported by the PHP binary; resolved when the extension is loaded.
    fn zend_ini_string_ex(
        name: *const c_char,
        len: usize,
        orig: c_int,
        exists: *mut bool,
    ) -> *mut c_char;
    fn zend_update_property_ex(
        scope: *mut zend_class_entry,
        object: *mut zend_object,
        name: *mut zend_string,
        value: *mut zval,
    );
    fn zend_enum_get_case_by_value(
        result: *mut *mut zend_object,
        ce: *mut zend_class_entry,
        long_key: i64,
        string_key: *mut zend_string,
        try_from: bool,
    ) -> c_int;
    fn display_ini_entries(module: *mut ModuleEntry);
    fn zend_clear_exception();
    fn object_init_ex(arg: *mut zval, ce: *mut zend_class_entry) -> c_int;
    fn zval_ptr_dtor(value: *mut zval);
    // Set at engine startup (MINIT of Zend and ext/date, which PHP always builds in) and never
    // changed afterwards.
    static zend_ce_closure: *mut zend_class_entry;
    static zend_ce_generator: *mut zend_class_entry;
    fn php_date_get_interface_ce() -> *mut zend_class_entry;
}

// Property and type bits (Zend/zend_compile.h, Zend/zend_types.h).
const ACC_READONLY: u32 = 1 << 7;
const TYPE_MASK: u32 = (1 << 25) - 1;
const PROP_UNINIT: u32 = 1;

/// The type code of a zval (references not followed).
pub fn type_of(value: &Zval) -> u8 {
    // SAFETY: every zval has its type in the low byte of `u1.type_info`.
    unsafe { value.u1.v.type_ }
}

/// Follow a reference to the value it holds.
pub fn deref(value: &Zval) -> &Zval {
    if type_of(value) == IS_REFERENCE {
        // SAFETY: an IS_REFERENCE zval points at a live zend_reference whose first value is `val`.
        unsafe { &(*value.value.ref_).val }
    } else {
        value
    }
}

/// Bytes of a zend_string.
pub fn zstr_bytes<'a>(s: *const zend_string) -> &'a [u8] {
    // SAFETY: callers pass live zend_strings; `ZendStr` is the same type.
    unsafe { (*(s as *const ZendStr)).as_bytes() }
}

/// The current value of an ini setting (`None` if it is not registered).
pub fn ini_string(name: &str) -> Option<String> {
    let mut exists = false;
    // SAFETY: `name` is valid for `len` bytes; the returned pointer is a NUL-terminated string
    // owned by the ini table for the rest of the request.
    unsafe {
        let value = zend_ini_string_ex(name.as_ptr().cast(), name.len(), 0, &mut exists);
        if value.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(value)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// The current value of an ini setting as bytes, borrowed from the ini table: valid until the
/// setting changes, so callers use it at once (no allocation on the hot path).
pub fn ini_bytes(name: &str) -> Option<&'static [u8]> {
    let mut exists = false;
    // SAFETY: as in `ini_string`.
    unsafe {
        let value = zend_ini_string_ex(name.as_ptr().cast(), name.len(), 0, &mut exists);
        if value.is_null() {
            return None;
        }
        Some(std::ffi::CStr::from_ptr(value).to_bytes())
    }
}

/// A registered ini setting, to read its current value without a lookup by name.
#[derive(Clone, Copy)]
pub struct IniEntry(*const ffi::zend_ini_entry);

/// The entry of ini setting `name`, if registered. Entries live from MINIT to MSHUTDOWN and
/// `ini_set()` changes their value in place; callers still keep one no longer than a request.
pub fn ini_entry(name: &str) -> Option<IniEntry> {
    // SAFETY: NTS PHP: `executor_globals.ini_directives` is the live table of registered ini
    // entries (IS_PTR values), read on the only request thread.
    unsafe {
        let table = (*ptr::addr_of!(ffi::executor_globals)).ini_directives;
        if table.is_null() {
            return None;
        }
        let found = ffi::zend_hash_str_find(table, name.as_ptr().cast(), name.len());
        if found.is_null() {
            return None;
        }
        let entry = (*found).value.ptr as *const ffi::zend_ini_entry;
        (!entry.is_null()).then_some(IniEntry(entry))
    }
}

impl IniEntry {
    /// The current value (borrowed: valid until the setting changes; use it at once).
    pub fn value(&self) -> Option<&'static [u8]> {
        // SAFETY: the entry is live (see `ini_entry`); its value is a live zend_string or null.
        unsafe {
            let value = (*self.0).value;
            (!value.is_null()).then(|| zstr_bytes(value))
        }
    }
}

pub fn print_ini_entries(module: *mut ModuleEntry) {
    // SAFETY: `module` is the module entry PHP handed to the info function.
    unsafe { display_ini_entries(module) }
}

/// True if a PHP exception is pending (thrown by code we called).
pub fn exception_pending() -> bool {
    // SAFETY: NTS PHP: `executor_globals` is one static, read on the only request thread.
    // (`ExecutorGlobals::has_exception` takes a lock for the same load; this is on the hot path.)
    unsafe { !(*ptr::addr_of!(ffi::executor_globals)).exception.is_null() }
}

/// Drop the pending PHP exception, as `catch` does.
pub fn clear_exception() {
    if exception_pending() {
        // SAFETY: we run on the PHP thread inside a request; this is what `catch` does.
        unsafe { zend_clear_exception() };
    }
}

/// One key of a PHP array.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    Int(i64),
    Str(&'a [u8]),
}

/// Visit every live element of `table` in order, with INDIRECT slots followed and
/// uninitialized (UNDEF) slots skipped. Keys are returned as stored (property tables keep
/// their mangled names).
pub fn for_each<'a, E>(
    table: &'a RawHashTable,
    mut visit: impl FnMut(Key<'a>, &'a Zval) -> Result<(), E>,
) -> Result<(), E> {
    // SAFETY: `table` is a live hash table; we read `nNumUsed` slots of the storage matching
    // its packed flag, exactly as ZEND_HASH_FOREACH does.
    unsafe {
        let used = table.nNumUsed as usize;
        let packed = table.u.flags & HASH_FLAG_PACKED != 0;
        for index in 0..used {
            let (key, value): (Key<'a>, &'a Zval) = if packed {
                let slot = &*table.__bindgen_anon_1.arPacked.add(index);
                (Key::Int(index as i64), slot)
            } else {
                let bucket = &*table.__bindgen_anon_1.arData.add(index);
                let key = if bucket.key.is_null() {
                    Key::Int(bucket.h as i64)
                } else {
                    Key::Str(zstr_bytes(bucket.key))
                };
                (key, &bucket.val)
            };
            let mut value = value;
            if type_of(value) == IS_INDIRECT {
                value = &*value.value.zv;
            }
            if type_of(value) == IS_UNDEF {
                continue;
            }
            visit(key, value)?;
        }
    }
    Ok(())
}

/// Number of live elements.
pub fn element_count(table: &RawHashTable) -> u32 {
    table.nNumOfElements
}

/// A new PHP array being filled; values move into it.
pub struct ArrayBuilder {
    table: ZBox<ZendHashTable>,
}

impl ArrayBuilder {
    pub fn with_capacity(capacity: u32) -> Self {
        ArrayBuilder {
            table: ZendHashTable::with_capacity(capacity),
        }
    }

    pub fn push(&mut self, mut value: Zval) {
        // SAFETY: the table is live; the engine copies the zval bits, so ownership moves into
        // the table and our copy must not be destroyed.
        unsafe { ffi::zend_hash_next_index_insert(&mut *self.table, &mut value) };
        std::mem::forget(value);
    }

    /// Insert with PHP's key semantics: a canonical decimal string key becomes an int key.
    pub fn insert(&mut self, key: Key<'_>, mut value: Zval) {
        let key = match key {
            Key::Str(bytes) => match canonical_int_key(bytes) {
                Some(index) => Key::Int(index),
                None => Key::Str(bytes),
            },
            key => key,
        };
        // SAFETY: as in `push`; the key bytes are valid for their length.
        unsafe {
            match key {
                Key::Int(index) => {
                    ffi::zend_hash_index_update(&mut *self.table, index as u64, &mut value);
                }
                Key::Str(bytes) => {
                    ffi::zend_hash_str_update(
                        &mut *self.table,
                        bytes.as_ptr().cast(),
                        bytes.len(),
                        &mut value,
                    );
                }
            }
        }
        std::mem::forget(value);
    }

    /// Add under a key known to be new in this array (no lookup first), the key string shared
    /// (an interned key, see [`shared_str`], is not even reference-counted).
    pub fn add_new(&mut self, key: &SharedStr, mut value: Zval) {
        // SAFETY: as in `push`; the key is a live zend_string, which the engine takes a
        // reference of unless it is interned.
        unsafe { ffi::zend_hash_add_new(&mut *self.table, key.0, &mut value) };
        std::mem::forget(value);
    }

    pub fn insert_str(&mut self, key: &str, value: Zval) {
        self.insert(Key::Str(key.as_bytes()), value);
    }

    pub fn into_zval(self) -> Zval {
        let mut out = Zval::new();
        out.set_hashtable(self.table);
        out
    }
}

/// A string made once per reading call and shared by many zvals and array keys: interned by
/// the engine (never reference-counted, freed at the end of the request), or, where opcache
/// hands out a counted string instead, counted like any other and released on drop. Kept no
/// longer than the call that made it.
pub struct SharedStr(*mut zend_string);

/// `GC_IMMUTABLE`, the flag of interned strings (IS_STR_INTERNED, Zend/zend_types.h).
const GC_IMMUTABLE: u32 = 1 << 6;
/// `IS_STRING | IS_TYPE_REFCOUNTED << Z_TYPE_FLAGS_SHIFT` (Zend/zend_types.h).
const IS_STRING_REFCOUNTED: u32 = IS_STRING as u32 | (1 << 8);

/// The request's shared string for `text`.
pub fn shared_str(text: &[u8]) -> SharedStr {
    // SAFETY: during a request `zend_string_init_interned` is the engine's (or opcache's)
    // interning function, set at startup and never null afterwards; `permanent` must be false
    // inside a request. It copies the bytes and returns a live string we hold one use of.
    unsafe {
        let init = ffi::zend_string_init_interned.expect("set by the engine at startup");
        SharedStr(init(text.as_ptr().cast(), text.len(), false))
    }
}

impl SharedStr {
    fn is_interned(&self) -> bool {
        // SAFETY: the string is live while we hold it.
        unsafe { (*self.0).gc.u.type_info & GC_IMMUTABLE != 0 }
    }

    /// A string zval of it, as ZVAL_STR_COPY makes one.
    pub fn to_zval(&self) -> Zval {
        let mut out = Zval::new();
        // SAFETY: an interned string goes into a zval without the refcounted flag
        // (ZVAL_INTERNED_STR); a counted one gets a reference for the zval, which releases it.
        unsafe {
            out.value.str_ = self.0;
            if self.is_interned() {
                out.u1.type_info = u32::from(IS_STRING);
            } else {
                (*self.0).gc.refcount += 1;
                out.u1.type_info = IS_STRING_REFCOUNTED;
            }
        }
        out
    }
}

impl Drop for SharedStr {
    fn drop(&mut self) {
        if self.is_interned() {
            return;
        }
        // SAFETY: we hold one reference of a counted, request-allocated string (made with
        // permanent = false): release it as zend_string_release does.
        unsafe {
            (*self.0).gc.refcount -= 1;
            if (*self.0).gc.refcount == 0 {
                ffi::_efree(self.0.cast());
            }
        }
    }
}

/// The engine's shared empty array (ZVAL_EMPTY_ARRAY): no allocation; PHP copies it on write.
pub fn empty_array() -> Zval {
    let mut out = Zval::new();
    // `zend_empty_array` is the engine's immutable empty array; a zval holds it as IS_ARRAY
    // without the refcounted flag, exactly as ZVAL_EMPTY_ARRAY does, so it is never freed.
    out.value.arr = ptr::addr_of!(ffi::zend_empty_array).cast_mut();
    out.u1.type_info = u32::from(IS_ARRAY);
    out
}

/// The int a string array key turns into in PHP (`"12"` → 12, `"012"` stays a string).
fn canonical_int_key(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    let canonical = match digits {
        [b'0'] => bytes.len() == 1,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit) && digits.len() <= 19,
        _ => false,
    };
    if !canonical {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

pub fn long(value: i64) -> Zval {
    let mut out = Zval::new();
    out.set_long(value);
    out
}

pub fn bool_value(value: bool) -> Zval {
    let mut out = Zval::new();
    out.set_bool(value);
    out
}

pub fn double(value: f64) -> Zval {
    let mut out = Zval::new();
    out.set_double(value);
    out
}

pub fn null() -> Zval {
    let mut out = Zval::new();
    out.set_null();
    out
}

pub fn bytes(value: &[u8]) -> Zval {
    let mut out = Zval::new();
    out.set_zend_string(ZendStr::new(value, false));
    out
}

/// `IS_OBJECT | (IS_TYPE_REFCOUNTED | IS_TYPE_COLLECTABLE) << Z_TYPE_FLAGS_SHIFT`
/// (Zend/zend_types.h).
const IS_OBJECT_EX: u32 = IS_OBJECT as u32 | (3 << 8);

/// A zval holding `value`'s one reference, as `ZVAL_OBJ` makes it (every read returns its
/// objects this way, so without ext-php-rs's generic conversion).
pub fn object(value: ZBox<ZendObject>) -> Zval {
    let mut out = Zval::new();
    // The box owns one reference of a live object; the zval takes that reference over.
    out.value.obj = value.into_raw().cast::<zend_object>();
    out.u1.type_info = IS_OBJECT_EX;
    out
}

/// The class name as PHP stores it.
pub fn class_name(ce: &ClassEntry) -> &[u8] {
    zstr_bytes(ce.name)
}

/// A class name as given by PHP code, without the leading backslash.
pub fn normalize_class(name: &[u8]) -> &[u8] {
    name.strip_prefix(b"\\").unwrap_or(name)
}

/// Look a class up by name, running the autoloader if it is not loaded yet.
pub fn lookup_class(name: &[u8]) -> Option<&'static ClassEntry> {
    let name = normalize_class(name);
    if name.is_empty() || name.contains(&0) {
        return None;
    }
    ExecutorGlobals::get().class_table()?;
    let mut name = ZendStr::new(name, false);
    // SAFETY: `name` is a live zend_string; flags 0 allows autoloading; class entries live
    // at least until the end of the request, which outlives every use we make of them.
    unsafe { ffi::zend_lookup_class_ex(&mut *name, ptr::null_mut(), 0).as_ref() }
}

/// The built-in classes the value codec treats specially, from the engine's own globals: no
/// lookup by name (three of those per encoded value were ~4,000 instructions).
#[derive(Clone, Copy)]
pub struct BuiltinClasses {
    pub closure: Option<&'static ClassEntry>,
    pub generator: Option<&'static ClassEntry>,
    pub datetime_interface: Option<&'static ClassEntry>,
}

pub fn builtin_classes() -> BuiltinClasses {
    // SAFETY: the engine sets these class entries at startup, before any extension function
    // runs, and they live until the engine shuts down; null would mean "not there" (`None`).
    unsafe {
        BuiltinClasses {
            closure: zend_ce_closure.cast::<ClassEntry>().as_ref(),
            generator: zend_ce_generator.cast::<ClassEntry>().as_ref(),
            datetime_interface: php_date_get_interface_ce().cast::<ClassEntry>().as_ref(),
        }
    }
}

/// Why a class cannot be instantiated without a constructor, if it cannot.
pub fn not_instantiable(ce: &ClassEntry) -> Option<&'static str> {
    let flags = ce.ce_flags;
    if flags & ACC_INTERFACE != 0 {
        Some("is an interface")
    } else if flags & ACC_TRAIT != 0 {
        Some("is a trait")
    } else if flags & ACC_ENUM != 0 {
        Some("is an enum")
    } else if flags & (ACC_EXPLICIT_ABSTRACT_CLASS | ACC_IMPLICIT_ABSTRACT_CLASS) != 0 {
        Some("is abstract")
    } else {
        None
    }
}

/// A declared (non-static) property of a class: what writing it needs.
#[derive(Clone, Copy)]
pub struct DeclaredProperty {
    /// The interned name (the key of the class's property table).
    name: *mut zend_string,
    /// The class that declares it (whose scope may write it, also when private or readonly).
    scope: *mut zend_class_entry,
    info: *const ffi::zend_property_info,
}

/// A declared (non-static) property of `ce` by its plain name.
pub fn declared_property(ce: &ClassEntry, name: &[u8]) -> Option<DeclaredProperty> {
    // SAFETY: `properties_info` is a live, non-packed table of IS_PTR zend_property_info; a
    // found value is the first field of its Bucket, so the Bucket's key is reachable from it.
    unsafe {
        let found = ffi::zend_hash_str_find(&ce.properties_info, name.as_ptr().cast(), name.len());
        if found.is_null() {
            return None;
        }
        let info = (*found).value.ptr as *const ffi::zend_property_info;
        if info.is_null() || (*info).flags & ACC_STATIC != 0 {
            return None;
        }
        let bucket = found as *const ffi::Bucket;
        let key = (*bucket).key;
        if key.is_null() {
            return None;
        }
        Some(DeclaredProperty {
            name: key,
            scope: (*info).ce,
            info,
        })
    }
}

/// Whether objects of `ce` are plain engine objects (the standard handlers), so a declared
/// property's slot may be written directly (see [`assign_declared`]).
pub fn has_standard_objects(ce: &ClassEntry) -> bool {
    // SAFETY: reading a field of a live class entry.
    unsafe { ce.__bindgen_anon_2.create_object.is_none() }
}

/// `$object->name = $value` for a declared property, as code of its declaring class would
/// write it, on an object of a class with [`has_standard_objects`] (`standard`) or any other.
/// Returns whether the value went straight into its slot: then no engine code ran, so no
/// exception can be pending because of this write.
///
/// Fast path: when the value needs no coercion (untyped property, or the value's type is in
/// the declared type mask, exactly the check `zend_verify_property_type` starts with) and the
/// write cannot be a readonly modification or reach `__set`, the value moves straight into
/// the property slot, as `zend_std_write_property` would put it there. Everything else (type
/// coercion, class-typed properties, TypeErrors, readonly errors) goes through
/// `zend_update_property_ex`. Leaves a PHP exception pending on failure.
pub fn assign_declared(
    object: &mut ZendObject,
    property: &DeclaredProperty,
    value: Zval,
    standard: bool,
) -> bool {
    if standard {
        // SAFETY: `info` is the live property info of the object's class (or an ancestor), so
        // `offset` addresses one of the object's declared property slots.
        unsafe {
            let info = &*property.info;
            let slot = ptr::from_mut(object)
                .cast::<u8>()
                .add(info.offset as usize)
                .cast::<zval>();
            let slot_type = (*slot).u1.v.type_;
            let writable = match slot_type {
                // Uninitialised: a typed property (flag set) is initialised without __set;
                // an unset untyped one would go to __set if the class has one.
                IS_UNDEF => (*slot).u2.extra & PROP_UNINIT != 0 || (*object.ce).__set.is_null(),
                IS_REFERENCE => false,
                _ => info.flags & ACC_READONLY == 0,
            };
            let type_mask = info.type_.type_mask;
            let fits = type_mask & TYPE_MASK == 0 || type_mask & (1u32 << type_of(&value)) != 0;
            if writable && fits {
                let old = ptr::read(slot);
                ptr::write(slot, ptr::read(&value));
                (*slot).u2.extra = 0;
                std::mem::forget(value);
                if old.u1.v.type_flags != 0 {
                    let mut old = old;
                    zval_ptr_dtor(&mut old);
                }
                return true;
            }
        }
    }
    write_property(property.scope, object, property.name, value);
    false
}

/// A new instance of `ce` (constructor not called), as `new` makes it before the constructor:
/// default property values resolved, the class's own object creation used. `None` with a PHP
/// exception pending if the class cannot be instantiated.
pub fn new_object(ce: &ClassEntry) -> Option<ZBox<ZendObject>> {
    let mut out = Zval::new();
    // SAFETY: `out` is a fresh zval the engine fills with a new object (refcount 1), which we
    // take over; on failure it stays UNDEF and an exception is pending.
    unsafe {
        if object_init_ex(&mut out, ptr::from_ref(ce).cast_mut()) != 0 || type_of(&out) != IS_OBJECT
        {
            return None;
        }
        let object = out.value.obj;
        std::mem::forget(out);
        Some(ZBox::from_raw(object.cast::<ZendObject>()))
    }
}

/// `$object->name = $value` as code of class `scope` would write it (typed-property
/// coercion, readonly initialisation). Leaves a PHP exception pending on failure.
pub fn write_property(
    scope: *mut zend_class_entry,
    object: &mut ZendObject,
    name: *mut zend_string,
    mut value: Zval,
) {
    // SAFETY: all pointers are live; the engine copies (adds a reference to) the value, and
    // our zval releases its own reference when dropped.
    unsafe { zend_update_property_ex(scope, object, name, &mut value) };
}

/// The case of enum `ce` named `name`, if there is one.
pub fn enum_case_by_name(ce: &ClassEntry, name: &[u8]) -> Option<Zval> {
    // SAFETY: `constants_table` maps names to IS_PTR zend_class_constant; we only ask the
    // engine for the case after checking it exists and is a case (zend_enum_get_case asserts).
    unsafe {
        let found = ffi::zend_hash_str_find(&ce.constants_table, name.as_ptr().cast(), name.len());
        if found.is_null() {
            return None;
        }
        let constant = (*found).value.ptr as *const ffi::zend_class_constant;
        if constant.is_null() || (*constant).value.u2.constant_flags & CLASS_CONST_IS_CASE == 0 {
            return None;
        }
        let mut zname = ZendStr::new(name, false);
        let case = ffi::zend_enum_get_case(ptr::from_ref(ce).cast_mut(), &mut *zname);
        if case.is_null() {
            return None;
        }
        let mut out = Zval::new();
        out.set_object(&mut *case);
        Some(out)
    }
}

/// The case of backed enum `ce` whose value is `value` (int or string), if there is one.
pub fn enum_case_by_value(ce: &ClassEntry, value: Key<'_>) -> Option<Zval> {
    let backing = ce.enum_backing_type as u8;
    let mut result: *mut zend_object = ptr::null_mut();
    // SAFETY: `ce` is a backed enum of the matching backing type (checked before the call, the
    // engine asserts it); `try_from` makes a missing case return SUCCESS with a null result.
    unsafe {
        let status = match value {
            Key::Int(number) if backing == IS_LONG => zend_enum_get_case_by_value(
                &mut result,
                ptr::from_ref(ce).cast_mut(),
                number,
                ptr::null_mut(),
                true,
            ),
            Key::Str(text) if backing == IS_STRING => {
                let mut key = ZendStr::new(text, false);
                zend_enum_get_case_by_value(
                    &mut result,
                    ptr::from_ref(ce).cast_mut(),
                    0,
                    &mut *key,
                    true,
                )
            }
            _ => return None,
        };
        if status != 0 || result.is_null() {
            return None;
        }
        let mut out = Zval::new();
        out.set_object(&mut *result);
        Some(out)
    }
}

/// Call a static method `ce::method(...args)` (with late static binding to `ce`).
/// `None` if the method does not exist or an exception is pending afterwards.
pub fn call_static(ce: &ClassEntry, method_lc: &str, args: &mut [Zval]) -> Option<Zval> {
    // SAFETY: `function_table` is live; the function pointer found there stays valid during the
    // call; `args` are initialised zvals the callee only reads (it adds references).
    unsafe {
        let function = ffi::zend_hash_str_find_ptr_lc(
            &ce.function_table,
            method_lc.as_ptr().cast(),
            method_lc.len(),
        ) as *mut ffi::zend_function;
        if function.is_null() {
            return None;
        }
        let mut result = Zval::new();
        ffi::zend_call_known_function(
            function,
            ptr::null_mut(),
            ptr::from_ref(ce).cast_mut(),
            &mut result,
            args.len() as u32,
            args.as_mut_ptr(),
            ptr::null_mut(),
        );
        if exception_pending() {
            return None;
        }
        Some(result)
    }
}

/// The property table of an object (declared slots and dynamic properties), as its class's
/// handler builds it.
pub fn object_properties(object: &ZendObject) -> Option<&RawHashTable> {
    // SAFETY: every object has a handlers table; `get_properties` returns a table owned by
    // the object (it stays valid while the object lives and is not modified).
    unsafe {
        let handlers = object.handlers;
        let get_properties = (*handlers).get_properties?;
        get_properties(ptr::from_ref(object).cast_mut()).as_ref()
    }
}

/// Visit an object's properties exactly as `for_each` over `object_properties` would (same
/// order, mangled names, uninitialized slots skipped). An object with the standard handlers and
/// no property table yet (no dynamic property, never iterated) is read from its declared slots
/// in place: asking for the table would make the engine allocate and fill one for this object
/// (kept until it dies), per new event object appended.
pub fn for_each_property<'a, E>(
    object: &'a ZendObject,
    mut visit: impl FnMut(Key<'a>, &'a Zval) -> Result<(), E>,
) -> Result<(), E> {
    // SAFETY: the object and its class entry are live. With the standard `get_properties` and
    // no table, the engine's own table would hold, in slot order, one entry per non-null
    // `properties_info_table[i]` (i < `default_properties_count`), keyed by its `name` and
    // pointing at the zval `offset` bytes into the object (rebuild_object_properties,
    // Zend/zend_object_handlers.c); that is what is read here.
    unsafe {
        let class = &*object.ce;
        let count = usize::try_from(class.default_properties_count).unwrap_or(0);
        let std_get_properties: unsafe extern "C" fn(*mut zend_object) -> *mut RawHashTable =
            ffi::zend_std_get_properties;
        let standard = (*object.handlers)
            .get_properties
            .is_some_and(|handler| ptr::fn_addr_eq(handler, std_get_properties));
        let table = class.properties_info_table;
        if !standard || !object.properties.is_null() || (count > 0 && table.is_null()) {
            return match object_properties(object) {
                Some(properties) => for_each(properties, visit),
                None => Ok(()),
            };
        }
        let base = ptr::from_ref(object).cast::<u8>();
        for index in 0..count {
            let info = *table.add(index);
            if info.is_null() {
                continue;
            }
            let value = &*base.add((*info).offset as usize).cast::<Zval>();
            if type_of(value) == IS_UNDEF {
                continue;
            }
            visit(Key::Str(zstr_bytes((*info).name)), value)?;
        }
    }
    Ok(())
}

/// A property table key without its visibility mangling: (plain name, is public).
pub fn unmangle(key: &[u8]) -> (&[u8], bool) {
    match key.strip_prefix(b"\0") {
        Some(rest) => match rest.iter().position(|b| *b == 0) {
            Some(end) => (&rest[end + 1..], false),
            None => (rest, false),
        },
        None => (key, true),
    }
}

/// The object in slot `index` of an object's declared-property table (enum `name`/`value`).
pub fn property_slot(object: &ZendObject, index: usize) -> &Zval {
    // SAFETY: callers only ask for slots the class declares (enums always have name at 0 and,
    // when backed, value at 1); `properties_table` is a trailing array of that many zvals.
    unsafe { &*object.properties_table.as_ptr().add(index) }
}
