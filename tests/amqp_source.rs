//! `[source] type = "amqp"` end to end: the real hub consumes a legacy system's queue (through a
//! TCP proxy standing for the legacy broker), publishes the mapped events to the real RabbitMQ,
//! dead-letters an undecodable message, acknowledges every delivery only after that, and resumes
//! by itself after the legacy broker's connection is cut. With `on_failure = "reject"` a bad
//! delivery goes to the legacy queue's own dead-letter exchange instead.

mod common;

use common::proxy;
use common::{BROKER, Broker, Deployment, unique, with_broker};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

const WON: &str = "type = \"test.amqp.won.v1\"\nkey = [\"lot\"]\n[fields]\n\
                   lot = { from = \"lot\", required = true }\n\
                   price = { from = \"price\", type = \"decimal\" }\n";

async fn publish(broker: &Broker, queue: &str, id: &str, body: &str) {
    broker
        .channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default().with_message_id(id.into()),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
}

/// Declares a legacy system's queue, deleted after the test; `dead_letters` names the queue its
/// rejected messages go to.
async fn legacy_queue(broker: &mut Broker, name: &str, dead_letters: Option<&str>) {
    let mut args = FieldTable::default();
    if let Some(dlq) = dead_letters {
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(dlq.into()),
        );
    }
    broker
        .channel
        .queue_declare(name.into(), QueueDeclareOptions::default(), args)
        .await
        .expect("legacy queue");
    broker.forget_later(name);
}

/// Deliveries the hub's log says it returned to their queue unsettled (it was stopping).
fn returned(log: &std::path::Path) -> u32 {
    let log = std::fs::read_to_string(log).unwrap_or_default();
    u32::try_from(
        log.matches("message not settled; returned to its queue")
            .count(),
    )
    .unwrap_or(u32::MAX)
}

/// Messages waiting in `queue` (ready, not delivered).
async fn waiting(broker: &Broker, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    broker
        .channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .map(|q| q.message_count())
        .unwrap_or(u32::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_acked_after_their_events_and_consuming_resumes_after_a_cut() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("amqpsrc");
        broker.owns(&d);
        d.mapping("won", WON);
        let legacy = unique("legacy.auction");
        legacy_queue(&mut broker, &legacy, None).await;
        let port = proxy::free_port();
        let cut = proxy::start(port, 5672).await;
        std::fs::write(
            d.dir.path().join("connectors/auction.toml"),
            format!(
                "system = \"auction\"\nmapping = \"won\"\n[source]\ntype = \"amqp\"\n\
                 url = \"amqp://guest:${{LEGACY_PASSWORD}}@127.0.0.1:{port}/%2f\"\n\
                 queue = \"{legacy}\"\nprefetch = 4\n[format]\ntype = \"json\"\n"
            ),
        )
        .expect("connector");
        let events = broker.bound_queue(&d.exchange, "test.amqp.#").await;
        let hub = d.start_with_env(Some(BROKER), &[("LEGACY_PASSWORD", "guest")]);

        publish(&broker, &legacy, "m1", r#"{"lot": "L1", "price": "12.50"}"#).await;
        publish(&broker, &legacy, "m2", r#"{"lot": "L2", "price": "#).await;
        publish(&broker, &legacy, "m3", r#"{"lot": "L3", "price": "7"}"#).await;
        let got = broker.take(&events, 2, WAIT).await;
        assert_eq!(got.len(), 2, "hub log:\n{}", hub.log_text());
        let mut lots: Vec<String> = got.iter().map(|m| m.json()["lot"].to_string()).collect();
        lots.sort();
        assert_eq!(
            lots,
            ["\"L1\"", "\"L3\""],
            "deliveries are ingested concurrently"
        );
        let dead = broker.take(&d.dead_queue, 1, WAIT).await;
        assert_eq!(dead.len(), 1, "hub log:\n{}", hub.log_text());
        assert_eq!(
            dead[0].header("x-omnibus-file").as_deref(),
            Some(format!("amqp:{legacy}/m2").as_str())
        );
        assert_eq!(dead[0].body, br#"{"lot": "L2", "price": "#);
        let start = std::time::Instant::now();
        while waiting(&broker, &legacy).await != 0 && start.elapsed() < WAIT {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            waiting(&broker, &legacy).await,
            0,
            "messages left in the legacy queue"
        );

        cut.abort();
        publish(&broker, &legacy, "m4", r#"{"lot": "L4", "price": "1"}"#).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _proxy = proxy::start(port, 5672).await;
        let got = broker.take(&events, 1, WAIT).await;
        assert_eq!(got.len(), 1, "hub log:\n{}", hub.log_text());
        assert_eq!(got[0].json()["lot"], "L4");
        assert!(
            hub.log_text()
                .contains("AMQP source disconnected; reconnecting")
        );
        let log = hub.log_text();
        assert!(!log.contains("guest:guest"), "the password was logged");
        let log_path = hub.log.clone();
        assert!(hub.stop().success());
        // Unacknowledged deliveries return to the queue when the consumer goes: only those the
        // stopping hub had not settled yet (and said so) may.
        assert_eq!(
            waiting(&broker, &legacy).await,
            returned(&log_path),
            "a delivery was never acked; hub log:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_mode_hands_a_bad_delivery_to_the_legacy_dead_letter_queue() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("amqprej");
        broker.owns(&d);
        d.mapping(
            "won",
            &format!("{WON}route = {{ from = \"_meta.routing_key\" }}\n"),
        );
        let legacy = unique("legacy.auction");
        let legacy_dead = unique("legacy.auction.dead");
        legacy_queue(&mut broker, &legacy_dead, None).await;
        legacy_queue(&mut broker, &legacy, Some(&legacy_dead)).await;
        std::fs::write(
            d.dir.path().join("connectors/auction.toml"),
            format!(
                "system = \"auction\"\nmapping = \"won\"\n[source]\ntype = \"amqp\"\n\
                 url = \"amqp://guest:guest@127.0.0.1:5672/%2f\"\nqueue = \"{legacy}\"\n\
                 on_failure = \"reject\"\n[format]\ntype = \"json\"\n"
            ),
        )
        .expect("connector");
        let events = broker.bound_queue(&d.exchange, "test.amqp.#").await;
        let hub = d.start(Some(BROKER));

        publish(&broker, &legacy, "m1", r#"{"lot": "L1", "price": "12.50"}"#).await;
        publish(&broker, &legacy, "m2", r#"{"lot": "L2", "price": "#).await;
        let got = broker.take(&events, 1, WAIT).await;
        assert_eq!(got.len(), 1, "hub log:\n{}", hub.log_text());
        assert_eq!(
            got[0].json()["route"],
            legacy.as_str(),
            "the routing key reaches the mapping"
        );
        let rejected = broker.take(&legacy_dead, 1, WAIT).await;
        assert_eq!(rejected.len(), 1, "hub log:\n{}", hub.log_text());
        assert_eq!(rejected[0].body, br#"{"lot": "L2", "price": "#);
        let ours = broker.take(&d.dead_queue, 1, Duration::from_secs(2)).await;
        assert!(
            ours.is_empty(),
            "a rejected delivery is not Omnibus's dead letter too"
        );
        let log_path = hub.log.clone();
        assert!(hub.stop().success());
        assert_eq!(
            waiting(&broker, &legacy).await,
            returned(&log_path),
            "a delivery was never settled"
        );
    })
    .await;
}
