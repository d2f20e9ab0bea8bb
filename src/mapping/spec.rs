//! The syntax of a mapping file (`mappings/<name>.toml`): serde types that keep the position of
//! every value, and the walk over `[fields]` that tells field specs from nested output objects.

use super::convert::FieldType;
use crate::config::Diagnostics;
use crate::config::toml_de::Source;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::BTreeMap;
use toml::Spanned;
use toml::de::DeValue;

/// Keys that make a table under `[fields]` a field rather than a nested object.
const SOURCE_KEYS: [&str; 3] = ["from", "value", "expr"];

/// The top level of a mapping file. `[fields]` is walked separately (see [`fields`]); it is
/// declared here so that it counts as a known key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileSpec {
    #[serde(rename = "type")]
    pub event_type: Spanned<String>,
    pub subject: Option<Spanned<String>>,
    pub key: Option<Vec<Spanned<String>>>,
    pub when: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    pub fields: Option<IgnoredAny>,
    #[serde(default)]
    pub lookups: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub examples: Vec<Spanned<ExampleSpec>>,
}

/// One output field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FieldSpec {
    pub from: Option<Spanned<String>>,
    pub value: Option<Spanned<toml::Value>>,
    pub expr: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub field_type: Option<Spanned<FieldType>>,
    pub format: Option<Spanned<String>>,
    pub tz: Option<Spanned<String>>,
    pub trim: Option<Spanned<bool>>,
    pub default: Option<Spanned<toml::Value>>,
    pub required: Option<Spanned<bool>>,
    pub lookup: Option<Spanned<String>>,
}

/// One `[[examples]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExampleSpec {
    pub input: BTreeMap<String, String>,
    pub output: Option<toml::Table>,
    pub error: Option<String>,
    #[serde(default)]
    pub skipped: bool,
}

/// A field found under `[fields]`: its output path, where its key is, and its spec.
#[derive(Debug)]
pub(super) struct FieldEntry {
    pub path: Vec<String>,
    /// Byte offset of the field's key in the file.
    pub at: usize,
    pub spec: FieldSpec,
}

/// Walks `[fields]`: a table with `from`, `value` or `expr` (or any non-table value) is a field;
/// a table of tables is a nested output object. Quoted dotted keys (`"customer.name"`) nest too.
/// Entries come back in file order; every problem is added to `diagnostics`.
pub(super) fn fields(
    source: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    diagnostics: &mut Diagnostics,
) -> Vec<FieldEntry> {
    let mut out = Vec::new();
    walk(source, value, &[], diagnostics, &mut out);
    out
}

fn walk(
    source: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    prefix: &[String],
    diagnostics: &mut Diagnostics,
    out: &mut Vec<FieldEntry>,
) {
    let DeValue::Table(table) = value.get_ref() else {
        diagnostics.push(source.diagnostic(value.span().start, "[fields] must be a table"));
        return;
    };
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    for (key, value) in entries {
        let mut path = prefix.to_vec();
        path.extend(key.get_ref().split('.').map(str::to_string));
        let at = key.span().start;
        match value.get_ref() {
            DeValue::Table(t) if is_object(t) => walk(source, value, &path, diagnostics, out),
            DeValue::Table(t) if t.is_empty() => diagnostics.push(source.diagnostic(
                at,
                format!(
                    "field \"{}\" is empty; give it one of from, value or expr",
                    path.join(".")
                ),
            )),
            DeValue::Table(_) => {
                let section = format!("fields.{}", key_path(&path));
                match source.deserialize::<FieldSpec>(value.clone(), &section) {
                    Ok(spec) => out.push(FieldEntry { path, at, spec }),
                    Err(d) => diagnostics.extend(d),
                }
            }
            _ => diagnostics.push(source.diagnostic(
                at,
                format!(
                    "field \"{}\" must be a table such as {{ from = \"COLUMN\" }}",
                    path.join(".")
                ),
            )),
        }
    }
}

/// A nested output object: non-empty, only tables, none of the field source keys.
fn is_object(table: &toml::de::DeTable<'_>) -> bool {
    !table.is_empty()
        && table.iter().all(|(k, v)| {
            !SOURCE_KEYS.contains(&k.get_ref().as_ref()) && matches!(v.get_ref(), DeValue::Table(_))
        })
}

/// The path as a TOML section name, quoting parts that are not bare keys.
fn key_path(path: &[String]) -> String {
    path.iter()
        .map(|p| {
            if !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                p.clone()
            } else {
                format!("\"{p}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The text of a scalar TOML value (a constant or default), or why it is not one.
pub(super) fn scalar_text(value: &toml::Value) -> Result<String, &'static str> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        toml::Value::Float(_) => {
            Err("write decimal numbers as strings (\"1.50\") so that their scale is kept")
        }
        toml::Value::Array(_) | toml::Value::Table(_) => {
            Err("must be a string, an integer, a boolean or a date")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn walk_text(text: &str) -> (Vec<(String, usize)>, Vec<String>) {
        let source = Source {
            path: Path::new("m.toml"),
            text,
        };
        let table = source.parse().unwrap();
        let value = table.get_ref().get("fields").unwrap().clone();
        let mut diagnostics = Diagnostics::default();
        let found = fields(&source, &value, &mut diagnostics);
        (
            found
                .into_iter()
                .map(|f| (f.path.join("."), f.at))
                .collect(),
            diagnostics.0.iter().map(|d| d.to_string()).collect(),
        )
    }

    #[test]
    fn fields_come_in_file_order_and_nest() {
        let text = "[fields]\nz = { from = \"A\" }\n\"customer.name\" = { from = \"B\" }\na = { value = \"x\" }\n[fields.customer.address]\ncity = { from = \"C\" }\n";
        let (found, errors) = walk_text(text);
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<_> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["z", "customer.name", "a", "customer.address.city"]);
    }

    #[test]
    fn typos_in_a_field_get_a_suggestion() {
        let (_, errors) = walk_text("[fields]\nsku = { frm = \"MATNR\", trim = true }\n");
        assert_eq!(
            errors,
            ["m.toml:2:9: unknown key \"frm\" in [fields.sku]; did you mean \"from\"?"]
        );
    }

    #[test]
    fn non_tables_and_empty_tables_are_refused() {
        let (_, errors) = walk_text("[fields]\nsku = \"MATNR\"\nqty = {}\n");
        assert_eq!(
            errors,
            [
                "m.toml:2:1: field \"sku\" must be a table such as { from = \"COLUMN\" }",
                "m.toml:3:1: field \"qty\" is empty; give it one of from, value or expr",
            ]
        );
    }

    #[test]
    fn scalars_become_text() {
        assert_eq!(scalar_text(&toml::Value::Integer(5)).unwrap(), "5");
        assert_eq!(scalar_text(&toml::Value::Boolean(true)).unwrap(), "true");
        assert!(scalar_text(&toml::Value::Float(1.5)).is_err());
    }
}
