//! `[source] type = "http_poll"`: its keys (`url`, `method`, `query`, `headers`, the schedule,
//! `timeout`, `retries`, `rate_limit`, `max_in_flight`, `max_body`) and its sub-tables
//! `[source.auth]`, `[source.pagination]` and `[source.watermark]`, with their defaults and checks.
//!
//! Each sub-table is dispatched on its `type` by hand, like `[source]` itself, so every key keeps
//! its span and an unknown key is reported with a "did you mean" for that type.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderName, HeaderValue};
use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use super::schedule::Schedule;
use crate::config::Diagnostics;
use crate::config::connector_file::positive_duration;
use crate::config::diagnostic::keep;
use crate::config::env::{Secret, expand};
use crate::config::toml_de::Source;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 5;
const DEFAULT_MAX_BODY: u64 = 32 * 1024 * 1024;
const DEFAULT_LIMIT: u64 = 100;

/// `[source]` for a polled HTTP API, checked.
#[derive(Debug, Clone)]
pub struct HttpPollSpec {
    /// The first page's URL, `${NAME}`s expanded.
    pub url: Secret,
    pub method: Method,
    /// Extra query parameters sent with every request.
    pub query: Vec<(String, String)>,
    /// Extra headers sent with every request; values may hold secrets.
    pub headers: Vec<(HeaderName, Secret)>,
    pub schedule: Schedule,
    /// Longest wait for one response.
    pub timeout: Duration,
    /// Retries of one request after a connection error, a timeout, a 5xx or a 429.
    pub retries: u32,
    /// Requests per second at most.
    pub rate_limit: Option<NonZeroU32>,
    /// Requests in flight at most.
    pub max_in_flight: usize,
    /// Largest response body taken, in bytes.
    pub max_body: u64,
    pub auth: AuthSpec,
    pub pagination: Pagination,
    pub watermark: Option<WatermarkSpec>,
}

/// `[source.auth]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthSpec {
    None,
    Basic { username: Secret, password: Secret },
    Bearer { token: Secret },
    ApiKey { header: HeaderName, key: Secret },
    OAuth2(OAuth2Spec),
}

/// `[source.auth] type = "oauth2"`: the client-credentials grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Spec {
    pub token_url: String,
    pub client_id: Secret,
    pub client_secret: Secret,
    pub scope: Option<String>,
}

/// `[source.pagination]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    None,
    /// `param` = page number from `start`; `size` records per page in `size_param`.
    Page {
        param: String,
        start: u64,
        size: Option<(String, u64)>,
    },
    Offset {
        offset_param: String,
        limit_param: String,
        limit: u64,
    },
    /// The next page's cursor is at JSON Pointer `next` in the body, sent back in `param`.
    Cursor {
        param: String,
        next: String,
    },
    /// `Link: <…>; rel="next"`.
    Link,
}

/// `[source.watermark]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatermarkSpec {
    /// The largest value of `field` over the records, sent in `param`.
    Field {
        field: String,
        param: String,
        initial: Option<String>,
    },
    /// The last cursor of a cursor-paginated API; the first poll starts at `initial`.
    Cursor { initial: Option<String> },
}

