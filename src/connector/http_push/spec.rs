//! `[source] type = "http_push"`: its keys (`path`, `auth`, `secret_env`, `signature_header`,
//! `signature_encoding`, `max_body`, `idempotency_header`, `content_types`, `max_in_flight`), their
//! defaults and checks, and the check that no two connectors share a path.

use super::auth::{Auth, SignatureEncoding};
use crate::config::connector::{ConnectorSpec, SourceSpec};
use crate::config::diagnostic::{Diagnostic, Diagnostics, line_col};
use crate::config::env::Secret;
use crate::config::toml_de::Source;
use axum::http::HeaderName;
use serde::Deserialize;
use std::collections::HashMap;
use toml::Spanned;
use toml::de::DeValue;

/// Largest body accepted by default: 1 MiB.
const DEFAULT_MAX_BODY: usize = 1 << 20;
/// Largest `max_body` allowed: bodies are held in memory while they are ingested.
const MAX_MAX_BODY: i64 = 64 << 20;
/// Requests ingested at once by default; more are answered 503.
const DEFAULT_MAX_IN_FLIGHT: usize = 64;
const MAX_MAX_IN_FLIGHT: i64 = 4096;

/// `[source]` for a webhook receiver, checked.
#[derive(Debug, Clone)]
pub struct HttpPushSpec {
    /// The path on the ingest listener, e.g. `/webhooks/online-mall/orders`.
    pub path: String,
    /// Line and column of `path` in the connector file, for the duplicate-path check.
    pub path_position: (usize, usize),
    pub auth: Auth,
    /// Largest body accepted, in bytes.
    pub max_body: usize,
    /// The header whose value names a delivery (a retry carries the same one).
    pub idempotency_header: Option<HeaderName>,
    pub content_types: Vec<ContentKind>,
    /// Requests ingested at once; more are answered 503 with `Retry-After`.
    pub max_in_flight: usize,
}

/// A kind of body the connector accepts, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    /// `application/json`, `*/*+json`, `application/x-ndjson`.
    Json,
    /// `application/xml`, `text/xml`, `*/*+xml`.
    Xml,
    /// `text/csv`.
    Csv,
    /// `application/x-www-form-urlencoded`, ingested as one JSON object.
    Form,
}

impl ContentKind {
    /// The kind of a `Content-Type` value (parameters such as `charset` ignored).
    pub fn of(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "application/x-ndjson" | "application/ndjson" => {
                Some(ContentKind::Json)
            }
            "application/xml" | "text/xml" => Some(ContentKind::Xml),
            "text/csv" => Some(ContentKind::Csv),
            "application/x-www-form-urlencoded" => Some(ContentKind::Form),
            e if e.ends_with("+json") => Some(ContentKind::Json),
            e if e.ends_with("+xml") => Some(ContentKind::Xml),
            _ => None,
        }
    }
}

/// `auth`: there is no default, so that an open endpoint is always written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AuthKind {
    HmacSha256,
    Bearer,
    None,
}

/// `[source] type = "http_push"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpPushFile {
    path: Spanned<String>,
    auth: Spanned<AuthKind>,
    secret_env: Option<Spanned<String>>,
    signature_header: Option<Spanned<String>>,
    signature_encoding: Option<Spanned<SignatureEncoding>>,
    max_body: Option<Spanned<i64>>,
    idempotency_header: Option<Spanned<String>>,
    content_types: Option<Spanned<Vec<ContentKind>>>,
    max_in_flight: Option<Spanned<i64>>,
}

