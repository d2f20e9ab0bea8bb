//! The draft mapping: output names and types for the sampled source paths, the lists a tree's
//! array items go into, the target schema's fields still to set, and the suggested natural key,
//! decided before any text is written.

use super::infer::{Inferred, Stats};
use super::sample::{Sample, SourcePath, Step, display};
use super::target;
use crate::canonical::schema::{FieldKind, Schema, SchemaField};
use crate::format::record::Body;
use std::path::Path;
use std::sync::Arc;

/// Event type written when the request names none; it loads, and a comment says to change it.
pub const PLACEHOLDER_TYPE: &str = "retail.unknown.v1";

/// Keys of an `each` table, which its fields cannot be named.
const LIST_KEYS: [&str; 2] = ["each", "when"];

/// Name tokens (after snake-casing) of fields that likely identify a record.
const ID_TOKENS: [&str; 10] = [
    "id", "no", "nr", "num", "number", "code", "sku", "key", "ean", "barcode",
];
/// The same for Chinese column names.
const ID_WORDS: [&str; 5] = ["编号", "编码", "代码", "单号", "条码"];

/// What the scaffolded mapping says.
#[derive(Debug)]
pub struct Draft {
    /// The sample file, as named in the request.
    pub sample: String,
    /// Records sampled; records skipped as undecodable, and the first one's `line N: reason`.
    pub records: usize,
    pub skipped: usize,
    pub first_skipped: Option<String>,
    pub event_type: String,
    /// Whether `event_type` came from the request (else it is [`PLACEHOLDER_TYPE`]).
    pub type_given: bool,
    /// Placeholder column names, when the sample had no header.
    pub unnamed: Option<Vec<String>>,
    /// Fields outside any list, in sample order.
    pub fields: Vec<Field>,
    /// Lists of a tree sample, one `each` table each.
    pub lists: Vec<List>,
    /// Tree paths no field can read yet (lists in lists, lists of plain values), with why.
    pub unsupported: Vec<(String, &'static str)>,
    /// Schema fields no source path was matched to.
    pub placeholders: Vec<SchemaField>,
    /// Output fields suggested as the natural key.
    pub key: Vec<String>,
    /// The first record as column → value, for `[[examples]]`; `None` for a tree record.
    pub example: Option<Vec<(String, String)>>,
    /// The first record as JSON, shown when it cannot be an example.
    pub first: String,
}

/// One output field read from a source path.
#[derive(Debug)]
pub struct Field {
    /// Output name (dotted when nested).
    pub name: String,
    /// The `from` text: the column, or the path (relative to the item inside a list).
    pub from: String,
    /// The type written.
    pub written: Inferred,
    /// Every sampled value was empty.
    pub empty: bool,
    /// `trim = true`: a string field some of whose values had surrounding blanks.
    pub trim: bool,
    pub required: bool,
    /// First non-empty value seen.
    pub example: Option<String>,
    /// Why the type may be wrong (the schema wants another).
    pub note: Option<String>,
    /// Set when the mapping refuses the field as written: it is written commented out.
    pub rejected: Option<String>,
}

/// The items of one list in a tree, mapped with `each`.
#[derive(Debug)]
pub struct List {
    /// Output name of the list.
    pub name: String,
    /// The `each` path.
    pub each: String,
    pub fields: Vec<Field>,
    /// Set when the mapping refuses the list as written: it is written commented out.
    pub rejected: Option<String>,
}

/// Decides names and types for what `sample` showed; with a `schema`, source paths feed the schema
/// fields they match by name, and the others are listed as placeholders.
pub fn build(
    file: &Path,
    sample: &Sample,
    event_type: Option<&str>,
    schema: Option<&Arc<Schema>>,
    unnamed: Option<Vec<String>>,
) -> Draft {
    let sorted = Sorted::of(sample);
    let schema_fields = schema.map_or(&[][..], |s| s.fields());
    let (fields, matched) = top_fields(&sorted.tops, schema);
    let mut names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
    let lists = sorted
        .lists
        .into_iter()
        .map(|items| {
            let name = unique(snake_case(&display(&items.list)), &names);
            names.push(name.clone());
            list_of(name, &items)
        })
        .collect();
    let placeholders = schema_fields
        .iter()
        .enumerate()
        .filter(|(i, f)| !matched.contains(i) && !has_children(f, schema_fields))
        .map(|(_, f)| f.clone())
        .collect();
    let key = fields
        .iter()
        .filter(|f| !f.empty && looks_like_id(&f.name))
        .map(|f| f.name.clone())
        .collect();
    Draft {
        sample: file.display().to_string(),
        records: sample.records,
        skipped: sample.skipped,
        first_skipped: sample.first_skipped.clone(),
        event_type: event_type.unwrap_or(PLACEHOLDER_TYPE).to_string(),
        type_given: event_type.is_some(),
        unnamed,
        fields,
        lists,
        unsupported: sorted.unsupported,
        placeholders,
        key,
        example: example_input(&sample.first.body),
        first: sample.first.to_json(),
    }
}

/// The sampled paths by where they go.
struct Sorted<'s> {
    tops: Vec<(&'s SourcePath, &'s Stats)>,
    lists: Vec<ListItems<'s>>,
    unsupported: Vec<(String, &'static str)>,
}

/// The paths read in each item of one list, relative to the item.
struct ListItems<'s> {
    list: Vec<Step>,
    items: Vec<(Vec<Step>, &'s Stats)>,
}

impl<'s> Sorted<'s> {
    fn of(sample: &'s Sample) -> Self {
        let mut sorted = Sorted {
            tops: Vec::new(),
            lists: Vec::new(),
            unsupported: Vec::new(),
        };
        for (path, stats) in &sample.paths {
            match place(path) {
                Place::Top => sorted.tops.push((path, stats)),
                Place::Item { list, rest } => {
                    match sorted.lists.iter_mut().find(|l| l.list == list) {
                        Some(l) => l.items.push((rest, stats)),
                        None => sorted.lists.push(ListItems {
                            list,
                            items: vec![(rest, stats)],
                        }),
                    }
                }
                Place::Unsupported(why) => sorted.unsupported.push((path.display(), why)),
            }
        }
        sorted
    }
}

/// The fields outside lists, named after the schema fields they match (else snake-cased), and
/// the indexes of the schema fields matched.
fn top_fields(
    tops: &[(&SourcePath, &Stats)],
    schema: Option<&Arc<Schema>>,
) -> (Vec<Field>, Vec<usize>) {
    let sources: Vec<String> = tops.iter().map(|(p, _)| p.display()).collect();
    let matched = match schema {
        Some(schema) => target::matches(&sources, schema),
        None => vec![None; sources.len()],
    };
    let schema_fields = schema.map_or(&[][..], |s| s.fields());
    let targets: Vec<Option<&SchemaField>> = matched
        .iter()
        .map(|m| m.map(|i| &schema_fields[i]))
        .collect();
    let mut names: Vec<String> = targets.iter().flatten().map(|t| t.path.clone()).collect();
    let fields = tops
        .iter()
        .zip(&targets)
        .map(|((path, stats), target)| {
            let name = match target {
                Some(t) => t.path.clone(),
                None => {
                    let name = unique(snake_case(&path.display()), &names);
                    names.push(name.clone());
                    name
                }
            };
            field(name, from_text(path), stats, *target)
        })
        .collect();
    (fields, matched.into_iter().flatten().collect())
}

/// Where a source path goes in the mapping.
enum Place {
    /// A field outside any list.
    Top,
    /// A field of the items of `list`, read at `rest` in each item.
    Item {
        list: Vec<Step>,
        rest: Vec<Step>,
    },
    Unsupported(&'static str),
}

fn place(path: &SourcePath) -> Place {
    let SourcePath::Tree(steps) = path else {
        return Place::Top;
    };
    let lists: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i] == Step::Items)
        .collect();
    match lists[..] {
        [] => Place::Top,
        [0] => Place::Unsupported("the record itself is a list"),
        [i] if i + 1 == steps.len() => Place::Unsupported("a list of plain values"),
        [i] => Place::Item {
            list: steps[..i].to_vec(),
            rest: steps[i + 1..].to_vec(),
        },
        _ => Place::Unsupported("a list inside a list"),
    }
}

