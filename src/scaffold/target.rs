//! The target schema's side of a scaffold: which source path feeds which schema field (matched
//! by name), and what type a matched field is written with.
//!
//! Names match when they are equal after lower-casing and dropping everything but letters and
//! digits (`StoreCode`, `store_code`, `STORE-CODE`), or when they are that close by normalised
//! Levenshtein similarity ([`MIN_SIMILARITY`]). A schema field is matched by its whole path
//! (`ship_to.city` ↔ `SHIP_TO_CITY`) or by its last name when no other schema field shares it
//! (`city` ↔ `ship_to.city`). Each side is matched at most once, best scores first. Objects,
//! lists and fields inside lists (`lines[].sku`) are never matched: they need an `each` table.

use super::infer::{Inferred, Stats};
use crate::canonical::schema::{FieldKind, Schema, SchemaField};

/// Lowest similarity of two normalised names that still counts as a match.
pub const MIN_SIMILARITY: f64 = 0.85;

/// For each source name, the index in `schema.fields()` of the field it feeds, if any.
pub fn matches(sources: &[String], schema: &Schema) -> Vec<Option<usize>> {
    let fields = schema.fields();
    let targets: Vec<(usize, Vec<String>)> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| matchable(f))
        .map(|(i, f)| (i, names_of(f, fields)))
        .collect();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        let source = normalize(source);
        for (t, names) in &targets {
            let score = names
                .iter()
                .map(|name| similarity(&source, name))
                .fold(0.0, f64::max);
            if score >= MIN_SIMILARITY {
                pairs.push((score, s, *t));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out = vec![None; sources.len()];
    let mut taken = vec![false; fields.len()];
    for (_, s, t) in pairs {
        if out[s].is_none() && !taken[t] {
            out[s] = Some(t);
            taken[t] = true;
        }
    }
    out
}

/// A leaf outside any list.
fn matchable(field: &SchemaField) -> bool {
    !field.path.contains("[]") && !matches!(field.kind, FieldKind::Object | FieldKind::Array)
}

/// The normalised names a schema field answers to: its path, and its last name when unique.
fn names_of(field: &SchemaField, fields: &[SchemaField]) -> Vec<String> {
    let mut names = vec![normalize(&field.path)];
    let leaf = last_name(&field.path);
    if leaf != field.path && fields.iter().filter(|f| last_name(&f.path) == leaf).count() == 1 {
        names.push(normalize(leaf));
    }
    names
}

fn last_name(path: &str) -> &str {
    path.rsplit(['.', ']']).next().unwrap_or(path)
}

/// Lower case, letters and digits only.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn similarity(a: &str, b: &str) -> f64 {
    match a == b {
        true => 1.0,
        false => strsim::normalized_levenshtein(a, b),
    }
}

/// The type a source path with these `stats` (inferred as `inferred`) is written with for a schema
/// field of `kind`, and a note when the sample does not fit it (the inferred type is kept then).
pub fn fit(kind: FieldKind, inferred: Inferred, stats: &Stats) -> (Inferred, Option<String>) {
    let fitted = match (kind, inferred) {
        (_, Inferred::Empty) => empty_as(kind),
        (FieldKind::String | FieldKind::Other, _) => Some(Inferred::String),
        (FieldKind::Boolean, _) if stats.fits_boolean() => Some(Inferred::Boolean),
        (FieldKind::Integer | FieldKind::Number, Inferred::Integer) => Some(Inferred::Integer),
        (FieldKind::Decimal, Inferred::Integer | Inferred::Decimal) => Some(Inferred::Decimal),
        (FieldKind::Date, Inferred::Date { .. })
        | (FieldKind::Datetime, Inferred::DateTime { .. }) => Some(inferred),
        _ => None,
    };
    match fitted {
        Some(fitted) => (fitted, None),
        None => (
            inferred,
            Some(format!(
                "the schema wants {kind}, the sample does not fit it"
            )),
        ),
    }
}

/// The type of a field whose sampled values were all empty, from the schema alone.
fn empty_as(kind: FieldKind) -> Option<Inferred> {
    Some(match kind {
        FieldKind::Integer | FieldKind::Number => Inferred::Integer,
        FieldKind::Decimal => Inferred::Decimal,
        FieldKind::Boolean => Inferred::Boolean,
        FieldKind::Date => Inferred::Date { format: "%Y-%m-%d" },
        FieldKind::Datetime => Inferred::DateTime { format: None },
        FieldKind::String | FieldKind::Other | FieldKind::Object | FieldKind::Array => {
            Inferred::String
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::schema::Schemas;

    fn schema(dir: &std::path::Path, properties: &str, required: &str) -> std::sync::Arc<Schema> {
        let text = format!(
            r#"{{"$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "urn:omnibus:schema:t.v1", "type": "object",
                "properties": {{ {properties} }}, "required": [{required}]}}"#
        );
        std::fs::write(dir.join("t.v1.json"), text).unwrap();
        let schemas = Schemas::load(dir).unwrap();
        std::sync::Arc::clone(schemas.get("t.v1").unwrap())
    }

    fn stats(values: &[&str]) -> Stats {
        let mut stats = Stats::default();
        for value in values {
            stats.add(value);
        }
        stats
    }

    #[test]
    fn names_match_ignoring_case_and_separators_then_by_similarity() {
        let dir = tempfile::tempdir().unwrap();
        let schema = schema(
            dir.path(),
            r#""store_code": {"type": "string"}, "on_hand": {"type": "string"},
               "ship_to": {"type": "object", "properties": {"city": {"type": "string"}}},
               "lines": {"type": "array", "items": {"type": "object",
                   "properties": {"sku": {"type": "string"}}}}"#,
            r#""store_code""#,
        );
        let path = |i: Option<usize>| i.map(|i| schema.fields()[i].path.as_str());
        let sources = ["StoreCode", "ONHAND", "City", "sku", "store_cde", "note"].map(String::from);
        let found: Vec<Option<&str>> = matches(&sources, &schema).into_iter().map(path).collect();
        assert_eq!(
            found,
            [
                Some("store_code"),
                Some("on_hand"),
                Some("ship_to.city"),
                None,
                None,
                None
            ]
        );
        let sources = ["store_cde".to_string()];
        assert_eq!(path(matches(&sources, &schema)[0]), Some("store_code"));
    }

    #[test]
    fn the_schema_kind_decides_the_type_when_the_sample_fits_it() {
        let codes = stats(&["1001", "1002"]);
        assert_eq!(
            fit(FieldKind::String, Inferred::Integer, &codes).0,
            Inferred::String
        );
        assert_eq!(
            fit(FieldKind::Decimal, Inferred::Integer, &codes).0,
            Inferred::Decimal
        );
        let flags = stats(&["0", "1"]);
        assert_eq!(
            fit(FieldKind::Boolean, Inferred::Integer, &flags).0,
            Inferred::Boolean
        );
        let (kept, note) = fit(FieldKind::Integer, Inferred::String, &stats(&["x"]));
        assert_eq!(kept, Inferred::String);
        assert_eq!(
            note.unwrap(),
            "the schema wants integer, the sample does not fit it"
        );
        let empty = stats(&[""]);
        assert_eq!(
            fit(FieldKind::Datetime, Inferred::Empty, &empty).0,
            Inferred::DateTime { format: None }
        );
    }
}