/// `[source] type = "http_poll"`, without its `type` key and sub-tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpPollFile {
    url: Spanned<String>,
    method: Option<Spanned<String>>,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    interval: Option<Spanned<String>>,
    cron: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    retries: Option<Spanned<i64>>,
    rate_limit: Option<Spanned<i64>>,
    max_in_flight: Option<Spanned<i64>>,
    max_body: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicFile {
    username_env: Spanned<String>,
    password_env: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BearerFile {
    token_env: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyFile {
    header: Spanned<String>,
    key_env: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OAuth2File {
    token_url: Spanned<String>,
    client_id_env: Spanned<String>,
    client_secret_env: Spanned<String>,
    scope: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageFile {
    param: Option<String>,
    start: Option<u64>,
    size_param: Option<String>,
    size: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetFile {
    offset_param: Option<String>,
    limit_param: Option<String>,
    limit: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorFile {
    param: Option<String>,
    next: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoKeys {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WatermarkFile {
    field: Option<Spanned<String>>,
    param: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    initial: Option<String>,
}

/// A sub-table's `type` and its other keys.
struct Typed<'a> {
    kind: Spanned<String>,
    rest: Spanned<DeValue<'a>>,
}

/// Reads and checks the `[source]` keys after `type`.
pub fn parse_spec(
    src: &Source<'_>,
    rest: Spanned<DeValue<'_>>,
) -> Result<HttpPollSpec, Diagnostics> {
    let span = rest.span();
    let mut table = match rest.into_inner() {
        DeValue::Table(table) => table,
        _ => {
            return Err(src
                .diagnostic(span.start, "[source] must be a table")
                .into());
        }
    };
    let mut found = Diagnostics::default();
    let auth = table.remove("auth");
    let pagination = table.remove("pagination");
    let watermark = table.remove("watermark");
    let file: HttpPollFile =
        src.deserialize(Spanned::new(span.clone(), DeValue::Table(table)), "source")?;
    let auth = keep(
        &mut found,
        typed(src, "auth", auth).and_then(|t| auth_spec(src, t)),
    );
    let pagination = keep(
        &mut found,
        typed(src, "pagination", pagination).and_then(|t| pagination_spec(src, t)),
    );
    let watermark = keep(
        &mut found,
        watermark
            .map(|w| src.deserialize::<WatermarkFile>(w, "source.watermark"))
            .transpose(),
    );
    let watermark = match (watermark, &pagination) {
        (Some(Some(w)), Some(pagination)) => {
            keep(&mut found, watermark_spec(src, w, pagination)).map(Some)
        }
        (Some(None), _) => Some(None),
        _ => None,
    };
    let spec = top_level(src, span.start, file, &mut found).ok();
    match (spec, auth, pagination, watermark) {
        (Some(spec), Some(auth), Some(pagination), Some(watermark)) if found.is_empty() => {
            Ok(HttpPollSpec {
                auth,
                pagination,
                watermark,
                ..spec
            })
        }
        _ => Err(found),
    }
}

/// The top-level keys; `found` gathers the problems so every one is reported.
fn top_level(
    src: &Source<'_>,
    at: usize,
    file: HttpPollFile,
    found: &mut Diagnostics,
) -> Result<HttpPollSpec, Diagnostics> {
    let url = keep(found, url(src, &file.url));
    let method = keep(found, method(src, file.method.as_ref()));
    let headers = keep(found, headers(src, file.headers));
    let schedule = keep(
        found,
        Schedule::parse(src, at, file.interval, file.cron, file.timezone),
    );
    let timeout = keep(
        found,
        positive_duration(src, "timeout", file.timeout, DEFAULT_TIMEOUT),
    );
    let retries = keep(found, count(src, "retries", file.retries, 0, 100))
        .map(|n| n.map_or(DEFAULT_RETRIES, |n| n as u32));
    let rate_limit = keep(
        found,
        count(src, "rate_limit", file.rate_limit, 1, 1_000_000),
    )
    .map(|n| n.and_then(|n| NonZeroU32::new(n as u32)));
    let max_in_flight = keep(
        found,
        count(src, "max_in_flight", file.max_in_flight, 1, 1024),
    )
    .map(|n| n.map_or(1, |n| n as usize));
    let max_body = keep(found, count(src, "max_body", file.max_body, 1, 1 << 32))
        .map(|n| n.map_or(DEFAULT_MAX_BODY, |n| n as u64));
    match (url, method, headers, schedule, timeout) {
        (Some(url), Some(method), Some(headers), Some(schedule), Some(timeout)) => {
            Ok(HttpPollSpec {
                url,
                method,
                query: file.query.into_iter().collect(),
                headers,
                schedule,
                timeout,
                retries: retries.unwrap_or(DEFAULT_RETRIES),
                rate_limit: rate_limit.flatten(),
                max_in_flight: max_in_flight.unwrap_or(1),
                max_body: max_body.unwrap_or(DEFAULT_MAX_BODY),
                auth: AuthSpec::None,
                pagination: Pagination::None,
                watermark: None,
            })
        }
        _ => Err(Diagnostics::default()),
    }
}

fn url(src: &Source<'_>, value: &Spanned<String>) -> Result<Secret, Diagnostics> {
    let at = value.span().start;
    let url = expand(value.get_ref()).map_err(|m| src.diagnostic(at, m))?;
    check_http_url(&url).map_err(|m| src.diagnostic(at, format!("url {m}")))?;
    Ok(Secret::new(url))
}

/// `Ok` for an `http://` URL with a host; otherwise what is wrong with it.
fn check_http_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Err(
            "is https://, but this build of Omnibus has no TLS: poll the API over http:// \
             (a TLS-terminating proxy on the hub's host)"
                .into(),
        );
    }
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" && u.host().is_some() => Ok(()),
        Ok(_) => Err("must be an http:// URL with a host: http://host:port/path".into()),
        Err(e) => Err(format!("is not a URL ({e}): write http://host:port/path")),
    }
}

fn method(src: &Source<'_>, value: Option<&Spanned<String>>) -> Result<Method, Diagnostics> {
    let Some(value) = value else {
        return Ok(Method::GET);
    };
    match value.get_ref().to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "POST" => Ok(Method::POST),
        other => {
            let message = format!("method = \"{other}\" is not supported; use \"GET\" or \"POST\"");
            Err(src.diagnostic(value.span().start, message).into())
        }
    }
}

fn headers(
    src: &Source<'_>,
    headers: BTreeMap<String, Spanned<String>>,
) -> Result<Vec<(HeaderName, Secret)>, Diagnostics> {
    let mut found = Diagnostics::default();
    let mut out = Vec::new();
    for (name, value) in headers {
        let at = value.span().start;
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            found.push(src.diagnostic(at, format!("\"{name}\" is not an HTTP header name")));
            continue;
        };
        match expand(value.get_ref()) {
            Ok(text) if HeaderValue::from_str(&text).is_ok() => {
                out.push((header, Secret::new(text)));
            }
            Ok(_) => found.push(src.diagnostic(
                at,
                format!("the value of header \"{name}\" has characters a header cannot carry"),
            )),
            Err(m) => found.push(src.diagnostic(at, m)),
        }
    }
    if found.is_empty() {
        Ok(out)
    } else {
        Err(found)
    }
}

/// An integer key within `min..=max`, if given.
fn count(
    src: &Source<'_>,
    key: &str,
    value: Option<Spanned<i64>>,
    min: i64,
    max: i64,
) -> Result<Option<i64>, Diagnostics> {
    match value {
        None => Ok(None),
        Some(n) if (min..=max).contains(n.get_ref()) => Ok(Some(*n.get_ref())),
        Some(n) => {
            let message = format!("{key} must be from {min} to {max}, got {}", n.get_ref());
            Err(src.diagnostic(n.span().start, message).into())
        }
    }
}

/// Splits a sub-table into its `type` and its other keys; a missing sub-table is type `none`.
fn typed<'a>(
    src: &Source<'a>,
    name: &str,
    value: Option<Spanned<DeValue<'a>>>,
) -> Result<Option<Typed<'a>>, Diagnostics> {
    let Some(value) = value else {
        return Ok(None);
    };
    let span = value.span();
    let DeValue::Table(mut table) = value.into_inner() else {
        let message = format!("\"{name}\" must be a table ([source.{name}])");
        return Err(src.diagnostic(span.start, message).into());
    };
    let Some(kind) = table.remove("type") else {
        let message = format!("missing key \"type\" in [source.{name}]");
        return Err(src.diagnostic(span.start, message).into());
    };
    let Some(text) = kind.get_ref().as_str() else {
        let message = format!("\"type\" in [source.{name}] must be a string");
        return Err(src.diagnostic(kind.span().start, message).into());
    };
    Ok(Some(Typed {
        kind: Spanned::new(kind.span(), text.to_string()),
        rest: Spanned::new(span, DeValue::Table(table)),
    }))
}

