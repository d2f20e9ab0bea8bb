//! One connector under supervision: it runs its source, and is restarted with backoff when it
//! fails or panics, so a failing connector never stops the others.

use super::Shared;
use crate::backoff::Backoff;
use crate::canonical::schema::Schema;
use crate::config::connector::{ConnectorSpec, SourceSpec};
use crate::connector::amqp::AmqpSource;
use crate::connector::emit::Emitter;
use crate::connector::file_drop::FileDrop;
use crate::connector::freshness;
use crate::connector::http_poll::{HttpPollSource, HttpPollSpec};
use crate::connector::http_push::HttpPushSource;
use crate::connector::ingest::Pipeline;
use crate::connector::mqtt::MqttSource;
use crate::connector::sql::SqlSource;
use crate::connector::status::Phase;
use crate::mapping::Mapping;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Longest pause before a crashed connector is restarted.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(30);

/// A connector's mapping and the schema its events are checked against.
pub(super) type Mapped = (Arc<Mapping>, Arc<Schema>);

/// Runs one connector, restarting it with backoff when it fails or panics.
pub(super) async fn supervise(
    spec: Arc<ConnectorSpec>,
    mapping: Mapped,
    shared: Shared,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let status = shared.status.handle(&spec.id);
    if let Some(expectation) = spec.expect.clone() {
        let watch = freshness::watch(
            expectation,
            status.clone(),
            shared.store.clone(),
            cancel.clone(),
        );
        tokio::spawn(watch);
    }
    let mut backoff = Backoff::new(Duration::from_secs(1), MAX_RESTART_BACKOFF);
    while !cancel.is_cancelled() {
        let task = tokio::spawn(run_connector(
            Arc::clone(&spec),
            (Arc::clone(&mapping.0), Arc::clone(&mapping.1)),
            shared.clone(),
            Arc::clone(&wake),
            cancel.clone(),
        ));
        let failure = match task.await {
            Ok(Ok(())) => break,
            Ok(Err(e)) => e,
            Err(join) => format!("crashed: {join}"),
        };
        let wait = backoff.next_wait();
        tracing::error!(connector = %spec.id, error = %failure, retry_in = ?wait, "connector failed; the others keep running");
        status.backing_off(&failure, wait);
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    status.phase(Phase::Stopped);
}

async fn run_connector(
    spec: Arc<ConnectorSpec>,
    (mapping, schema): Mapped,
    shared: Shared,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let emitter = Emitter::new(&spec, mapping.event_type()).map_err(|e| e.to_string())?;
    let routes = shared.routes.clone();
    let pipeline = Pipeline {
        spec: Arc::clone(&spec),
        mapping,
        schema,
        emitter,
        publisher: shared.publisher,
        store: shared.store,
        dedupe: shared.dedupe,
        status: shared.status.handle(&spec.id),
        wake,
        tap: shared.tap.point(&spec.id),
    };
    match &spec.source {
        SourceSpec::File(source) => {
            let source = source.clone();
            FileDrop { pipeline, source }
                .run(cancel)
                .await
                .map_err(|e| e.to_string())
        }
        SourceSpec::Amqp(source) => {
            let source = source.clone();
            AmqpSource { pipeline, source }.run(cancel).await;
            Ok(())
        }
        SourceSpec::Mqtt(source) => {
            let source = source.clone();
            MqttSource { pipeline, source }.run(cancel).await
        }
        SourceSpec::HttpPush(source) => {
            let source = source.clone();
            let push = HttpPushSource {
                pipeline,
                source,
                routes,
            };
            push.run(cancel).await
        }
        SourceSpec::HttpPoll(source) => {
            let source = HttpPollSpec::clone(source);
            HttpPollSource { pipeline, source }.run(cancel).await
        }
        SourceSpec::Sql(source) => {
            let source = source.clone();
            SqlSource { pipeline, source }.run(cancel).await;
            Ok(())
        }
    }
}
