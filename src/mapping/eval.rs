//! Evaluation: a mapping bound to one file's columns turns each record into events' `data` (JSON
//! written straight into one buffer), subjects and natural keys — one event per record, or one per
//! item with `split`. Flat rows are read by column index; nested records by path, item by item
//! inside `each` lists.

use super::error::MapError;
use super::path::Found;
use super::plan::{
    EachPlan, FieldPlan, Input, Mapping, Node, ObjectPlan, SubjectPiece, SubjectPlan,
};
use super::template::{self, ColumnNames, Context, Expr, Outcome};
use crate::config::toml_de::did_you_mean;
use crate::format::record::{Body, Columns, Record};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Fields whose output spans are kept on the stack; mappings with more use the heap.
const INLINE_SPANS: usize = 32;

/// A mapping whose column names are resolved to the indexes of one file's columns.
#[derive(Debug)]
pub struct BoundMapping<'m> {
    mapping: &'m Mapping,
    /// Per field: the index of the column it reads, for fields read `from` a column of a flat row.
    columns: Box<[Option<usize>]>,
    /// Columns offered to expressions, by name.
    context: Arc<ColumnNames>,
    /// Largest `data` seen so far: the next buffer is allocated this big.
    capacity: AtomicUsize,
}

/// One event's worth of a mapped record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The event's `data`, as JSON.
    pub data: Vec<u8>,
    pub subject: Option<String>,
    /// Natural key values in `key` order, the version value appended.
    pub key: Vec<String>,
}

impl Mapping {
    /// Resolves the mapping's columns against a file's `columns`. A column read by `from` that the
    /// file lacks is an error naming it and listing the file's columns. Columns only expressions
    /// read may be absent: an expression can test `COLUMN is defined`.
    pub fn bind(&self, columns: &Columns) -> Result<BoundMapping<'_>, MapError> {
        let indexes = self
            .fields
            .iter()
            .map(|f| match f.column().filter(|_| self.reads_rows(f)) {
                Some(name) => columns
                    .position(name)
                    .map(Some)
                    .ok_or_else(|| self.missing_column(f, name, columns)),
                None => Ok(None),
            })
            .collect::<Result<Box<[_]>, _>>()?;
        let offered = if self.uses_expressions() {
            self.expression_columns
                .iter()
                .filter_map(|name| columns.position(name).map(|i| (name.clone(), i)))
                .collect()
        } else {
            Vec::new()
        };
        Ok(self.bound(indexes, offered))
    }

    /// The mapping for nested records, which are read by path and need no binding.
    pub fn bind_tree(&self) -> BoundMapping<'_> {
        self.bound(vec![None; self.fields.len()].into(), Vec::new())
    }

    fn bound(
        &self,
        columns: Box<[Option<usize>]>,
        offered: Vec<(String, usize)>,
    ) -> BoundMapping<'_> {
        BoundMapping {
            mapping: self,
            columns,
            context: Arc::new(ColumnNames::new(offered, &self.tables)),
            capacity: AtomicUsize::new(16 * self.fields.len() + 2),
        }
    }

    /// Whether the field reads a column of the flat rows the mapping is bound to (not an item of
    /// a list, not a record made by grouping or split).
    fn reads_rows(&self, field: &FieldPlan) -> bool {
        !field.repeated && self.split.is_none() && self.group.is_none()
    }

    fn missing_column(&self, field: &FieldPlan, name: &str, columns: &Columns) -> MapError {
        let hint = columns
            .names()
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .map(String::as_str)
            .or_else(|| did_you_mean(name, columns.names()))
            .map(|best| format!(" (did you mean \"{best}\"?)"))
            .unwrap_or_default();
        MapError {
            mapping: Arc::clone(&self.file),
            line: field.line,
            field: Some(Arc::clone(&field.name)),
            column: Some(name.into()),
            value: None,
            reason: format!(
                "the file has no column \"{name}\"{hint}; its columns are: {}",
                columns.names().join(", ")
            ),
        }
    }
}

