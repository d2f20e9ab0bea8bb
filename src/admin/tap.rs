//! `GET /api/tap`: the live tap as NDJSON — one sample per line as connectors produce it, a
//! `{"skipped": n}` line when the reader fell behind — until `limit` samples, the client leaving,
//! or the hub stopping.

use super::{Admin, error};
use crate::connector::tap::{Stage, Subscription, Tapped};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::convert::Infallible;

/// Samples sent when the request names no `limit`.
pub const DEFAULT_TAP_LIMIT: u64 = 100;
/// The largest `limit` a request may ask for.
pub const MAX_TAP_LIMIT: u64 = 10_000;

/// The query of `GET /api/tap`, as text: each value is checked here so that a bad one gets a
/// JSON error saying what to send.
#[derive(Debug, serde::Deserialize)]
pub(super) struct TapQuery {
    connector: Option<String>,
    stage: Option<String>,
    limit: Option<String>,
}

/// What a valid query asks for.
struct Request {
    connector: Option<String>,
    stage: Stage,
    limit: u64,
}

pub(super) async fn tap(State(admin): State<Admin>, Query(query): Query<TapQuery>) -> Response {
    let request = match parse(query) {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if let Some(id) = &request.connector
        && !admin.connectors.borrow().iter().any(|spec| spec.id == *id)
    {
        return error(StatusCode::NOT_FOUND, &format!("no connector \"{id}\""));
    }
    let subscription = admin
        .tap
        .subscribe(request.connector.as_deref(), request.stage);
    let lines = futures_util::stream::unfold((subscription, request.limit), next_line);
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(lines),
    )
        .into_response()
}

fn parse(query: TapQuery) -> Result<Request, String> {
    let stage = match query.stage.as_deref() {
        None => Stage::Mapped,
        Some(name) => Stage::parse(name).ok_or_else(|| {
            let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown stage \"{name}\": use one of {}", names.join(", "))
        })?,
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_TAP_LIMIT,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_TAP_LIMIT).contains(n))
            .ok_or_else(|| format!("limit \"{text}\": send a number from 1 to {MAX_TAP_LIMIT}"))?,
    };
    Ok(Request {
        connector: query.connector,
        stage,
        limit,
    })
}

/// The next line for a reader with `left` samples to go; `None` ends the answer.
async fn next_line(
    (mut subscription, left): (Subscription, u64),
) -> Option<(Result<Bytes, Infallible>, (Subscription, u64))> {
    if left == 0 {
        return None;
    }
    let (line, left) = match subscription.next().await? {
        Tapped::Sample(sample) => (format!("{}\n", sample.line), left - 1),
        Tapped::Skipped(n) => (format!("{{\"skipped\":{n}}}\n"), left),
    };
    Some((Ok(Bytes::from(line)), (subscription, left)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(stage: Option<&str>, limit: Option<&str>) -> Result<Request, String> {
        parse(TapQuery {
            connector: None,
            stage: stage.map(str::to_string),
            limit: limit.map(str::to_string),
        })
    }

    #[test]
    fn mapped_and_a_hundred_unless_asked_otherwise() {
        let request = query(None, None).expect("valid");
        assert_eq!(
            (request.stage, request.limit),
            (Stage::Mapped, DEFAULT_TAP_LIMIT)
        );
        let request = query(Some("decoded"), Some("2")).expect("valid");
        assert_eq!((request.stage, request.limit), (Stage::Decoded, 2));
    }

    #[test]
    fn a_bad_stage_or_limit_says_what_to_send() {
        let stage = query(Some("raw"), None).err().expect("refused");
        assert!(stage.contains("decoded, mapped, published"), "{stage}");
        for limit in ["0", "10001", "many"] {
            let refusal = query(None, Some(limit)).err().expect("refused");
            assert!(refusal.contains("1 to 10000"), "{refusal}");
        }
    }
}
