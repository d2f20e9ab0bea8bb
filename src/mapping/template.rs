//! The expression and template language (minijinja) behind one door: compiled expressions for
//! `when` and `expr`, templates for `subject`, the context a record offers them, and the split of
//! plain `{{ name }}` templates that the mapper renders natively. Functions available to mappings
//! belong in [`environment`].

use super::lookup::{TABLES, Tables};
use minijinja::value::ValueKind;
use minijinja::value::{Enumerator, Object};
use minijinja::{Environment, UndefinedBehavior, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, LazyLock};

/// Work one evaluation may do (roughly instructions), so that a runaway script fails instead of
/// stalling a connector.
const FUEL: u64 = 50_000;

/// Name under which a template is stored in its own environment.
const TEMPLATE: &str = "template";

/// The environment expressions are compiled in; shared, configured once.
static EXPRESSIONS: LazyLock<Environment<'static>> = LazyLock::new(environment);

/// A fresh environment with the settings every mapping script runs under: undefined names are
/// errors, and work is bounded by fuel.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    super::functions::register(&mut env);
    env.add_function("lookup", super::lookup::lookup_function);
    env
}

/// A compiled expression (`when`, `expr`).
#[derive(Debug)]
pub(super) struct Expr {
    source: String,
    compiled: minijinja::Expression<'static, 'static>,
    variables: Vec<String>,
}

impl Expr {
    /// Compiles `source`; the error message is minijinja's, for a diagnostic.
    pub fn compile(source: &str) -> Result<Self, String> {
        let compiled = EXPRESSIONS
            .compile_expression_owned(source.to_string())
            .map_err(|e| describe(&e))?;
        let variables = free_variables(compiled.undeclared_variables(false), &EXPRESSIONS);
        Ok(Self {
            source: source.to_string(),
            compiled,
            variables,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Names the expression reads from its context (sorted).
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    pub fn eval(&self, context: &Context) -> Result<Outcome, String> {
        self.compiled
            .eval(context.0.clone())
            .map(Outcome)
            .map_err(|e| describe(&e))
    }
}

/// A compiled template, in an environment of its own.
#[derive(Debug)]
pub(super) struct Template {
    env: Environment<'static>,
    variables: Vec<String>,
}

impl Template {
    pub fn compile(source: &str) -> Result<Self, String> {
        let mut env = environment();
        env.add_template_owned(TEMPLATE, source.to_string())
            .map_err(|e| describe(&e))?;
        let names = env
            .get_template(TEMPLATE)
            .map_err(|e| describe(&e))?
            .undeclared_variables(false);
        let variables = free_variables(names, &env);
        Ok(Self { env, variables })
    }

    /// Top-level names the template reads from its context (sorted).
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Renders the template over a JSON value (an event's data).
    pub fn render(&self, data: &serde_json::Value) -> Result<String, String> {
        self.env
            .get_template(TEMPLATE)
            .and_then(|t| t.render(json_value(data)))
            .map_err(|e| describe(&e))
    }
}

/// One piece of a plain template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    Text(&'a str),
    /// A `{{ name }}` or `{{ a.b }}` placeholder.
    Name(&'a str),
}

/// Splits a template that is only text and `{{ name }}` placeholders; `None` when it uses anything
/// more (filters, tests, blocks, comments, whitespace control), which minijinja must render.
pub(super) fn plain(source: &str) -> Option<Vec<Piece<'_>>> {
    let mut pieces = Vec::new();
    let mut rest = source;
    while let Some(open) = rest.find("{{") {
        push_text(&mut pieces, &rest[..open])?;
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        let name = after[..close].trim();
        if !is_name_path(name) {
            return None;
        }
        pieces.push(Piece::Name(name));
        rest = &after[close + 2..];
    }
    push_text(&mut pieces, rest)?;
    Some(pieces)
}

fn push_text<'a>(pieces: &mut Vec<Piece<'a>>, text: &'a str) -> Option<()> {
    if text.contains("{%") || text.contains("{#") {
        return None;
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Some(())
}

/// `name` or `a.b.c`, each part an identifier.
fn is_name_path(s: &str) -> bool {
    s.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The columns a bound mapping offers expressions: variable name → column index in the file; and
/// the mapping's lookup tables.
#[derive(Debug)]
pub(super) struct ColumnNames {
    sorted: Vec<(String, usize)>,
    tables: Value,
}

impl ColumnNames {
    pub fn new(names: impl IntoIterator<Item = (String, usize)>, tables: &Arc<Tables>) -> Self {
        let mut sorted: Vec<_> = names.into_iter().collect();
        sorted.sort();
        Self {
            sorted,
            tables: Value::from_dyn_object(Arc::clone(tables)),
        }
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.sorted
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|at| self.sorted[at].1)
    }
}

/// What expressions see for one record: its columns by name, as strings.
#[derive(Debug)]
pub(super) struct Context(Value);

/// The context of one record.
pub(super) fn record_context(names: &Arc<ColumnNames>, row: &csv::StringRecord) -> Context {
    Context(Value::from_object(RecordContext {
        names: Arc::clone(names),
        row: row.clone(),
    }))
}

#[derive(Debug)]
struct RecordContext {
    names: Arc<ColumnNames>,
    row: csv::StringRecord,
}

impl Object for RecordContext {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        if key == TABLES {
            return Some(self.names.tables.clone());
        }
        let index = self.names.index(key)?;
        self.row.get(index).map(Value::from)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.names
                .sorted
                .iter()
                .map(|(n, _)| Value::from(n.as_str()))
                .collect(),
        )
    }
}

/// The result of an expression.
#[derive(Debug)]
pub(super) struct Outcome(Value);

impl Outcome {
    /// Truthiness, as `if` sees it.
    pub fn is_true(&self) -> bool {
        self.0.is_true()
    }

