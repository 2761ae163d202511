//! Per-request cache of what reading entities of a class needs: the class entry (looked up,
//! with autoload, once), the class's index in the mapped region, and the property plan that
//! turns stored property names into slots of its objects.
//!
//! Owns: the cache and its lifetime. Cleared at every request start (RINIT): class entries of
//! user classes die at request end under php-fpm, so nothing here may outlive a request.
//! The region class index is remembered together with the identity of the mapping it was
//! read from (a class's index never changes within one region file), and only once found:
//! a class without entities is asked again next time.
//! Must never: hand out a class entry from an earlier request, or a class index for another
//! region file.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use ext_php_rs::zend::ClassEntry;

use crate::decode::{same_name, PropertyPlan};
use crate::encode::lossy;
use crate::engine;
use crate::exceptions::{ExtError, ExtResult};
use crate::mapping::Mapping;

/// Classes remembered per request; more are served uncached (still correct, just slower).
const CLASSES_CACHED_MAX: usize = 256;

/// One entity class as this request reads it.
pub struct EntityClass {
    name: Box<[u8]>,
    /// Looked up on first use (`None`: not yet).
    entry: Cell<Option<&'static ClassEntry>>,
    /// (mapping inode, mapping generation, class index).
    region_index: Cell<Option<(u64, u64, u32)>>,
    /// Created together with `entry`.
    plan: RefCell<Option<PropertyPlan>>,
}

/// The classes this request read, and which was asked for last (a request mostly reads one
/// class after another: that one is compared first). One thread-local: each access to one
/// costs a call in a shared library.
struct Cache {
    classes: Vec<Rc<EntityClass>>,
    last_hit: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache {
            classes: Vec::new(),
            last_hit: 0,
        })
    };
}

/// Called at request start (RINIT).
pub fn start_request() {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.classes.clear();
        cache.last_hit = 0;
    });
}

/// The cached entry for class name `name` (as given, without a leading backslash).
pub fn get(name: &[u8]) -> Rc<EntityClass> {
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(hit) = cache
            .classes
            .get(cache.last_hit)
            .filter(|class| same_name(&class.name, name))
        {
            return hit.clone();
        }
        if let Some(at) = cache
            .classes
            .iter()
            .position(|class| same_name(&class.name, name))
        {
            cache.last_hit = at;
            return cache.classes[at].clone();
        }
        let fresh = Rc::new(EntityClass {
            name: name.into(),
            entry: Cell::new(None),
            region_index: Cell::new(None),
            plan: RefCell::new(None),
        });
        if cache.classes.len() < CLASSES_CACHED_MAX {
            cache.classes.push(fresh.clone());
            cache.last_hit = cache.classes.len() - 1;
        }
        fresh
    })
}

impl EntityClass {
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The class's index in `mapping`, or `None` if no entity of it was ever stored there.
    pub fn region_index(&self, mapping: &Mapping) -> ExtResult<Option<u32>> {
        let identity = (mapping.region.inode, mapping.region.generation);
        if let Some((inode, generation, index)) = self.region_index.get() {
            if (inode, generation) == identity {
                return Ok(Some(index));
            }
        }
        let found = mapping
            .view()
            .class_index(&self.name)
            .map_err(|e| mapping.error(e))?;
        if let Some(index) = found {
            self.region_index.set(Some((identity.0, identity.1, index)));
        }
        Ok(found)
    }

    /// The class entry (autoloaded on first use).
    pub fn entry(&self) -> ExtResult<&'static ClassEntry> {
        if let Some(entry) = self.entry.get() {
            return Ok(entry);
        }
        match engine::lookup_class(&self.name) {
            Some(entry) => {
                self.entry.set(Some(entry));
                *self.plan.borrow_mut() = Some(PropertyPlan::new(entry));
                Ok(entry)
            }
            None if engine::exception_pending() => Err(ExtError::Pending),
            None => Err(ExtError::Serialization(format!(
                "cannot read entities of class {}: the class does not exist and could not be \
                 autoloaded",
                lossy(&self.name)
            ))),
        }
    }

    /// Run `with` on the class's property plan (after [`EntityClass::entry`] succeeded). A
    /// re-entrant read of the same class (an autoloader or a TypeError handler reading
    /// entities) gets a plan of its own.
    pub fn with_plan<T>(&self, entry: &ClassEntry, with: impl FnOnce(&mut PropertyPlan) -> T) -> T {
        match self.plan.try_borrow_mut() {
            Ok(mut plan) => with(plan.get_or_insert_with(|| PropertyPlan::new(entry))),
            Err(_) => with(&mut PropertyPlan::new(entry)),
        }
    }
}
