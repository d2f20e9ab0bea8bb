//! Talking to a running hub's admin API from the command line: `omnibus status` (the connectors
//! as a table, read from `GET /api/connectors`, the same states the status page shows), and the
//! requests of `omnibus connectors pause|resume|poll-now` and `omnibus reload`.

use crate::admin::{ConnectorView, TOKEN_ENV};

/// Why the hub's state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(
        "cannot reach the hub's admin API at {url}: {reason} (is the hub running? [admin] listen in the hub file, or --admin URL)"
    )]
    Unreachable { url: String, reason: String },
    #[error("the admin API at {url} answered what is not a connector list: {reason}")]
    Unreadable { url: String, reason: String },
    #[error("the admin API at {url} answered {status}: {body}")]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
}

#[derive(serde::Deserialize)]
struct Listing {
    connectors: Vec<ConnectorView>,
}

/// The admin API's base URL for a `[admin] listen` address: an address listening on every
/// interface is asked on loopback.
pub fn base_url(listen: &str) -> String {
    let listen = listen
        .strip_prefix("0.0.0.0:")
        .map(|port| format!("127.0.0.1:{port}"))
        .or_else(|| {
            listen
                .strip_prefix("[::]:")
                .map(|port| format!("[::1]:{port}"))
        })
        .unwrap_or_else(|| listen.to_string());
    format!("http://{listen}")
}

/// Reads every connector's state from the admin API at `base` (sending the token in
/// [`TOKEN_ENV`], when set).
pub async fn fetch(base: &str) -> Result<Vec<ConnectorView>, StatusError> {
    let url = format!("{}/api/connectors", base.trim_end_matches('/'));
    let body = send(reqwest::Client::new().get(&url), &url).await?;
    let listing: Listing = serde_json::from_slice(&body).map_err(|e| StatusError::Unreadable {
        url: url.clone(),
        reason: e.to_string(),
    })?;
    Ok(listing.connectors)
}

/// POSTs to `path` of the admin API at `base`; its JSON answer.
pub async fn post(base: &str, path: &str) -> Result<serde_json::Value, StatusError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let body = send(reqwest::Client::new().post(&url), &url).await?;
    serde_json::from_slice(&body).map_err(|e| StatusError::Unreadable {
        url,
        reason: e.to_string(),
    })
}

/// Sends `request` (with the token in [`TOKEN_ENV`], when set); the body of a 2xx answer.
async fn send(request: reqwest::RequestBuilder, url: &str) -> Result<bytes::Bytes, StatusError> {
    let response = answer(request, url).await?;
    response.bytes().await.map_err(|e| unreachable(url, e))
}

/// Sends `request` (with the token in [`TOKEN_ENV`], when set); a 2xx answer, its body unread.
pub(super) async fn answer(
    mut request: reqwest::RequestBuilder,
    url: &str,
) -> Result<reqwest::Response, StatusError> {
    if let Some(token) = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()) {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| unreachable(url, e))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.unwrap_or_default();
        return Err(StatusError::Refused {
            url: url.to_string(),
            status: status.as_u16(),
            body: refusal(&body),
        });
    }
    Ok(response)
}

/// The admin API at `url` could not be reached, or stopped answering.
pub(super) fn unreachable(url: &str, e: reqwest::Error) -> StatusError {
    StatusError::Unreachable {
        url: url.to_string(),
        reason: e.to_string(),
    }
}

/// An error answer as text: its `error` and each of its `problems` on a line, or the body as is.
fn refusal(body: &[u8]) -> String {
    let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::from_utf8_lossy(body).into_owned();
    };
    let mut text = answer["error"].as_str().unwrap_or_default().to_string();
    for problem in answer["problems"].as_array().into_iter().flatten() {
        text.push_str("\n  ");
        text.push_str(problem.as_str().unwrap_or_default());
    }
    text
}

/// The connectors as an aligned table, the status page's columns: id, system, source, state, last
/// success, events out per minute, records failed in the last hour, outbox depth, last error.
pub fn table(connectors: &[ConnectorView]) -> String {
    let headers = [
        "CONNECTOR",
        "SYSTEM",
        "SOURCE",
        "STATE",
        "LAST SUCCESS",
        "OUT/MIN",
        "ERRORS/1H",
        "OUTBOX",
        "LAST ERROR",
    ];
    let rows: Vec<Vec<String>> = connectors.iter().map(row).collect();
    super::table(&headers, &rows)
}

fn row(c: &ConnectorView) -> Vec<String> {
    let dash = || "-".to_string();
    let error = c.last_error.as_ref().map_or_else(dash, |e| {
        format!("{} {}", e.at, super::shorten(&e.message, ERROR_WIDTH))
    });
    vec![
        c.id.clone(),
        c.system.clone(),
        c.source.clone(),
        state(c),
        c.last_success.clone().unwrap_or_else(dash),
        format!("{:.1}", c.recent.out_per_min),
        c.recent.failed_last_hour.to_string(),
        c.outbox_depth.to_string(),
        error,
    ]
}

/// The state, with `,late` while input is overdue (one word, so the table splits on blanks).
fn state(c: &ConnectorView) -> String {
    match c.late {
        Some(_) => format!("{},late", c.state),
        None => c.state.clone(),
    }
}

/// Characters of a last error shown in the table.
const ERROR_WIDTH: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::LateView;

    #[test]
    fn listening_everywhere_is_asked_on_loopback() {
        assert_eq!(base_url("0.0.0.0:8089"), "http://127.0.0.1:8089");
        assert_eq!(base_url("127.0.0.1:8089"), "http://127.0.0.1:8089");
        assert_eq!(base_url("[::]:8089"), "http://[::1]:8089");
    }

    #[test]
    fn the_table_is_aligned_with_a_dash_for_nothing_yet() {
        let view = ConnectorView {
            system: "chain-stores".into(),
            ..ConnectorView::blank("pos", "connected")
        };
        let late = ConnectorView {
            id: "erp".into(),
            late: Some(LateView {
                since: "2026-11-25T18:00:00.000Z".into(),
                expected: "daily by 02:00 Asia/Shanghai".into(),
            }),
            ..view.clone()
        };
        assert!(table(&[late]).contains("connected,late"));
        let table = table(&[view]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0].find("SYSTEM"), lines[1].find("chain-stores"));
        assert_eq!(lines[0].find("STATE"), lines[1].find("connected"));
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "pos",
                "chain-stores",
                "file",
                "connected",
                "-",
                "0.0",
                "0",
                "0",
                "-"
            ]
        );
    }
}
