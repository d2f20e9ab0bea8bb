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
mod difference;
mod error;
mod eval;
mod example;
mod functions;
pub(crate) mod group;
mod layout;
mod lookup;
mod mapper;
mod output;
mod path;
mod plan;
mod shape;
mod spec;
mod template;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_nested;
mod validate;

pub use binder::Binder;
pub use difference::{Unlisted, differences};
pub use error::MapError;
pub use eval::{BoundMapping, Mapped};
pub use mapper::{FailStage, Failure, Mapper, Outcome, Unit};
pub use plan::{GroupPlan, Mapping, OutputPath, SourceRead};

use crate::canonical::schema::{Schema, Schemas};
use crate::config::Diagnostics;
use std::path::Path;
use std::sync::Arc;

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

impl Mapping {
    /// Loads mapping `name` from the `mappings` folder, with the schema of its event type from
    /// `schemas`; a mapping whose type has no schema is refused, since its events could not be
    /// checked. The error lists every problem.
    pub fn load_checked(
        mappings: &Path,
        name: &str,
        schemas: &Schemas,
    ) -> Result<(Mapping, Arc<Schema>), String> {
        let mapping = Mapping::load(&mappings.join(format!("{name}.toml")))
            .map_err(|d| format!("its mapping has errors:\n{d}"))?;
        let schema = mapping.schema_in(schemas)?;
        Ok((mapping, schema))
    }

    /// The schema of the mapping's event type.
    pub fn schema_in(&self, schemas: &Schemas) -> Result<Arc<Schema>, String> {
        schemas.get(&self.event_type).cloned().ok_or_else(|| {
            format!(
                "{}: no schema for type \"{}\": write {}.json in the schemas folder (see \
                 docs/canonical-model.md)",
                self.file, self.event_type, self.event_type
            )
        })
    }
}