fn field(name: String, from: String, stats: &Stats, target: Option<&SchemaField>) -> Field {
    let inferred = stats.inferred();
    let (written, note) = match target {
        Some(t) => target::fit(t.kind, inferred, stats),
        None => (inferred, None),
    };
    Field {
        name,
        from,
        written,
        empty: inferred == Inferred::Empty,
        trim: written == Inferred::String && stats.padded(),
        required: target.is_some_and(|t| t.required),
        example: stats.example().map(str::to_string),
        note,
        rejected: None,
    }
}

fn list_of(name: String, list: &ListItems<'_>) -> List {
    let mut names: Vec<String> = LIST_KEYS.map(String::from).to_vec();
    let fields = list
        .items
        .iter()
        .map(|(rest, stats)| {
            let field_name = unique(snake_case(&display(rest)), &names);
            names.push(field_name.clone());
            field(field_name, path_text(rest), stats, None)
        })
        .collect();
    List {
        name,
        each: path_text(&list.list),
        fields,
        rejected: None,
    }
}

/// The `from` of a top-level source path.
fn from_text(path: &SourcePath) -> String {
    match path {
        SourcePath::Column(name) => name.clone(),
        SourcePath::Tree(steps) => path_text(steps),
    }
}

/// Object keys as a mapping path: `a.b`, with `["a.b"]` for a key the dotted form cannot carry.
fn path_text(steps: &[Step]) -> String {
    let mut out = String::new();
    for step in steps {
        let Step::Key(key) = step else {
            continue;
        };
        let plain = !key.is_empty() && !key.starts_with('$') && !key.contains(['.', '[', ']']);
        match (plain, out.is_empty()) {
            (true, true) => out.push_str(key),
            (true, false) => {
                out.push('.');
                out.push_str(key);
            }
            (false, _) => {
                out.push_str("[\"");
                out.push_str(key);
                out.push_str("\"]");
            }
        }
    }
    out
}

