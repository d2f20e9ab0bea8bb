//! The status page (`GET /`) and the dead-letter list page (`GET /dead-letters`): HTML rendered
//! on the server with minijinja from the templates beside this file, no external assets. The
//! status page's script fetches `/?part=live` (the broker panel, the dead-letter counts and the
//! connector rows, rendered by the same template) every few seconds and swaps it in.
//!
//! A connector row shows the badges: `failing` when the connector is backing off or its last
//! error is [`RECENT`] or newer than its last success; `late` when its view has a non-null `late`
//! field; `paused` when it is paused.

use super::dead_letters::{self, DEFAULT_LIMIT, ListQuery};
use super::{Admin, ConnectorView, readiness};
use crate::ops::time;
use crate::state::dead_letters::Filter;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior, context};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An error this recent marks its connector failing, even after a later success.
pub const RECENT: Duration = Duration::from_secs(15 * 60);
/// How often the status page refreshes itself.
const REFRESH: Duration = Duration::from_secs(3);

const STYLE: &str = include_str!("style.css");
const TEMPLATES: [(&str, &str); 3] = [
    ("status.html", include_str!("status.html")),
    ("live.html", include_str!("live.html")),
    ("dead_letters.html", include_str!("dead_letters.html")),
];

/// `GET /`'s query: `part=live` asks for the live part only.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    part: Option<String>,
}

/// One connector row: its view (with whatever fields it has) and what the page derives from it.
#[derive(Debug, Serialize)]
struct Row {
    c: serde_json::Value,
    failing: bool,
    paused: bool,
    /// The last success as a time ago (`never` without one).
    last_success: String,
}

impl Row {
    fn of(view: &ConnectorView, now: DateTime<Utc>) -> Self {
        let c = serde_json::to_value(view).unwrap_or_default();
        let success = view.last_success.as_deref().and_then(parse);
        let error = view.last_error.as_ref().and_then(|e| parse(&e.at));
        let recent = chrono::Duration::from_std(RECENT).unwrap_or_default();
        let failing = view.state == "backing_off"
            || error.is_some_and(|e| success.is_none_or(|s| e > s) || now - e < recent);
        Self {
            paused: view.state == "paused",
            failing,
            last_success: success.map_or_else(|| "never".to_string(), |s| ago(now - s)),
            c,
        }
    }
}

fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`.
fn ago(elapsed: chrono::Duration) -> String {
    let secs = elapsed.num_seconds().max(0);
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86400 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86400),
    }
}

fn render(name: &str, ctx: minijinja::Value) -> Response {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    let rendered = TEMPLATES
        .iter()
        .try_for_each(|(n, source)| env.add_template(n, source))
        .and_then(|()| env.get_template(name)?.render(ctx));
    match rendered {
        Ok(html) => Html(html).into_response(),
        Err(e) => super::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /`: the status page, or with `?part=live` its live part.
