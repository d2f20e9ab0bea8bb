//! The compiled form of a mapping: what evaluation walks for every record. Built once at load by
//! [`super::compile`]; nothing in it is parsed or looked up by field name at run time.

use super::convert::Conversion;
use super::lookup::{Lookup, Tables};
use super::path::Path;
use super::template::{Expr, Template};
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

/// A mapping file compiled once: turns the records of a source into the `data`, subject and natural
/// key of canonical events.
#[derive(Debug)]
pub struct Mapping {
    /// File stem of the mapping file.
    pub(super) name: String,
    /// The mapping file as given, for messages.
    pub(super) file: Arc<str>,
    pub(super) event_type: String,
    /// Line of `type` in the mapping file.
    pub(super) type_line: usize,
    /// Output fields, in file order.
    pub(super) fields: Vec<FieldPlan>,
    /// The shape of `data`: objects whose leaves are indexes into `fields`.
    pub(super) output: ObjectPlan,
    pub(super) when: Option<Located<Expr>>,
    /// One event per item at this path, instead of one per record.
    pub(super) split: Option<Located<Path>>,
    /// Consecutive rows that share key columns make one record.
    pub(super) group: Option<GroupPlan>,
    pub(super) subject: Option<Located<SubjectPlan>>,
    /// The lookup tables, for `lookup()` in expressions.
    pub(super) tables: Arc<Tables>,
    /// Fields whose values make the natural key, in order, the version field last.
    pub(super) key: Vec<usize>,
    /// Source columns the expressions (`when`, `expr`) read, in first-use order.
    pub(super) expression_columns: Vec<String>,
    pub(super) examples: Vec<Example>,
    /// Short hash of the mapping's text.
    pub(super) version: String,
    /// The CSV files its lookup tables were read from.
    pub(super) lookup_files: Vec<PathBuf>,
}

impl Mapping {
    /// The mapping's name: its file stem.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mapping file, as it was loaded.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// A short hash of the mapping file's text: which revision of the mapping this is.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The CSV files its lookup tables were read from.
    pub fn lookup_files(&self) -> &[PathBuf] {
        &self.lookup_files
    }

    /// The CloudEvents type of the events it makes.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// How rows are grouped into records, if they are.
    pub fn group(&self) -> Option<&GroupPlan> {
        self.group.as_ref()
    }

    /// Every source column a field (`from`) or expression (`when`, `expr`) reads, each once.
    pub fn source_columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = Vec::new();
        let read = self.fields.iter().filter_map(FieldPlan::column);
        for column in read.chain(self.expression_columns.iter().map(String::as_str)) {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
        columns
    }

    /// Whether evaluation needs the record as an expression context.
    pub(super) fn uses_expressions(&self) -> bool {
        self.when.is_some()
            || self
                .fields
                .iter()
                .any(|f| matches!(f.input, Input::Expr(_)))
    }
}

/// Something compiled from the mapping file, with the line it came from.
#[derive(Debug)]
pub(super) struct Located<T> {
    pub line: usize,
    pub item: T,
}

/// One output field.
#[derive(Debug)]
pub(super) struct FieldPlan {
    /// Output name, dotted when nested (`customer.name`).
    pub name: Arc<str>,
    /// Line of the field in the mapping file.
    pub line: usize,
    pub input: Input,
    pub conversion: Conversion,
    pub trim: bool,
    /// JSON written when the value is missing or empty (or not in the lookup table).
    pub default: Option<Json>,
    pub required: bool,
    pub lookup: Option<Arc<Lookup>>,
    /// Inside an `each` list: one value per item, so not usable in `key` or `subject`.
    pub repeated: bool,
}

impl FieldPlan {
    /// The source column (or path) the field reads, if it reads one.
    pub fn column(&self) -> Option<&str> {
        match &self.input {
            Input::Path(p) => Some(p.column()),
            Input::Constant(_) | Input::Expr(_) => None,
        }
    }
}

/// Where a field's value comes from.
#[derive(Debug)]
pub(super) enum Input {
    /// A source column or path; on flat rows resolved to a column index when the mapping is
    /// bound to a file.
    Path(Path),
    /// A constant, already as JSON.
    Constant(Json),
    Expr(Expr),
}

/// A JSON object of the output.
#[derive(Debug, Default)]
pub(super) struct ObjectPlan {
    pub members: Vec<Member>,
}

#[derive(Debug)]
pub(super) struct Member {
    /// `"name":`, escaped once.
    pub key: Json,
    pub node: Node,
}

#[derive(Debug)]
pub(super) enum Node {
    /// Index into [`Mapping::fields`].
    Field(usize),
    Object(ObjectPlan),
    /// A list of objects, one per item.
    Each(Box<EachPlan>),
}

