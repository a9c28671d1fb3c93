//! A type map of per-runtime state for the surfaces, as `http::Extensions` is for requests: the
//! core stores values it knows nothing about, one per type.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

type Value = Arc<dyn Any + Send + Sync>;

#[derive(Default)]
pub(crate) struct Extensions(Mutex<HashMap<TypeId, Value>>);

impl Extensions {
    /// Stores `value` as the one `T`, replacing any before it.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        let map = self.0.get_mut().unwrap_or_else(PoisonError::into_inner);
        map.insert(TypeId::of::<T>(), value);
    }

    /// The one `T`, made with `T::default()` if there is none yet.
    pub(crate) fn get_or_default<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let value = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        drop(map);
        // The entry for `TypeId::of::<T>()` only ever holds a `T`.
        value
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("an extension stored under another type's id"))
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("Extensions").field("len", &len).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn one_value_per_type_made_on_first_use() {
        let mut extensions = Extensions::default();
        let first = extensions.get_or_default::<AtomicUsize>();
        first.fetch_add(2, Ordering::Relaxed);
        assert_eq!(
            extensions
                .get_or_default::<AtomicUsize>()
                .load(Ordering::Relaxed),
            2
        );
        extensions.insert(Arc::new(String::from("given")));
        assert_eq!(*extensions.get_or_default::<String>(), "given");
    }
}
