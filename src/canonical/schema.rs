//! The schema registry: every event type's JSON Schema (draft 2020-12) from `schemas/`, compiled
//! once, with the shared definitions of `schemas/<subfolder>/*.json` resolved locally by `$id`.
//! It validates an event's `data` and tells which property paths a type defines (for mapping checks).

use super::event::dataschema_of;
use jsonschema::{Draft, Registry, Validator};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;

/// The pattern of the shared `decimal` definition; a string with it is reported as a decimal
/// even when it is written inline rather than referenced.
const DECIMAL_PATTERN: &str = r"^-?[0-9]+(\.[0-9]+)?$";

/// Every event type's compiled schema, by type.
pub struct Schemas {
    by_type: BTreeMap<String, Arc<Schema>>,
}

/// One event type's compiled schema and the property paths it defines.
pub struct Schema {
    file: PathBuf,
    validator: Validator,
    fields: Vec<SchemaField>,
    paths: HashSet<String>,
    /// Paths of objects that accept properties they do not list ("" for the root).
    open: Vec<String>,
}

/// A property path a schema defines: `store`, `payment.method`, `lines[].sku`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaField {
    pub path: String,
    pub kind: FieldKind,
    /// Required in its object, and every object above it is required too.
    pub required: bool,
    pub description: Option<String>,
}

/// What a property holds, as the mapping language sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    String,
    Integer,
    Number,
    Boolean,
    /// An exact decimal as a JSON string (the shared `decimal` definition).
    Decimal,
    /// `format: date`.
    Date,
    /// `format: date-time`.
    Datetime,
    Object,
    Array,
    Other,
}

impl FieldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Object => "object",
            Self::Array => "array",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event's data does not match its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer of the failing value, e.g. `/lines/0/quantity`; `""` for the root.
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.pointer, self.message)
        }
    }
}

impl std::error::Error for Violation {}

/// A problem with one schema file (or the folder); its message starts with the path.
#[derive(Debug, Error)]
enum LoadError {
    #[error("{}: cannot list the folder: {source}", .dir.display())]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot read: {source}", .file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not valid JSON: {source}", .file.display())]
    Json {
        file: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: has no \"$id\" string", .file.display())]
    NoId { file: PathBuf },
    #[error("{}: \"$id\" is \"{found}\", expected \"{expected}\" (the file name is the event type)", .file.display())]
    IdMismatch {
        file: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{}: \"$id\" \"{id}\" is already the \"$id\" of {}", .file.display(), .other.display())]
    DuplicateId {
        file: PathBuf,
        id: String,
        other: PathBuf,
    },
    #[error("{}: \"$id\" \"{id}\" cannot be registered: {message}", .file.display())]
    Register {
        file: PathBuf,
        id: String,
        message: String,
    },
    #[error("{}: shared schemas cannot be resolved: {message}", .dir.display())]
    Registry { dir: PathBuf, message: String },
    #[error("{}: the root schema must have \"type\": \"object\"", .file.display())]
    NotObject { file: PathBuf },
    #[error("{}: not a valid schema: {message}", .file.display())]
    Invalid { file: PathBuf, message: String },
    #[error("{}: {message}", .file.display())]
    Fields { file: PathBuf, message: String },
}

impl Schemas {
    /// Loads every `*.json` in `dir` (event types, by file stem = type; the `$id` must match) and
    /// every `*.json` in its subfolders (shared resources only). Problems are each "file: message",
    /// sorted by file.
    pub fn load(dir: &Path) -> Result<Schemas, Vec<String>> {
        let mut problems = Vec::new();
        let (event_files, shared_files) = list(dir).map_err(|e| vec![e.to_string()])?;
        let shared = read_all(&shared_files, Role::Shared, &mut problems);
        let events = read_all(&event_files, Role::Event, &mut problems);
        check_unique_ids(shared.iter().chain(&events), &mut problems);
        let by_type = compile_all(dir, &shared, &events, &mut problems);
        if problems.is_empty() {
            Ok(Schemas { by_type })
        } else {
            problems.sort();
            Err(problems)
        }
    }

