//! Spec → plan: checks a mapping file as a whole, reporting every problem at its line and column,
//! and builds the plan that evaluation walks.

use super::convert::{Conversion, FieldType};
use super::example::toml_to_json;
use super::lookup::{self, Lookup};
use super::path::Path as SourcePath;
use super::plan::{
    EachPlan, Example, ExampleInput, Expect, FieldPlan, GroupPlan, Input, Json, Located, Mapping,
    ObjectPlan, SubjectPiece, SubjectPlan,
};
use super::shape::Tree;
use super::spec::{self, EachEntry, Entry, ExampleSpec, FieldSpec, FileSpec, GroupSpec};
use super::template::{self, Expr, Piece, Template};
use crate::config::diagnostic::line_col;
use crate::config::toml_de::{Source, did_you_mean};
use crate::config::{Diagnostic, Diagnostics};
use chrono_tz::Tz;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use toml::Spanned;
use toml::de::DeValue;

/// Compiles the mapping file at `path` whose text is `text`; lookup files resolve against the
/// file's directory.
pub(super) fn compile(path: &Path, text: &str) -> Result<Mapping, Diagnostics> {
    let source = Source { path, text };
    let table = source.parse()?;
    let mut c = Compiler {
        source,
        diagnostics: Diagnostics::default(),
        expressions: Vec::new(),
    };
    let root = Spanned::new(table.span(), DeValue::Table(table.get_ref().clone()));
    let spec = c.collect(source.deserialize::<FileSpec>(root, ""));
    let lookups = spec.as_ref().map(|s| c.lookups(s));
    let entries = match table.get_ref().get("fields") {
        Some(value) => spec::fields(&source, value, &mut c.diagnostics),
        None => Vec::new(),
    };
    let outputs = c.fields(entries, lookups.as_ref());
    let mapping = spec.map(|spec| c.mapping(spec, outputs, lookups.unwrap_or_default()));
    match mapping {
        Some(mapping) if c.diagnostics.is_empty() => Ok(mapping),
        _ => Err(c.diagnostics),
    }
}

/// Rows a group may hold when `[group] max_rows` is not given.
const MAX_GROUP_ROWS: usize = 10_000;

/// Lookup tables by name; `None` for one that failed to load.
type Tables = HashMap<String, Option<Arc<Lookup>>>;

/// The output fields as compiled: plans, the output tree, and every declared name.
struct Outputs {
    fields: Vec<FieldPlan>,
    tree: Tree,
    /// Declared field name → index into `fields` (`None` when the field did not compile).
    names: HashMap<String, Option<usize>>,
}

struct Compiler<'a> {
    source: Source<'a>,
    diagnostics: Diagnostics,
    /// Every expression's text and where it is, to check the tables `lookup()` names.
    expressions: Vec<(String, usize)>,
}

impl<'a> Compiler<'a> {
    fn collect<T>(&mut self, result: Result<T, Diagnostics>) -> Option<T> {
        result.map_err(|d| self.diagnostics.extend(d)).ok()
    }

    fn error(&mut self, at: usize, message: impl Into<String>) {
        let d = self.source.diagnostic(at, message);
        self.diagnostics.push(d);
    }

    fn line(&self, at: usize) -> usize {
        line_col(self.source.text, at).0
    }

