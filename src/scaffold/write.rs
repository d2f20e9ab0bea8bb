//! The draft as mapping-file text: a header comment, `type` with commented `subject` and `key`
//! suggestions, one `[fields]` line per source path, and (separately, once the mapping's output
//! for it is known) the `[[examples]]` entry of the first record.

use super::draft::{Draft, Field, List};
use super::infer::Inferred;
use crate::canonical::schema::{FieldKind, SchemaField};
use serde_json::Value;
use std::fmt::Write as _;

/// Zone written for date-times without an offset, with a comment to check it.
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";
/// Characters of a sample value shown in a field's comment.
const EXAMPLE_CHARS: usize = 40;
/// Output names are padded to align the `=` signs up to this width.
const ALIGN_MAX: usize = 24;

/// Mapping text and where each field landed in it.
#[derive(Debug)]
pub struct Rendered {
    pub text: String,
    /// 1-based line of each field, and of each list's `each`.
    pub lines: Vec<(usize, Part)>,
}

/// A part of the draft that the mapping may refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `fields[i]`.
    Field(usize),
    /// `lists[list]` as a whole.
    List(usize),
    /// `lists[list].fields[i]`.
    Item(usize, usize),
}

/// The mapping text without its example. `date` is the day it is written.
pub fn mapping(draft: &Draft, date: &str) -> Rendered {
    let mut out = Rendered {
        text: String::new(),
        lines: Vec::new(),
    };
    header(&mut out.text, draft, date);
    top(&mut out.text, draft);
    out.text.push_str("\n[fields]\n");
    let width = align(&draft.fields);
    for (i, field) in draft.fields.iter().enumerate() {
        out.push(Part::Field(i), &field_line(field, width));
    }
    for (l, list) in draft.lists.iter().enumerate() {
        list_section(&mut out, l, list);
    }
    unsupported(&mut out.text, draft);
    placeholders(&mut out.text, draft);
    out
}

impl Rendered {
    /// Appends `line`, remembering that `part` starts there.
    fn push(&mut self, part: Part, line: &str) {
        let at = self.text.matches('\n').count() + 1;
        self.lines.push((at, part));
        self.text.push_str(line);
    }
}

/// The width output names are padded to.
fn align(fields: &[Field]) -> usize {
    fields
        .iter()
        .filter(|f| f.rejected.is_none())
        .map(|f| width(&key(&f.name)))
        .max()
        .unwrap_or(0)
        .min(ALIGN_MAX)
}

fn header(out: &mut String, draft: &Draft, date: &str) {
    let _ = writeln!(
        out,
        "# Starting mapping for {}, written by `omnibus scaffold` on {date}",
        comment(&draft.sample)
    );
    let _ = write!(
        out,
        "# from the first {} of the sample",
        records(draft.records)
    );
    match &draft.first_skipped {
        Some(first) => {
            let _ = writeln!(
                out,
                " ({} more could not be decoded; the first: {}).",
                draft.skipped,
                comment(first)
            );
        }
        None => out.push_str(".\n"),
    }
    out.push_str(
        "# Every type is a guess from the sample: check each field, rename the outputs after the\n\
         # event's schema, and set the key.\n",
    );
    if let Some(columns) = &draft.unnamed {
        let list: Vec<String> = columns.iter().map(|c| string(c)).collect();
        let _ = writeln!(
            out,
            "# The sample has no header, so its columns are named here {}; name them in the\n\
             # connector's [format] with columns = [{}] and in `from` below.",
            columns.join(", "),
            list.join(", ")
        );
    }
}

