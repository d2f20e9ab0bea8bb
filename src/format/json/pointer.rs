//! Record paths: JSON Pointers (RFC 6901) whose `*` steps match every item of an array or every
//! member of an object, matched against the concrete path of the value a streaming reader is at.

use std::fmt;

/// One step of a pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A member name, or an array index written in decimal.
    Name(String),
    /// `*`: every item of an array, every member of an object.
    Any,
}

impl Step {
    fn accepts(&self, token: &str) -> bool {
        match self {
            Self::Name(name) => name == token,
            Self::Any => true,
        }
    }
}

/// A checked pointer such as `/orders/*` or `/meta/store`; `""` is the document's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    text: String,
    steps: Vec<Step>,
}

impl Pointer {
    /// Parses `text`: `""`, or `/`-separated steps where `~0` is `~`, `~1` is `/` and a step of
    /// exactly `*` matches anything.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Self::root());
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "\"{text}\" is not a JSON Pointer: it must be empty (the whole document) or start \
                 with \"/\", as in \"/orders/*\""
            ));
        };
        let steps = rest
            .split('/')
            .map(|token| match token {
                "*" => Ok(Step::Any),
                _ => unescape(token).map(Step::Name),
            })
            .collect::<Result<_, _>>()
            .map_err(|bad| format!("\"{text}\": {bad}"))?;
        Ok(Self {
            text: text.to_string(),
            steps,
        })
    }

    /// The document's root.
    pub fn root() -> Self {
        Self {
            text: String::new(),
            steps: Vec::new(),
        }
    }

    /// `/*`: every item of the root array.
    pub fn root_items() -> Self {
        Self {
            text: "/*".to_string(),
            steps: vec![Step::Any],
        }
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The pointer as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn has_wildcard(&self) -> bool {
        self.steps.contains(&Step::Any)
    }

    /// The name of the last step, if it is a name.
    pub fn last_name(&self) -> Option<&str> {
        match self.steps.last() {
            Some(Step::Name(name)) => Some(name),
            _ => None,
        }
    }

    /// Whether the value at `path` is one this pointer selects.
    pub fn matches(&self, path: &[String]) -> bool {
        path.len() == self.steps.len() && self.leads(path)
    }

    /// Whether the values this pointer selects lie inside the value at `path`.
    pub fn leads_to(&self, path: &[String]) -> bool {
        path.len() < self.steps.len() && self.leads(path)
    }

    /// Whether the value at `path` is a container whose items this pointer's last `*` selects.
    pub fn is_parent_of(&self, path: &[String]) -> bool {
        self.steps.last() == Some(&Step::Any)
            && path.len() + 1 == self.steps.len()
            && self.leads(path)
    }

    /// Whether one pointer's values can lie inside (or be) the other's.
    pub fn overlaps(&self, other: &Pointer) -> bool {
        self.steps.iter().zip(&other.steps).all(|pair| match pair {
            (Step::Name(a), Step::Name(b)) => a == b,
            _ => true,
        })
    }

    fn leads(&self, path: &[String]) -> bool {
        self.steps
            .iter()
            .zip(path)
            .all(|(step, token)| step.accepts(token))
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The concrete path of a value as a JSON Pointer: `/orders/3`, `""` for the root.
pub fn render(path: &[String]) -> String {
    let mut out = String::new();
    for token in path {
        out.push('/');
        for c in token.chars() {
            match c {
                '~' => out.push_str("~0"),
                '/' => out.push_str("~1"),
                c => out.push(c),
            }
        }
    }
    out
}

fn unescape(token: &str) -> Result<String, String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c != '~' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('~'),
            Some('1') => out.push('/'),
            _ => return Err("\"~\" must be followed by 0 (for \"~\") or 1 (for \"/\")".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(tokens: &[&str]) -> Vec<String> {
        tokens.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn parses_steps_wildcards_and_escapes() {
        let pointer = Pointer::parse("/a~1b/*/c~0d/0").unwrap();
        assert_eq!(
            pointer.steps(),
            [
                Step::Name("a/b".into()),
                Step::Any,
                Step::Name("c~d".into()),
                Step::Name("0".into())
            ]
        );
        assert!(pointer.has_wildcard());
        assert_eq!(pointer.last_name(), Some("0"));
        assert_eq!(Pointer::parse("").unwrap(), Pointer::root());
        assert_eq!(
            Pointer::parse("/").unwrap().steps(),
            [Step::Name(String::new())]
        );
    }

    #[test]
    fn rejects_what_is_not_a_pointer() {
        let error = Pointer::parse("orders/*").unwrap_err();
        assert!(error.contains("must be empty"), "{error}");
        let error = Pointer::parse("/a~2").unwrap_err();
        assert!(error.contains("\"~\" must be followed by 0"), "{error}");
    }

    #[test]
    fn matches_leads_and_parents() {
        let pointer = Pointer::parse("/stores/*/orders/*").unwrap();
        assert!(pointer.matches(&path(&["stores", "0", "orders", "7"])));
        assert!(!pointer.matches(&path(&["stores", "0", "lines", "7"])));
        assert!(pointer.leads_to(&path(&["stores", "x"])));
        assert!(pointer.leads_to(&[]));
        assert!(!pointer.leads_to(&path(&["meta"])));
        assert!(pointer.is_parent_of(&path(&["stores", "0", "orders"])));
        assert!(!pointer.is_parent_of(&path(&["stores", "0"])));
        assert!(Pointer::root().matches(&[]));
    }

    #[test]
    fn overlap_is_one_inside_the_other() {
        let records = Pointer::parse("/orders/*").unwrap();
        for inside in ["/orders", "", "/orders/3/total", "/*"] {
            assert!(
                records.overlaps(&Pointer::parse(inside).unwrap()),
                "{inside}"
            );
        }
        assert!(!records.overlaps(&Pointer::parse("/meta/store").unwrap()));
    }

    #[test]
    fn renders_concrete_paths_with_escapes() {
        assert_eq!(render(&path(&["orders", "3"])), "/orders/3");
        assert_eq!(render(&path(&["a/b", "c~d"])), "/a~1b/c~0d");
        assert_eq!(render(&[]), "");
    }
}