    fn mapping(&mut self, spec: FileSpec, outputs: Outputs, tables: Tables) -> Mapping {
        if spec.fields.is_none() {
            self.error(0, "the mapping has no [fields]");
        }
        if spec.event_type.get_ref().trim().is_empty() {
            self.error(
                spec.event_type.span().start,
                "type must name the event type",
            );
        }
        let mut key: Vec<usize> = spec
            .key
            .iter()
            .flatten()
            .filter_map(|name| self.field_ref("key", name, &outputs))
            .collect();
        key.extend(
            spec.version
                .as_ref()
                .and_then(|name| self.field_ref("version", name, &outputs)),
        );
        let when = spec.when.as_ref().and_then(|w| self.expression("when", w));
        let split = spec.split.as_ref().and_then(|s| {
            let line = self.line(s.span().start);
            self.path("split", s).map(|item| Located { line, item })
        });
        let group = spec.group.as_ref().and_then(|g| self.group(g));
        let subject = spec
            .subject
            .as_ref()
            .and_then(|s| self.subject(s, &outputs));
        let lookup_files = self.lookup_files(&spec);
        let examples = spec
            .examples
            .into_iter()
            .filter_map(|e| self.example(e))
            .collect();
        let expression_columns = expression_columns(when.as_ref(), &outputs.fields);
        self.check_lookup_calls(&tables);
        let tables = lookup::Tables(
            tables
                .into_iter()
                .filter_map(|(name, table)| table.map(|t| (name, t)))
                .collect(),
        );
        Mapping {
            name: self
                .source
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            file: self.source.path.display().to_string().into(),
            type_line: self.line(spec.event_type.span().start),
            event_type: spec.event_type.into_inner(),
            fields: outputs.fields,
            output: outputs.tree.plan(),
            when,
            split,
            group,
            subject,
            tables: Arc::new(tables),
            key,
            expression_columns,
            examples,
            version: version_of(self.source.text),
            lookup_files,
        }
    }

    /// The CSV files the lookup tables are read from.
    fn lookup_files(&self, spec: &FileSpec) -> Vec<PathBuf> {
        let dir = self.source.path.parent().unwrap_or(Path::new(""));
        spec.lookups
            .values()
            .filter_map(|value| value.get_ref().as_str())
            .map(|file| dir.join(file))
            .collect()
    }

    /// The lookup tables, by name; `None` for a table that failed to load (already reported).
    fn lookups(&mut self, spec: &FileSpec) -> Tables {
        let dir = self.source.path.parent().unwrap_or(Path::new(""));
        let mut tables = HashMap::new();
        for (name, value) in &spec.lookups {
            let at = value.span().start;
            let table = match value.get_ref() {
                toml::Value::String(file) => {
                    Lookup::from_csv(name, &dir.join(file)).map_err(|e| vec![e])
                }
                toml::Value::Table(entries) => inline_lookup(name, entries),
                _ => Err(vec![
                    "must be a table of \"code\" = \"value\" or the path of a CSV file".to_string(),
                ]),
            };
            let loaded = table
                .map_err(|problems| {
                    for p in problems {
                        self.error(at, format!("lookup \"{name}\": {p}"));
                    }
                })
                .ok();
            tables.insert(name.clone(), loaded.map(Arc::new));
        }
        tables
    }

    fn fields(&mut self, entries: Vec<Entry>, lookups: Option<&Tables>) -> Outputs {
        let mut outputs = Outputs {
            fields: Vec::new(),
            tree: Tree::default(),
            names: HashMap::new(),
        };
        for entry in entries {
            let entry = match entry {
                Entry::Field(field) => *field,
                Entry::Each(each) => {
                    self.each(each, &mut outputs);
                    continue;
                }
            };
            let name = entry.path.join(".");
            if entry.path.iter().any(String::is_empty) {
                self.error(entry.at, format!("field name \"{name}\" has an empty part"));
                continue;
            }
            let plan = self.field(&name, entry.at, entry.spec, lookups);
            // A field that did not compile still takes its place in the tree, so that clashes
            // are found; the plan is discarded with the diagnostics.
            let index = plan.map(|plan| {
                outputs.fields.push(plan);
                outputs.fields.len() - 1
            });
            match outputs
                .tree
                .insert(&entry.path, index.unwrap_or(usize::MAX))
            {
                Ok(repeated) => {
                    if let Some(i) = index {
                        outputs.fields[i].repeated = repeated;
                    }
                }
                Err(e) => self.error(entry.at, e),
            }
            outputs.names.insert(name, index);
        }
        outputs
    }

