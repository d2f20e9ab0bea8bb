//! Paths into a record: how `from`, `each` and `split` address nested data (XML, JSON, EDIFACT,
//! groups of rows). `customer.address.city`, `lines[0].sku`, `["a.b"]` for a key with a dot, and
//! `$.` to start from the record's root inside an `each` or `split` scope. On a flat row the whole
//! text (without `$.`) is the column name.

use serde_json::Value;
use std::borrow::Cow;

/// A compiled path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Path {
    /// The path as written.
    text: String,
    /// Starts at the record's root (`$.`) rather than the current item.
    absolute: bool,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// What a path finds.
#[derive(Debug)]
pub(super) enum Found<'v> {
    /// Nothing there, or JSON `null`.
    Missing,
    /// A leaf, as text (numbers and booleans as their JSON text).
    Text(Cow<'v, str>),
    /// An object or a list, which a field cannot take as a value.
    Composite(&'static str),
}

impl Path {
    /// Parses a path; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (absolute, rest) = match text.strip_prefix("$.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if rest.is_empty() {
            return Err("the path is empty".into());
        }
        Ok(Self {
            text: text.to_string(),
            absolute,
            segments: segments(rest)?,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// A path that is only a name, taken as written: how `from` names a column whose header
    /// does not parse as a path (`Order No.`, `Qty[kg]`).
    pub fn literal(text: &str) -> Self {
        Self {
            text: text.to_string(),
            absolute: false,
            segments: vec![Segment::Key(text.to_string())],
        }
    }

    /// The column a flat row offers under this path: a single (possibly quoted) name, else the
    /// text without `$.`.
    pub fn column(&self) -> &str {
        match self.segments.as_slice() {
            [Segment::Key(name)] => name,
            _ => self.text.strip_prefix("$.").unwrap_or(&self.text),
        }
    }

    /// The value at this path, from `item` or (absolute paths) from `root`.
    pub fn resolve<'v>(&self, item: &'v Value, root: &'v Value) -> Option<&'v Value> {
        let start = if self.absolute { root } else { item };
        self.segments
            .iter()
            .try_fold(start, |node, segment| match segment {
                Segment::Key(k) => node.get(k.as_str()),
                Segment::Index(i) => node.get(*i),
            })
    }

    /// The leaf at this path, as text.
    pub fn leaf<'v>(&self, item: &'v Value, root: &'v Value) -> Found<'v> {
        match self.resolve(item, root) {
            None | Some(Value::Null) => Found::Missing,
            Some(Value::String(s)) => Found::Text(Cow::Borrowed(s)),
            Some(Value::Number(n)) => Found::Text(Cow::Owned(n.to_string())),
            Some(Value::Bool(b)) => Found::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
            Some(Value::Object(_)) => Found::Composite("an object"),
            Some(Value::Array(_)) => Found::Composite("a list"),
        }
    }

    /// The items at this path, for `each` and `split`: the elements of a list, a single object as
    /// one item, nothing for a missing value. `None` when the path does not exist at all.
    pub fn items<'v>(&self, item: &'v Value, root: &'v Value) -> Option<Vec<&'v Value>> {
        Some(match self.resolve(item, root)? {
            Value::Array(items) => items.iter().collect(),
            Value::Null => Vec::new(),
            other => vec![other],
        })
    }
}

/// Splits `a.b[0]["c.d"]` into segments.
fn segments(text: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut expect_key = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let close = after
                .find(']')
                .ok_or_else(|| format!("\"[\" without \"]\" in \"{text}\""))?;
            out.push(bracket(&after[..close], text)?);
            rest = &after[close + 1..];
            expect_key = false;
            continue;
        }
        if let Some(after) = rest.strip_prefix('.') {
            if expect_key {
                return Err(format!("an empty name in \"{text}\""));
            }
            rest = after;
            expect_key = true;
            if rest.is_empty() {
                return Err(format!("\"{text}\" ends with \".\""));
            }
            continue;
        }
        if !expect_key {
            return Err(format!("a \".\" is missing after \"]\" in \"{text}\""));
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        out.push(Segment::Key(rest[..end].to_string()));
        rest = &rest[end..];
        expect_key = false;
    }
    Ok(out)
}

/// `[3]` or `["key"]`.
fn bracket(inside: &str, text: &str) -> Result<Segment, String> {
    if let Some(quoted) = inside
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .or_else(|| inside.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')))
    {
        return Ok(Segment::Key(quoted.to_string()));
    }
    inside.parse::<usize>().map(Segment::Index).map_err(|_| {
        format!(
            "\"[{inside}]\" in \"{text}\" is neither an index ([0]) nor a quoted name ([\"a.b\"]); \
             use `each` to map every item of a list"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text<'v>(found: Found<'v>) -> Option<Cow<'v, str>> {
        match found {
            Found::Text(t) => Some(t),
            _ => None,
        }
    }

    #[test]
    fn paths_walk_objects_lists_and_quoted_keys() {
        let doc = json!({"order": {"no": "A1", "lines": [{"sku": "S1", "qty": 2}], "a.b": true}});
        let at = |p: &str| text(Path::parse(p).unwrap().leaf(&doc, &doc)).map(|c| c.into_owned());
        assert_eq!(at("order.no").as_deref(), Some("A1"));
        assert_eq!(at("order.lines[0].sku").as_deref(), Some("S1"));
        assert_eq!(at("order.lines[0].qty").as_deref(), Some("2"));
        assert_eq!(at("order[\"a.b\"]").as_deref(), Some("true"));
        assert_eq!(at("order.lines[1].sku"), None);
    }

    #[test]
    fn absolute_paths_start_at_the_root() {
        let root = json!({"no": "A1", "lines": [{"sku": "S1"}]});
        let item = &root["lines"][0];
        let no = Path::parse("$.no").unwrap();
        assert!(matches!(no.leaf(item, &root), Found::Text(t) if t == "A1"));
        assert!(matches!(
            Path::parse("no").unwrap().leaf(item, &root),
            Found::Missing
        ));
        assert_eq!(no.column(), "no");
    }

    #[test]
    fn items_of_lists_single_objects_and_nulls() {
        let doc = json!({"many": [1, 2], "one": {"a": 1}, "none": null});
        let count = |p: &str| Path::parse(p).unwrap().items(&doc, &doc).map(|v| v.len());
        assert_eq!(count("many"), Some(2));
        assert_eq!(count("one"), Some(1));
        assert_eq!(count("none"), Some(0));
        assert_eq!(count("absent"), None);
    }

    #[test]
    fn composites_are_not_leaves() {
        let doc = json!({"o": {"a": 1}, "l": []});
        assert!(matches!(
            Path::parse("o").unwrap().leaf(&doc, &doc),
            Found::Composite("an object")
        ));
        assert!(matches!(
            Path::parse("l").unwrap().leaf(&doc, &doc),
            Found::Composite("a list")
        ));
    }

    #[test]
    fn columns_of_flat_rows_are_the_text_or_the_one_quoted_name() {
        assert_eq!(Path::parse("a.b").unwrap().column(), "a.b");
        assert_eq!(
            Path::parse("[\"Order No.\"]").unwrap().column(),
            "Order No."
        );
        assert_eq!(Path::literal("Qty[kg]").column(), "Qty[kg]");
        let row = json!({"Qty[kg]": "5"});
        assert!(matches!(Path::literal("Qty[kg]").leaf(&row, &row), Found::Text(t) if t == "5"));
    }

    #[test]
    fn bad_paths_are_explained() {
        assert!(Path::parse("a..b").unwrap_err().contains("empty name"));
        assert!(Path::parse("a[*].b").unwrap_err().contains("use `each`"));
        assert!(Path::parse("a[0").unwrap_err().contains("without"));
        assert!(Path::parse("a.").unwrap_err().contains("ends with"));
        assert!(Path::parse("$.").is_err());
    }
}
