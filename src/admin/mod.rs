//! The admin HTTP API (axum) on `[admin] listen`, separate from the webhook listener: liveness
//! (`GET /health`), readiness (`GET /ready`: broker connected and confirming, state store
//! writable), each connector's state (`GET /api/connectors`, `GET /api/connectors/{id}`), and
//! ops' requests to the running hub (`POST /api/connectors/{id}/pause|resume|poll-now`,
//! `POST /api/reload`), the dead letters ([`dead_letters`]: list, show, replay), as JSON with
//! stable field names (docs/admin-api.md), Prometheus metrics (`GET /metrics`, [`scrape`]), the
//! live tap (`GET /api/tap`, [`tap`]: samples of what connectors produce, as NDJSON), and the HTML
//! status and dead-letter pages ([`page`]).
//!
//! It listens on loopback by default. On any other address it requires a bearer token, read from
//! the environment variable [`TOKEN_ENV`] when the hub starts; without one the hub refuses to
//! start, so the API is never open to the network by accident.

mod dead_letters;
mod page;
mod scrape;
mod tap;
mod view;

use crate::connector::http_push::auth::{Auth, AuthError};
use crate::connector::status::Registry;
use crate::connector::tap::Tap;
use crate::hub::{Command, Control, ControlError, Done, Listing};
use crate::route::publisher::BrokerState;
use crate::state::Store;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use scrape::OutboxDepth;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use tap::{DEFAULT_TAP_LIMIT, MAX_TAP_LIMIT};
pub use view::{ConnectorView, LateView, Records};

/// The environment variable holding the admin API's bearer token.
pub const TOKEN_ENV: &str = "OMNIBUS_ADMIN_TOKEN";

/// Why the admin API could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "cannot listen for the admin API on {address} ([admin] listen in the hub file): {reason}"
    )]
    Listen { address: String, reason: String },
    #[error(
        "the admin API listens on {address}, which is not loopback: set {TOKEN_ENV} to a bearer token callers must send, or listen on 127.0.0.1"
    )]
    NoToken { address: String },
}

/// What the admin API reads.
#[derive(Clone)]
pub struct Admin {
    pub status: Registry,
    /// The running connectors, in id order (a reload changes them).
    pub connectors: watch::Receiver<Listing>,
    /// The broker connection's state.
    pub broker: watch::Receiver<BrokerState>,
    pub store: Store,
    /// Where pause, resume, poll-now and reload requests go.
    pub control: Control,
    /// The process's metrics recorder, rendered on `GET /metrics`.
    pub metrics: PrometheusHandle,
    /// The live tap, read by `GET /api/tap`.
    pub tap: Tap,
}

/// A bound admin listener and the token it requires, if any.
pub struct Bound {
    listener: TcpListener,
    token: Option<Auth>,
}

/// Binds `address`; a non-loopback address needs [`TOKEN_ENV`] set (checked before binding when
/// the address is an IP address, after it otherwise).
pub async fn bind(address: &str) -> Result<Bound, AdminError> {
    let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty());
    let open = |ip: IpAddr| !ip.is_loopback() && token.is_none();
    let no_token = || AdminError::NoToken {
        address: address.to_string(),
    };
    if address.parse::<SocketAddr>().is_ok_and(|a| open(a.ip())) {
        return Err(no_token());
    }
    let listen_error = |reason: String| AdminError::Listen {
        address: address.to_string(),
        reason,
    };
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| listen_error(e.to_string()))?;
    let local = listener
        .local_addr()
        .map_err(|e| listen_error(e.to_string()))?;
    if open(local.ip()) {
        return Err(no_token());
    }
    Ok(Bound {
        listener,
        token: token.as_deref().map(Auth::bearer),
    })
}

/// Serves the admin API until `cancel` fires.
pub async fn serve(bound: Bound, admin: Admin, cancel: CancellationToken) {
    let Bound { listener, token } = bound;
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(address = %address, "admin API listening");
    let app = router(admin, token);
    let server = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned());
    if let Err(e) = server.await {
        tracing::error!(address = %address, error = %e, "admin API failed; the connectors keep running");
    }
}

fn router(admin: Admin, token: Option<Auth>) -> Router {
    let api = Router::new()
        .route("/", get(page::status))
        .route("/dead-letters", get(page::letters))
        .route("/ready", get(ready))
        .route("/metrics", get(scrape::metrics))
        .route("/api/connectors", get(connectors))
        .route("/api/connectors/{id}", get(connector))
        .route("/api/connectors/{id}/{action}", post(act))
        .route("/api/reload", post(reload))
        .route("/api/tap", get(tap::tap))
        .route("/api/dead-letters", get(dead_letters::list))
        .route("/api/dead-letters/replay", post(dead_letters::replay))
        .route("/api/dead-letters/{id}", get(dead_letters::show))
        .fallback(not_found)
        .with_state(admin);
    let api = match token {
        Some(token) => api.layer(middleware::from_fn(move |req: Request, next: Next| {
            let token = token.clone();
            async move { authorize(&token, req, next).await }
        })),
        None => api,
    };
    Router::new().route("/health", get(health)).merge(api)
}