fn top(out: &mut String, draft: &Draft) {
    out.push('\n');
    let _ = write!(out, "type = {}", string(&draft.event_type));
    if !draft.type_given {
        out.push_str("  # a placeholder: set the event type this source feeds");
    }
    out.push('\n');
    let key: Vec<&String> = draft
        .key
        .iter()
        .filter(|k| {
            draft
                .fields
                .iter()
                .any(|f| f.name == **k && f.rejected.is_none())
        })
        .collect();
    if !key.is_empty() && key.iter().all(|k| is_identifier(k)) {
        let parts: Vec<String> = key.iter().map(|k| format!("{{{{ {k} }}}}")).collect();
        let _ = writeln!(out, "# subject = {}", string(&parts.join("/")));
    }
    match key.is_empty() {
        true => out.push_str("# key = [\"…\"]  # the output fields that identify a record\n"),
        false => {
            let names: Vec<String> = key.iter().map(|k| string(k)).collect();
            let _ = writeln!(out, "# key = [{}]", names.join(", "));
        }
    }
}

/// One field's line; a rejected field is written commented out, with the reason.
fn field_line(field: &Field, width: usize) -> String {
    let name = key(&field.name);
    let padding = " ".repeat(width.saturating_sub(self::width(&name)));
    let mut line = match &field.rejected {
        Some(_) => format!("# {name} = "),
        None => format!("{name}{padding} = "),
    };
    let _ = write!(line, "{{ from = {}", string(&field.from));
    let _ = write!(line, ", type = \"{}\"", type_name(field.written));
    match field.written {
        Inferred::Date { format } => {
            let _ = write!(line, ", format = {}", string(format));
        }
        Inferred::DateTime {
            format: Some(format),
        } => {
            let _ = write!(
                line,
                ", format = {}, tz = \"{DEFAULT_ZONE}\"",
                string(format)
            );
        }
        _ => {}
    }
    if field.trim {
        line.push_str(", trim = true");
    }
    if field.required {
        line.push_str(", required = true");
    }
    line.push_str(" }");
    let notes = notes(field);
    if !notes.is_empty() {
        let _ = write!(line, "  # {}", notes.join("; "));
    }
    line.push('\n');
    line
}

fn notes(field: &Field) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(reason) = &field.rejected {
        notes.push(format!("cannot be read as written: {}", comment(reason)));
    }
    match &field.example {
        Some(example) => {
            let shown: String = example.chars().take(EXAMPLE_CHARS).collect();
            notes.push(format!("e.g. {}", string(&shown)));
        }
        None => notes.push("always empty in the sample".to_string()),
    }
    if matches!(field.written, Inferred::DateTime { format: Some(_) }) {
        notes.push("check the zone".to_string());
    }
    notes.extend(field.note.clone());
    notes
}

/// A tree's list as an `each` table; commented out when the mapping refuses it.
fn list_section(out: &mut Rendered, l: usize, list: &List) {
    let prefix = match list.rejected {
        Some(_) => "# ",
        None => "",
    };
    out.text.push('\n');
    if let Some(reason) = &list.rejected {
        let _ = writeln!(out.text, "# cannot be read as written: {}", comment(reason));
    }
    let section = format!(
        "{prefix}[fields.{}]  # one object per item\n",
        key(&list.name)
    );
    out.push(Part::List(l), &section);
    out.push(
        Part::List(l),
        &format!("{prefix}each = {}\n", string(&list.each)),
    );
    let width = align(&list.fields);
    for (i, field) in list.fields.iter().enumerate() {
        out.push(
            Part::Item(l, i),
            &format!("{prefix}{}", field_line(field, width)),
        );
    }
}

fn unsupported(out: &mut String, draft: &Draft) {
    if draft.unsupported.is_empty() {
        return;
    }
    out.push_str("\n# Not mapped: no field can read these yet.\n");
    for (path, why) in &draft.unsupported {
        let _ = writeln!(out, "#   {}: {why}", comment(path));
    }
}