/// Reads and checks the `[source]` keys after `type`.
pub fn parse_spec(
    src: &Source<'_>,
    rest: Spanned<DeValue<'_>>,
) -> Result<HttpPushSpec, Diagnostics> {
    let file: HttpPushFile = src.deserialize(rest, "source")?;
    let mut found = Diagnostics::default();
    check_path(src, &file.path, &mut found);
    let auth = file.auth(src, &mut found);
    let max_body = bounded(
        src,
        file.max_body.as_ref(),
        "max_body",
        MAX_MAX_BODY,
        &mut found,
    )
    .unwrap_or(DEFAULT_MAX_BODY);
    let max_in_flight = bounded(
        src,
        file.max_in_flight.as_ref(),
        "max_in_flight",
        MAX_MAX_IN_FLIGHT,
        &mut found,
    )
    .unwrap_or(DEFAULT_MAX_IN_FLIGHT);
    let idempotency_header = file
        .idempotency_header
        .as_ref()
        .and_then(|h| header_name(src, h, &mut found));
    let content_types = match &file.content_types {
        None => vec![ContentKind::Json],
        Some(kinds) if kinds.get_ref().is_empty() => {
            let message =
                "content_types must name at least one of \"json\", \"xml\", \"csv\", \"form\"";
            found.push(src.diagnostic(kinds.span().start, message));
            Vec::new()
        }
        Some(kinds) => kinds.get_ref().clone(),
    };
    match auth {
        Some(auth) if found.is_empty() => Ok(HttpPushSpec {
            path_position: line_col(src.text, file.path.span().start),
            path: file.path.into_inner(),
            auth,
            max_body,
            idempotency_header,
            content_types,
            max_in_flight,
        }),
        _ => Err(found),
    }
}

impl HttpPushFile {
    /// The checked `auth` with its secret; the HMAC-only keys are refused with other schemes.
    fn auth(&self, src: &Source<'_>, found: &mut Diagnostics) -> Option<Auth> {
        let kind = *self.auth.get_ref();
        if kind != AuthKind::HmacSha256 {
            let hmac_only = [
                self.signature_header.as_ref().map(|s| s.span().start),
                self.signature_encoding.as_ref().map(|s| s.span().start),
            ];
            for at in hmac_only.into_iter().flatten() {
                let message = "only auth = \"hmac_sha256\" reads a signature; remove this key";
                found.push(src.diagnostic(at, message));
            }
        }
        let secret = match (kind, &self.secret_env) {
            (AuthKind::None, None) => return Some(Auth::None),
            (AuthKind::None, Some(name)) => {
                let message = "auth = \"none\" takes no secret; remove secret_env or choose \"hmac_sha256\" or \"bearer\"";
                found.push(src.diagnostic(name.span().start, message));
                return None;
            }
            (_, None) => {
                let message = "secret_env is required with this auth: the NAME of the environment variable holding the secret, e.g. secret_env = \"MALL_WEBHOOK_SECRET\"";
                found.push(src.diagnostic(self.auth.span().start, message));
                return None;
            }
            (_, Some(name)) => secret(src, name, found)?,
        };
        if kind == AuthKind::Bearer {
            return Some(Auth::bearer(secret.expose()));
        }
        let header = match &self.signature_header {
            Some(h) => header_name(src, h, found)?,
            // `X-Signature-SHA256`: header names are matched case-insensitively.
            None => HeaderName::from_static("x-signature-sha256"),
        };
        Some(Auth::HmacSha256 {
            key: secret,
            header,
            encoding: self
                .signature_encoding
                .as_ref()
                .map(|e| *e.get_ref())
                .unwrap_or_default(),
        })
    }
}

/// The value of the environment variable `secret_env` names.
fn secret(src: &Source<'_>, name: &Spanned<String>, found: &mut Diagnostics) -> Option<Secret> {
    let at = name.span().start;
    let var = name.get_ref();
    let valid = !var.is_empty() && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        let message = format!(
            "secret_env is the NAME of an environment variable (letters, digits and _), not the secret itself; got \"{}\"",
            if var.len() > 40 { "…" } else { var }
        );
        found.push(src.diagnostic(at, message));
        return None;
    }
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(Secret::new(value)),
        Ok(_) => {
            found.push(src.diagnostic(
                at,
                format!("the environment variable {var} is empty; set it to the webhook secret"),
            ));
            None
        }
        Err(_) => {
            let message = format!(
                "the environment variable {var} is not set; set it to the webhook secret before starting the hub"
            );
            found.push(src.diagnostic(at, message));
            None
        }
    }
}

fn check_path(src: &Source<'_>, path: &Spanned<String>, found: &mut Diagnostics) {
    let p = path.get_ref();
    let plain = p
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
    if !p.starts_with('/') || p.len() < 2 || !plain {
        let message = format!(
            "path must be an absolute URL path without query or spaces, e.g. \"/webhooks/online-mall/orders\"; got \"{p}\""
        );
        found.push(src.diagnostic(path.span().start, message));
    }
}

