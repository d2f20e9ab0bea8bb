//! `${NAME}` in connector settings (URLs, credentials): replaced by the environment variable's
//! value when the connector is loaded, so secrets stay out of the TOML files. A variable that is
//! not set is an error `omnibus check` reports at the key.

use std::fmt;

/// Replaces every `${NAME}` in `text` with the variable's value; `$$` is a literal `$`.
pub fn expand(text: &str) -> Result<String, String> {
    expand_with(text, |name| std::env::var(name).ok())
}

/// [`expand`] with the variables `lookup` gives.
fn expand_with(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = body.find('}') else {
            return Err(format!("\"${{{body}\" is not closed: write ${{NAME}}"));
        };
        let name = &body[..end];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!(
                "\"${{{name}}}\" is not a variable name (letters, digits and _)"
            ));
        }
        let Some(value) = lookup(name) else {
            return Err(format!(
                "the environment variable {name} is not set (the value is read from ${{{name}}})"
            ));
        };
        out.push_str(&value);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A setting that may hold a secret (a URL with a password): its `Debug` and `Display` hide the
/// userinfo of a URL, so it can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value itself, for the one place that connects with it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((_, host)) => write!(f, "{scheme}://***@{host}"),
                None => write!(f, "{}", self.0),
            },
            None => f.write_str("***"),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        (name == "AUCTION_PASSWORD").then(|| "s3cr3t".to_string())
    }

    #[test]
    fn variables_are_replaced_and_missing_ones_named() {
        let url = expand_with("amqp://auction:${AUCTION_PASSWORD}@127.0.0.1/a$$b", vars).unwrap();
        assert_eq!(url, "amqp://auction:s3cr3t@127.0.0.1/a$b");
        assert_eq!(expand_with("cost $5", vars).unwrap(), "cost $5");
        let missing = expand_with("amqp://${MALL_USER}@h", vars).unwrap_err();
        assert!(missing.contains("MALL_USER is not set"), "{missing}");
        assert!(
            expand_with("${OPEN", vars)
                .unwrap_err()
                .contains("not closed")
        );
        assert!(
            expand_with("${a-b}", vars)
                .unwrap_err()
                .contains("not a variable")
        );
    }

    #[test]
    fn secrets_print_without_their_userinfo() {
        let url = Secret::new("amqp://auction:s3cr3t@127.0.0.1:5672/%2f".into());
        assert_eq!(url.to_string(), "amqp://***@127.0.0.1:5672/%2f");
        assert!(!format!("{url:?}").contains("s3cr3t"));
        assert_eq!(url.expose(), "amqp://auction:s3cr3t@127.0.0.1:5672/%2f");
    }
}
