//! `[source] type = "mqtt"` end to end: the real hub subscribes to wildcard topic filters on the
//! real Mosquitto (127.0.0.1:1883), publishes the mapped events to the real RabbitMQ with the
//! topic available to the mapping, dead-letters a malformed payload, and acknowledges every
//! message; its persistent session keeps what is published while it is down. A rumqttc client
//! stands for the store beacons of the LBS platform.

mod common;

use common::proxy;
use common::{BROKER, Broker, Deployment, unique, with_broker};
use futures_util::FutureExt;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

const PASSWORD: &str = "beacon-s3cr3t-pw";

const CHECKIN: &str = "type = \"test.mqtt.checkin.v1\"\nkey = [\"visit\"]\n[fields]\n\
                       visit = { from = \"visit\", required = true }\n\
                       member = { from = \"member\" }\n\
                       topic = { from = \"_meta.topic\" }\n\
                       store = { expr = \"_meta.topic | regex_extract('/([^/]+)/checkin$', 1)\" }\n";

/// A hub's MQTT session for one test: its client id and the topic root of the test.
struct Session {
    client_id: String,
    root: String,
}

/// Runs a test body with a fresh session and removes that session from Mosquitto afterwards,
/// even when the body panics.
async fn with_session<F, Fut>(body: F)
where
    F: FnOnce(Broker, Session) -> Fut,
    Fut: Future<Output = ()>,
{
    let client_id = unique("mqtt-hub");
    let session = Session {
        client_id: client_id.clone(),
        root: format!("lbs/{}", unique("beacons")),
    };
    with_broker(|broker| async move {
        let result = AssertUnwindSafe(body(broker, session)).catch_unwind().await;
        let _ = redelivered(&client_id, true).await;
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}

fn options(client_id: &str, clean: bool) -> MqttOptions {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", 1883);
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_clean_session(clean)
        .set_manual_acks(true);
    options
}

/// Publishes QoS 1 messages as a beacon would, waiting for the broker to acknowledge each.
async fn publish(messages: &[(String, &str)]) {
    let (client, mut eventloop) =
        AsyncClient::new(options(&unique("beacon"), true), messages.len() + 2);
    for (topic, payload) in messages {
        client
            .publish(topic.as_str(), QoS::AtLeastOnce, false, payload.as_bytes())
            .await
            .expect("queue publish");
    }
    let mut acked = 0;
    while acked < messages.len() {
        let event = tokio::time::timeout(WAIT, eventloop.poll())
            .await
            .expect("Mosquitto answers")
            .expect("Mosquitto on 127.0.0.1:1883");
        if matches!(event, Event::Incoming(Packet::PubAck(_))) {
            acked += 1;
        }
    }
    disconnect(&client, &mut eventloop).await;
}

async fn disconnect(client: &AsyncClient, eventloop: &mut rumqttc::EventLoop) {
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(event) = eventloop.poll().await {
            if event == Event::Outgoing(Outgoing::Disconnect) {
                break;
            }
        }
    })
    .await;
}

/// Connects with the hub's client id and returns the payloads the broker still holds for its
/// session (messages never acknowledged, or published since); with `forget`, the session is
/// then removed from the broker.
async fn redelivered(client_id: &str, forget: bool) -> Vec<String> {
    let (client, mut eventloop) = AsyncClient::new(options(client_id, false), 8);
    let mut payloads = Vec::new();
    let quiet = Duration::from_secs(2);
    while let Ok(Ok(event)) = tokio::time::timeout(quiet, eventloop.poll()).await {
        if let Event::Incoming(Packet::Publish(p)) = event {
            payloads.push(String::from_utf8_lossy(&p.payload).into_owned());
        }
    }
    disconnect(&client, &mut eventloop).await;
    if forget {
        let (client, mut eventloop) = AsyncClient::new(options(client_id, true), 8);
        let _ = tokio::time::timeout(WAIT, eventloop.poll()).await;
        disconnect(&client, &mut eventloop).await;
    }
    payloads
}

fn connector(d: &Deployment, session: &Session, port: u16) {
    std::fs::write(
        d.dir.path().join("connectors/beacons.toml"),
        format!(
            "system = \"lbs\"\nmapping = \"checkin\"\n[source]\ntype = \"mqtt\"\n\
             url = \"mqtt://beacon:${{MQTT_PASSWORD}}@127.0.0.1:{port}\"\n\
             topics = [\"{}/+/checkin\"]\nclient_id = \"{}\"\nmax_in_flight = 4\n\
             [format]\ntype = \"json\"\n",
            session.root, session.client_id
        ),
    )
    .expect("connector");
}