impl BoundMapping<'_> {
    /// Maps one record (a flat row must have the columns bound) into its events: none when `when`
    /// filters it out (or `split` finds an empty list), one per item with `split`, else one.
    pub fn eval(&self, record: &Record) -> Result<Vec<Mapped>, MapError> {
        let mapping = self.mapping;
        match (&record.body, &mapping.split) {
            (Body::Row { row, .. }, None) => Ok(self.event(Scope::Row(row))?.into_iter().collect()),
            (Body::Tree(tree), None) => {
                let scope = Scope::Node {
                    item: tree,
                    root: tree,
                };
                Ok(self.event(scope)?.into_iter().collect())
            }
            (Body::Tree(tree), Some(split)) => {
                let items = split.item.items(tree, tree).ok_or_else(|| MapError {
                    mapping: Arc::clone(&mapping.file),
                    line: split.line,
                    field: None,
                    column: None,
                    value: None,
                    reason: format!("split: the record has no \"{}\"", split.item.text()),
                })?;
                let mut events = Vec::with_capacity(items.len());
                for item in items {
                    events.extend(self.event(Scope::Node { item, root: tree })?);
                }
                Ok(events)
            }
            (Body::Row { .. }, Some(split)) => Err(MapError {
                mapping: Arc::clone(&mapping.file),
                line: split.line,
                field: None,
                column: None,
                value: None,
                reason: "split needs nested records (a `[group]`, or a format that makes trees); \
                         this record is a flat row"
                    .into(),
            }),
        }
    }

    /// One event from `scope`, or `None` when `when` filters it out.
    fn event(&self, scope: Scope<'_>) -> Result<Option<Mapped>, MapError> {
        let mut run = Run {
            bound: self,
            scope,
            context: None,
            record: None,
            spans: Spans::new(self.mapping.fields.len()),
        };
        if !run.passes_when()? {
            return Ok(None);
        }
        let mut data = String::with_capacity(self.capacity.load(Ordering::Relaxed));
        run.write_object(&self.mapping.output, &mut data)?;
        self.capacity.fetch_max(data.len(), Ordering::Relaxed);
        let key = run.key(&data)?;
        let subject = run.subject(&data)?;
        let data = data.into_bytes();
        Ok(Some(Mapped { data, subject, key }))
    }
}

/// Where fields read their values.
#[derive(Clone, Copy)]
enum Scope<'r> {
    /// A flat row, read by bound column index.
    Row(&'r csv::StringRecord),
    /// An item of a nested record (the record itself at the top), paths from `$.` at `root`.
    Node {
        item: &'r serde_json::Value,
        root: &'r serde_json::Value,
    },
}

/// The state of mapping one event.
struct Run<'b, 'm, 'r> {
    bound: &'b BoundMapping<'m>,
    scope: Scope<'r>,
    /// The scope as an expression context, built on first use.
    context: Option<Context>,
    /// The whole nested record as a template value (`record` in item contexts), built on first
    /// use.
    record: Option<minijinja::Value>,
    /// Where each field's JSON value sits in `data`.
    spans: Spans,
}

impl<'r> Run<'_, '_, 'r> {
    fn mapping(&self) -> &Mapping {
        self.bound.mapping
    }

    fn passes_when(&mut self) -> Result<bool, MapError> {
        let bound = self.bound;
        let Some(when) = &bound.mapping.when else {
            return Ok(true);
        };
        match self.evaluate(&when.item) {
            Ok(value) => Ok(value.is_true()),
            Err(reason) => Err(self.error(when.line, format!("when: {reason}"))),
        }
    }

    fn evaluate(&mut self, expr: &Expr) -> Result<Outcome, String> {
        let context = match self.context.take() {
            Some(context) => context,
            None => self.new_context(),
        };
        let result = expr
            .eval(&context)
            .map_err(|e| format!("cannot evaluate \"{}\": {e}", expr.source()));
        self.context = Some(context);
        result
    }

    fn new_context(&mut self) -> Context {
        match self.scope {
            Scope::Row(row) => template::record_context(&self.bound.context, row),
            Scope::Node { item, root } => {
                let record = self
                    .record
                    .get_or_insert_with(|| template::json_value(root));
                template::tree_context(item, record, &self.bound.context)
            }
        }
    }

