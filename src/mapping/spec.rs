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

/// The key that makes a table under `[fields]` a list of objects, one per item.
const EACH: &str = "each";

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
    pub split: Option<Spanned<String>>,
    pub group: Option<Spanned<GroupSpec>>,
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

/// `[group]`: consecutive rows that share the `by` columns make one record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupSpec {
    pub by: Vec<Spanned<String>>,
    pub into: Option<Spanned<String>>,
    pub max_rows: Option<Spanned<usize>>,
}

/// One `[[examples]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ExampleSpec {
    pub input: Spanned<toml::Value>,
    pub output: Option<toml::Value>,
    pub error: Option<String>,
    #[serde(default)]
    pub skipped: bool,
}

/// What `[fields]` holds, in file order.
#[derive(Debug)]
pub(super) enum Entry {
    Field(Box<FieldEntry>),
    /// A list of objects, one per item at `each`; the fields under it follow it.
    Each(EachEntry),
}

/// A field found under `[fields]`: its output path, where its key is, and its spec.
#[derive(Debug)]
pub(super) struct FieldEntry {
    pub path: Vec<String>,
    /// Byte offset of the field's key in the file.
    pub at: usize,
    pub spec: FieldSpec,
}

/// A table with `each`: its output path, the path of its items, and an optional item filter.
#[derive(Debug)]
pub(super) struct EachEntry {
    pub path: Vec<String>,
    pub at: usize,
    pub each: Spanned<String>,
    pub when: Option<Spanned<String>>,
}

/// Walks `[fields]`: a table with `from`, `value` or `expr` (or any non-table value) is a field;
/// a table with `each` is a list of objects; a table of tables is a nested output object. Quoted
/// dotted keys (`"customer.name"`) nest too. Entries come back in file order; every problem is
/// added to `diagnostics`.
pub(super) fn fields(
    source: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    diagnostics: &mut Diagnostics,
) -> Vec<Entry> {
    let mut out = Vec::new();
    walk(source, value, &[], diagnostics, &mut out);
    out
}

fn walk(
    source: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    prefix: &[String],
    diagnostics: &mut Diagnostics,
    out: &mut Vec<Entry>,
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
            DeValue::Table(t) if t.get(EACH).is_some() => {
                each(source, value, path, at, diagnostics, out);
            }
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
                    Ok(spec) => out.push(Entry::Field(Box::new(FieldEntry { path, at, spec }))),
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

/// A table with `each`: the entry, then the fields under it (every other key).
fn each(
    source: &Source<'_>,
    value: &Spanned<DeValue<'_>>,
    path: Vec<String>,
    at: usize,
    diagnostics: &mut Diagnostics,
    out: &mut Vec<Entry>,
) {
    let DeValue::Table(table) = value.get_ref() else {
        return;
    };
    let mut text = |key: &str| -> Option<Spanned<String>> {
        let v = table.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => {
                diagnostics.push(source.diagnostic(
                    v.span().start,
                    format!("`{key}` of \"{}\" must be a string", path.join(".")),
                ));
                None
            }
        }
    };
    let (Some(each_path), when) = (text(EACH), text("when")) else {
        return;
    };
    out.push(Entry::Each(EachEntry {
        path: path.clone(),
        at,
        each: each_path,
        when,
    }));
    let mut inner = toml::de::DeTable::new();
    for (k, v) in table {
        if !matches!(k.get_ref().as_ref(), EACH | "when") {
            inner.insert(k.clone(), v.clone());
        }
    }
    if inner.is_empty() {
        diagnostics.push(source.diagnostic(
            at,
            format!("\"{}\" has `each` but no fields", path.join(".")),
        ));
        return;
    }
    let inner = Spanned::new(value.span(), DeValue::Table(inner));
    walk(source, &inner, &path, diagnostics, out);
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
                .map(|e| match e {
                    Entry::Field(f) => (f.path.join("."), f.at),
                    Entry::Each(e) => (format!("{}[]", e.path.join(".")), e.at),
                })
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
    fn each_tables_come_before_their_fields() {
        let text = "[fields]\nno = { from = \"A\" }\n[fields.lines]\neach = \"items\"\nwhen = \"qty\"\nsku = { from = \"sku\" }\n";
        let (found, errors) = walk_text(text);
        assert!(errors.is_empty(), "{errors:?}");
        let names: Vec<_> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["no", "lines[]", "lines.sku"]);
        let (_, errors) = walk_text("[fields]\nlines = { each = \"items\" }\n");
        assert_eq!(errors, ["m.toml:2:1: \"lines\" has `each` but no fields"]);
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