/// Waits until the hub's latest log says the subscription is in place.
async fn subscribed(hub: &common::Hub) {
    let start = Instant::now();
    while !hub.log_text().contains("subscribed") {
        assert!(
            start.elapsed() < WAIT,
            "never subscribed; hub log:\n{}",
            hub.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn visits(got: &[common::Message]) -> Vec<String> {
    let mut visits: Vec<String> = got
        .iter()
        .map(|m| m.json()["visit"].as_str().unwrap_or_default().to_string())
        .collect();
    visits.sort();
    visits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcard_checkins_become_events_with_their_topic_and_a_bad_one_a_dead_letter() {
    with_session(|mut broker, session| async move {
        let d = Deployment::new("mqttsrc");
        broker.owns(&d);
        d.mapping("checkin", CHECKIN);
        connector(&d, &session, 1883);
        let events = broker.bound_queue(&d.exchange, "test.mqtt.#").await;
        let hub = d.start_with_env(Some(BROKER), &[("MQTT_PASSWORD", PASSWORD)]);
        subscribed(&hub).await;

        let root = &session.root;
        let bad = r#"{"visit": "V2", "member""#;
        publish(&[
            (
                format!("{root}/S001/checkin"),
                r#"{"visit": "V1", "member": "M1"}"#,
            ),
            (format!("{root}/S002/checkin"), bad),
            (
                format!("{root}/S003/checkin"),
                r#"{"visit": "V3", "member": "M3"}"#,
            ),
            (format!("{root}/S001/heartbeat"), r#"{"visit": "H1"}"#),
        ])
        .await;
        let got = broker.take(&events, 3, Duration::from_secs(10)).await;
        assert_eq!(visits(&got), ["V1", "V3"], "hub log:\n{}", hub.log_text());
        for event in &got {
            let data = event.json();
            let store = if data["visit"] == "V1" {
                "S001"
            } else {
                "S003"
            };
            assert_eq!(data["store"], store, "the mapping reads _meta.topic");
            assert_eq!(data["topic"], format!("{root}/{store}/checkin"));
        }
        let dead = broker.take(&d.dead_queue, 1, WAIT).await;
        assert_eq!(dead.len(), 1, "hub log:\n{}", hub.log_text());
        let hash = blake3::hash(bad.as_bytes()).to_hex();
        assert_eq!(
            dead[0].header("x-omnibus-file"),
            Some(format!("mqtt:{root}/S002/checkin/{}", &hash[..16]))
        );
        assert_eq!(dead[0].body, bad.as_bytes());

        let log = hub.log_text();
        assert!(!log.contains(PASSWORD), "the password was logged:\n{log}");
        assert!(hub.stop().success());
        assert_eq!(
            redelivered(&session.client_id, false).await,
            Vec::<String>::new(),
            "every message, the dead-lettered one too, was acknowledged"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_published_while_the_hub_is_down_arrive_once_it_returns() {
    with_session(|mut broker, session| async move {
        let d = Deployment::new("mqttsession");
        broker.owns(&d);
        d.mapping("checkin", CHECKIN);
        connector(&d, &session, 1883);
        let events = broker.bound_queue(&d.exchange, "test.mqtt.#").await;
        let env = [("MQTT_PASSWORD", PASSWORD)];
        let topic = format!("{}/S001/checkin", session.root);
        let checkin = |visit: &'static str| (topic.clone(), visit);

        let hub = d.start_with_env(Some(BROKER), &env);
        subscribed(&hub).await;
        publish(&[checkin(r#"{"visit": "V1"}"#)]).await;
        let got = broker.take(&events, 1, WAIT).await;
        assert_eq!(visits(&got), ["V1"], "hub log:\n{}", hub.log_text());
        assert!(hub.stop().success());

        publish(&[
            checkin(r#"{"visit": "V2"}"#),
            checkin(r#"{"visit": "V3"}"#),
            checkin(r#"{"visit": "V4"}"#),
        ])
        .await;
        let hub = d.start_with_env(Some(BROKER), &env);
        let got = broker.take(&events, 4, Duration::from_secs(10)).await;
        assert_eq!(
            visits(&got),
            ["V2", "V3", "V4"],
            "hub log:\n{}",
            hub.log_text()
        );
        assert!(
            hub.log_text().contains("session_present=true"),
            "the broker kept the session"
        );
        assert!(hub.stop().success());
        assert_eq!(
            redelivered(&session.client_id, false).await,
            Vec::<String>::new()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_reconnects_after_the_connection_is_cut() {
    with_session(|mut broker, session| async move {
        let d = Deployment::new("mqttcut");
        broker.owns(&d);
        d.mapping("checkin", CHECKIN);
        let port = proxy::free_port();
        let cut = proxy::start(port, 1883).await;
        connector(&d, &session, port);
        let events = broker.bound_queue(&d.exchange, "test.mqtt.#").await;
        let hub = d.start_with_env(Some(BROKER), &[("MQTT_PASSWORD", PASSWORD)]);
        subscribed(&hub).await;
        let topic = format!("{}/S009/checkin", session.root);

        cut.abort();
        publish(&[(topic.clone(), r#"{"visit": "V1"}"#)]).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _proxy = proxy::start(port, 1883).await;
        let got = broker.take(&events, 1, WAIT).await;
        assert_eq!(visits(&got), ["V1"], "hub log:\n{}", hub.log_text());
        publish(&[(topic, r#"{"visit": "V2"}"#)]).await;
        let got = broker.take(&events, 1, WAIT).await;
        assert_eq!(visits(&got), ["V2"], "hub log:\n{}", hub.log_text());
        assert!(
            hub.log_text()
                .contains("MQTT source disconnected; reconnecting")
        );
        assert!(hub.stop().success());
    })
    .await;
}
