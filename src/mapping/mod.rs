//! Declarative mappings (`mappings/<name>.toml`): a mapping file is compiled once into a plan
//! ([`Mapping::load`]), bound to a file's columns ([`Mapping::bind`]), and evaluated per record
//! ([`BoundMapping::eval`]) into the event's `data` (JSON), subject and natural key.
//!
//! spec (file syntax) → compile → plan → eval, with typed conversions in `convert` (their fast
//! paths in `layout`, which reads common date formats, and `output`, which writes JSON values),
//! lookup tables in `lookup`, the output's nesting in `shape`, the expression language in
//! `template`, and the mapping's own tests in `example`.

mod binder;
mod compile;
mod convert;
mod error;
mod eval;
mod example;
mod layout;
mod lookup;
mod output;
mod plan;
mod shape;
mod spec;
mod template;
#[cfg(test)]
mod tests;

pub use binder::Binder;
pub use error::MapError;
pub use eval::{BoundMapping, Mapped};
pub use plan::Mapping;

use crate::config::Diagnostics;
use std::path::Path;

impl Mapping {
    /// Reads and compiles the mapping file at `path`; its name is the file stem. Every problem in
    /// the file is reported, each with file:line:col.
    pub fn load(path: &Path) -> Result<Mapping, Diagnostics> {
        let text = std::fs::read_to_string(path).map_err(|e| compile::unreadable(path, &e))?;
        Self::from_text(path, &text)
    }

    /// Compiles mapping text as if read from `path` (which names the mapping, appears in messages
    /// and locates lookup files).
    pub fn from_text(path: &Path, text: &str) -> Result<Mapping, Diagnostics> {
        compile::compile(path, text)
    }
}