    /// Adds an `each` list to the output tree; its fields follow as ordinary entries.
    fn each(&mut self, entry: EachEntry, outputs: &mut Outputs) {
        let path = self.path("each", &entry.each);
        let when = entry.when.as_ref().and_then(|w| self.expression("when", w));
        let Some(path) = path else {
            return;
        };
        let plan = EachPlan {
            path,
            when,
            object: ObjectPlan::default(),
        };
        if let Err(e) = outputs.tree.insert_each(&entry.path, plan) {
            self.error(entry.at, e);
        }
    }

    /// A path (`from`, `each`, `split`), or the diagnostic of a bad one.
    fn path(&mut self, what: &str, text: &Spanned<String>) -> Option<SourcePath> {
        match SourcePath::parse(text.get_ref()) {
            Ok(path) => Some(path),
            Err(e) => {
                self.error(text.span().start, format!("{what}: {e}"));
                None
            }
        }
    }

    fn group(&mut self, spec: &Spanned<GroupSpec>) -> Option<GroupPlan> {
        let at = spec.span().start;
        let line = self.line(at);
        let spec = spec.get_ref();
        if spec.by.is_empty() {
            self.error(at, "[group] by must name at least one column");
            return None;
        }
        let max_rows = spec
            .max_rows
            .as_ref()
            .map_or(MAX_GROUP_ROWS, |m| *m.get_ref());
        if max_rows == 0 {
            self.error(at, "[group] max_rows must be at least 1");
            return None;
        }
        Some(GroupPlan {
            by: spec.by.iter().map(|b| b.get_ref().clone()).collect(),
            into: spec
                .into
                .as_ref()
                .map_or_else(|| "rows".to_string(), |i| i.get_ref().clone()),
            max_rows,
            line,
        })
    }

    /// Compiles one field; `None` when it has problems (all reported).
    fn field(
        &mut self,
        name: &str,
        at: usize,
        spec: FieldSpec,
        lookups: Option<&Tables>,
    ) -> Option<FieldPlan> {
        let errors_before = self.diagnostics.0.len();
        let ty = spec
            .field_type
            .as_ref()
            .map(|t| *t.get_ref())
            .unwrap_or_default();
        let input = self.input(name, at, &spec, ty);
        let conversion = self.conversion(&spec, ty);
        let default = spec
            .default
            .as_ref()
            .and_then(|d| self.constant("default", d, ty));
        if let (Some(d), Some(r)) = (&spec.default, &spec.required)
            && *r.get_ref()
        {
            self.error(
                d.span().start,
                "a field with a default is never missing; drop `required` or `default`",
            );
        }
        let lookup = match (&spec.lookup, lookups) {
            (Some(name), Some(tables)) if spec.value.is_none() => self.lookup_ref(name, tables),
            _ => None,
        };
        let plan = FieldPlan {
            name: name.into(),
            line: self.line(at),
            input: input?,
            conversion: conversion?,
            trim: spec.trim.as_ref().is_some_and(|t| *t.get_ref()),
            default,
            required: spec.required.as_ref().is_some_and(|r| *r.get_ref()),
            lookup,
            repeated: false,
        };
        (self.diagnostics.0.len() == errors_before).then_some(plan)
    }

    fn input(&mut self, name: &str, at: usize, spec: &FieldSpec, ty: FieldType) -> Option<Input> {
        let given: Vec<(&str, usize)> = [
            ("from", spec.from.as_ref().map(|s| s.span().start)),
            ("value", spec.value.as_ref().map(|s| s.span().start)),
            ("expr", spec.expr.as_ref().map(|s| s.span().start)),
        ]
        .into_iter()
        .filter_map(|(k, at)| at.map(|at| (k, at)))
        .collect();
        match given.as_slice() {
            [] => {
                self.error(
                    at,
                    format!("field \"{name}\" needs one of from, value or expr"),
                );
                return None;
            }
            [(first, _), (second, at), ..] => {
                self.error(
                    *at,
                    format!("field \"{name}\" has both {first} and {second}; give only one"),
                );
                return None;
            }
            [_] => {}
        }
        if let Some(column) = &spec.from {
            if column.get_ref().is_empty() {
                self.error(column.span().start, "from must name a source column");
                return None;
            }
            let path = SourcePath::parse(column.get_ref())
                .unwrap_or_else(|_| SourcePath::literal(column.get_ref()));
            return Some(Input::Path(path));
        }
        if let Some(expr) = &spec.expr {
            return self.expression("expr", expr).map(|e| Input::Expr(e.item));
        }
        let value = spec.value.as_ref()?;
        self.constant_options(spec);
        self.constant("value", value, ty).map(Input::Constant)
    }

