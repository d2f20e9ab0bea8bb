//! Connector families: one connector file that defines several connectors. The file's
//! `[[instances]]` tables each give string parameters; every string value of the file may use
//! `${name}`, and each instance is the file with its own values put in — one connector with its
//! own id, state and status. A `${NAME}` that no instance defines is left for the environment
//! (see [`super::env`]).
//!
//! ```toml
//! id = "pos-sales-${region}"
//! [source]
//! type = "file"
//! path = "../var/spool/pos/${region}"
//!
//! [[instances]]
//! region = "east"
//! [[instances]]
//! region = "north"
//! ```

use super::diagnostic::{Diagnostic, Diagnostics};
use super::toml_de::Source;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The key that holds a family's instances.
pub const KEY: &str = "instances";

/// One instance of a family: its parameters, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    params: Vec<(String, String)>,
}

impl Instance {
    /// `region = "east", city = "上海"`: how messages and listings name the instance.
    pub fn label(&self) -> String {
        let pairs: Vec<String> = self
            .params
            .iter()
            .map(|(name, value)| format!("{name} = \"{value}\""))
            .collect();
        pairs.join(", ")
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A family's instances and the parameter names any of them sets.
#[derive(Debug)]
pub struct Family {
    pub instances: Vec<Instance>,
    names: BTreeSet<String>,
}

/// Takes `[[instances]]` out of a connector file's table: `None` when the file defines one
/// connector.
pub fn take(src: &Source<'_>, table: &mut DeTable<'_>) -> Result<Option<Family>, Diagnostics> {
    let Some(value) = table.remove(KEY) else {
        return Ok(None);
    };
    let at = value.span().start;
    let DeValue::Array(items) = value.into_inner() else {
        return Err(src
            .diagnostic(
                at,
                "\"instances\" must be an array of tables: write [[instances]]",
            )
            .into());
    };
    if items.is_empty() {
        return Err(src
            .diagnostic(at, "a family needs at least one [[instances]] table")
            .into());
    }
    let mut found = Diagnostics::default();
    let mut instances = Vec::new();
    for item in items.iter() {
        match instance(src, item) {
            Ok(i) => instances.push(i),
            Err(d) => found.extend(d),
        }
    }
    if !found.is_empty() {
        return Err(found);
    }
    let names = instances
        .iter()
        .flat_map(|i| i.params.iter().map(|(n, _)| n.clone()))
        .collect();
    Ok(Some(Family { instances, names }))
}

fn instance(src: &Source<'_>, item: &Spanned<DeValue<'_>>) -> Result<Instance, Diagnostics> {
    let DeValue::Table(table) = item.get_ref() else {
        return Err(src
            .diagnostic(
                item.span().start,
                "each instance must be a table of parameters",
            )
            .into());
    };
    let mut found = Diagnostics::default();
    let mut params = Vec::new();
    for (key, value) in table.iter() {
        if !is_param_name(key.get_ref()) {
            found.push(src.diagnostic(
                key.span().start,
                format!(
                    "instance parameter \"{}\" must use only ASCII letters, digits and _",
                    key.get_ref()
                ),
            ));
            continue;
        }
        match value.get_ref().as_str() {
            Some(text) => params.push((key.get_ref().to_string(), text.to_string())),
            None => found.push(src.diagnostic(
                value.span().start,
                format!(
                    "instance parameter \"{}\" must be a string: write {} = \"...\"",
                    key.get_ref(),
                    key.get_ref()
                ),
            )),
        }
    }
    if params.is_empty() && found.is_empty() {
        found.push(src.diagnostic(
            item.span().start,
            "an instance needs at least one parameter",
        ));
    }
    if found.is_empty() {
        Ok(Instance { params })
    } else {
        Err(found)
    }
}

fn is_param_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Family {
    /// The connector file's table with `instance`'s values put into every string value.
    pub fn apply<'a>(
        &self,
        src: &Source<'_>,
        table: &DeTable<'a>,
        instance: &Instance,
    ) -> Result<DeTable<'a>, Diagnostics> {
        let mut table = table.clone();
        let mut found = Diagnostics::default();
        for (_, value) in table.iter_mut() {
            self.fill(src, value, instance, &mut found);
        }
        if found.is_empty() {
            Ok(table)
        } else {
            Err(found)
        }
    }

    fn fill(
        &self,
        src: &Source<'_>,
        value: &mut Spanned<DeValue<'_>>,
        instance: &Instance,
        found: &mut Diagnostics,
    ) {
        let at = value.span().start;
        match value.get_mut() {
            DeValue::String(text) => match self.substitute(text, instance) {
                Ok(Some(filled)) => *text = Cow::Owned(filled),
                Ok(None) => {}
                Err(message) => found.push(src.diagnostic(at, message)),
            },
            DeValue::Array(items) => {
                for item in items.iter_mut() {
                    self.fill(src, item, instance, found);
                }
            }
            DeValue::Table(table) => {
                for (_, item) in table.iter_mut() {
                    self.fill(src, item, instance, found);
                }
            }
            _ => {}
        }
    }

    /// `text` with the instance's `${name}`s replaced; `None` when it has none. `$$` is kept as
    /// written (the environment expansion reads it as a literal `$`).
    fn substitute(&self, text: &str, instance: &Instance) -> Result<Option<String>, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut changed = false;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push_str("$$");
                rest = tail;
                continue;
            }
            let reference = after
                .strip_prefix('{')
                .and_then(|body| body.find('}').map(|end| &body[..end]));
            match reference {
                Some(name) if self.names.contains(name) => {
                    let Some(value) = instance.value(name) else {
                        return Err(format!(
                            "the instance {{ {} }} does not set \"{name}\", which this value uses",
                            instance.label()
                        ));
                    };
                    out.push_str(value);
                    rest = &after[name.len() + 2..];
                    changed = true;
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Ok(changed.then_some(out))
    }
}

