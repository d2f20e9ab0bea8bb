//! Span-keeping TOML deserialisation for ops files: every unknown key in a file is reported (not
//! only the first), each at its line and column, with a "did you mean" drawn from the keys serde
//! expected there.

use super::diagnostic::{Diagnostic, Diagnostics};
use serde::de::DeserializeOwned;
use std::path::Path;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// Most unknown keys reported for one value before giving up on it.
const MAX_UNKNOWN_KEYS: usize = 32;

/// One ops file: its path (for messages) and its text (for positions).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn diagnostic(&self, at: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.path, self.text, at, message)
    }

    /// Parses the whole file into a table that keeps every key's and value's span.
    pub fn parse(&self) -> Result<Spanned<DeTable<'a>>, Diagnostics> {
        DeTable::parse(self.text).map_err(|e| self.toml_error(&e, "").into())
    }

    /// Deserialises `value` into `T`, which should be `deny_unknown_fields`. Unknown keys are
    /// removed one by one and reported together; other errors end the attempt. `section` names the
    /// table in messages (`"format"` for `[format]`, `""` for the top level).
    pub fn deserialize<T: DeserializeOwned>(
        &self,
        mut value: Spanned<DeValue<'a>>,
        section: &str,
    ) -> Result<T, Diagnostics> {
        let mut found = Diagnostics::default();
        for _ in 0..MAX_UNKNOWN_KEYS {
            match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(v) if found.is_empty() => return Ok(v),
                Ok(_) => return Err(found),
                Err(e) => {
                    let unknown = unknown_key(e.message());
                    let removed = match (&unknown, e.span()) {
                        (Some(_), Some(span)) => remove_key_at(&mut value, span.start),
                        _ => None,
                    };
                    match removed {
                        Some(table_path) => {
                            let section = join_section(section, &table_path);
                            found.push(self.toml_error(&e, &section));
                        }
                        None => {
                            found.push(self.toml_error(&e, section));
                            return Err(found);
                        }
                    }
                }
            }
        }
        Err(found)
    }

    /// Renders a toml/serde error as a diagnostic, rewriting serde's unknown-field message into
    /// `unknown key "x" in [section]; did you mean "y"?`.
    pub fn toml_error(&self, e: &toml::de::Error, section: &str) -> Diagnostic {
        let at = e.span().map_or(0, |s| s.start);
        let message = match unknown_key(e.message()) {
            Some((key, expected)) => unknown_key_message(&key, &expected, section),
            None => e.message().trim().to_string(),
        };
        self.diagnostic(at, message)
    }
}

/// `unknown key "delimter" in [format]; did you mean "delimiter"?`
pub fn unknown_key_message(key: &str, expected: &[String], section: &str) -> String {
    let place = if section.is_empty() {
        String::new()
    } else {
        format!(" in [{section}]")
    };
    match did_you_mean(key, expected) {
        Some(best) => format!("unknown key \"{key}\"{place}; did you mean \"{best}\"?"),
        None if expected.is_empty() => format!("unknown key \"{key}\"{place}"),
        None => format!(
            "unknown key \"{key}\"{place}; expected one of {}",
            expected
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The closest of `candidates` to `word`, when it is close enough to be a typo.
pub fn did_you_mean<'c>(word: &str, candidates: &'c [String]) -> Option<&'c str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.as_str())
}

/// Parses serde's "unknown field `x`, expected one of `a`, `b`" (or "expected `a`", or "there are
/// no fields") into the key and the expected keys.
fn unknown_key(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.trim().strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((key.to_string(), expected))
}

/// Removes the key whose span starts at `at` anywhere in `value`; returns the dotted path of the
/// table that held it.
fn remove_key_at(value: &mut Spanned<DeValue<'_>>, at: usize) -> Option<String> {
    match value.get_mut() {
        DeValue::Table(table) => remove_in_table(table, at),
        DeValue::Array(items) => items.iter_mut().find_map(|v| remove_key_at(v, at)),
        _ => None,
    }
}

fn remove_in_table(table: &mut DeTable<'_>, at: usize) -> Option<String> {
    let hit = table.keys().find(|k| k.span().start == at).cloned();
    if let Some(key) = hit {
        table.remove(&key);
        return Some(String::new());
    }
    table
        .iter_mut()
        .find_map(|(key, v)| remove_key_at(v, at).map(|inner| join_section(key.get_ref(), &inner)))
}

fn join_section(outer: &str, inner: &str) -> String {
    match (outer.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_string(),
        (_, true) => outer.to_string(),
        _ => format!("{outer}.{inner}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Format {
        delimiter: Option<String>,
        encoding: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct File {
        id: String,
        format: Format,
    }

    fn check(text: &str) -> Vec<String> {
        let source = Source {
            path: Path::new("connectors/pos.toml"),
            text,
        };
        let table = source.parse().expect("parses");
        let value = Spanned::new(table.span(), DeValue::Table(table.into_inner()));
        match source.deserialize::<File>(value, "") {
            Ok(_) => vec![],
            Err(d) => d.0.iter().map(|d| d.to_string()).collect(),
        }
    }

    #[test]
    fn every_unknown_key_is_reported_with_position_and_suggestion() {
        let errors =
            check("id = \"pos\"\ncolour = 1\n[format]\nencoding = \"gbk\"\ndelimter = \"|\"\n");
        assert_eq!(
            errors,
            vec![
                "connectors/pos.toml:2:1: unknown key \"colour\"; expected one of \"id\", \"format\"",
                "connectors/pos.toml:5:1: unknown key \"delimter\" in [format]; did you mean \"delimiter\"?",
            ]
        );
    }

    #[test]
    fn valid_file_deserialises() {
        assert!(check("id = \"pos\"\n[format]\ndelimiter = \"|\"\n").is_empty());
    }

    #[test]
    fn type_errors_carry_position() {
        let errors = check("id = 5\n[format]\n");
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("connectors/pos.toml:1:6:"),
            "{errors:?}"
        );
    }
}
