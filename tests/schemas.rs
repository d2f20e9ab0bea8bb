//! The canonical model as shipped: every schema in `schemas/` compiles and follows the conventions of
//! docs/canonical-model.md, validates its own examples, and the document has a section per type with
//! the schema's fields and the schema's example.

use omnibus::canonical::schema::{FieldKind, Schema, Schemas};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MONEY: &str = "/$defs/money";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schemas() -> Schemas {
    Schemas::load(&root().join("schemas"))
        .unwrap_or_else(|problems| panic!("{}", problems.join("\n")))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn common() -> Value {
    read_json(&root().join("schemas/common/retail.common.v1.json"))
}

/// Each event type with its schema and the schema file's JSON.
fn each_type() -> Vec<(String, std::sync::Arc<Schema>, Value)> {
    let schemas = schemas();
    schemas
        .types()
        .map(|t| {
            let schema = schemas.get(t).unwrap().clone();
            let json = read_json(schema.file());
            (t.to_owned(), schema, json)
        })
        .collect()
}

fn is_snake_case(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.ends_with('_')
        && !name.contains("__")
}

#[test]
fn every_schema_file_is_an_event_type_named_by_the_convention() {
    let schemas = schemas();
    let files: BTreeSet<String> = std::fs::read_dir(root().join("schemas"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    let types: BTreeSet<String> = schemas.types().map(str::to_owned).collect();
    assert_eq!(types, files);
    assert!(types.len() >= 25, "{} types", types.len());
    for t in &types {
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 4, "{t}");
        assert_eq!(parts[0], "retail", "{t}");
        assert!(is_snake_case(parts[1]) && is_snake_case(parts[2]), "{t}");
        assert!(
            parts[3]
                .strip_prefix('v')
                .is_some_and(|v| v.parse::<u32>().is_ok()),
            "{t}"
        );
    }
}

#[test]
fn every_example_validates_against_its_schema() {
    for (t, schema, json) in each_type() {
        let examples = json["examples"]
            .as_array()
            .unwrap_or_else(|| panic!("{t}: no examples"));
        assert!(!examples.is_empty(), "{t}: no examples");
        for example in examples {
            if let Err(violation) = schema.validate(example) {
                panic!("{t}: example is invalid: {violation}");
            }
        }
    }
}

#[test]
fn a_broken_example_is_refused() {
    let schemas = schemas();
    let schema = schemas.get("retail.receipt.completed.v1").unwrap();
    let mut data = read_json(schema.file())["examples"][0].clone();
    data["lines"][1]["amount"] = Value::from(36.0);
    let violation = schema.validate(&data).unwrap_err();
    assert_eq!(violation.pointer, "/lines/1/amount");
    let mut data = read_json(schema.file())["examples"][0].clone();
    data["completed_at"] = Value::from("2024-03-01 23:58:12");
    assert_eq!(schema.validate(&data).unwrap_err().pointer, "/completed_at");
}

/// Calls `check` on every subschema of `value` (objects only), with its JSON Pointer.
fn each_subschema(
    value: &Value,
    at: &str,
    check: &mut dyn FnMut(&str, &serde_json::Map<String, Value>),
) {
    match value {
        Value::Object(map) => {
            check(at, map);
            for (key, child) in map {
                if key != "examples" && key != "enum" {
                    each_subschema(child, &format!("{at}/{key}"), check);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                each_subschema(item, &format!("{at}/{i}"), check);
            }
        }
        _ => {}
    }
}

#[test]
fn every_schema_is_described_closed_and_snake_case() {
    let mut files: Vec<(String, Value)> = each_type()
        .into_iter()
        .map(|(t, _, json)| (t, json))
        .collect();
    files.push(("retail.common.v1".to_owned(), common()));
    for (name, json) in files {
        assert_eq!(
            json["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        assert_eq!(json["$id"], format!("urn:omnibus:schema:{name}"), "{name}");
        for key in ["title", "description"] {
            assert!(
                json[key].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: {key}"
            );
        }
        each_subschema(&json, "", &mut |at, map| {
            let is_object =
                map.get("type") == Some(&Value::from("object")) || map.contains_key("properties");
            if is_object {
                assert_eq!(
                    map.get("additionalProperties"),
                    Some(&Value::Bool(false)),
                    "{name}{at}"
                );
            }
            if let Some(Value::Object(properties)) = map.get("properties") {
                for (property, schema) in properties {
                    assert!(is_snake_case(property), "{name}{at}: {property}");
                    assert!(
                        schema.get("description").is_some(),
                        "{name}{at}/properties/{property}"
                    );
                }
            }
        });
    }
}

/// Whether `value` refers to money, directly or through a shared definition.
fn has_money(value: &Value, common: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(key, child)| match (key.as_str(), child) {
            ("$ref", Value::String(r)) if r.ends_with(MONEY) => true,
            ("$ref", Value::String(r)) if r.starts_with("urn:omnibus:schema:retail.common.v1#") => {
                let pointer = r.split_once('#').unwrap().1;
                has_money(common.pointer(pointer).unwrap(), common)
            }
            _ => has_money(child, common),
        }),
        Value::Array(items) => items.iter().any(|item| has_money(item, common)),
        _ => false,
    }
}

#[test]
fn money_always_comes_with_the_events_currency() {
    let common = common();
    for (t, _, json) in each_type() {
        let required: BTreeSet<&str> = json["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let currency_required = required.contains("currency");
        for (name, property) in json["properties"].as_object().unwrap() {
            if !has_money(property, &common) {
                continue;
            }
            let top_level_optional = !required.contains(name.as_str())
                && property["$ref"]
                    .as_str()
                    .is_some_and(|r| r.ends_with(MONEY));
            if top_level_optional && !currency_required {
                let depends = &json["dependentRequired"][name];
                assert!(
                    depends
                        .as_array()
                        .is_some_and(|d| d.contains(&Value::from("currency"))),
                    "{t}: {name} is money but does not require currency"
                );
            } else {
                assert!(
                    currency_required,
                    "{t}: {name} holds money but currency is not required"
                );
            }
        }
        if currency_required {
            assert!(
                json["properties"]["currency"]["$ref"]
                    .as_str()
                    .unwrap()
                    .ends_with("/$defs/currency"),
                "{t}"
            );
        }
    }
}

#[test]
fn times_and_dates_are_named_by_the_convention() {
    for (t, schema, _) in each_type() {
        for field in schema.fields() {
            let name = field.path.rsplit(['.', ']']).next().unwrap();
            let timed = name.ends_with("_at") || name == "valid_from" || name == "valid_to";
            let dated = name.ends_with("_date") || name == "as_of";
            assert_eq!(
                field.kind == FieldKind::Datetime,
                timed,
                "{t}: {}",
                field.path
            );
            assert_eq!(field.kind == FieldKind::Date, dated, "{t}: {}", field.path);
        }
    }
}

#[test]
fn the_first_types_keep_their_properties_and_required_fields() {
    let schemas = schemas();
    let cases = [
        (
            "retail.inventory.level.v1",
            &["store", "sku", "on_hand", "as_of"][..],
            &[
                "store",
                "location",
                "sku",
                "description",
                "on_hand",
                "unit",
                "as_of",
                "channel",
            ][..],
        ),
        (
            "retail.sale.recorded.v1",
            &[
                "store",
                "receipt",
                "line",
                "sold_at",
                "sku",
                "quantity",
                "unit_price",
                "amount",
                "currency",
            ][..],
            &[
                "store",
                "receipt",
                "line",
                "sold_at",
                "sku",
                "ean",
                "name",
                "quantity",
                "unit_price",
                "amount",
                "currency",
                "payment",
                "payment.method",
                "payment.member",
            ][..],
        ),
    ];
    for (t, required, properties) in cases {
        let schema = schemas.get(t).unwrap();
        let now_required: Vec<&str> = schema
            .fields()
            .iter()
            .filter(|f| f.required)
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(now_required, required, "{t}");
        for property in properties {
            assert!(schema.allows(property), "{t}: {property}");
        }
    }
}

#[test]
fn the_first_mappings_examples_still_validate() {
    let schemas = schemas();
    for name in ["erp_inventory", "pos_sales"] {
        let text = std::fs::read_to_string(root().join(format!("mappings/{name}.toml"))).unwrap();
        let mapping: toml::Table = toml::from_str(&text).unwrap();
        let schema = schemas.get(mapping["type"].as_str().unwrap()).unwrap();
        let outputs: Vec<&toml::Value> = mapping["examples"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|example| example.get("output"))
            .collect();
        assert!(!outputs.is_empty(), "{name}");
        for output in outputs {
            let data = serde_json::to_value(output).unwrap();
            assert_eq!(schema.validate(&data), Ok(()), "{name}: {data}");
        }
    }
}

/// One `### <type>` section of the document: its field table rows and its example.
#[derive(Default)]
struct Section {
    rows: Vec<(String, String, String)>,
    example: Option<String>,
}

fn doc_sections() -> BTreeMap<String, Section> {
    let text = std::fs::read_to_string(root().join("docs/canonical-model.md")).unwrap();
    let mut sections: BTreeMap<String, Section> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_example = false;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("### ") {
            let heading = heading.trim();
            current = heading.starts_with("retail.").then(|| heading.to_owned());
            if let Some(t) = &current {
                assert!(
                    sections.insert(t.clone(), Section::default()).is_none(),
                    "{t} twice"
                );
            }
            continue;
        }
        if line.starts_with("## ") {
            current = None;
        }
        let Some(section) = current.as_ref().and_then(|t| sections.get_mut(t)) else {
            continue;
        };
        if in_example {
            if line == "```" {
                in_example = false;
            } else if let Some(example) = section.example.as_mut() {
                example.push_str(line);
                example.push('\n');
            }
        } else if line == "```json" {
            assert!(section.example.is_none(), "one example per section");
            section.example = Some(String::new());
            in_example = true;
        } else if let Some(row) = line.strip_prefix("| `") {
            let cells: Vec<&str> = row.splitn(4, '|').map(str::trim).collect();
            let path = cells[0].trim_end_matches('`').to_owned();
            section
                .rows
                .push((path, cells[1].to_owned(), cells[2].to_owned()));
        }
    }
    sections
}

#[test]
fn the_document_has_a_section_per_type() {
    let sections = doc_sections();
    let documented: BTreeSet<&str> = sections.keys().map(String::as_str).collect();
    let schemas = schemas();
    let types: BTreeSet<&str> = schemas.types().collect();
    assert_eq!(documented, types);
}

#[test]
fn each_documented_example_is_the_schemas_first_example() {
    let sections = doc_sections();
    for (t, _, json) in each_type() {
        let example = sections[&t]
            .example
            .as_deref()
            .unwrap_or_else(|| panic!("{t}: no ```json example"));
        let example: Value = serde_json::from_str(example).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(example, json["examples"][0], "{t}");
    }
}

#[test]
fn each_documented_field_table_matches_the_schema() {
    let sections = doc_sections();
    for (t, schema, _) in each_type() {
        let expected: Vec<(String, String, String)> = schema
            .fields()
            .iter()
            .map(|f| {
                let required = if f.required { "yes" } else { "no" };
                (
                    f.path.clone(),
                    f.kind.as_str().to_owned(),
                    required.to_owned(),
                )
            })
            .collect();
        assert_eq!(sections[&t].rows, expected, "{t}");
    }
}
