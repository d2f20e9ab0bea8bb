//! The systems that own a queue: the queue is declared durable when it does not exist yet (as the
//! legacy platform would have it), and each sample is published to it persistent, through the
//! default exchange, confirmed by the broker.

use crate::connector::amqp::AmqpSourceSpec;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use std::path::Path;

/// Delivery mode of a message the broker keeps on disk.
const PERSISTENT: u8 = 2;

/// Makes sure the connector's queue exists: declared durable, which leaves a queue that is there
/// already as it is; one declared otherwise by its owner (other arguments) is refused by the broker
/// and counts as there.
pub async fn declare_queue(spec: &AmqpSourceSpec) -> Result<(), String> {
    let conn = connect(spec).await?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(spec.queue.as_str().into(), durable, FieldTable::default())
        .await;
    let _ = conn.close(200, "demo".into()).await;
    match declared {
        Ok(_) => Ok(()),
        Err(e) if is_precondition_failed(&e) => Ok(()),
        Err(e) => Err(format!("declaring queue {}: {e}", spec.queue)),
    }
}

/// Whether the broker refused a declaration because the queue exists with other properties.
fn is_precondition_failed(e: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    matches!(
        e.kind(),
        lapin::ErrorKind::ProtocolError(amqp)
            if matches!(amqp.kind(), AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED))
    )
}

/// Publishes each sample to the connector's queue, persistent, each confirmed by the broker.
pub async fn publish(spec: &AmqpSourceSpec, samples: &[&Path]) -> Result<(), String> {
    let conn = connect(spec).await?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    for sample in samples {
        publish_one(&channel, &spec.queue, sample).await?;
    }
    let _ = conn.close(200, "demo".into()).await;
    Ok(())
}

async fn publish_one(channel: &Channel, queue: &str, sample: &Path) -> Result<(), String> {
    let body = std::fs::read(sample).map_err(|e| format!("{}: {e}", sample.display()))?;
    let properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type(content_type(sample).into())
        .with_message_id(uuid::Uuid::now_v7().to_string().into());
    let confirm = channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
        .map_err(|e| format!("publishing to queue {queue}: {e}"))?
        .await
        .map_err(|e| format!("publishing to queue {queue}: {e}"))?;
    if confirm.is_nack() {
        return Err(format!("the broker refused the message for queue {queue}"));
    }
    Ok(())
}

async fn connect(spec: &AmqpSourceSpec) -> Result<Connection, String> {
    Connection::connect(spec.url.expose(), ConnectionProperties::default())
        .await
        .map_err(|e| format!("connecting to {}: {e}", spec.url))
}

/// The MIME type of a sample, by its extension.
pub(super) fn content_type(sample: &Path) -> &'static str {
    match sample.extension().and_then(|e| e.to_str()) {
        Some("xml") => "application/xml",
        Some("csv") => "text/csv",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}