fn unknown_type(src: &Source<'_>, name: &str, kind: &Spanned<String>, known: &str) -> Diagnostics {
    let message = format!(
        "unknown {name} type \"{}\"; use one of {known}",
        kind.get_ref()
    );
    src.diagnostic(kind.span().start, message).into()
}

fn auth_spec(src: &Source<'_>, typed: Option<Typed<'_>>) -> Result<AuthSpec, Diagnostics> {
    let Some(Typed { kind, rest }) = typed else {
        return Ok(AuthSpec::None);
    };
    const SECTION: &str = "source.auth";
    match kind.get_ref().as_str() {
        "none" => src
            .deserialize::<NoKeys>(rest, SECTION)
            .map(|_| AuthSpec::None),
        "basic" => {
            let f: BasicFile = src.deserialize(rest, SECTION)?;
            let (username, password) = both(
                env_secret(src, "username_env", &f.username_env),
                env_secret(src, "password_env", &f.password_env),
            )?;
            Ok(AuthSpec::Basic { username, password })
        }
        "bearer" => {
            let f: BearerFile = src.deserialize(rest, SECTION)?;
            let token = env_secret(src, "token_env", &f.token_env)?;
            Ok(AuthSpec::Bearer { token })
        }
        "api_key" => {
            let f: ApiKeyFile = src.deserialize(rest, SECTION)?;
            let header = HeaderName::from_bytes(f.header.get_ref().as_bytes()).map_err(|_| {
                let message = format!("\"{}\" is not an HTTP header name", f.header.get_ref());
                Diagnostics::from(src.diagnostic(f.header.span().start, message))
            });
            let key = env_secret(src, "key_env", &f.key_env).and_then(|key| {
                if HeaderValue::from_str(key.expose()).is_ok() {
                    return Ok(key);
                }
                let message = format!(
                    "the value of {} has characters a header cannot carry",
                    f.key_env.get_ref()
                );
                Err(src.diagnostic(f.key_env.span().start, message).into())
            });
            let (header, key) = both(header, key)?;
            Ok(AuthSpec::ApiKey { header, key })
        }
        "oauth2" => {
            let f: OAuth2File = src.deserialize(rest, SECTION)?;
            oauth2(src, f).map(AuthSpec::OAuth2)
        }
        _ => Err(unknown_type(
            src,
            "auth",
            &kind,
            "\"basic\", \"bearer\", \"api_key\", \"oauth2\", \"none\"",
        )),
    }
}

