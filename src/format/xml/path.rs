//! Element paths (`record = "/Order/cac:OrderLine"`, `context = [...]`) compiled against the
//! `[format.namespaces]` prefixes, and the names elements and attributes take in a record's tree.
//!
//! A prefixed step matches by namespace URI and local name, whatever prefix the document binds to
//! that URI; an unprefixed step matches the local name in any namespace (or none). In the tree, a
//! name in a configured namespace is written with the configured prefix (`cac:Item`), any other
//! name as the document wrote it.

/// The `[format.namespaces]` table: prefix → namespace URI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    /// (prefix, URI) pairs, in prefix order.
    pairs: Vec<(String, String)>,
}

impl Namespaces {
    /// `pairs` are (prefix, URI); a URI given twice keeps its first prefix for tree names.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The URI bound to a configured prefix.
    pub fn uri(&self, prefix: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }

    /// The configured prefix of a namespace URI.
    pub fn prefix(&self, uri: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(_, u)| u == uri)
            .map(|(p, _)| p.as_str())
    }

    /// The tree name of an element or attribute: `prefix:local` for a configured namespace,
    /// else `qname` as written in the document.
    pub fn name(&self, namespace: Option<&str>, local: &str, qname: &str) -> String {
        match namespace.and_then(|uri| self.prefix(uri)) {
            Some(prefix) => format!("{prefix}:{local}"),
            None => qname.to_string(),
        }
    }
}

/// One step of a path: an element name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// As written (`cac:OrderLine`).
    name: String,
    local: String,
    /// The URI of the step's prefix; `None` for an unprefixed step (any namespace).
    namespace: Option<String>,
}

impl Step {
    /// Whether an element with this namespace URI and local name is this step.
    pub fn matches(&self, namespace: Option<&str>, local: &str) -> bool {
        self.local == local
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| namespace == Some(ns))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether two steps can name the same element.
    fn overlaps(&self, other: &Step) -> bool {
        self.local == other.local
            && match (&self.namespace, &other.namespace) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// An absolute element path: `/ORDERS05/IDOC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlPath {
    text: String,
    steps: Vec<Step>,
}

impl XmlPath {
    /// Parses `/a/p:b`; every prefix must be in `namespaces`. The error says what to fix.
    pub fn parse(text: &str, namespaces: &Namespaces) -> Result<Self, String> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "\"{text}\" must be an absolute element path starting at the root element, such \
                 as \"/ORDERS05/IDOC\""
            ));
        };
        let steps = rest
            .split('/')
            .map(|name| step(name, text, namespaces))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            text: text.to_string(),
            steps,
        })
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The name of the element the path ends at.
    pub fn last(&self) -> &str {
        self.steps.last().map_or("", Step::name)
    }

    /// Whether both paths can start at the same root element.
    pub fn same_root(&self, other: &XmlPath) -> bool {
        match (self.steps.first(), other.steps.first()) {
            (Some(a), Some(b)) => a.overlaps(b),
            _ => false,
        }
    }

    /// Whether this path can be `other` or lie inside the element `other` selects.
    pub fn within(&self, other: &XmlPath) -> bool {
        self.steps.len() >= other.steps.len()
            && self
                .steps
                .iter()
                .zip(&other.steps)
                .all(|(a, b)| a.overlaps(b))
    }
}

fn step(name: &str, path: &str, namespaces: &Namespaces) -> Result<Step, String> {
    let bad = |c: char| c.is_whitespace() || "[]@*=\"'()<>&|$,/".contains(c);
    if name.is_empty() || name.contains(bad) {
        return Err(format!(
            "\"{path}\" has an empty or invalid element name \"{name}\"; write element names \
             separated by \"/\", such as \"/Order/cac:OrderLine\" (no indexes, wildcards or \
             attributes)"
        ));
    }
    match name.split_once(':') {
        None => Ok(Step {
            name: name.to_string(),
            local: name.to_string(),
            namespace: None,
        }),
        Some((prefix, local))
            if !prefix.is_empty() && !local.is_empty() && !local.contains(':') =>
        {
            let Some(uri) = namespaces.uri(prefix) else {
                return Err(format!(
                    "prefix \"{prefix}\" in \"{path}\" is not declared; declare it under \
                     [format.namespaces], e.g. {prefix} = \"urn:...\""
                ));
            };
            Ok(Step {
                name: name.to_string(),
                local: local.to_string(),
                namespace: Some(uri.to_string()),
            })
        }
        Some(_) => Err(format!(
            "\"{name}\" in \"{path}\" is not a valid name; use \"name\" or \"prefix:name\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";

    fn ubl() -> Namespaces {
        Namespaces::new(vec![("cac".into(), CAC.into())])
    }

    #[test]
    fn prefixed_steps_match_by_namespace_and_unprefixed_ones_by_local_name() {
        let path = XmlPath::parse("/Order/cac:OrderLine", &ubl()).unwrap();
        let [order, line] = path.steps() else {
            panic!("two steps")
        };
        assert!(order.matches(Some("urn:any"), "Order"));
        assert!(order.matches(None, "Order"));
        assert!(line.matches(Some(CAC), "OrderLine"));
        assert!(!line.matches(None, "OrderLine"));
        assert!(!line.matches(Some("urn:other"), "OrderLine"));
        assert_eq!(path.last(), "cac:OrderLine");
    }

    #[test]
    fn bad_paths_say_what_to_write() {
        let err = XmlPath::parse("Order/Line", &ubl()).unwrap_err();
        assert!(err.contains("absolute element path"), "{err}");
        let err = XmlPath::parse("/Order/cbc:ID", &ubl()).unwrap_err();
        assert!(err.contains("prefix \"cbc\"") && err.contains("[format.namespaces]"));
        let err = XmlPath::parse("/Order//Line", &ubl()).unwrap_err();
        assert!(err.contains("empty or invalid element name"), "{err}");
        let err = XmlPath::parse("/Order/Line[2]", &ubl()).unwrap_err();
        assert!(err.contains("\"Line[2]\""), "{err}");
    }

    #[test]
    fn within_compares_steps() {
        let ns = ubl();
        let record = XmlPath::parse("/Order/cac:OrderLine", &ns).unwrap();
        let inside = XmlPath::parse("/Order/OrderLine/ID", &ns).unwrap();
        let beside = XmlPath::parse("/Order/ID", &ns).unwrap();
        assert!(inside.within(&record));
        assert!(record.within(&record));
        assert!(!beside.within(&record));
        assert!(!record.within(&inside));
        assert!(beside.same_root(&record));
        assert!(
            !XmlPath::parse("/Invoice/ID", &ns)
                .unwrap()
                .same_root(&record)
        );
    }

    #[test]
    fn tree_names_use_the_configured_prefix() {
        let ns = ubl();
        assert_eq!(ns.name(Some(CAC), "Item", "x:Item"), "cac:Item");
        assert_eq!(ns.name(Some("urn:other"), "Item", "x:Item"), "x:Item");
        assert_eq!(ns.name(None, "Item", "Item"), "Item");
    }
}
