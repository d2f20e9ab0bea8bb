//! Binding per file: the records of one file share one `Arc<Columns>`, so a mapping is bound to a
//! file's columns once, when the first record of a new file arrives.

use super::{BoundMapping, MapError, Mapping};
use crate::format::record::Columns;
use std::sync::Arc;

/// A mapping bound to the columns of the file being read.
#[derive(Debug)]
pub struct Binder<'m> {
    mapping: &'m Mapping,
    bound: Option<(Arc<Columns>, BoundMapping<'m>)>,
}

impl<'m> Binder<'m> {
    pub fn new(mapping: &'m Mapping) -> Self {
        Self {
            mapping,
            bound: None,
        }
    }

    /// The mapping bound to `columns`, binding it when they are not the last ones seen. A bind
    /// error concerns the whole file (a column the mapping reads is missing).
    pub fn bind(&mut self, columns: &Arc<Columns>) -> Result<&BoundMapping<'m>, MapError> {
        let current = match self.bound.take() {
            Some((c, bound)) if Arc::ptr_eq(&c, columns) => (c, bound),
            _ => (Arc::clone(columns), self.mapping.bind(columns)?),
        };
        Ok(&self.bound.insert(current).1)
    }
}
