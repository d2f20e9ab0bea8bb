//! The error of mapping one record: which mapping line, which output field, which source column
//! and value, and why — enough for ops to find both the bad record and the line to fix.

use std::fmt;
use std::sync::Arc;

/// One record could not be mapped (or a file's columns do not fit the mapping).
///
/// Displays as `mappings/erp_inventory.toml:12: field "on_hand" (from column "LABST"): cannot read
/// "12,x" as a decimal`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MapError {
    /// The mapping file, as it was loaded.
    pub mapping: Arc<str>,
    /// 1-based line in the mapping file of the field, `when` or `subject` at fault.
    pub line: usize,
    /// Output field name (dotted when nested); `None` when the problem is not one field's.
    pub field: Option<Arc<str>>,
    /// Source column the field reads, when it reads one.
    pub column: Option<Arc<str>>,
    /// The offending value, when there is one.
    pub value: Option<String>,
    /// What went wrong, in words for ops.
    pub reason: String,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.mapping, self.line)?;
        if let Some(field) = &self.field {
            write!(f, "field \"{field}\"")?;
            if let Some(column) = &self.column {
                write!(f, " (from column \"{column}\")")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_mapping_line_field_column_and_reason() {
        let e = MapError {
            mapping: "mappings/erp_inventory.toml".into(),
            line: 12,
            field: Some("on_hand".into()),
            column: Some("LABST".into()),
            value: Some("12,x".into()),
            reason: "cannot read \"12,x\" as a decimal".into(),
        };
        assert_eq!(
            e.to_string(),
            "mappings/erp_inventory.toml:12: field \"on_hand\" (from column \"LABST\"): cannot read \"12,x\" as a decimal"
        );
    }

    #[test]
    fn errors_not_about_a_field_show_only_the_reason() {
        let e = MapError {
            mapping: "m.toml".into(),
            line: 3,
            field: None,
            column: None,
            value: None,
            reason: "when: undefined value".into(),
        };
        assert_eq!(e.to_string(), "m.toml:3: when: undefined value");
    }
}