/// Lets a request through when it carries the token (compared in constant time, as webhooks'
/// bearer tokens are).
async fn authorize(token: &Auth, req: Request, next: Next) -> Response {
    match token.check(req.headers(), b"") {
        Ok(()) => next.run(req).await,
        Err(AuthError::Missing(_)) => error(
            StatusCode::UNAUTHORIZED,
            &format!("send Authorization: Bearer <the token in {TOKEN_ENV}>"),
        ),
        Err(_) => error(StatusCode::FORBIDDEN, "wrong bearer token"),
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 200 when the broker is connected and the state store writable, 503 otherwise, with each check.
async fn ready(State(admin): State<Admin>) -> Response {
    let (ready, body) = readiness(&admin);
    let status = match ready {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(body)).into_response()
}

/// Whether the hub is ready, and each check.
fn readiness(admin: &Admin) -> (bool, serde_json::Value) {
    let state = admin.broker.borrow().clone();
    let broker = match state {
        BrokerState::Connected => json!({"ok": true, "state": "connected"}),
        BrokerState::Connecting => json!({"ok": false, "state": "connecting"}),
        BrokerState::Unreachable(reason) => {
            json!({"ok": false, "state": "unreachable", "error": reason})
        }
    };
    let store = admin.store.is_healthy();
    let ready = broker["ok"] == true && store;
    let body = json!({
        "ready": ready,
        "checks": {
            "config": {"ok": true, "connectors": admin.connectors.borrow().len()},
            "broker": broker,
            "state_store": {"ok": store},
        }
    });
    (ready, body)
}

/// The running connectors' views, in id order.
async fn views(admin: &Admin) -> Vec<ConnectorView> {
    let listing = admin.connectors.borrow().clone();
    let outbox = OutboxDepth::read(&admin.store).await.unwrap_or_default();
    listing
        .iter()
        .map(|spec| ConnectorView::of(spec, &admin.status.handle(&spec.id), outbox.of(&spec.id)))
        .collect()
}

async fn connectors(State(admin): State<Admin>) -> Json<serde_json::Value> {
    Json(json!({ "connectors": views(&admin).await }))
}

async fn connector(State(admin): State<Admin>, Path(id): Path<String>) -> Response {
    let listing = admin.connectors.borrow().clone();
    match listing.iter().find(|spec| spec.id == id) {
        Some(spec) => {
            let outbox = OutboxDepth::read(&admin.store).await.unwrap_or_default();
            let handle = admin.status.handle(&spec.id);
            let view = ConnectorView::of(spec, &handle, outbox.of(&spec.id));
            Json(view).into_response()
        }
        None => error(StatusCode::NOT_FOUND, &format!("no connector \"{id}\"")),
    }
}

/// `POST /api/connectors/{id}/pause|resume|poll-now`: the connector's state afterwards.
async fn act(State(admin): State<Admin>, Path((id, action)): Path<(String, String)>) -> Response {
    let command = match action.as_str() {
        "pause" => Command::Pause(id),
        "resume" => Command::Resume(id),
        "poll-now" => Command::PollNow(id),
        _ => return not_found().await,
    };
    answer(admin.control.send(command).await)
}

/// `POST /api/reload`: what changed, or the diagnostics that kept the running configuration.
async fn reload(State(admin): State<Admin>) -> Response {
    answer(admin.control.send(Command::Reload).await)
}

fn answer(result: Result<Done, ControlError>) -> Response {
    let refusal = match result {
        Ok(done) => return Json(done).into_response(),
        Err(refusal) => refusal,
    };
    let status = match &refusal {
        ControlError::NoSuchConnector(_) => StatusCode::NOT_FOUND,
        ControlError::NotPolling { .. } | ControlError::Paused(_) => StatusCode::CONFLICT,
        ControlError::Rejected(_) | ControlError::CannotReplay(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        ControlError::ReplayStopped(_) | ControlError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
    };
    let body = match refusal {
        ControlError::Rejected(problems) => json!({
            "error": "the new configuration has errors; the running one stays",
            "problems": problems,
        }),
        refusal => json!({"error": refusal.to_string()}),
    };
    (status, Json(body)).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint; see docs/admin-api.md",
    )
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::header::AUTHORIZATION;
    use tower::ServiceExt;

    async fn get(app: &Router, path: &str, token: Option<&str>) -> StatusCode {
        let mut request = axum::http::Request::get(path);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request.body(Body::empty()).expect("request");
        app.clone().oneshot(request).await.expect("answer").status()
    }

    fn admin(state: &std::path::Path) -> Admin {
        Admin {
            status: Registry::default(),
            connectors: watch::channel(Listing::default()).1,
            control: Control::detached(),
            broker: watch::channel(BrokerState::Connecting).1,
            store: Store::open(state).expect("store"),
            metrics: metrics_exporter_prometheus::PrometheusBuilder::new()
                .build_recorder()
                .handle(),
            tap: Tap::new(CancellationToken::new()),
        }
    }

    #[tokio::test]
    async fn a_token_guards_everything_but_health() {
        let dir = tempfile::tempdir().expect("tempdir");
        let app = router(admin(dir.path()), Some(Auth::bearer("s3cr3t")));
        assert_eq!(get(&app, "/health", None).await, StatusCode::OK);
        assert_eq!(get(&app, "/", None).await, StatusCode::UNAUTHORIZED);
        assert_eq!(get(&app, "/", Some("s3cr3t")).await, StatusCode::OK);
        assert_eq!(
            get(&app, "/api/connectors", None).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get(&app, "/api/connectors", Some("nope")).await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            get(&app, "/api/connectors", Some("s3cr3t")).await,
            StatusCode::OK
        );
        assert_eq!(
            get(&app, "/ready", Some("s3cr3t")).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready while the broker is connecting"
        );
    }
}