    pub fn get(&self, event_type: &str) -> Option<&Arc<Schema>> {
        self.by_type.get(event_type)
    }

    /// The event types, in name order.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.by_type.keys().map(String::as_str)
    }
}

impl fmt::Debug for Schemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.types()).finish()
    }
}

impl Schema {
    fn build(
        source: &Source,
        registry: &Registry<'_>,
        docs: &HashMap<&str, &Doc>,
    ) -> Result<Schema, LoadError> {
        if source.doc.get("type").and_then(Doc::as_str) != Some("object") {
            return Err(LoadError::NotObject {
                file: source.file.clone(),
            });
        }
        let validator = compile(source, registry)?;
        let walk =
            Walk::run(docs, &source.id, &source.doc).map_err(|message| LoadError::Fields {
                file: source.file.clone(),
                message,
            })?;
        Ok(Schema {
            file: source.file.clone(),
            validator,
            paths: walk.fields.iter().map(|f| f.path.clone()).collect(),
            fields: walk.fields,
            open: walk.open,
        })
    }

    /// The file the schema was loaded from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Validates an event's data; the first failure (deepest/most useful) as pointer + message.
    pub fn validate(&self, data: &Value) -> Result<(), Violation> {
        if self.validator.is_valid(data) {
            return Ok(());
        }
        Err(self.violation(data))
    }

    /// The deepest error; the first of equally deep ones.
    fn violation(&self, data: &Value) -> Violation {
        self.validator
            .iter_errors(data)
            .min_by_key(|e| std::cmp::Reverse(e.instance_path().segments().count()))
            .map_or_else(
                || Violation {
                    pointer: String::new(),
                    message: "does not match the schema".to_owned(),
                },
                |e| Violation {
                    pointer: e.instance_path().as_str().to_owned(),
                    message: e.to_string(),
                },
            )
    }

    /// Every property path the schema defines, in schema order, dotted, with `[]` for array
    /// items: "store", "payment.method", "lines[].sku".
    pub fn fields(&self) -> &[SchemaField] {
        &self.fields
    }

    /// Whether the schema allows a property at this dotted path (same notation as `fields()`).
    pub fn allows(&self, path: &str) -> bool {
        self.paths.contains(path) || self.open.iter().any(|open| is_under(path, open))
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("file", &self.file)
            .field("fields", &self.fields.len())
            .finish_non_exhaustive()
    }
}

/// Whether `path` lies inside the object at `parent` ("" is the root).
fn is_under(path: &str, parent: &str) -> bool {
    if parent.is_empty() {
        return !path.is_empty();
    }
    path.strip_prefix(parent)
        .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.'))
}

// ------------------------------------------------------------------------------------ loading

/// One parsed schema file.
struct Source {
    file: PathBuf,
    id: String,
    doc: Doc,
    value: Value,
}

impl Source {
    /// The event type an event schema file names by its stem.
    fn event_type(&self) -> &str {
        self.file
            .file_stem()
            .and_then(|stem| stem.to_str())
            .unwrap_or_default()
    }
}

/// The `*.json` files of `dir` (event types) and of its subfolders, at any depth (shared), sorted.
fn list(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), LoadError> {
    let mut events = Vec::new();
    let mut shared = Vec::new();
    for entry in read_dir(dir)? {
        if entry.is_dir() {
            collect_json(&entry, &mut shared)?;
        } else if is_json(&entry) {
            events.push(entry);
        }
    }
    shared.sort();
    Ok((events, shared))
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    for entry in read_dir(dir)? {
        if entry.is_dir() {
            collect_json(&entry, out)?;
        } else if is_json(&entry) {
            out.push(entry);
        }
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let read_err = |source| LoadError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut paths = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    paths.sort();
    Ok(paths)
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "json")
}