fn oauth2(src: &Source<'_>, f: OAuth2File) -> Result<OAuth2Spec, Diagnostics> {
    let at = f.token_url.span().start;
    let token_url = expand(f.token_url.get_ref())
        .and_then(|u| check_http_url(&u).map(|()| u))
        .map_err(|m| Diagnostics::from(src.diagnostic(at, format!("token_url: {m}"))));
    let ids = both(
        env_secret(src, "client_id_env", &f.client_id_env),
        env_secret(src, "client_secret_env", &f.client_secret_env),
    );
    let (token_url, (client_id, client_secret)) = both(token_url, ids)?;
    Ok(OAuth2Spec {
        token_url,
        client_id,
        client_secret,
        scope: f.scope,
    })
}

/// Both results, or every problem of either.
fn both<A, B>(a: Result<A, Diagnostics>, b: Result<B, Diagnostics>) -> Result<(A, B), Diagnostics> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => {
            let mut found = Diagnostics::default();
            if let Err(d) = a {
                found.extend(d);
            }
            if let Err(d) = b {
                found.extend(d);
            }
            Err(found)
        }
    }
}

/// The secret held by the environment variable a `*_env` key names.
fn env_secret(src: &Source<'_>, key: &str, name: &Spanned<String>) -> Result<Secret, Diagnostics> {
    let at = name.span().start;
    let var = name.get_ref();
    if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        let message = format!("{key} must name an environment variable (letters, digits and _)");
        return Err(src.diagnostic(at, message).into());
    }
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
        _ => {
            let message = format!("the environment variable {var} ({key}) is not set or empty");
            Err(src.diagnostic(at, message).into())
        }
    }
}