/// An object or list of the schema whose members are listed on their own.
fn has_children(field: &SchemaField, fields: &[SchemaField]) -> bool {
    matches!(field.kind, FieldKind::Object | FieldKind::Array)
        && fields.iter().any(|f| {
            f.path
                .strip_prefix(field.path.as_str())
                .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
}

fn example_input(body: &Body) -> Option<Vec<(String, String)>> {
    let Body::Row { columns, row } = body else {
        return None;
    };
    let pairs = columns.names().iter().zip(row.iter());
    Some(pairs.map(|(n, v)| (n.clone(), v.to_string())).collect())
}

/// A snake_case output name for a source path: ASCII letters lower-cased, words of `camelCase`
/// and `HTTPCode` split, every run of other ASCII characters (blanks, dots, brackets) turned into
/// one `_`. Other letters (`门店`) are kept.
pub fn snake_case(path: &str) -> String {
    let chars: Vec<char> = path.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric()) {
            if c.is_ascii_uppercase() && starts_word(&chars, i) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push('_');
        }
    }
    let parts: Vec<&str> = out.split('_').filter(|p| !p.is_empty()).collect();
    match parts.is_empty() {
        true => "field".to_string(),
        false => parts.join("_"),
    }
}

/// An upper-case letter at `i` starts a word after a lower-case letter or digit (`storeId`), or
/// when it begins a capitalised word after an acronym (`HTTPCode`: the `C`).
fn starts_word(chars: &[char], i: usize) -> bool {
    let Some(&before) = i.checked_sub(1).and_then(|b| chars.get(b)) else {
        return false;
    };
    let after = chars.get(i + 1).copied();
    before.is_ascii_lowercase()
        || before.is_ascii_digit()
        || (before.is_ascii_uppercase() && after.is_some_and(|a| a.is_ascii_lowercase()))
}