fn header_name(
    src: &Source<'_>,
    name: &Spanned<String>,
    found: &mut Diagnostics,
) -> Option<HeaderName> {
    match HeaderName::from_bytes(name.get_ref().as_bytes()) {
        Ok(h) => Some(h),
        Err(_) => {
            let message = format!("\"{}\" is not an HTTP header name", name.get_ref());
            found.push(src.diagnostic(name.span().start, message));
            None
        }
    }
}

/// A positive integer key up to `max`; `None` when absent or wrong (then reported).
fn bounded(
    src: &Source<'_>,
    value: Option<&Spanned<i64>>,
    key: &str,
    max: i64,
    found: &mut Diagnostics,
) -> Option<usize> {
    let value = value?;
    let n = *value.get_ref();
    match usize::try_from(n) {
        Ok(ok) if n > 0 && n <= max => Some(ok),
        _ => {
            let message = format!("{key} must be from 1 to {max}, got {n}");
            found.push(src.diagnostic(value.span().start, message));
            None
        }
    }
}

/// Leaves out every http_push connector whose path another one uses too, with a diagnostic for
/// each: one path reaches one connector.
pub fn without_shared_paths(specs: Vec<ConnectorSpec>) -> (Vec<ConnectorSpec>, Diagnostics) {
    let mut by_path: HashMap<String, Vec<String>> = HashMap::new();
    for spec in &specs {
        if let SourceSpec::HttpPush(push) = &spec.source {
            let file = spec.file.display().to_string();
            by_path.entry(push.path.clone()).or_default().push(file);
        }
    }
    let mut found = Diagnostics::default();
    let mut good = Vec::new();
    for spec in specs {
        let shared = match &spec.source {
            SourceSpec::HttpPush(push) => by_path.get(&push.path).filter(|f| f.len() > 1),
            _ => None,
        };
        match (shared, &spec.source) {
            (Some(files), SourceSpec::HttpPush(push)) => {
                let me = spec.file.display().to_string();
                let others: Vec<&str> = files
                    .iter()
                    .filter(|f| **f != me)
                    .map(String::as_str)
                    .collect();
                found.push(Diagnostic {
                    file: spec.file.clone(),
                    position: Some(push.path_position),
                    message: format!(
                        "path \"{}\" is also used by {}; each http_push connector needs its own path",
                        push.path,
                        others.join(", ")
                    ),
                });
            }
            _ => good.push(spec),
        }
    }
    (good, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::connector::SourceSpec;

    fn load(source: &str) -> Result<HttpPushSpec, String> {
        crate::config::load::load_test_source(
            "mall",
            "http_push",
            source,
            "[format]\ntype = \"json\"\n",
        )
        .map(|s| match s {
            SourceSpec::HttpPush(spec) => spec,
            other => panic!("not a http_push source: {other:?}"),
        })
    }

    #[test]
    fn defaults_and_an_hmac_secret_from_the_environment() {
        // SAFETY: only this test reads or writes this variable.
        unsafe { std::env::set_var("OMNIBUS_TEST_PUSH_SECRET", "s3cr3t-value") };
        let spec = load(
            "path = \"/webhooks/online-mall/orders\"\nauth = \"hmac_sha256\"\n\
             secret_env = \"OMNIBUS_TEST_PUSH_SECRET\"\n\
             signature_header = \"X-Shopify-Hmac-Sha256\"\nsignature_encoding = \"base64\"\n\
             idempotency_header = \"X-Shopify-Webhook-Id\"",
        )
        .unwrap();
        assert_eq!(spec.path, "/webhooks/online-mall/orders");
        assert_eq!(spec.path_position, (5, 8));
        assert_eq!((spec.max_body, spec.max_in_flight), (1 << 20, 64));
        assert_eq!(spec.content_types, [ContentKind::Json]);
        assert_eq!(
            spec.idempotency_header.as_ref().map(HeaderName::as_str),
            Some("x-shopify-webhook-id")
        );
        let Auth::HmacSha256 {
            key,
            header,
            encoding,
        } = &spec.auth
        else {
            panic!("hmac auth")
        };
        assert_eq!(key.expose(), "s3cr3t-value");
        assert_eq!(header.as_str(), "x-shopify-hmac-sha256");
        assert_eq!(*encoding, SignatureEncoding::Base64);
        assert!(!format!("{spec:?}").contains("s3cr3t"));

        let open = load("path = \"/hook\"\nauth = \"none\"\ncontent_types = [\"json\", \"form\"]\nmax_body = 100\nmax_in_flight = 2").unwrap();
        assert_eq!(open.auth.kind(), "none");
        assert_eq!(open.content_types, [ContentKind::Json, ContentKind::Form]);
        assert_eq!((open.max_body, open.max_in_flight), (100, 2));
    }

    #[test]
    fn mistakes_are_reported_at_their_keys() {
        let err = load("path = \"/h\"").unwrap_err();
        assert!(err.contains("auth"), "{err}");
        let err = load(
            "path = \"/h\"\nauth = \"hmac_sha256\"\nsecret_env = \"OMNIBUS_TEST_UNSET_VARIABLE\"",
        )
        .unwrap_err();
        assert!(
            err.contains("mall.toml:7:14")
                && err.contains("OMNIBUS_TEST_UNSET_VARIABLE is not set"),
            "{err}"
        );
        let err = load("path = \"/h\"\nauth = \"bearer\"").unwrap_err();
        assert!(err.contains("secret_env is required"), "{err}");
        let err = load("path = \"/h\"\nauth = \"none\"\nsecret_env = \"X\"").unwrap_err();
        assert!(err.contains("takes no secret"), "{err}");
        let err = load("path = \"/h\"\nauth = \"bearer\"\nsecret_env = \"hunter2 is my password\"")
            .unwrap_err();
        assert!(err.contains("NAME of an environment variable"), "{err}");
        let err = load(
            "path = \"hooks?x=1\"\nauth = \"none\"\nsignature_header = \"X-Sig\"\nmax_body = 0\n\
             content_types = []\nidempotency_header = \"bad header\"",
        )
        .unwrap_err();
        for part in [
            "path must be an absolute URL path",
            "only auth = \"hmac_sha256\" reads a signature",
            "max_body must be from 1",
            "content_types must name",
            "\"bad header\" is not an HTTP header name",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        let err = load("path = \"/h\"\nauth = \"basic\"").unwrap_err();
        assert!(
            err.contains("hmac_sha256") && err.contains("bearer"),
            "{err}"
        );
        let err = load("path = \"/h\"\nauth = \"none\"\ncontent_types = [\"yaml\"]").unwrap_err();
        assert!(err.contains("form"), "{err}");
    }

    #[test]
    fn two_connectors_on_one_path_are_both_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let connectors = dir.path().join("connectors");
        std::fs::create_dir_all(&connectors).unwrap();
        std::fs::write(dir.path().join("order.toml"), "type = \"x.v1\"\n[fields]\n").unwrap();
        let file = |path: &str| {
            format!(
                "system = \"mall\"\nmapping = \"order\"\n[source]\ntype = \"http_push\"\n\
                 path = \"{path}\"\nauth = \"none\"\n[format]\ntype = \"json\"\n"
            )
        };
        std::fs::write(connectors.join("a.toml"), file("/hooks/orders")).unwrap();
        std::fs::write(connectors.join("b.toml"), file("/hooks/orders")).unwrap();
        std::fs::write(connectors.join("c.toml"), file("/hooks/refunds")).unwrap();
        let (good, found) = crate::config::load::load_connectors(&connectors, dir.path());
        let ids: Vec<&str> = good.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["c"]);
        let text = found.to_string();
        assert!(
            text.contains("a.toml:5:8: path \"/hooks/orders\" is also used by")
                && text.contains("b.toml")
                && text.contains("each http_push connector needs its own path"),
            "{text}"
        );
    }

    #[test]
    fn content_types_are_recognised_without_their_parameters() {
        assert_eq!(
            ContentKind::of("application/json; charset=utf-8"),
            Some(ContentKind::Json)
        );
        assert_eq!(
            ContentKind::of("application/cloudevents+json"),
            Some(ContentKind::Json)
        );
        assert_eq!(ContentKind::of("Text/XML"), Some(ContentKind::Xml));
        assert_eq!(ContentKind::of("text/csv"), Some(ContentKind::Csv));
        assert_eq!(
            ContentKind::of("application/x-www-form-urlencoded"),
            Some(ContentKind::Form)
        );
        assert_eq!(ContentKind::of("text/plain"), None);
    }
}
