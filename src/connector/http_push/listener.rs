//! The hub's ingest listener (`[ingest] listen`, separate from the admin listener): one axum server
//! for every `http_push` connector, started by the hub when at least one exists. Each connector
//! registers its path in the shared [`Routes`] when it starts and its [`Registration`] removes it
//! when it stops, so connectors restart independently; a path no running connector owns is
//! answered 404.

use super::Endpoint;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The paths of the running `http_push` connectors.
#[derive(Clone, Default)]
pub struct Routes(Arc<RwLock<HashMap<String, Arc<Endpoint>>>>);

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot listen for webhooks on {address} ([ingest] listen in the hub file): {reason}; \
     choose a free address and port, e.g. listen = \"127.0.0.1:8088\""
)]
pub struct ListenError {
    pub address: String,
    pub reason: String,
}

/// A path that a running connector already owns.
#[derive(Debug, thiserror::Error)]
#[error("path {0} is already served by another running connector")]
pub struct PathTaken(pub String);

/// A connector's hold on its path; dropping it (the connector stops, or panics) frees the path.
pub struct Registration {
    routes: Routes,
    path: String,
}

impl Routes {
    /// Serves `path` with `endpoint` until the registration is dropped.
    pub fn register(&self, path: &str, endpoint: Arc<Endpoint>) -> Result<Registration, PathTaken> {
        let mut table = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if table.contains_key(path) {
            return Err(PathTaken(path.to_string()));
        }
        table.insert(path.to_string(), endpoint);
        Ok(Registration {
            routes: self.clone(),
            path: path.to_string(),
        })
    }

    fn get(&self, path: &str) -> Option<Arc<Endpoint>> {
        let table = self.0.read().unwrap_or_else(PoisonError::into_inner);
        table.get(path).cloned()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut table = self
            .routes
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        table.remove(&self.path);
    }
}

/// Binds the ingest listener's address.
pub async fn bind(address: &str) -> Result<TcpListener, ListenError> {
    TcpListener::bind(address).await.map_err(|e| ListenError {
        address: address.to_string(),
        reason: e.to_string(),
    })
}

/// Serves webhooks until `cancel` fires, then lets the requests in flight finish (they are
/// answered 503 once the hub stops settling events).
pub async fn serve(listener: TcpListener, routes: Routes, cancel: CancellationToken) {
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(address = %address, "ingest listener accepting webhooks");
    let app = Router::new().fallback(dispatch).with_state(routes);
    let server = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned());
    if let Err(e) = server.await {
        tracing::error!(address = %address, error = %e, "ingest listener failed; webhooks are refused until the hub restarts");
    }
}

/// Hands a request to the connector that owns its path.
async fn dispatch(State(routes): State<Routes>, request: Request) -> Response {
    match routes.get(request.uri().path()) {
        Some(endpoint) => endpoint.handle(request).await,
        None => {
            let body = serde_json::json!({"error": "no webhook connector is running at this path"});
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
    }
}