/// `name`, or `name_2`, `name_3`… when it clashes with a name taken: the same, or an object that
/// holds a taken dotted name (`customer` when `customer.id` is taken), or the reverse.
pub fn unique(name: String, taken: &[String]) -> String {
    let clashes = |candidate: &str| {
        taken.iter().any(|t| {
            t == candidate
                || t.strip_prefix(candidate)
                    .is_some_and(|r| r.starts_with('.'))
                || candidate
                    .strip_prefix(t.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        })
    };
    if !clashes(&name) {
        return name;
    }
    (2..)
        .map(|n| format!("{name}_{n}"))
        .find(|candidate| !clashes(candidate))
        .unwrap_or(name)
}

/// Whether an output name looks like an identifier or a code.
fn looks_like_id(name: &str) -> bool {
    name.split(['_', '.'])
        .any(|token| ID_TOKENS.contains(&token))
        || ID_WORDS.iter().any(|word| name.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(steps: &[&str]) -> SourcePath {
        let steps = steps.iter().map(|s| match *s {
            "[]" => Step::Items,
            key => Step::Key(key.to_string()),
        });
        SourcePath::Tree(steps.collect())
    }

    #[test]
    fn names_are_snake_case() {
        assert_eq!(snake_case("MATNR"), "matnr");
        assert_eq!(snake_case("StoreID"), "store_id");
        assert_eq!(snake_case("storeId"), "store_id");
        assert_eq!(snake_case("HTTPCode"), "http_code");
        assert_eq!(snake_case("Order No."), "order_no");
        assert_eq!(snake_case("门店"), "门店");
        assert_eq!(snake_case("门店 编号"), "门店_编号");
        assert_eq!(snake_case("lines[].sku"), "lines_sku");
        assert_eq!(snake_case("header.customer.id"), "header_customer_id");
        assert_eq!(snake_case("--"), "field");
    }

    #[test]
    fn clashing_names_get_a_number() {
        let taken = vec!["qty".to_string(), "customer.id".to_string()];
        assert_eq!(unique("qty".into(), &taken), "qty_2");
        assert_eq!(unique("customer".into(), &taken), "customer_2");
        assert_eq!(unique("sku".into(), &taken), "sku");
        let taken = vec!["qty".to_string(), "qty_2".to_string()];
        assert_eq!(unique("qty".into(), &taken), "qty_3");
    }

    #[test]
    fn id_like_names_are_key_candidates() {
        assert!(looks_like_id("store_id"));
        assert!(looks_like_id("order_no"));
        assert!(looks_like_id("sku"));
        assert!(looks_like_id("门店编号"));
        assert!(!looks_like_id("description"));
        assert!(!looks_like_id("notes"));
    }

    #[test]
    fn tree_paths_are_fields_list_items_or_unsupported() {
        assert!(matches!(
            place(&SourcePath::Column("a.b".into())),
            Place::Top
        ));
        assert!(matches!(place(&tree(&["header", "id"])), Place::Top));
        let Place::Item { list, rest } = place(&tree(&["order", "lines", "[]", "sku"])) else {
            panic!("expected a list item");
        };
        assert_eq!(path_text(&list), "order.lines");
        assert_eq!(path_text(&rest), "sku");
        assert!(matches!(
            place(&tree(&["tags", "[]"])),
            Place::Unsupported(_)
        ));
        assert!(matches!(
            place(&tree(&["a", "[]", "b", "[]", "c"])),
            Place::Unsupported(_)
        ));
        assert!(matches!(place(&tree(&["[]", "a"])), Place::Unsupported(_)));
    }

    #[test]
    fn list_fields_are_not_named_after_the_keys_of_each() {
        let stats = Stats::default();
        let items = ListItems {
            list: vec![Step::Key("lines".into())],
            items: vec![(vec![Step::Key("When".into())], &stats)],
        };
        let list = list_of("lines".into(), &items);
        assert_eq!(list.each, "lines");
        assert_eq!(list.fields[0].name, "when_2");
        assert_eq!(list.fields[0].from, "When");
    }

    #[test]
    fn keys_that_the_dotted_form_cannot_carry_are_bracketed() {
        let SourcePath::Tree(steps) = tree(&["a", "b.c", "d"]) else {
            unreachable!()
        };
        assert_eq!(path_text(&steps), "a[\"b.c\"].d");
        let SourcePath::Tree(steps) = tree(&["$x"]) else {
            unreachable!()
        };
        assert_eq!(path_text(&steps), "[\"$x\"]");
    }
}