    /// Writes an object; members whose value is missing are left out. Returns whether any member
    /// was written.
    fn write_object(&mut self, object: &ObjectPlan, out: &mut String) -> Result<bool, MapError> {
        out.push('{');
        let mut wrote_any = false;
        for member in &object.members {
            let mark = out.len();
            if wrote_any {
                out.push(',');
            }
            out.push_str(member.key.as_str());
            let wrote = match &member.node {
                Node::Field(index) => self.write_field(*index, out)?,
                Node::Object(inner) => self.write_object(inner, out)?,
                Node::Each(each) => self.write_each(each, out)?,
            };
            if wrote {
                wrote_any = true;
            } else {
                out.truncate(mark);
            }
        }
        out.push('}');
        Ok(wrote_any)
    }

    /// Writes a list with one object per item that passes the list's `when`; an empty list is
    /// left out.
    fn write_each(&mut self, each: &EachPlan, out: &mut String) -> Result<bool, MapError> {
        let Scope::Node { item, root } = self.scope else {
            return Ok(false);
        };
        let Some(items) = each.path.items(item, root) else {
            return Ok(false);
        };
        let outer = (self.scope, self.context.take());
        out.push('[');
        let mut wrote_any = false;
        let mut result = Ok(());
        for item in items {
            self.scope = Scope::Node { item, root };
            self.context = None;
            match self.write_item(each, wrote_any, out) {
                Ok(wrote) => wrote_any |= wrote,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        (self.scope, self.context) = outer;
        result?;
        out.push(']');
        Ok(wrote_any)
    }

    fn write_item(
        &mut self,
        each: &EachPlan,
        after: bool,
        out: &mut String,
    ) -> Result<bool, MapError> {
        if let Some(when) = &each.when {
            let keep = self
                .evaluate(&when.item)
                .map_err(|reason| self.error(when.line, format!("when: {reason}")))?;
            if !keep.is_true() {
                return Ok(false);
            }
        }
        let mark = out.len();
        if after {
            out.push(',');
        }
        if !self.write_object(&each.object, out)? {
            out.truncate(mark);
            return Ok(false);
        }
        Ok(true)
    }

    fn write_field(&mut self, index: usize, out: &mut String) -> Result<bool, MapError> {
        let bound = self.bound;
        let field = &bound.mapping.fields[index];
        let start = out.len();
        let wrote = match &field.input {
            Input::Constant(json) => {
                out.push_str(json.as_str());
                true
            }
            Input::Path(path) => match self.scope {
                Scope::Row(row) => {
                    let raw = bound.columns[index].and_then(|c| row.get(c));
                    self.write_value(field, raw, out)?
                }
                Scope::Node { item, root } => match path.leaf(item, root) {
                    Found::Missing => self.write_value(field, None, out)?,
                    Found::Text(text) => self.write_value(field, Some(&text), out)?,
                    Found::Composite(what) => {
                        let reason = format!(
                            "is {what}, not a value; address a value inside it, or map a list \
                             with `each`"
                        );
                        return Err(self.field_error(field, None, reason));
                    }
                },
            },
            Input::Expr(expr) => {
                let outcome = self
                    .evaluate(expr)
                    .map_err(|reason| self.field_error(field, None, reason))?;
                self.write_value(field, outcome.text().as_deref(), out)?
            }
        };
        if wrote {
            self.spans.set(index, (start, out.len()));
        }
        Ok(wrote)
    }
    /// Trims, looks up and converts one value; a missing or empty value takes the default, is an
    /// error when required, and is otherwise left out.
    fn write_value(
        &self,
        field: &FieldPlan,
        raw: Option<&str>,
        out: &mut String,
    ) -> Result<bool, MapError> {
        let text = raw
            .map(|r| {
                if field.trim || !field.conversion.is_string() {
                    r.trim()
                } else {
                    r
                }
            })
            .filter(|t| !t.is_empty());
        let Some(mut text) = text else {
            return self.write_missing(field, out);
        };
        if let Some(table) = &field.lookup {
            match (table.get(text), &field.default) {
                (Some(found), _) => text = found,
                (None, Some(default)) => {
                    out.push_str(default.as_str());
                    return Ok(true);
                }
                (None, None) => {
                    let reason = format!("\"{text}\" is not in lookup table \"{}\"", table.name());
                    return Err(self.field_error(field, Some(text), reason));
                }
            }
        }
        field
            .conversion
            .write(text, out)
            .map_err(|reason| self.field_error(field, Some(text), reason))?;
        Ok(true)
    }

    fn write_missing(&self, field: &FieldPlan, out: &mut String) -> Result<bool, MapError> {
        match (&field.default, field.required) {
            (Some(default), _) => {
                out.push_str(default.as_str());
                Ok(true)
            }
            (None, true) => Err(self.field_error(
                field,
                None,
                "is required, but the value is missing or empty".into(),
            )),
            (None, false) => Ok(false),
        }
    }

    fn key(&self, data: &str) -> Result<Vec<String>, MapError> {
        let fields = &self.mapping().fields;
        self.mapping()
            .key
            .iter()
            .map(|&i| match self.spans.get(i) {
                Some(span) => Ok(span_text(data, span).into_owned()),
                None => Err(self.field_error(
                    &fields[i],
                    None,
                    "is part of the event id (key or version), but the value is missing or empty"
                        .into(),
                )),
            })
            .collect()
    }

    fn subject(&self, data: &str) -> Result<Option<String>, MapError> {
        let Some(subject) = &self.mapping().subject else {
            return Ok(None);
        };
        let rendered = match &subject.item {
            SubjectPlan::Native(pieces) => self.native_subject(pieces, data),
            SubjectPlan::Template(t) => serde_json::from_str(data)
                .map_err(|e| e.to_string())
                .and_then(|json| t.render(&json)),
        };
        rendered
            .map(Some)
            .map_err(|reason| self.error(subject.line, format!("subject: {reason}")))
    }

    fn native_subject(&self, pieces: &[SubjectPiece], data: &str) -> Result<String, String> {
        let mut out = String::with_capacity(64);
        for piece in pieces {
            match piece {
                SubjectPiece::Text(t) => out.push_str(t),
                SubjectPiece::Field(i) => match self.spans.get(*i) {
                    Some(span) => out.push_str(&span_text(data, span)),
                    None => {
                        let name = &self.mapping().fields[*i].name;
                        return Err(format!("field \"{name}\" is missing or empty"));
                    }
                },
            }
        }
        Ok(out)
    }

    fn error(&self, line: usize, reason: String) -> MapError {
        MapError {
            mapping: Arc::clone(&self.mapping().file),
            line,
            field: None,
            column: None,
            value: None,
            reason,
        }
    }

    fn field_error(&self, field: &FieldPlan, value: Option<&str>, reason: String) -> MapError {
        MapError {
            mapping: Arc::clone(&self.mapping().file),
            line: field.line,
            field: Some(Arc::clone(&field.name)),
            column: field.column().map(Arc::from),
            value: value.map(str::to_string),
            reason,
        }
    }
}

/// The text of a JSON value written into `data`: strings unescaped, other values as written.
fn span_text(data: &str, (start, end): (usize, usize)) -> Cow<'_, str> {
    let raw = data.get(start..end).unwrap_or_default();
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if !inner.contains('\\') => Cow::Borrowed(inner),
        Some(_) => serde_json::from_str(raw).map_or(Cow::Borrowed(raw), Cow::Owned),
        None => Cow::Borrowed(raw),
    }
}

/// Byte spans of the fields' values in `data`; `(0, 0)` for a field not written (no value starts
/// at 0: `data` starts with `{`).
struct Spans {
    inline: [(usize, usize); INLINE_SPANS],
    heap: Vec<(usize, usize)>,
}

impl Spans {
    fn new(fields: usize) -> Self {
        Self {
            inline: [(0, 0); INLINE_SPANS],
            heap: if fields > INLINE_SPANS {
                vec![(0, 0); fields]
            } else {
                Vec::new()
            },
        }
    }

    fn set(&mut self, field: usize, span: (usize, usize)) {
        let slots = if self.heap.is_empty() {
            &mut self.inline[..]
        } else {
            &mut self.heap[..]
        };
        slots[field] = span;
    }

    fn get(&self, field: usize) -> Option<(usize, usize)> {
        let slots = if self.heap.is_empty() {
            &self.inline[..]
        } else {
            &self.heap[..]
        };
        Some(slots[field]).filter(|&(_, end)| end > 0)
    }
}