/// What a schema file is: an event type's schema or a shared resource.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Its `$id` must be the `dataschema` of the type its file stem names.
    Event,
    Shared,
}

/// Reads and parses each file; problems go to `problems`.
fn read_all(files: &[PathBuf], role: Role, problems: &mut Vec<String>) -> Vec<Source> {
    files
        .iter()
        .filter_map(|file| match read(file, role) {
            Ok(source) => Some(source),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        })
        .collect()
}

fn read(file: &Path, role: Role) -> Result<Source, LoadError> {
    let text = std::fs::read_to_string(file).map_err(|source| LoadError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let doc: Doc = serde_json::from_str(&text).map_err(|source| LoadError::Json {
        file: file.to_path_buf(),
        source,
    })?;
    let id = doc
        .get("$id")
        .and_then(Doc::as_str)
        .ok_or_else(|| LoadError::NoId {
            file: file.to_path_buf(),
        })?
        .to_owned();
    let source = Source {
        file: file.to_path_buf(),
        id,
        value: doc.to_value(),
        doc,
    };
    if role == Role::Event {
        let expected = dataschema_of(source.event_type());
        if source.id != expected {
            return Err(LoadError::IdMismatch {
                file: source.file,
                found: source.id,
                expected,
            });
        }
    }
    Ok(source)
}

fn check_unique_ids<'a>(sources: impl Iterator<Item = &'a Source>, problems: &mut Vec<String>) {
    let mut seen: HashMap<&str, &Path> = HashMap::new();
    for source in sources {
        if let Some(other) = seen.insert(&source.id, &source.file) {
            let e = LoadError::DuplicateId {
                file: source.file.clone(),
                id: source.id.clone(),
                other: other.to_path_buf(),
            };
            problems.push(e.to_string());
        }
    }
}

/// Compiles the shared resources (to report their own problems) and every event type.
fn compile_all(
    dir: &Path,
    shared: &[Source],
    events: &[Source],
    problems: &mut Vec<String>,
) -> BTreeMap<String, Arc<Schema>> {
    let registry = match registry(dir, shared) {
        Ok(registry) => registry,
        Err(e) => {
            problems.push(e.to_string());
            return BTreeMap::new();
        }
    };
    let errors = shared.iter().filter_map(|s| compile(s, &registry).err());
    problems.extend(errors.map(|e| e.to_string()));
    let docs: HashMap<&str, &Doc> = shared
        .iter()
        .chain(events)
        .map(|source| (source.id.as_str(), &source.doc))
        .collect();
    let mut by_type = BTreeMap::new();
    for source in events {
        match Schema::build(source, &registry, &docs) {
            Ok(schema) => {
                by_type.insert(source.event_type().to_owned(), Arc::new(schema));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    by_type
}

/// The shared resources, by `$id`, for `$ref`s from the event schemas.
fn registry(dir: &Path, shared: &[Source]) -> Result<Registry<'static>, LoadError> {
    let mut builder = Registry::new().draft(Draft::Draft202012);
    for source in shared {
        builder =
            builder
                .add(&source.id, source.value.clone())
                .map_err(|e| LoadError::Register {
                    file: source.file.clone(),
                    id: source.id.clone(),
                    message: e.to_string(),
                })?;
    }
    builder.prepare().map_err(|e| LoadError::Registry {
        dir: dir.to_path_buf(),
        message: e.to_string(),
    })
}

fn compile(source: &Source, registry: &Registry<'_>) -> Result<Validator, LoadError> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .with_registry(registry)
        .build(&source.value)
        .map_err(|e| {
            let at = e.instance_path().as_str();
            LoadError::Invalid {
                file: source.file.clone(),
                message: if at.is_empty() {
                    e.to_string()
                } else {
                    format!("at {at}: {e}")
                },
            }
        })
}

// ------------------------------------------------------------------------------------ fields

/// The walk over a schema's properties that computes `fields()` and the open objects.
struct Walk<'a> {
    docs: &'a HashMap<&'a str, &'a Doc>,
    fields: Vec<SchemaField>,
    open: Vec<String>,
    /// The `$ref` targets being expanded on the way down: a recursive schema stops there.
    active: Vec<*const Doc>,
}

/// A subschema, the document it lives in, and the `$ref` that led to it.
#[derive(Clone, Copy)]
struct Node<'a> {
    doc: &'a str,
    schema: &'a Doc,
    via: Option<&'a str>,
}