/// The problems of a family's instances, each reported once: a problem every instance has is the
/// template's own and is reported as it is; one only some instances have is prefixed with the
/// instance it belongs to.
pub fn merge(per_instance: Vec<(&Instance, Diagnostics)>, instances: usize) -> Diagnostics {
    let mut seen: HashMap<(Option<(usize, usize)>, String), usize> = HashMap::new();
    for (_, found) in &per_instance {
        for d in &found.0 {
            *seen.entry((d.position, d.message.clone())).or_default() += 1;
        }
    }
    let mut merged = Diagnostics::default();
    let mut reported = BTreeSet::new();
    for (instance, found) in per_instance {
        for d in found.0 {
            let key = (d.position, d.message.clone());
            if seen.get(&key) == Some(&instances) {
                if reported.insert(key) {
                    merged.push(d);
                }
                continue;
            }
            merged.push(Diagnostic {
                message: format!("in the instance {{ {} }}: {}", instance.label(), d.message),
                ..d
            });
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn family(text: &str) -> Result<(Family, DeTable<'_>), String> {
        let src = Source {
            path: Path::new("f.toml"),
            text,
        };
        let mut table = src.parse().map_err(|d| d.to_string())?.into_inner();
        let family = take(&src, &mut table)
            .map_err(|d| d.to_string())?
            .ok_or("no family")?;
        Ok((family, table))
    }

    fn filled(text: &str, key: &str) -> Vec<Result<String, String>> {
        let src = Source {
            path: Path::new("f.toml"),
            text,
        };
        let Ok((family, table)) = family(text) else {
            return vec![Err("not a family".into())];
        };
        family
            .instances
            .iter()
            .map(|i| {
                family
                    .apply(&src, &table, i)
                    .map_err(|d| d.to_string())
                    .map(|t| {
                        t.get(key)
                            .and_then(|v| v.get_ref().as_str())
                            .unwrap_or("")
                            .to_string()
                    })
            })
            .collect()
    }

    #[test]
    fn each_instance_fills_its_parameters_and_leaves_environment_references() {
        let text = "id = \"pos-${region}-${DB_USER}-$${region}\"\n\
                    [[instances]]\nregion = \"east\"\n[[instances]]\nregion = \"north\"\n";
        assert_eq!(
            filled(text, "id"),
            vec![
                Ok("pos-east-${DB_USER}-$${region}".to_string()),
                Ok("pos-north-${DB_USER}-$${region}".to_string()),
            ]
        );
    }

    #[test]
    fn nested_tables_and_arrays_are_filled_too() {
        let text = "id = \"x\"\n[source]\ntopics = [\"lbs/${city}/+\"]\n\
                    [[instances]]\ncity = \"sh\"\n";
        let Ok((family, table)) = family(text) else {
            panic!("family expected");
        };
        let src = Source {
            path: Path::new("f.toml"),
            text,
        };
        let filled = family.apply(&src, &table, &family.instances[0]);
        let topic = filled
            .ok()
            .and_then(|t| t.get("source").cloned())
            .and_then(|s| s.get_ref().get("topics").cloned())
            .and_then(|t| t.get_ref().get(0).cloned())
            .and_then(|t| t.get_ref().as_str().map(str::to_string));
        assert_eq!(topic.as_deref(), Some("lbs/sh/+"));
    }

    #[test]
    fn a_parameter_one_instance_lacks_is_named_at_the_value() {
        let text = "id = \"pos-${region}\"\n\
                    [[instances]]\nregion = \"east\"\n[[instances]]\ncity = \"sh\"\n";
        let results = filled(text, "id");
        assert_eq!(results[0], Ok("pos-east".to_string()));
        let err = results[1].clone().err().unwrap_or_default();
        assert!(
            err.starts_with("f.toml:1:6:")
                && err.contains("city = \"sh\"")
                && err.contains("region"),
            "{err}"
        );
    }

    #[test]
    fn instances_must_be_tables_of_strings() {
        let text = "id = \"x\"\n[[instances]]\nregion = 3\n";
        let err = family(text).err().unwrap_or_default();
        assert!(
            err.contains("f.toml:3:10:") && err.contains("must be a string"),
            "{err}"
        );
        let err = family("id = \"x\"\ninstances = []\n")
            .err()
            .unwrap_or_default();
        assert!(err.contains("at least one"), "{err}");
    }

    #[test]
    fn a_problem_every_instance_has_is_reported_once_and_others_name_their_instance() {
        let east = Instance {
            params: vec![("region".into(), "east".into())],
        };
        let north = Instance {
            params: vec![("region".into(), "north".into())],
        };
        let shared = Diagnostic::file(Path::new("f.toml"), "shared");
        let own = Diagnostic::file(Path::new("f.toml"), "own");
        let merged = merge(
            vec![
                (&east, Diagnostics(vec![shared.clone(), own])),
                (&north, Diagnostics(vec![shared])),
            ],
            2,
        );
        let messages: Vec<_> = merged.0.iter().map(|d| d.message.clone()).collect();
        assert_eq!(
            messages,
            vec![
                "shared".to_string(),
                "in the instance { region = \"east\" }: own".to_string()
            ]
        );
    }
}