    /// A constant `value` is already the output: options that read input do not apply.
    fn constant_options(&mut self, spec: &FieldSpec) {
        let spans = [
            ("format", spec.format.as_ref().map(|s| s.span())),
            ("tz", spec.tz.as_ref().map(|s| s.span())),
            ("trim", spec.trim.as_ref().map(|s| s.span())),
            ("default", spec.default.as_ref().map(|s| s.span())),
            ("required", spec.required.as_ref().map(|s| s.span())),
            ("lookup", spec.lookup.as_ref().map(|s| s.span())),
        ];
        for (key, span) in spans {
            if let Some(span) = span {
                self.error(
                    span.start,
                    format!("`{key}` does not apply to a constant `value`"),
                );
            }
        }
    }

    fn conversion(&mut self, spec: &FieldSpec, ty: FieldType) -> Option<Conversion> {
        let dated = matches!(ty, FieldType::Date | FieldType::Datetime);
        if let Some(format) = spec.format.as_ref().filter(|_| !dated) {
            self.error(
                format.span().start,
                "`format` applies only to date and datetime fields",
            );
        }
        if let Some(tz) = spec.tz.as_ref().filter(|_| ty != FieldType::Datetime) {
            self.error(tz.span().start, "`tz` applies only to datetime fields");
        }
        let tz = match &spec.tz {
            Some(tz) => Some(self.zone(tz)?),
            None => None,
        };
        let format = spec.format.as_ref().filter(|_| dated);
        match Conversion::new(ty, format.map(|f| f.get_ref().as_str()), tz) {
            Ok(c) => Some(c),
            Err(e) => {
                let at = format
                    .map(|f| f.span().start)
                    .or(spec.tz.as_ref().map(|t| t.span().start))
                    .or(spec.field_type.as_ref().map(|t| t.span().start))
                    .unwrap_or(0);
                self.error(at, e);
                None
            }
        }
    }

    fn zone(&mut self, tz: &Spanned<String>) -> Option<Tz> {
        let name = tz.get_ref();
        match name.parse::<Tz>() {
            Ok(zone) => Some(zone),
            Err(_) => {
                let zones: Vec<String> = chrono_tz::TZ_VARIANTS
                    .iter()
                    .map(|z| z.name().to_string())
                    .collect();
                let hint = match did_you_mean(name, &zones) {
                    Some(best) => format!("; did you mean \"{best}\"?"),
                    None => " (use an IANA zone such as \"Asia/Shanghai\" or \"UTC\")".into(),
                };
                self.error(
                    tz.span().start,
                    format!("unknown time zone \"{name}\"{hint}"),
                );
                None
            }
        }
    }

    /// A constant or default, read in the output form of its type and kept as JSON.
    fn constant(
        &mut self,
        what: &str,
        value: &Spanned<toml::Value>,
        ty: FieldType,
    ) -> Option<Json> {
        let json = spec::scalar_text(value.get_ref())
            .map_err(str::to_string)
            .and_then(|text| Conversion::canonical(ty)?.to_json(&text));
        match json {
            Ok(json) => Some(Json::new(json)),
            Err(e) => {
                self.error(value.span().start, format!("{what}: {e}"));
                None
            }
        }
    }