/// A list of objects: `object` evaluated for every item at `path` that passes `when`.
#[derive(Debug)]
pub(super) struct EachPlan {
    pub path: Path,
    pub when: Option<Located<Expr>>,
    pub object: ObjectPlan,
}

/// `[group]`, compiled.
#[derive(Debug)]
pub struct GroupPlan {
    /// Columns whose values, equal on consecutive rows, make them one record.
    pub by: Vec<String>,
    /// Name of the list holding the group's rows.
    pub into: String,
    /// A group with more rows fails as a whole instead of growing without bound.
    pub max_rows: usize,
    /// Line of `[group]` in the mapping file.
    pub line: usize,
}

/// A piece of JSON text made once at load and copied into every event; it reads as its bytes.
#[derive(Debug)]
pub(super) struct Json(Box<str>);

impl Json {
    pub fn new(text: String) -> Self {
        Self(text.into_boxed_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Json {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// How the subject is made.
#[derive(Debug)]
pub(super) enum SubjectPlan {
    /// Text and output fields only, rendered without minijinja.
    Native(Vec<SubjectPiece>),
    /// Anything more, rendered by minijinja over the event's data.
    Template(Box<Template>),
}

#[derive(Debug)]
pub(super) enum SubjectPiece {
    Text(String),
    /// Index into [`Mapping::fields`].
    Field(usize),
}

/// One `[[examples]]` entry.
#[derive(Debug)]
pub(super) struct Example {
    pub line: usize,
    pub input: ExampleInput,
    pub expect: Expect,
}

/// What an example feeds the mapping.
#[derive(Debug)]
pub(super) enum ExampleInput {
    /// One flat row: source column → value.
    Row(Vec<(String, String)>),
    /// Consecutive flat rows, grouped as the mapping's `[group]` says.
    Rows(Vec<Vec<(String, String)>>),
    /// One nested record.
    Tree(serde_json::Value),
}

#[derive(Debug)]
pub(super) enum Expect {
    /// The `data` of the event; with `split`, of every event, in order.
    Output(serde_json::Value),
    /// A substring of the expected error.
    Error(String),
    /// The record is filtered out by `when`.
    Skipped,
}

/// An output field as schemas name it: dotted, `[]` after a list made by `each`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPath {
    /// `store`, `payment.method`, `lines[].sku`.
    pub path: String,
    /// Line of the field in the mapping file.
    pub line: usize,
}

/// A source column or path the mapping reads, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRead {
    /// A column name, a path (`customer.id`), or a variable an expression reads.
    pub name: String,
    pub line: usize,
    /// Read from each item of a list (`each`, `split`), not from the record itself.
    pub in_item: bool,
    /// Read by an expression rather than `from`.
    pub by_expression: bool,
}

impl Mapping {
    /// The mapping file's line of `type`.
    pub fn type_line(&self) -> usize {
        self.type_line
    }

    /// Every output field the mapping can write, in output order.
    pub fn output_paths(&self) -> Vec<OutputPath> {
        let mut out = Vec::new();
        self.collect_paths(&self.output, "", &mut out);
        out
    }

    fn collect_paths(&self, object: &ObjectPlan, prefix: &str, out: &mut Vec<OutputPath>) {
        for member in &object.members {
            let name: String =
                serde_json::from_str(member.key.as_str().trim_end_matches(':')).unwrap_or_default();
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}.{name}")
            };
            match &member.node {
                Node::Field(i) => out.push(OutputPath {
                    path,
                    line: self.fields[*i].line,
                }),
                Node::Object(inner) => self.collect_paths(inner, &path, out),
                Node::Each(each) => self.collect_paths(&each.object, &format!("{path}[]"), out),
            }
        }
    }

    /// Every source column or path a field reads with `from`, and every variable an expression
    /// reads (`when`, `expr`), with its line.
    pub fn source_reads(&self) -> Vec<SourceRead> {
        let mut reads = Vec::new();
        if let Some(when) = &self.when {
            for v in when.item.variables() {
                reads.push(SourceRead {
                    name: v.clone(),
                    line: when.line,
                    in_item: self.split.is_some(),
                    by_expression: true,
                });
            }
        }
        for field in &self.fields {
            let in_item = field.repeated || self.split.is_some();
            match &field.input {
                Input::Path(p) => reads.push(SourceRead {
                    name: p.column().to_string(),
                    line: field.line,
                    in_item: in_item && !p.text().starts_with("$."),
                    by_expression: false,
                }),
                Input::Expr(e) => reads.extend(e.variables().iter().map(|v| SourceRead {
                    name: v.clone(),
                    line: field.line,
                    in_item,
                    by_expression: true,
                })),
                Input::Constant(_) => {}
            }
        }
        reads
    }
}
