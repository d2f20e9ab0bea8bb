//! One webhook request, from arrival to answer: saturation, body limit, authentication, content
//! type, then ingesting the body and turning its tally into the HTTP status the sender acts on.

use super::Endpoint;
use super::auth::AuthError;
use super::spec::ContentKind;
use crate::config::connector::FormatSpec;
use crate::connector::meta::Meta;
use crate::connector::tally::Tally;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Seconds a saturated connector asks the sender to wait.
const RETRY_BUSY: &str = "1";
/// Seconds a sender waits when its events could not be settled (the hub is stopping).
const RETRY_UNSETTLED: &str = "5";
/// Longest a sender may take to send its body; a slower one is answered 408 and frees its slot.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest idempotency key used in a message name; a longer one is replaced by the body's hash.
const MAX_KEY_LEN: usize = 200;

/// Why a request was answered before its body was ingested.
enum Refusal {
    NotPost,
    Busy,
    TooLarge(usize),
    TooSlow,
    Unreadable(String),
    Auth(AuthError),
    Unsupported(String),
}

impl Endpoint {
    /// Answers one request to the connector's path.
    pub(super) async fn handle(&self, request: Request) -> Response {
        let (response, refused) = match self.take(request).await {
            Ok(response) => response,
            Err(refusal) => {
                let reason = refusal.reason();
                (refusal.into_response(), Some(reason))
            }
        };
        match refused {
            None => self.pipeline.status.success(),
            Some(reason) => self.pipeline.status.error(&reason),
        }
        response
    }

    /// Checks and ingests a request; the answer and, when refused, why.
    async fn take(&self, request: Request) -> Result<(Response, Option<String>), Refusal> {
        if request.method() != Method::POST {
            return Err(Refusal::NotPost);
        }
        let _slot = self.slots.try_acquire().map_err(|_| Refusal::Busy)?;
        let (parts, body) = request.into_parts();
        let body = read_limited(&parts.headers, body, self.source.max_body);
        let body = tokio::time::timeout(BODY_TIMEOUT, body)
            .await
            .map_err(|_| Refusal::TooSlow)??;
        if let Err(e) = self.source.auth.check(&parts.headers, &body) {
            tracing::warn!(connector = %self.pipeline.spec.id, path = %self.source.path, reason = %e, "webhook refused");
            return Err(Refusal::Auth(e));
        }
        let (kind, content_type) = self.content_kind(&parts.headers)?;
        let key = self.idempotency_key(&parts.headers, &body);
        let name: Arc<str> = format!("http:{}/{key}", self.source.path).into();
        let meta = Meta::default()
            .with("path", self.source.path.as_str())
            .with("idempotency_key", key)
            .with("content_type", content_type);
        let body = match kind {
            ContentKind::Form => form_to_json(&body),
            _ => body,
        };
        let job = self.pipeline.ingest(&self.cancel);
        Ok(match job.message(Arc::clone(&name), body, meta).await {
            Ok(tally) => answer(&tally),
            Err(e) => {
                tracing::warn!(connector = %self.pipeline.spec.id, message = %name, error = %e, "webhook not settled; the sender is asked to retry");
                let reason = format!("{name}: not settled ({e})");
                let body = json!({"error": "the events could not be settled; retry later"});
                let response =
                    with_retry_after(StatusCode::SERVICE_UNAVAILABLE, body, RETRY_UNSETTLED);
                (response, Some(reason))
            }
        })
    }