    fn lookup_ref(&mut self, name: &Spanned<String>, tables: &Tables) -> Option<Arc<Lookup>> {
        if let Some(table) = tables.get(name.get_ref()) {
            return table.clone();
        }
        let mut known: Vec<String> = tables.keys().cloned().collect();
        known.sort();
        let hint = match did_you_mean(name.get_ref(), &known) {
            Some(best) => format!("; did you mean \"{best}\"?"),
            None if known.is_empty() => "; the mapping defines no [lookups]".into(),
            None => format!("; the mapping defines {}", quoted_list(&known)),
        };
        self.error(
            name.span().start,
            format!("unknown lookup table \"{}\"{hint}", name.get_ref()),
        );
        None
    }

    /// Checks the tables that `lookup('name', …)` calls name.
    fn check_lookup_calls(&mut self, tables: &Tables) {
        let calls = std::mem::take(&mut self.expressions);
        for (text, at) in calls {
            for name in lookup::called_tables(&text) {
                if !tables.contains_key(name) {
                    let mut known: Vec<String> = tables.keys().cloned().collect();
                    known.sort();
                    let hint = match did_you_mean(name, &known) {
                        Some(best) => format!("; did you mean \"{best}\"?"),
                        None if known.is_empty() => "; the mapping defines no [lookups]".into(),
                        None => format!("; the mapping defines {}", quoted_list(&known)),
                    };
                    self.error(at, format!("unknown lookup table \"{name}\"{hint}"));
                }
            }
        }
    }

    fn expression(&mut self, what: &str, source: &Spanned<String>) -> Option<Located<Expr>> {
        self.expressions
            .push((source.get_ref().clone(), source.span().start));
        match Expr::compile(source.get_ref()) {
            Ok(expr) => Some(Located {
                line: self.line(source.span().start),
                item: expr,
            }),
            Err(e) => {
                self.error(source.span().start, format!("{what} does not compile: {e}"));
                None
            }
        }
    }

    /// Resolves a field name used by `key` or `version`.
    fn field_ref(
        &mut self,
        what: &str,
        name: &Spanned<String>,
        outputs: &Outputs,
    ) -> Option<usize> {
        match outputs.names.get(name.get_ref()) {
            Some(Some(index)) if outputs.fields[*index].repeated => {
                self.error(
                    name.span().start,
                    format!(
                        "{what} names \"{}\", which is inside an `each` list: it has one value \
                         per item, not one per event",
                        name.get_ref()
                    ),
                );
                None
            }
            Some(index) => *index,
            None => {
                let message = format!(
                    "{what} names \"{}\", which is not an output field{}",
                    name.get_ref(),
                    suggestion(name.get_ref(), outputs)
                );
                self.error(name.span().start, message);
                None
            }
        }
    }

    fn subject(
        &mut self,
        source: &Spanned<String>,
        outputs: &Outputs,
    ) -> Option<Located<SubjectPlan>> {
        let line = self.line(source.span().start);
        if let Some(pieces) = template::plain(source.get_ref())
            && let Some(native) = native_subject(&pieces, outputs)
        {
            return Some(Located {
                line,
                item: SubjectPlan::Native(native),
            });
        }
        let at = source.span().start;
        let template = match Template::compile(source.get_ref()) {
            Ok(t) => t,
            Err(e) => {
                self.error(at, format!("subject does not compile: {e}"));
                return None;
            }
        };
        let top: Vec<String> = outputs.tree.names();
        for name in template.variables() {
            if !top.contains(name) {
                let message = format!(
                    "subject uses \"{name}\", which is not an output field{}",
                    suggestion(name, outputs)
                );
                self.error(at, message);
            }
        }
        Some(Located {
            line,
            item: SubjectPlan::Template(Box::new(template)),
        })
    }

    fn example(&mut self, spec: Spanned<ExampleSpec>) -> Option<Example> {
        let at = spec.span().start;
        let line = self.line(at);
        let spec = spec.into_inner();
        let expect = match (spec.output, spec.error, spec.skipped) {
            (Some(output), None, false) => Expect::Output(toml_to_json(&output)),
            (None, Some(error), false) => Expect::Error(error),
            (None, None, true) => Expect::Skipped,
            _ => {
                self.error(
                    at,
                    "an example needs exactly one of `output`, `error` or `skipped = true`",
                );
                return None;
            }
        };
        let input = self.example_input(&spec.input)?;
        Some(Example {
            line,
            input,
            expect,
        })
    }

