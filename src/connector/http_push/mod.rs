//! The webhook connector (`[source] type = "http_push"`): legacy systems POST to a path on the
//! hub's ingest listener ([`listener`]). Each request is authenticated on its raw body
//! ([`auth`]), read up to `max_body` bytes, ingested as one message
//! ([`crate::connector::ingest`]) and answered only once every event derived from it is confirmed
//! by the broker or durably stored, and every bad record dead-lettered: 200 when all records went
//! through, 422 when some were dead-lettered, 400 when the body did not decode at all (dead-lettered
//! whole), 503 with `Retry-After` when the events could not be settled or the connector is
//! saturated (`max_in_flight`). A form body is turned into one JSON object first.
//!
//! A delivery is named `http:<path>/<idempotency key>` (or the BLAKE3 of its body without one), so
//! a retried delivery gets the same dead-letter ids; event ids come from the mapping's `key`.

pub(crate) mod auth;
pub mod listener;
mod request;
mod spec;

pub use auth::{Auth, AuthError, SignatureEncoding};
pub use spec::{ContentKind, HttpPushSpec, parse_spec, without_shared_paths};

use crate::connector::ingest::Pipeline;
use crate::connector::status::Phase;
use listener::Routes;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// A running webhook connector.
pub struct HttpPushSource {
    pub pipeline: Pipeline,
    pub source: HttpPushSpec,
    /// The ingest listener's route table, where the connector registers its path.
    pub routes: Routes,
}

/// What the listener hands a connector's requests to.
pub struct Endpoint {
    pipeline: Pipeline,
    source: HttpPushSpec,
    /// Requests being ingested, at most `max_in_flight`.
    slots: Semaphore,
    cancel: CancellationToken,
}

impl HttpPushSource {
    /// Serves the connector's path until `cancel` fires; fails when another running connector
    /// holds the path.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), String> {
        let path = self.source.path.clone();
        let endpoint = Arc::new(Endpoint {
            slots: Semaphore::new(self.source.max_in_flight),
            pipeline: self.pipeline,
            source: self.source,
            cancel: cancel.clone(),
        });
        let registration = self
            .routes
            .register(&path, Arc::clone(&endpoint))
            .map_err(|e| e.to_string())?;
        let status = &endpoint.pipeline.status;
        status.phase(Phase::Connected);
        tracing::info!(connector = %endpoint.pipeline.spec.id, path = %path, auth = endpoint.source.auth.kind(), "receiving webhooks");
        cancel.cancelled().await;
        drop(registration);
        status.phase(Phase::Stopped);
        Ok(())
    }
}
