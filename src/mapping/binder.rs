//! Binding per file: the rows of one file share one `Arc<Columns>`, so a mapping is bound to a
//! file's columns once, when the first row of a new file arrives. Nested records need no binding.

use super::{BoundMapping, MapError, Mapping};
use crate::format::record::{Body, Columns, Record};
use std::sync::Arc;

/// A mapping bound to the columns of the file being read.
#[derive(Debug)]
pub struct Binder<'m> {
    mapping: &'m Mapping,
    rows: Option<(Arc<Columns>, BoundMapping<'m>)>,
    tree: Option<BoundMapping<'m>>,
}

impl<'m> Binder<'m> {
    pub fn new(mapping: &'m Mapping) -> Self {
        Self {
            mapping,
            rows: None,
            tree: None,
        }
    }

    /// The mapping bound for `record`: to its columns when it is a row (binding again when they
    /// are not the last ones seen). A bind error concerns the whole file (a column the mapping
    /// reads is missing).
    pub fn bind(&mut self, record: &Record) -> Result<&BoundMapping<'m>, MapError> {
        match &record.body {
            Body::Row { columns, .. } => self.columns(columns),
            Body::Tree(_) => Ok(self.tree.get_or_insert_with(|| self.mapping.bind_tree())),
        }
    }

    /// The mapping bound to `columns`.
    pub fn columns(&mut self, columns: &Arc<Columns>) -> Result<&BoundMapping<'m>, MapError> {
        let current = match self.rows.take() {
            Some((c, bound)) if Arc::ptr_eq(&c, columns) => (c, bound),
            _ => (Arc::clone(columns), self.mapping.bind(columns)?),
        };
        Ok(&self.rows.insert(current).1)
    }
}