    /// The result as text; `None` for undefined and none.
    pub fn text(&self) -> Option<Cow<'_, str>> {
        let value = &self.0;
        if value.is_undefined() || value.is_none() {
            return None;
        }
        if value.kind() == ValueKind::Bool {
            return Some(Cow::Borrowed(if value.is_true() {
                "true"
            } else {
                "false"
            }));
        }
        Some(match value.as_str() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(value.to_string()),
        })
    }
}

/// The context of an item of a nested record: its members by name, the whole record as `record`
/// (unless the item has a member of that name), and the lookup tables.
pub(super) fn tree_context(
    item: &serde_json::Value,
    record: &Value,
    names: &ColumnNames,
) -> Context {
    let mut members: BTreeMap<String, Value> = match item {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), json_value(v)))
            .collect(),
        _ => BTreeMap::new(),
    };
    members
        .entry("record".to_string())
        .or_insert_with(|| record.clone());
    members.insert(TABLES.to_string(), names.tables.clone());
    Context(Value::from(members))
}

/// A JSON value (an event's data, a nested record) as a template value.
pub(super) fn json_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::from(items.iter().map(json_value).collect::<Vec<_>>())
        }
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

/// Undeclared names minus the environment's globals (functions), sorted.
fn free_variables(names: HashSet<String>, env: &Environment<'_>) -> Vec<String> {
    let mut free: Vec<String> = names
        .into_iter()
        .filter(|n| !env.globals().any(|(g, _)| g == n))
        .collect();
    free.sort();
    free
}

/// minijinja's message without its internal template name.
fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(pairs: &[(&str, &str)]) -> Context {
        let names = Arc::new(ColumnNames::new(
            pairs
                .iter()
                .enumerate()
                .map(|(i, (n, _))| (n.to_string(), i)),
            &Arc::new(Tables::default()),
        ));
        let row = csv::StringRecord::from(pairs.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        record_context(&names, &row)
    }

    #[test]
    fn expressions_read_columns_as_strings() {
        let e = Expr::compile("QTY != '0' and KIND == 'A'").unwrap();
        assert_eq!(e.variables(), ["KIND", "QTY"]);
        let yes = e.eval(&context(&[("QTY", "5"), ("KIND", "A")])).unwrap();
        assert!(yes.is_true());
        let no = e.eval(&context(&[("QTY", "0"), ("KIND", "A")])).unwrap();
        assert!(!no.is_true());
    }

    #[test]
    fn undefined_names_are_errors() {
        let e = Expr::compile("MISSING == '1'").unwrap();
        let err = e.eval(&context(&[("QTY", "5")])).unwrap_err();
        assert!(err.starts_with("undefined value"), "{err}");
        let guarded = Expr::compile("MISSING is defined").unwrap();
        assert!(!guarded.eval(&context(&[])).unwrap().is_true());
    }

    #[test]
    fn syntax_errors_fail_to_compile() {
        assert!(
            Expr::compile("QTY ==")
                .unwrap_err()
                .starts_with("syntax error")
        );
        assert!(Template::compile("{{ a ").is_err());
    }

    #[test]
    fn runaway_expressions_run_out_of_fuel() {
        let e = Expr::compile("range(100000) | list | length").unwrap();
        let err = e.eval(&context(&[])).unwrap_err();
        assert!(err.contains("fuel"), "{err}");
    }

    #[test]
    fn plain_templates_split_into_text_and_names() {
        assert_eq!(
            plain("{{ store }}/{{sku}}-{{ customer.id }}"),
            Some(vec![
                Piece::Name("store"),
                Piece::Text("/"),
                Piece::Name("sku"),
                Piece::Text("-"),
                Piece::Name("customer.id"),
            ])
        );
        assert_eq!(plain("fixed"), Some(vec![Piece::Text("fixed")]));
        for complex in [
            "{{ a | upper }}",
            "{% if a %}x{% endif %}",
            "{# c #}",
            "{{- a }}",
            "{{ a",
        ] {
            assert_eq!(plain(complex), None, "{complex}");
        }
    }

    #[test]
    fn templates_render_json_contexts() {
        let t = Template::compile("{{ store | lower }}/{{ customer.id }}").unwrap();
        assert_eq!(t.variables(), ["customer", "store"]);
        let data: serde_json::Value = serde_json::json!({"store": "SH", "customer": {"id": 7}});
        assert_eq!(t.render(&data).unwrap(), "sh/7");
    }

    #[test]
    fn results_become_text() {
        let text = |v: Value| Outcome(v).text().map(|t| t.into_owned());
        assert_eq!(text(Value::from("a")).as_deref(), Some("a"));
        assert_eq!(text(Value::from(5)).as_deref(), Some("5"));
        assert_eq!(text(Value::from(true)).as_deref(), Some("true"));
        assert_eq!(text(Value::from(false)).as_deref(), Some("false"));
        assert_eq!(text(Value::from(())), None);
        assert_eq!(text(Value::UNDEFINED), None);
    }
}
