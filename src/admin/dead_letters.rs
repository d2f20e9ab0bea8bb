//! The dead-letter endpoints: `GET /api/dead-letters` (the letters a filter selects and their
//! counts per connector), `GET /api/dead-letters/{id}` (one letter with its raw record) and
//! `POST /api/dead-letters/replay` (replays selected letters inside the running hub). Filters are
//! those of `omnibus dlq` ([`Filter`]).

use super::{Admin, answer, error};
use crate::hub::Command;
use crate::ops::dlq;
use crate::state::dead_letters::{self, Filter, Letter};
use crate::state::{Store, StoreError};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Letters a list returns unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u64 = 100;

/// Which letters a request selects; every condition given must hold (empty values are ignored,
/// as an HTML form sends them).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Selection {
    pub connector: Option<String>,
    /// An RFC 3339 time, or a duration (`2h`, `30min`) meaning that long ago.
    pub since: Option<String>,
    /// `decode`, `map`, `validate` or `encode`.
    pub stage: Option<String>,
    /// Text the error contains (ignoring ASCII case).
    pub error: Option<String>,
    /// `open` (the default), `replayed` or `all`.
    pub status: Option<String>,
}

impl Selection {
    /// The filter of this selection; an explanation when a value is not understood.
    pub fn filter(&self) -> Result<Filter, String> {
        let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        Ok(Filter {
            connector: given(&self.connector),
            since: given(&self.since)
                .map(|s| dlq::parse_since(&s))
                .transpose()?,
            stage: given(&self.stage),
            error: given(&self.error),
            status: given(&self.status)
                .map(|s| s.parse())
                .transpose()?
                .unwrap_or_default(),
            ..Filter::default()
        })
    }
}

/// `GET /api/dead-letters`'s query: a selection and how many letters at most.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    #[serde(flatten)]
    pub selection: Selection,
    pub limit: Option<u64>,
}

/// The letters a selection lists (oldest first, at most its limit), how many it selects per
/// connector, and in all.
#[derive(Debug, Clone, Serialize)]
pub struct LetterList {
    pub dead_letters: Vec<Letter>,
    pub counts: BTreeMap<String, u64>,
    pub total: u64,
}

/// Reads the letters `filter` selects (at most `limit`) and the counts of all it selects.
pub async fn letters(store: &Store, filter: Filter, limit: u64) -> Result<LetterList, StoreError> {
    store
        .read(move |c| {
            let counts: BTreeMap<String, u64> =
                dead_letters::counts(c, &filter)?.into_iter().collect();
            let page = Filter {
                limit: Some(limit),
                ..filter
            };
            Ok(LetterList {
                dead_letters: dead_letters::list(c, &page)?,
                total: counts.values().sum(),
                counts,
            })
        })
        .await
}

/// `GET /api/dead-letters`.
pub async fn list(State(admin): State<Admin>, Query(query): Query<ListQuery>) -> Response {
    let filter = match query.selection.filter() {
        Ok(filter) => filter,
        Err(problem) => return error(StatusCode::BAD_REQUEST, &problem),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    match letters(&admin.store, filter, limit).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /api/dead-letters/{id}`: the letter, its raw record as text (`null` when it is not
/// UTF-8) and as base64.
pub async fn show(State(admin): State<Admin>, Path(id): Path<i64>) -> Response {
    let letter = match admin.store.read(move |c| dead_letters::get(c, id)).await {
        Ok(Some(letter)) => letter,
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no dead letter #{id}")),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    Json(with_raw(&letter)).into_response()
}

fn with_raw(letter: &Letter) -> serde_json::Value {
    let mut json = serde_json::to_value(letter).unwrap_or_default();
    if let Some(fields) = json.as_object_mut() {
        let text = std::str::from_utf8(&letter.raw).ok();
        fields.insert("raw".into(), text.into());
        let base64 = base64::engine::general_purpose::STANDARD.encode(&letter.raw);
        fields.insert("raw_base64".into(), base64.into());
    }
    json
}

/// `POST /api/dead-letters/replay`'s body: letters by id, or by selection (or both: every
/// condition holds).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReplayRequest {
    #[serde(default)]
    pub ids: Vec<i64>,
    #[serde(flatten)]
    pub selection: Selection,
    /// Replay letters past `[delivery] replay_max_attempts` too.
    #[serde(default)]
    pub force: bool,
    /// Map the letters, publish nothing, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /api/dead-letters/replay`: what was replayed, failed again or skipped.
pub async fn replay(
    State(admin): State<Admin>,
    body: Result<Json<ReplayRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    let filter = match request.selection.filter() {
        Ok(filter) => Filter {
            ids: request.ids,
            ..filter
        },
        Err(problem) => return error(StatusCode::BAD_REQUEST, &problem),
    };
    let command = Command::Replay {
        filter,
        force: request.force,
        dry_run: request.dry_run,
    };
    answer(admin.control.send(command).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_ignores_empty_values_and_explains_bad_ones() {
        let form = Selection {
            connector: Some(String::new()),
            stage: Some("map".into()),
            status: Some("all".into()),
            ..Selection::default()
        };
        let filter = form.filter().expect("filter");
        assert_eq!(filter.connector, None);
        assert_eq!(filter.stage.as_deref(), Some("map"));
        assert_eq!(filter.status, dead_letters::StatusFilter::All);
        let bad = Selection {
            since: Some("yesterday".into()),
            ..Selection::default()
        };
        assert!(bad.filter().unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn a_shown_letter_carries_its_raw_record_as_text_and_base64() {
        let letter = Letter {
            id: 7,
            message_id: String::new(),
            connector: "pos".into(),
            file: "a.csv".into(),
            line: 2,
            offset: 4,
            locator: None,
            stage: "map".into(),
            error: "bad".into(),
            raw: b"R1,\n".to_vec(),
            decoded: None,
            mapping: None,
            mapping_version: None,
            attempts: 1,
            first_at: 0,
            last_at: 0,
            status: dead_letters::Status::Open,
        };
        let json = with_raw(&letter);
        assert_eq!(json["raw"], "R1,\n");
        assert_eq!(json["raw_base64"], "UjEsCg==");
        let binary = Letter {
            raw: vec![0xff],
            ..letter
        };
        assert_eq!(with_raw(&binary)["raw"], serde_json::Value::Null);
    }
}
