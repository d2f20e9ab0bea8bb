//! `[source] type = "amqp"`: its keys (`url`, `queue`, `prefetch`, `on_failure`), their defaults
//! and checks.

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::config::Diagnostics;
use crate::config::diagnostic::keep;
use crate::config::env::{Secret, expand};
use crate::config::toml_de::Source;

/// Unacknowledged deliveries the legacy broker hands over at a time, by default.
const DEFAULT_PREFETCH: u16 = 32;

/// `[source]` for an AMQP subscription, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpSourceSpec {
    /// The legacy system's broker (its own URL and vhost), `${NAME}`s expanded.
    pub url: Secret,
    /// The queue consumed; it must exist (the legacy system owns it).
    pub queue: String,
    /// Deliveries in flight (unacknowledged) at most.
    pub prefetch: u16,
    pub on_failure: OnFailure,
}

/// What becomes of a delivery with a record that fails to decode or map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// The record goes to Omnibus's dead letters; the delivery is acknowledged.
    #[default]
    DeadLetter,
    /// The delivery is rejected (not requeued), so the legacy queue's own dead-letter exchange
    /// takes it whole; its good records are published all the same.
    Reject,
}

/// `[source] type = "amqp"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AmqpSourceFile {
    url: Spanned<String>,
    queue: Spanned<String>,
    prefetch: Option<Spanned<i64>>,
    #[serde(default)]
    on_failure: OnFailure,
}

/// Reads and checks the `[source]` keys after `type`.
pub fn parse_spec(
    src: &Source<'_>,
    rest: Spanned<DeValue<'_>>,
) -> Result<AmqpSourceSpec, Diagnostics> {
    let file: AmqpSourceFile = src.deserialize(rest, "source")?;
    let mut found = Diagnostics::default();
    let url = expand(file.url.get_ref()).map_err(|m| src.diagnostic(file.url.span().start, m));
    let url = keep(&mut found, url).and_then(|url| {
        let scheme_ok = url.starts_with("amqp://") || url.starts_with("amqps://");
        if !scheme_ok {
            let message = "url must be an AMQP URL: amqp://user:password@host:5672/vhost";
            found.push(src.diagnostic(file.url.span().start, message));
        }
        scheme_ok.then(|| Secret::new(url))
    });
    if file.queue.get_ref().trim().is_empty() {
        found.push(src.diagnostic(file.queue.span().start, "queue must name a queue"));
    }
    let prefetch = match &file.prefetch {
        None => Some(DEFAULT_PREFETCH),
        Some(n) => match u16::try_from(*n.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                let message = format!("prefetch must be from 1 to 65535, got {}", n.get_ref());
                found.push(src.diagnostic(n.span().start, message));
                None
            }
        },
    };
    match (url, prefetch) {
        (Some(url), Some(prefetch)) if found.is_empty() => Ok(AmqpSourceSpec {
            url,
            queue: file.queue.into_inner(),
            prefetch,
            on_failure: file.on_failure,
        }),
        _ => Err(found),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::connector::SourceSpec;

    fn load(source: &str) -> Result<SourceSpec, String> {
        crate::config::load::load_test_source(
            "auction",
            "amqp",
            source,
            "[format]\ntype = \"json\"\n",
        )
    }

    #[test]
    fn keys_are_checked_and_a_missing_variable_is_named_at_its_key() {
        let ok = load("url = \"amqp://127.0.0.1:5672/%2f\"\nqueue = \"results\"").unwrap();
        let SourceSpec::Amqp(spec) = ok else {
            panic!("an AMQP source")
        };
        assert_eq!((spec.queue.as_str(), spec.prefetch), ("results", 32));
        assert_eq!(spec.on_failure, super::OnFailure::DeadLetter);
        let reject = load("url = \"amqp://h\"\nqueue = \"q\"\non_failure = \"reject\"").unwrap();
        let SourceSpec::Amqp(spec) = reject else {
            panic!("an AMQP source")
        };
        assert_eq!(spec.on_failure, super::OnFailure::Reject);
        let err = load("url = \"amqp://h\"\nqueue = \"q\"\non_failure = \"drop\"").unwrap_err();
        assert!(
            err.contains("dead_letter") && err.contains("reject"),
            "{err}"
        );
        let err = load(
            "url = \"amqp://u:${OMNIBUS_TEST_UNSET_VARIABLE}@h/%2f\"\nqueue = \"q\"\nprefetch = 0",
        )
        .unwrap_err();
        assert!(
            err.contains("auction.toml:5:7")
                && err.contains("OMNIBUS_TEST_UNSET_VARIABLE is not set")
                && err.contains("prefetch must be from 1 to 65535"),
            "{err}"
        );
        let err = load("url = \"http://h\"\nqueue = \"\"").unwrap_err();
        assert!(
            err.contains("must be an AMQP URL") && err.contains("queue must name"),
            "{err}"
        );
    }
}