    /// `input = { COL = "v" }` (a row), a table with nested tables or lists (a tree), or a list
    /// of row tables (consecutive rows, for a `[group]` mapping).
    fn example_input(&mut self, input: &Spanned<toml::Value>) -> Option<ExampleInput> {
        let at = input.span().start;
        match input.get_ref() {
            toml::Value::Table(t) if t.values().all(toml::Value::is_str) => {
                Some(ExampleInput::Row(flat_row(t)?))
            }
            toml::Value::Table(_) => Some(ExampleInput::Tree(toml_to_json(input.get_ref()))),
            toml::Value::Array(rows) => {
                let rows: Option<Vec<_>> = rows
                    .iter()
                    .map(|r| r.as_table().and_then(flat_row))
                    .collect();
                if rows.is_none() {
                    self.error(at, "input: a list of rows must hold tables of strings");
                }
                rows.map(ExampleInput::Rows)
            }
            _ => {
                self.error(
                    at,
                    "input must be a table (one record) or a list of row tables",
                );
                None
            }
        }
    }
}

/// A table whose values are all strings, as column → value pairs.
fn flat_row(table: &toml::Table) -> Option<Vec<(String, String)>> {
    table
        .iter()
        .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect()
}

fn inline_lookup(name: &str, entries: &toml::Table) -> Result<Lookup, Vec<String>> {
    let mut pairs = Vec::with_capacity(entries.len());
    let mut problems = Vec::new();
    for (key, value) in entries {
        match value {
            toml::Value::String(v) => pairs.push((key.clone(), v.clone())),
            _ => problems.push(format!("the value of \"{key}\" must be a string")),
        }
    }
    if problems.is_empty() {
        Ok(Lookup::inline(name, pairs))
    } else {
        Err(problems)
    }
}

/// The native plan of a plain subject, when every placeholder is an output field.
fn native_subject(pieces: &[Piece<'_>], outputs: &Outputs) -> Option<Vec<SubjectPiece>> {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(t) => Some(SubjectPiece::Text((*t).to_string())),
            Piece::Name(n) => outputs
                .names
                .get(*n)
                .copied()
                .flatten()
                .filter(|&i| !outputs.fields[i].repeated)
                .map(SubjectPiece::Field),
        })
        .collect()
}

/// Source columns read by `when` and `expr` fields, in first-use order.
fn expression_columns(when: Option<&Located<Expr>>, fields: &[FieldPlan]) -> Vec<String> {
    let field_exprs = fields.iter().filter_map(|f| match &f.input {
        Input::Expr(e) => Some(e),
        Input::Path(_) | Input::Constant(_) => None,
    });
    let mut columns: Vec<String> = Vec::new();
    for expr in when.map(|w| &w.item).into_iter().chain(field_exprs) {
        for v in expr.variables() {
            if !columns.contains(v) {
                columns.push(v.clone());
            }
        }
    }
    columns
}

/// `; did you mean "x"?` or the list of output fields.
fn suggestion(name: &str, outputs: &Outputs) -> String {
    let mut known: Vec<String> = outputs.names.keys().cloned().collect();
    known.sort();
    match did_you_mean(name, &known) {
        Some(best) => format!("; did you mean \"{best}\"?"),
        None => format!(" (output fields: {})", quoted_list(&known)),
    }
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A diagnostic for a file that could not be read at all.
pub(super) fn unreadable(path: &Path, e: &std::io::Error) -> Diagnostics {
    Diagnostic::file(path, format!("cannot read the mapping: {e}")).into()
}

/// A mapping's version: the first 12 hex digits of the BLAKE3 hash of its text, so a dead letter
/// says which revision of the mapping failed on it.
fn version_of(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex()[..12].to_string()
}