/// The schema fields still to set, as commented lines; the fields of list items grouped under
/// their list's `each` table.
fn placeholders(out: &mut String, draft: &Draft) {
    if draft.placeholders.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n# Fields of {} not set yet:",
        comment(&draft.event_type)
    );
    let (items, plain): (Vec<&SchemaField>, Vec<&SchemaField>) = draft
        .placeholders
        .iter()
        .partition(|f| f.path.contains("[]"));
    for field in plain {
        out.push_str(&placeholder(&field.path, field));
    }
    let mut list = "";
    for field in items {
        let Some((outer, inner)) = field.path.split_once("[]") else {
            continue;
        };
        if outer != list {
            list = outer;
            let _ = writeln!(out, "# [fields.{}]  # one object per item", key(outer));
            out.push_str("# each = \"…\"\n");
        }
        out.push_str(&placeholder(inner.trim_start_matches('.'), field));
    }
}

fn placeholder(name: &str, field: &SchemaField) -> String {
    let mut line = format!("# {} = {{ from = \"…\"", key(name));
    if let Some(ty) = mapping_type(field.kind) {
        let _ = write!(line, ", type = \"{ty}\"");
    }
    if field.required {
        line.push_str(", required = true");
    }
    let _ = write!(line, " }}  # {}", field.kind);
    if field.required {
        line.push_str(", required");
    }
    if let Some(description) = &field.description {
        let _ = write!(line, " — {}", comment(description));
    }
    line.push('\n');
    line
}

/// The mapping `type` for a schema kind, when it is not the default string.
fn mapping_type(kind: FieldKind) -> Option<&'static str> {
    match kind {
        FieldKind::Integer => Some("integer"),
        FieldKind::Decimal => Some("decimal"),
        FieldKind::Boolean => Some("boolean"),
        FieldKind::Date => Some("date"),
        FieldKind::Datetime => Some("datetime"),
        _ => None,
    }
}

fn type_name(inferred: Inferred) -> &'static str {
    match inferred {
        Inferred::Empty | Inferred::String => "string",
        Inferred::Integer => "integer",
        Inferred::Decimal => "decimal",
        Inferred::Boolean => "boolean",
        Inferred::Date { .. } => "date",
        Inferred::DateTime { .. } => "datetime",
    }
}

/// The `[[examples]]` entry for the first record: its input and the mapping's `output` for it.
/// When the record does not map (`Err`) or is a tree, the entry is written commented out.
pub fn example(draft: &Draft, output: Option<Result<Value, String>>) -> String {
    let mut out = String::from("\n");
    let (Some(input), Some(output)) = (&draft.example, output) else {
        out.push_str("# [[examples]] cannot hold a nested record yet; the first record was:\n");
        let _ = writeln!(out, "# {}", comment(&draft.first));
        return out;
    };
    let mut entry = String::from("[[examples]]\n[examples.input]\n");
    for (column, value) in input {
        let _ = writeln!(entry, "{} = {}", key(column), string(value));
    }
    match output {
        Ok(data) => {
            entry.push_str("[examples.output]\n");
            flatten("", &data, &mut entry);
            out.push_str("# The first record of the sample.\n");
            out.push_str(&entry);
        }
        Err(reason) => {
            let _ = writeln!(
                out,
                "# The first record of the sample does not map yet: {}\n\
                 # Fix the fields, then enable this example with its output.",
                comment(&reason)
            );
            for line in entry.lines() {
                let _ = writeln!(out, "# {line}");
            }
        }
    }
    out
}

/// Writes an output object as `a.b = value` lines (nested objects become dotted keys).
fn flatten(prefix: &str, value: &Value, out: &mut String) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let path = match prefix {
                    "" => key(name),
                    _ => format!("{prefix}.{}", key(name)),
                };
                flatten(&path, member, out);
            }
        }
        _ => {
            let _ = writeln!(out, "{prefix} = {}", inline(value));
        }
    }
}

/// A JSON value as an inline TOML value (output data holds no `null`; it would be written empty).
fn inline(value: &Value) -> String {
    match value {
        Value::Null => string(""),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{} = {}", key(k), inline(v)))
                .collect();
            format!("{{ {} }}", members.join(", "))
        }
    }
}