fn pagination_spec(src: &Source<'_>, typed: Option<Typed<'_>>) -> Result<Pagination, Diagnostics> {
    let Some(Typed { kind, rest }) = typed else {
        return Ok(Pagination::None);
    };
    const SECTION: &str = "source.pagination";
    match kind.get_ref().as_str() {
        "none" => src
            .deserialize::<NoKeys>(rest, SECTION)
            .map(|_| Pagination::None),
        "link" => src
            .deserialize::<NoKeys>(rest, SECTION)
            .map(|_| Pagination::Link),
        "page" => {
            let f: PageFile = src.deserialize(rest, SECTION)?;
            let size = positive(src, "size", f.size)?;
            Ok(Pagination::Page {
                param: f.param.unwrap_or_else(|| "page".into()),
                start: f.start.unwrap_or(1),
                size: size.map(|n| (f.size_param.unwrap_or_else(|| "size".into()), n)),
            })
        }
        "offset" => {
            let f: OffsetFile = src.deserialize(rest, SECTION)?;
            Ok(Pagination::Offset {
                offset_param: f.offset_param.unwrap_or_else(|| "offset".into()),
                limit_param: f.limit_param.unwrap_or_else(|| "limit".into()),
                limit: positive(src, "limit", f.limit)?.unwrap_or(DEFAULT_LIMIT),
            })
        }
        "cursor" => {
            let f: CursorFile = src.deserialize(rest, SECTION)?;
            if !f.next.get_ref().starts_with('/') {
                let message = "next must be a JSON Pointer to the next cursor in the body, \
                               e.g. \"/next_cursor\" or \"/paging/next\"";
                return Err(src.diagnostic(f.next.span().start, message).into());
            }
            Ok(Pagination::Cursor {
                param: f.param.unwrap_or_else(|| "cursor".into()),
                next: f.next.into_inner(),
            })
        }
        _ => Err(unknown_type(
            src,
            "pagination",
            &kind,
            "\"page\", \"offset\", \"cursor\", \"link\", \"none\"",
        )),
    }
}

fn positive(
    src: &Source<'_>,
    key: &str,
    value: Option<Spanned<u64>>,
) -> Result<Option<u64>, Diagnostics> {
    match value {
        Some(n) if *n.get_ref() == 0 => Err(src
            .diagnostic(n.span().start, format!("{key} must be at least 1"))
            .into()),
        other => Ok(other.map(Spanned::into_inner)),
    }
}