impl<'a> Walk<'a> {
    fn run(
        docs: &'a HashMap<&'a str, &'a Doc>,
        id: &'a str,
        root: &'a Doc,
    ) -> Result<Self, String> {
        let mut walk = Walk {
            docs,
            fields: Vec::new(),
            open: Vec::new(),
            active: Vec::new(),
        };
        let chain = walk.chain(id, root)?;
        walk.object(&chain, "", true)?;
        Ok(walk)
    }

    /// The schema and the schemas its `$ref`s lead to, in order.
    fn chain(&self, doc: &'a str, schema: &'a Doc) -> Result<Vec<Node<'a>>, String> {
        let mut chain = vec![Node {
            doc,
            schema,
            via: None,
        }];
        let mut current = chain[0];
        while let Some(reference) = current.schema.get("$ref").and_then(Doc::as_str) {
            let next = self.resolve(current.doc, reference)?;
            if chain.iter().any(|n| std::ptr::eq(n.schema, next.schema)) {
                break;
            }
            chain.push(next);
            current = next;
        }
        Ok(chain)
    }

    fn resolve(&self, doc: &'a str, reference: &'a str) -> Result<Node<'a>, String> {
        let (base, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let doc = if base.is_empty() { doc } else { base };
        let (doc, root) = self
            .docs
            .get_key_value(doc)
            .map(|(id, root)| (*id, *root))
            .ok_or_else(|| format!("$ref \"{reference}\": no schema has the $id \"{doc}\""))?;
        let schema = root
            .pointer(fragment)
            .ok_or_else(|| format!("$ref \"{reference}\": \"{fragment}\" is not in \"{doc}\""))?;
        Ok(Node {
            doc,
            schema,
            via: Some(reference),
        })
    }

    /// Adds the properties of the object schema `chain` under `prefix`.
    fn object(&mut self, chain: &[Node<'a>], prefix: &str, required: bool) -> Result<(), String> {
        if !chain.iter().any(|n| closes(n.schema)) {
            self.open.push(prefix.to_owned());
        }
        let mandatory: HashSet<&str> = chain
            .iter()
            .filter_map(|n| n.schema.get("required"))
            .flat_map(Doc::items)
            .filter_map(Doc::as_str)
            .collect();
        for node in chain {
            let Some(properties) = node.schema.get("properties") else {
                continue;
            };
            for (name, schema) in properties.members() {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                let is_required = required && mandatory.contains(name.as_str());
                self.property(node.doc, schema, path, is_required)?;
            }
        }
        Ok(())
    }

    fn property(
        &mut self,
        doc: &'a str,
        schema: &'a Doc,
        path: String,
        required: bool,
    ) -> Result<(), String> {
        let chain = self.chain(doc, schema)?;
        let kind = kind(&chain);
        self.fields.push(SchemaField {
            path: path.clone(),
            kind,
            required,
            description: description(&chain),
        });
        match kind {
            FieldKind::Object => self.descend(&chain, &path, required),
            FieldKind::Array => self.items(&chain, &path, required),
            _ => Ok(()),
        }
    }

    /// The properties of an array's object items, under `path[]`.
    fn items(&mut self, chain: &[Node<'a>], path: &str, required: bool) -> Result<(), String> {
        let Some((doc, items)) = chain
            .iter()
            .find_map(|n| n.schema.get("items").map(|items| (n.doc, items)))
        else {
            return Ok(());
        };
        let items = self.chain(doc, items)?;
        if kind(&items) == FieldKind::Object {
            self.descend(&items, &format!("{path}[]"), required)?;
        }
        Ok(())
    }

    /// Walks into an object unless one of its `$ref` targets is already being walked.
    fn descend(&mut self, chain: &[Node<'a>], prefix: &str, required: bool) -> Result<(), String> {
        let targets: Vec<*const Doc> = chain
            .iter()
            .filter(|n| n.via.is_some())
            .map(|n| std::ptr::from_ref(n.schema))
            .collect();
        if targets.iter().any(|t| self.active.contains(t)) {
            return Ok(());
        }
        let depth = self.active.len();
        self.active.extend(targets);
        let result = self.object(chain, prefix, required);
        self.active.truncate(depth);
        result
    }
}

/// Whether an object schema refuses properties it does not list.
fn closes(schema: &Doc) -> bool {
    ["additionalProperties", "unevaluatedProperties"]
        .iter()
        .any(|key| matches!(schema.get(key), Some(Doc::Scalar(Value::Bool(false)))))
}

fn kind(chain: &[Node<'_>]) -> FieldKind {
    let is_decimal = chain.iter().any(|n| {
        n.via.is_some_and(|r| r.ends_with("/$defs/decimal"))
            || n.schema.get("pattern").and_then(Doc::as_str) == Some(DECIMAL_PATTERN)
    });
    if is_decimal {
        return FieldKind::Decimal;
    }
    let format = chain
        .iter()
        .find_map(|n| n.schema.get("format").and_then(Doc::as_str));
    match format {
        Some("date-time") => return FieldKind::Datetime,
        Some("date") => return FieldKind::Date,
        _ => {}
    }
    if let Some(declared) = chain.iter().find_map(|n| n.schema.get("type")) {
        return declared.as_str().map_or(FieldKind::Other, kind_of_type);
    }
    if chain.iter().any(|n| n.schema.get("properties").is_some()) {
        FieldKind::Object
    } else if chain.iter().any(|n| n.schema.get("items").is_some()) {
        FieldKind::Array
    } else {
        FieldKind::Other
    }
}

fn kind_of_type(name: &str) -> FieldKind {
    match name {
        "string" => FieldKind::String,
        "integer" => FieldKind::Integer,
        "number" => FieldKind::Number,
        "boolean" => FieldKind::Boolean,
        "object" => FieldKind::Object,
        "array" => FieldKind::Array,
        _ => FieldKind::Other,
    }
}

fn description(chain: &[Node<'_>]) -> Option<String> {
    chain
        .iter()
        .find_map(|n| n.schema.get("description").and_then(Doc::as_str))
        .map(str::to_owned)
}

// ------------------------------------------------------------------------------------ documents

/// A JSON document that keeps object members in file order (`serde_json::Map` sorts them here),
/// so that `fields()` follows the schema's order.
enum Doc {
    Object(Vec<(String, Doc)>),
    Array(Vec<Doc>),
    Scalar(Value),
}

impl Doc {
    fn get(&self, key: &str) -> Option<&Doc> {
        self.members()
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, doc)| doc)
    }

    fn members(&self) -> &[(String, Doc)] {
        match self {
            Doc::Object(members) => members,
            _ => &[],
        }
    }

    fn items(&self) -> &[Doc] {
        match self {
            Doc::Array(items) => items,
            _ => &[],
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Doc::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The subschema at a JSON Pointer fragment (`/$defs/decimal`; `""` is the document).
    fn pointer(&self, pointer: &str) -> Option<&Doc> {
        if pointer.is_empty() {
            return Some(self);
        }
        let mut current = self;
        for token in pointer.strip_prefix('/')?.split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            current = match current {
                Doc::Object(_) => current.get(&token)?,
                Doc::Array(items) => items.get(token.parse::<usize>().ok()?)?,
                Doc::Scalar(_) => return None,
            };
        }
        Some(current)
    }

    fn to_value(&self) -> Value {
        match self {
            Doc::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(name, doc)| (name.clone(), doc.to_value()))
                    .collect(),
            ),
            Doc::Array(items) => Value::Array(items.iter().map(Doc::to_value).collect()),
            Doc::Scalar(value) => value.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Doc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Doc, E> {
        Ok(Doc::Scalar(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Doc, E> {
        Ok(Doc::Scalar(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Doc, E> {
        Ok(Doc::Scalar(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Doc, E> {
        Ok(Doc::Scalar(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Doc, E> {
        Ok(Doc::Scalar(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Doc, E> {
        Ok(Doc::Scalar(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Doc, E> {
        Ok(Doc::Scalar(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Doc::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Doc>()? {
            members.push((key, value));
        }
        Ok(Doc::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COMMON: &str = r##"{
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:test:common",
        "$defs": {
            "decimal": { "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "description": "Exact decimal." },
            "money": { "$ref": "#/$defs/decimal", "description": "Money." },
            "timestamp": { "type": "string", "format": "date-time", "pattern": "(Z|[+-][0-9]{2}:[0-9]{2})$" }
        }
    }"##;

    const SALE: &str = r##"{
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:omnibus:schema:shop.sale.v1",
        "type": "object",
        "required": ["store", "at", "lines", "payment"],
        "additionalProperties": false,
        "$defs": {
            "line": {
                "type": "object",
                "additionalProperties": false,
                "required": ["sku", "quantity"],
                "properties": {
                    "sku": { "type": "string", "minLength": 1 },
                    "quantity": { "$ref": "urn:test:common#/$defs/decimal" },
                    "price": { "$ref": "urn:test:common#/$defs/money", "description": "Unit price." }
                }
            },
            "category": {
                "type": "object",
                "additionalProperties": false,
                "properties": { "name": { "type": "string" }, "parent": { "$ref": "#/$defs/category" } }
            }
        },
        "properties": {
            "store": { "type": "string", "description": "Store code." },
            "at": { "$ref": "urn:test:common#/$defs/timestamp" },
            "day": { "type": "string", "format": "date" },
            "lines": { "type": "array", "minItems": 1, "items": { "$ref": "#/$defs/line" } },
            "payment": {
                "type": "object",
                "additionalProperties": false,
                "required": ["method"],
                "properties": {
                    "method": { "type": "string" },
                    "card": { "type": "object", "required": ["number"], "properties": { "number": { "type": "string" } } }
                }
            },
            "note": { "type": "object", "properties": { "text": { "type": "string" } } , "additionalProperties": false },
            "count": { "type": "integer" },
            "weight": { "type": "number" },
            "gift": { "type": "boolean" },
            "tags": { "type": "array", "items": { "type": "string" } },
            "category": { "$ref": "#/$defs/category" },
            "extra": { "type": ["string", "null"] }
        }
    }"##;

    const VISIT: &str = r#"{
        "$id": "urn:omnibus:schema:shop.visit.v1",
        "type": "object",
        "properties": { "store": { "type": "string" } }
    }"#;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn loaded() -> Schemas {
        let dir = folder(&[
            ("common/common.json", COMMON),
            ("shop.sale.v1.json", SALE),
            ("shop.visit.v1.json", VISIT),
            ("README.md", "not a schema"),
        ]);
        Schemas::load(dir.path()).unwrap()
    }

    fn sale() -> Value {
        json!({
            "store": "SH-001",
            "at": "2024-03-01T10:15:00+08:00",
            "lines": [{ "sku": "10023456", "quantity": "2", "price": "2.00" }],
            "payment": { "method": "alipay" }
        })
    }

    fn problems(files: &[(&str, &str)]) -> Vec<String> {
        let dir = folder(files);
        Schemas::load(dir.path()).unwrap_err()
    }

    #[test]
    fn loads_event_types_by_file_stem_and_not_shared_files() {
        let schemas = loaded();
        assert_eq!(
            schemas.types().collect::<Vec<_>>(),
            ["shop.sale.v1", "shop.visit.v1"]
        );
        let schema = schemas.get("shop.sale.v1").unwrap();
        assert!(schema.file().ends_with("shop.sale.v1.json"));
        assert!(schemas.get("common").is_none());
    }

    #[test]
    fn valid_data_passes() {
        let schemas = loaded();
        assert_eq!(
            schemas.get("shop.sale.v1").unwrap().validate(&sale()),
            Ok(())
        );
    }

    #[test]
    fn a_nested_failure_reports_its_pointer() {
        let schemas = loaded();
        let mut data = sale();
        data["lines"][0]["quantity"] = json!("2,5");
        let violation = schemas
            .get("shop.sale.v1")
            .unwrap()
            .validate(&data)
            .unwrap_err();
        assert_eq!(violation.pointer, "/lines/0/quantity");
        assert!(violation.message.contains("2,5"), "{violation}");
    }

    #[test]
    fn the_deepest_of_several_failures_is_reported() {
        let schemas = loaded();
        let mut data = sale();
        data["store"] = json!(1001);
        data["payment"]["card"] = json!({ "number": 4 });
        let violation = schemas
            .get("shop.sale.v1")
            .unwrap()
            .validate(&data)
            .unwrap_err();
        assert_eq!(violation.pointer, "/payment/card/number");
    }

    #[test]
    fn a_missing_required_property_is_reported_at_its_object() {
        let schemas = loaded();
        let mut data = sale();
        data.as_object_mut().unwrap().remove("store");
        let violation = schemas
            .get("shop.sale.v1")
            .unwrap()
            .validate(&data)
            .unwrap_err();
        assert_eq!(violation.pointer, "");
        assert!(violation.message.contains("\"store\""), "{violation}");
        assert_eq!(violation.to_string(), violation.message);
    }

    #[test]
    fn unknown_properties_are_refused() {
        let schemas = loaded();
        let mut data = sale();
        data["lines"][0]["colour"] = json!("red");
        let violation = schemas
            .get("shop.sale.v1")
            .unwrap()
            .validate(&data)
            .unwrap_err();
        assert_eq!(violation.pointer, "/lines/0");
        assert!(violation.message.contains("colour"), "{violation}");
    }

    #[test]
    fn a_timestamp_without_offset_or_a_bad_date_is_refused() {
        let schemas = loaded();
        let schema = schemas.get("shop.sale.v1").unwrap();
        let mut data = sale();
        data["at"] = json!("2024-03-01T10:15:00");
        assert_eq!(schema.validate(&data).unwrap_err().pointer, "/at");
        let mut data = sale();
        data["day"] = json!("2024-02-30");
        assert_eq!(schema.validate(&data).unwrap_err().pointer, "/day");
    }

    #[test]
    fn fields_follow_refs_arrays_and_nested_objects_in_schema_order() {
        let schemas = loaded();
        let fields = schemas.get("shop.sale.v1").unwrap().fields();
        let listed: Vec<(&str, FieldKind, bool)> = fields
            .iter()
            .map(|f| (f.path.as_str(), f.kind, f.required))
            .collect();
        use FieldKind::*;
        assert_eq!(
            listed,
            [
                ("store", String, true),
                ("at", Datetime, true),
                ("day", Date, false),
                ("lines", Array, true),
                ("lines[].sku", String, true),
                ("lines[].quantity", Decimal, true),
                ("lines[].price", Decimal, false),
                ("payment", Object, true),
                ("payment.method", String, true),
                ("payment.card", Object, false),
                ("payment.card.number", String, false),
                ("note", Object, false),
                ("note.text", String, false),
                ("count", Integer, false),
                ("weight", Number, false),
                ("gift", Boolean, false),
                ("tags", Array, false),
                ("category", Object, false),
                ("category.name", String, false),
                ("category.parent", Object, false),
                ("extra", Other, false),
            ]
        );
        let description = |path: &str| {
            let field = fields.iter().find(|f| f.path == path).unwrap();
            field.description.as_deref()
        };
        assert_eq!(description("store"), Some("Store code."));
        assert_eq!(description("lines[].price"), Some("Unit price."));
        assert_eq!(description("lines[].quantity"), Some("Exact decimal."));
        assert_eq!(description("count"), None);
    }

    #[test]
    fn allows_listed_paths_and_anything_inside_open_objects() {
        let schemas = loaded();
        let schema = schemas.get("shop.sale.v1").unwrap();
        for path in [
            "store",
            "lines[].sku",
            "payment.method",
            "payment.card.number",
        ] {
            assert!(schema.allows(path), "{path}");
        }
        assert!(
            schema.allows("payment.card.expiry"),
            "card is an open object"
        );
        for path in [
            "colour",
            "lines[].colour",
            "lines.sku",
            "payment.cash",
            "note.author",
            "payment.card",
        ] {
            assert_eq!(schema.allows(path), path == "payment.card", "{path}");
        }
        let visit = schemas.get("shop.visit.v1").unwrap();
        assert!(
            visit.allows("store") && visit.allows("anything.at.all"),
            "open root"
        );
        assert!(!visit.allows(""));
    }

    #[test]
    fn invalid_json_is_reported_with_the_file_name() {
        let found = problems(&[("shop.sale.v1.json", "{ \"$id\": ")]);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].contains("shop.sale.v1.json: not valid JSON"),
            "{found:?}"
        );
    }

    #[test]
    fn an_id_that_does_not_match_the_file_name_is_reported() {
        let found = problems(&[("common/common.json", COMMON), ("shop.sold.v1.json", SALE)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("shop.sold.v1.json"), "{found:?}");
        assert!(
            found[0].contains("urn:omnibus:schema:shop.sold.v1"),
            "{found:?}"
        );
    }

    #[test]
    fn a_schema_that_breaks_the_meta_schema_is_reported_with_the_file_name() {
        let bad = VISIT.replace(r#""type": "string""#, r#""type": "text""#);
        let found = problems(&[("shop.visit.v1.json", &bad)]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("shop.visit.v1.json: not a valid schema"),
            "{found:?}"
        );
    }

    #[test]
    fn a_ref_to_a_missing_shared_file_is_reported_and_the_other_types_still_checked() {
        let found = problems(&[("shop.sale.v1.json", SALE), ("shop.visit.v1.json", "[]")]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("shop.sale.v1.json: not a valid schema"),
            "{found:?}"
        );
        assert!(
            found[1].contains("shop.visit.v1.json: has no \"$id\""),
            "{found:?}"
        );
    }

    #[test]
    fn shared_files_need_distinct_ids_and_event_roots_must_be_objects() {
        let array = VISIT.replace(r#""type": "object""#, r#""type": "array""#);
        let found = problems(&[
            ("common/a.json", COMMON),
            ("common/deeper/b.json", COMMON),
            ("shop.visit.v1.json", &array),
        ]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("b.json: \"$id\" \"urn:test:common\" is already"),
            "{found:?}"
        );
        assert!(
            found[1].contains("shop.visit.v1.json: the root schema must have"),
            "{found:?}"
        );
    }

    #[test]
    fn schemas_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync>(_: &T) {}
        let schemas = loaded();
        shareable(&schemas);
        shareable(schemas.get("shop.sale.v1").unwrap());
    }

    #[test]
    fn a_missing_folder_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("schemas");
        let found = Schemas::load(&missing).unwrap_err();
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with(&missing.display().to_string()),
            "{found:?}"
        );
    }
}