/// A TOML key: bare when it can be (`ASCII letters, digits, _ and -`), else a quoted string.
/// A dotted output name is quoted whole: the mapping reads `"a.b"` as nested, like `a.b`.
pub fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match bare {
        true => name.to_string(),
        false => string(name),
    }
}

/// A TOML basic string.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text made safe for a one-line comment.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `1 record`, `2 records`.
fn records(n: usize) -> String {
    match n {
        1 => "1 record".to_string(),
        n => format!("{n} records"),
    }
}

/// Columns a text takes in a fixed-width font: two for East Asian wide characters (counted as
/// everything from U+1100 on, which is close enough for aligning names).
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if c >= '\u{1100}' { 2 } else { 1 })
        .sum()
}

/// Whether a name can be written in a template placeholder (`{{ name }}`).
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, from: &str, written: Inferred) -> Field {
        Field {
            name: name.into(),
            from: from.into(),
            written,
            empty: false,
            trim: false,
            required: false,
            example: Some("x".into()),
            note: None,
            rejected: None,
        }
    }

    #[test]
    fn keys_are_bare_or_quoted() {
        assert_eq!(key("on_hand"), "on_hand");
        assert_eq!(key("门店"), "\"门店\"");
        assert_eq!(key("customer.id"), "\"customer.id\"");
        assert_eq!(key(""), "\"\"");
    }

    #[test]
    fn strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn field_lines_carry_type_format_zone_trim_and_required() {
        let mut date = field("as_of", "BUDAT", Inferred::Date { format: "%Y%m%d" });
        date.required = true;
        assert_eq!(
            field_line(&date, 5),
            "as_of = { from = \"BUDAT\", type = \"date\", format = \"%Y%m%d\", \
             required = true }  # e.g. \"x\"\n"
        );
        let mut time = field(
            "sold_at",
            "TS",
            Inferred::DateTime {
                format: Some("%Y-%m-%d %H:%M:%S"),
            },
        );
        time.example = Some("2024-03-01 10:15:00".into());
        assert_eq!(
            field_line(&time, 9),
            "sold_at   = { from = \"TS\", type = \"datetime\", format = \"%Y-%m-%d %H:%M:%S\", \
             tz = \"Asia/Shanghai\" }  # e.g. \"2024-03-01 10:15:00\"; check the zone\n"
        );
        let mut name = field("门店", "门店", Inferred::String);
        name.trim = true;
        assert_eq!(
            field_line(&name, 0),
            "\"门店\" = { from = \"门店\", type = \"string\", trim = true }  # e.g. \"x\"\n"
        );
        let mut empty = field("note", "NOTE", Inferred::String);
        empty.example = None;
        assert!(field_line(&empty, 0).ends_with("}  # always empty in the sample\n"));
    }

    #[test]
    fn rejected_fields_are_commented_out_with_the_reason() {
        let mut field = field("order_no", "Order No.", Inferred::String);
        field.rejected = Some("from: \"Order No.\" ends with \".\"".into());
        assert_eq!(
            field_line(&field, 12),
            "# order_no = { from = \"Order No.\", type = \"string\" }  # cannot be read as \
             written: from: \"Order No.\" ends with \".\"; e.g. \"x\"\n"
        );
    }

    #[test]
    fn placeholders_name_kind_requirement_and_description() {
        let field = SchemaField {
            path: "on_hand".into(),
            kind: FieldKind::Decimal,
            required: true,
            description: Some("Quantity\non hand.".into()),
        };
        assert_eq!(
            placeholder("on_hand", &field),
            "# on_hand = { from = \"…\", type = \"decimal\", required = true }  # decimal, \
             required — Quantity on hand.\n"
        );
    }

    #[test]
    fn nested_output_becomes_dotted_keys() {
        let mut out = String::new();
        flatten(
            "",
            &json!({"a": 1, "b": {"c": "x", "门店": true}}),
            &mut out,
        );
        assert_eq!(out, "a = 1\nb.c = \"x\"\nb.\"门店\" = true\n");
    }
}
