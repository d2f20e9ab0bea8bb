//! The compiled form of a mapping: what evaluation walks for every record. Built once at load by
//! [`super::compile`]; nothing in it is parsed or looked up by field name at run time.

use super::convert::Conversion;
use super::lookup::Lookup;
use super::template::{Expr, Template};
use std::ops::Deref;
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
    /// Output fields, in file order.
    pub(super) fields: Vec<FieldPlan>,
    /// The shape of `data`: objects whose leaves are indexes into `fields`.
    pub(super) output: ObjectPlan,
    pub(super) when: Option<Located<Expr>>,
    pub(super) subject: Option<Located<SubjectPlan>>,
    /// Fields whose values make the natural key, in order, the version field last.
    pub(super) key: Vec<usize>,
    /// Source columns the expressions (`when`, `expr`) read, in first-use order.
    pub(super) expression_columns: Vec<String>,
    pub(super) examples: Vec<Example>,
    /// Short hash of the mapping's text.
    pub(super) version: String,
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

    /// The CloudEvents type of the events it makes.
    pub fn event_type(&self) -> &str {
        &self.event_type
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
}

impl FieldPlan {
    /// The source column the field reads, if it reads one.
    pub fn column(&self) -> Option<&str> {
        match &self.input {
            Input::Column(c) => Some(c),
            Input::Constant(_) | Input::Expr(_) => None,
        }
    }
}

/// Where a field's value comes from.
#[derive(Debug)]
pub(super) enum Input {
    /// A source column, resolved to an index when the mapping is bound to a file.
    Column(Arc<str>),
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
    /// Source column → value.
    pub input: Vec<(String, String)>,
    pub expect: Expect,
}

#[derive(Debug)]
pub(super) enum Expect {
    Output(serde_json::Value),
    /// A substring of the expected error.
    Error(String),
    /// The record is filtered out by `when`.
    Skipped,
}