pub async fn status(State(admin): State<Admin>, Query(query): Query<PageQuery>) -> Response {
    let now = Utc::now();
    let rows: Vec<Row> = super::views(&admin)
        .await
        .iter()
        .map(|v| Row::of(v, now))
        .collect();
    let (_, readiness) = readiness(&admin);
    let checks = &readiness["checks"];
    let counts = match dead_letters::letters(&admin.store, Filter::default(), 0).await {
        Ok(counts) => counts,
        Err(e) => return super::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let name = match query.part.as_deref() {
        Some("live") => "live.html",
        _ => "status.html",
    };
    render(
        name,
        context! {
            style => STYLE,
            now => time(now.timestamp()),
            refresh_ms => u64::try_from(REFRESH.as_millis()).unwrap_or(u64::MAX),
            rows => Serde(rows),
            broker => Serde(&checks["broker"]),
            store_ok => Serde(&checks["state_store"]["ok"]),
            dead_letters => Serde(counts),
        },
    )
}

/// `GET /dead-letters`: the letters a filter (the query, as `GET /api/dead-letters` takes it)
/// selects.
pub async fn letters(State(admin): State<Admin>, Query(query): Query<ListQuery>) -> Response {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let (list, problem) = match query.selection.filter() {
        Ok(filter) => match dead_letters::letters(&admin.store, filter, limit).await {
            Ok(list) => (Some(list), None),
            Err(e) => (None, Some(e.to_string())),
        },
        Err(problem) => (None, Some(problem)),
    };
    let times: Vec<String> = list
        .iter()
        .flat_map(|l| &l.dead_letters)
        .map(|l| time(l.last_at))
        .collect();
    render(
        "dead_letters.html",
        context! {
            style => STYLE,
            query => Serde(&query.selection),
            list => Serde(list),
            times,
            problem,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::view::ErrorView;

    fn view(state: &str, success: Option<&str>, error: Option<&str>) -> ConnectorView {
        ConnectorView {
            last_success: success.map(str::to_string),
            last_error: error.map(|at| ErrorView {
                at: at.into(),
                message: "wrong.csv: no column receipt".into(),
            }),
            ..ConnectorView::blank("pos", state)
        }
    }

    #[test]
    fn a_connector_is_failing_when_backing_off_or_its_error_is_recent_or_newest() {
        let now = parse("2024-03-01T12:00:00Z").expect("time");
        let ok = Row::of(&view("idle", Some("2024-03-01T11:59:00Z"), None), now);
        assert!(!ok.failing && !ok.paused);
        assert_eq!(ok.last_success, "1 min ago");
        let old_error = view(
            "idle",
            Some("2024-03-01T11:59:00Z"),
            Some("2024-03-01T10:00:00Z"),
        );
        assert!(!Row::of(&old_error, now).failing);
        let recent_error = view(
            "idle",
            Some("2024-03-01T11:59:00Z"),
            Some("2024-03-01T11:58:59Z"),
        );
        assert!(Row::of(&recent_error, now).failing);
        let newest_error = view(
            "idle",
            Some("2024-03-01T09:00:00Z"),
            Some("2024-03-01T10:00:00Z"),
        );
        assert!(Row::of(&newest_error, now).failing);
        assert!(Row::of(&view("backing_off", None, None), now).failing);
        let paused = Row::of(&view("paused", None, None), now);
        assert!(paused.paused && !paused.failing);
        assert_eq!(paused.last_success, "never");
    }

    #[tokio::test]
    async fn the_live_part_renders_rows_badges_and_dashes_for_missing_fields() {
        let now = parse("2024-03-01T12:00:00Z").expect("time");
        let mut failing =
            serde_json::to_value(Row::of(&view("backing_off", None, None), now)).expect("row");
        failing["c"]["recent"] = serde_json::json!({"out_per_min": 12, "failed_last_hour": 0});
        failing["c"]["late"] = serde_json::json!({"since": "x", "expected": "daily by 06:00"});
        if let Some(c) = failing["c"].as_object_mut() {
            c.remove("outbox_depth");
        }
        let response = render(
            "live.html",
            context! {
                rows => Serde(vec![failing]),
                broker => Serde(serde_json::json!({"ok": true, "state": "connected"})),
                store_ok => true,
                dead_letters => Serde(serde_json::json!({"counts": {"pos": 2}, "total": 2})),
            },
        );
        assert_eq!(response.status(), StatusCode::OK);
        let html = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let html = String::from_utf8_lossy(&html);
        assert!(html.contains("badge failing"), "{html}");
        assert!(html.contains("badge late"), "{html}");
        assert!(html.contains(">12<"), "out per minute: {html}");
        assert!(
            html.contains(">–<"),
            "a dash for the missing outbox depth: {html}"
        );
        assert!(
            html.contains("href=\"/dead-letters?connector=pos\">pos</a>: 2"),
            "{html}"
        );
    }
}