fn watermark_spec(
    src: &Source<'_>,
    w: WatermarkFile,
    pagination: &Pagination,
) -> Result<WatermarkSpec, Diagnostics> {
    match (w.field, w.param, w.from) {
        (None, None, Some(from)) if from.get_ref() == "cursor" => {
            if matches!(pagination, Pagination::Cursor { .. }) {
                return Ok(WatermarkSpec::Cursor { initial: w.initial });
            }
            let message = "from = \"cursor\" needs [source.pagination] type = \"cursor\"";
            Err(src.diagnostic(from.span().start, message).into())
        }
        (_, _, Some(from)) => {
            let message = "from must be \"cursor\", alone: or give field and param instead";
            Err(src.diagnostic(from.span().start, message).into())
        }
        (Some(field), Some(param), None) if !field.get_ref().is_empty() => {
            Ok(WatermarkSpec::Field {
                field: field.into_inner(),
                param: param.into_inner(),
                initial: w.initial,
            })
        }
        (field, _, None) => {
            let at = field.map_or(0, |f| f.span().start);
            let message = "[source.watermark] needs field (the record field whose largest value \
                           is kept) and param (the query parameter it is sent in), \
                           or from = \"cursor\"";
            Err(src.diagnostic(at, message).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::connector::SourceSpec;

    fn load(source: &str) -> Result<HttpPollSpec, String> {
        crate::config::load::load_test_source(
            "mall",
            "http_poll",
            source,
            "[format]\ntype = \"json\"\n",
        )
        .map(|s| match s {
            SourceSpec::HttpPoll(spec) => *spec,
            other => panic!("not a http_poll source: {other:?}"),
        })
    }

    #[test]
    fn defaults_and_sub_tables() {
        let home = std::env::var("HOME").unwrap();
        let spec = load(
            "url = \"http://127.0.0.1:8080/orders\"\ninterval = \"1m\"\n\
             [source.auth]\ntype = \"oauth2\"\ntoken_url = \"http://127.0.0.1:8080/token\"\n\
             client_id_env = \"PATH\"\nclient_secret_env = \"HOME\"\n\
             [source.pagination]\ntype = \"cursor\"\nnext = \"/next\"\n\
             [source.watermark]\nfield = \"updated_at\"\nparam = \"updated_since\"",
        )
        .unwrap();
        assert_eq!(spec.method, Method::GET);
        assert_eq!(spec.timeout, Duration::from_secs(30));
        assert_eq!((spec.retries, spec.max_in_flight), (5, 1));
        assert_eq!(spec.max_body, 32 * 1024 * 1024);
        assert_eq!(spec.rate_limit, None);
        let AuthSpec::OAuth2(oauth) = &spec.auth else {
            panic!("oauth2")
        };
        assert_eq!(oauth.client_secret.expose(), home);
        assert!(!format!("{spec:?}").contains(&home));
        assert_eq!(
            spec.pagination,
            Pagination::Cursor {
                param: "cursor".into(),
                next: "/next".into()
            }
        );
        assert!(matches!(spec.watermark, Some(WatermarkSpec::Field { .. })));
    }

    #[test]
    fn problems_are_reported_at_their_keys() {
        let err = load(
            "url = \"https://mall.example/orders\"\ninterval = \"1m\"\ncron = \"* * * * *\"\n\
             retries = -1\n[source.pagination]\ntype = \"page\"\nsise = 10",
        )
        .unwrap_err();
        assert!(
            err.contains("mall.toml:5:7") && err.contains("no TLS"),
            "{err}"
        );
        assert!(err.contains("interval or cron, not both"), "{err}");
        assert!(err.contains("retries must be from 0 to 100"), "{err}");
        assert!(err.contains("did you mean \"size\""), "{err}");
        let err = load(
            "url = \"http://h/o\"\ninterval = \"1m\"\n[source.auth]\ntype = \"bearer\"\n\
             token_env = \"OMNIBUS_SPEC_TEST_UNSET\"\n[source.watermark]\nfrom = \"cursor\"",
        )
        .unwrap_err();
        assert!(
            err.contains("OMNIBUS_SPEC_TEST_UNSET (token_env) is not set"),
            "{err}"
        );
        assert!(
            err.contains("needs [source.pagination] type = \"cursor\""),
            "{err}"
        );
        let err = load("url = \"http://h/o\"").unwrap_err();
        assert!(err.contains("needs a schedule"), "{err}");
        let err = load("url = \"http://h/o\"\ninterval = \"1m\"\n[source.auth]\ntype = \"digest\"")
            .unwrap_err();
        assert!(err.contains("unknown auth type \"digest\""), "{err}");
    }

    #[test]
    fn page_offset_api_key_and_cron() {
        let spec = load(
            "url = \"http://h/o\"\ncron = \"0 * * * *\"\ntimezone = \"Asia/Shanghai\"\n\
             method = \"post\"\nrate_limit = 2\nmax_in_flight = 4\nmax_body = 1024\n\
             [source.auth]\ntype = \"api_key\"\nheader = \"X-Key\"\nkey_env = \"HOME\"\n\
             [source.pagination]\ntype = \"page\"\nstart = 0\nsize = 50",
        )
        .unwrap();
        assert_eq!(spec.method, Method::POST);
        assert_eq!(spec.rate_limit.map(NonZeroU32::get), Some(2));
        assert_eq!((spec.max_in_flight, spec.max_body), (4, 1024));
        assert!(matches!(spec.schedule, Schedule::Cron { .. }));
        assert!(matches!(spec.auth, AuthSpec::ApiKey { .. }));
        assert_eq!(
            spec.pagination,
            Pagination::Page {
                param: "page".into(),
                start: 0,
                size: Some(("size".into(), 50))
            }
        );
        let spec = load(
            "url = \"http://h/o\"\ninterval = \"10s\"\n\
             [source.pagination]\ntype = \"offset\"\n[source.watermark]\nfrom = \"cursor\"",
        )
        .unwrap_err();
        assert!(
            spec.contains("needs [source.pagination] type = \"cursor\""),
            "{spec}"
        );
        let spec = load(
            "url = \"http://h/o\"\ninterval = \"10s\"\n[source.pagination]\ntype = \"offset\"",
        )
        .unwrap();
        assert_eq!(
            spec.pagination,
            Pagination::Offset {
                offset_param: "offset".into(),
                limit_param: "limit".into(),
                limit: 100
            }
        );
    }
}
