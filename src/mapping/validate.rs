//! Checking an event against its schema, and naming the mapping line behind a violation: the
//! field that wrote the failing value (or should have written the missing one), else the `type`.

use super::plan::Mapping;
use super::{MapError, Mapped};
use crate::canonical::schema::{Schema, Violation};
use std::sync::Arc;

impl Mapping {
    /// `Ok` when the event's data conforms to `schema`; else the message of a dead letter:
    /// `mapping.toml:12: field "lines.quantity" (/lines/0/quantity): schema: … `.
    pub fn validate(&self, schema: &Schema, mapped: &Mapped) -> Result<(), String> {
        let data: serde_json::Value = serde_json::from_slice(&mapped.data)
            .map_err(|e| format!("{}: the event's data is not JSON: {e}", self.file))?;
        schema
            .validate(&data)
            .map_err(|violation| self.violation(&violation, schema).to_string())
    }

    fn violation(&self, violation: &Violation, schema: &Schema) -> MapError {
        let path = field_path(violation);
        let field = self.fields.iter().find(|f| *f.name == *path).or_else(|| {
            self.fields
                .iter()
                .find(|f| path.starts_with(&format!("{}.", f.name)))
        });
        let pointer = if violation.pointer.is_empty() {
            "/"
        } else {
            violation.pointer.as_str()
        };
        MapError {
            mapping: Arc::clone(&self.file),
            line: field.map_or(self.type_line, |f| f.line),
            field: field.map(|f| Arc::clone(&f.name)),
            column: None,
            value: None,
            reason: format!(
                "the event does not conform to {} at {pointer}: {}",
                schema.file().display(),
                violation.message
            ),
        }
    }

    /// A `[group]` problem that concerns the whole file.
    pub(super) fn error_at_group(&self, reason: String) -> MapError {
        MapError {
            mapping: Arc::clone(&self.file),
            line: self.group.as_ref().map_or(0, |g| g.line),
            field: None,
            column: None,
            value: None,
            reason,
        }
    }
}

/// The dotted output field a violation is about: the pointer without list indexes, plus the
/// property a "required" message names.
fn field_path(violation: &Violation) -> String {
    let mut parts: Vec<&str> = violation
        .pointer
        .split('/')
        .filter(|p| !p.is_empty() && p.parse::<usize>().is_err())
        .collect();
    if violation.message.contains("required")
        && let Some(name) = violation.message.split('"').nth(1)
    {
        parts.push(name);
    }
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_field_names() {
        let v = |pointer: &str, message: &str| Violation {
            pointer: pointer.into(),
            message: message.into(),
        };
        assert_eq!(
            field_path(&v("/lines/0/quantity", "\"x\" is not valid")),
            "lines.quantity"
        );
        assert_eq!(
            field_path(&v("", "\"store\" is a required property")),
            "store"
        );
        assert_eq!(
            field_path(&v("/payment", "\"method\" is a required property")),
            "payment.method"
        );
    }
}