    /// The request's kind of content, when the connector accepts it, and its `Content-Type`.
    fn content_kind(&self, headers: &HeaderMap) -> Result<(ContentKind, String), Refusal> {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let accepted = self.source.content_types.as_slice();
        let kind = ContentKind::of(content_type).filter(|k| accepted.contains(k));
        let form_readable = matches!(self.pipeline.spec.format, Some(FormatSpec::Json(_)));
        match kind {
            Some(ContentKind::Form) if !form_readable => Err(Refusal::Unsupported(
                "form bodies are read as JSON, but this connector's [format] is not json".into(),
            )),
            Some(kind) => Ok((kind, content_type.to_string())),
            None => Err(Refusal::Unsupported(format!(
                "Content-Type \"{content_type}\" is not accepted; send one of: {}",
                accepted
                    .iter()
                    .map(|k| k.media_type())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The delivery's idempotency key: the configured header's value, or the BLAKE3 of the body.
    fn idempotency_key(&self, headers: &HeaderMap, body: &[u8]) -> String {
        let given = self
            .source
            .idempotency_header
            .as_ref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN);
        match given {
            Some(key) => key.to_string(),
            None => format!("blake3-{}", &blake3::hash(body).to_hex()[..16]),
        }
    }
}

impl ContentKind {
    /// The media type a sender should use for this kind.
    fn media_type(self) -> &'static str {
        match self {
            ContentKind::Json => "application/json",
            ContentKind::Xml => "application/xml",
            ContentKind::Csv => "text/csv",
            ContentKind::Form => "application/x-www-form-urlencoded",
        }
    }
}

impl Refusal {
    /// Why, for the connector's status.
    fn reason(&self) -> String {
        match self {
            Refusal::NotPost => "a request that is not a POST".into(),
            Refusal::Busy => "saturated: max_in_flight requests in flight".into(),
            Refusal::TooLarge(max) => format!("a body over max_body ({max} bytes)"),
            Refusal::TooSlow => format!("a body not sent within {}s", BODY_TIMEOUT.as_secs()),
            Refusal::Unreadable(e) => format!("an unreadable body: {e}"),
            Refusal::Auth(e) => format!("refused: {e}"),
            Refusal::Unsupported(e) => e.clone(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let reason = self.reason();
        match self {
            Refusal::NotPost => {
                let body = axum::Json(json!({"error": "webhooks are sent with POST"}));
                (StatusCode::METHOD_NOT_ALLOWED, [(ALLOW, "POST")], body).into_response()
            }
            Refusal::Busy => with_retry_after(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "too many webhooks in flight; retry later"}),
                RETRY_BUSY,
            ),
            Refusal::TooLarge(max) => {
                let body = json!({"error": "the body is too large", "max_body": max});
                (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
            }
            Refusal::TooSlow => error(StatusCode::REQUEST_TIMEOUT, &reason),
            Refusal::Unreadable(_) => error(StatusCode::BAD_REQUEST, &reason),
            Refusal::Auth(e @ AuthError::Missing(_)) => {
                error(StatusCode::UNAUTHORIZED, &e.to_string())
            }
            Refusal::Auth(e) => error(StatusCode::FORBIDDEN, &e.to_string()),
            Refusal::Unsupported(e) => error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &e),
        }
    }
}

fn error(status: StatusCode, reason: &str) -> Response {
    (status, axum::Json(json!({"error": reason}))).into_response()
}

fn with_retry_after(status: StatusCode, body: Value, seconds: &'static str) -> Response {
    (status, [(RETRY_AFTER, seconds)], axum::Json(body)).into_response()
}

/// The answer to an ingested body, with the reason when it was not taken whole.
fn answer(tally: &Tally) -> (Response, Option<String>) {
    let accepted = tally.published + tally.duplicates + tally.filtered;
    if let Some(reason) = &tally.refused {
        let body = json!({"error": "the body could not be decoded; it was dead-lettered", "reason": reason});
        let response = (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        return (response, Some(format!("undecodable body: {reason}")));
    }
    if tally.failed > 0 {
        let reasons: Vec<Value> = tally
            .failures()
            .iter()
            .map(|(record, reason)| json!({"record": record, "reason": reason}))
            .collect();
        let body = json!({
            "error": "some records could not be mapped; they were dead-lettered",
            "accepted": accepted,
            "failed": tally.failed,
            "reasons": reasons,
        });
        let response = (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
        return (
            response,
            Some(format!("{} record(s) dead-lettered", tally.failed)),
        );
    }
    let body = json!({
        "accepted": accepted,
        "published": tally.published,
        "duplicates": tally.duplicates,
        "filtered": tally.filtered,
    });
    ((StatusCode::OK, axum::Json(body)).into_response(), None)
}

/// Reads the body, refusing it as soon as it passes `max` bytes (never buffering more).
async fn read_limited(headers: &HeaderMap, body: Body, max: usize) -> Result<Bytes, Refusal> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Refusal::TooLarge(max));
    }
    let mut stream = body.into_data_stream();
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Refusal::Unreadable(e.to_string()))?;
        if out.len() + chunk.len() > max {
            return Err(Refusal::TooLarge(max));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// A form body as one JSON object of strings; a name given more than once becomes an array of its
/// values, in order.
fn form_to_json(body: &[u8]) -> Bytes {
    let mut object = serde_json::Map::new();
    for (name, value) in form_urlencoded::parse(body) {
        let value = Value::String(value.into_owned());
        match object.get_mut(name.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                object.insert(name.into_owned(), value);
            }
        }
    }
    Bytes::from(Value::Object(object).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_one_json_object() {
        let json = form_to_json(b"order=1001&sku=A%2F1&sku=B+2&note=");
        let value: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            value,
            json!({"order": "1001", "sku": ["A/1", "B 2"], "note": ""})
        );
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let ok = read_limited(&HeaderMap::new(), Body::from("12345"), 5).await;
        assert_eq!(ok.ok().as_deref(), Some(&b"12345"[..]));
        let over = read_limited(&HeaderMap::new(), Body::from("123456"), 5).await;
        assert!(matches!(over, Err(Refusal::TooLarge(5))));
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "10".parse().unwrap());
        let early = read_limited(&declared, Body::empty(), 5).await;
        assert!(matches!(early, Err(Refusal::TooLarge(5))));
    }
}
