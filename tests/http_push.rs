//! `[source] type = "http_push"` end to end: the real hub receives Shopify-like webhooks on its
//! ingest listener (reqwest stands for the online mall), answers 200 only once the event is on the
//! real RabbitMQ, refuses bad and missing signatures, dead-letters undecodable and unmappable
//! bodies with 400 and 422, drops a retried delivery as a duplicate, refuses an oversized body
//! with 413, maps form bodies, answers 503 when saturated, and never logs the secret.

mod common;

use base64::Engine as _;
use common::proxy::free_port;
use common::{BROKER, Broker, Deployment, Message, with_broker};
use futures_util::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const SECRET: &str = "shpss_mall-webhook-secret-0451";
const PATH: &str = "/webhooks/online-mall/orders";

const ORDER: &str = "type = \"test.push.order.v1\"\nkey = [\"order_id\"]\n[fields]\n\
                     order_id = { from = \"id\", required = true }\n\
                     total = { from = \"total_price\", type = \"decimal\" }\n\
                     webhook = { from = \"_meta.idempotency_key\" }\n\
                     path = { from = \"_meta.path\" }\n";

/// Base64 HMAC-SHA256 of `body`, as Shopify sends it in `X-Shopify-Hmac-Sha256`.
fn sign(body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A deployment whose hub listens for webhooks on a free port, with one connector `mall`.
fn deployment(name: &str, mapping: &str, source: &str) -> (Deployment, String) {
    let d = Deployment::new(name);
    d.mapping("order", mapping);
    let port = free_port();
    d.hub_section(&format!("[ingest]\nlisten = \"127.0.0.1:{port}\""));
    std::fs::write(
        d.dir.path().join("connectors/mall.toml"),
        format!(
            "system = \"mall\"\nmapping = \"order\"\n[source]\ntype = \"http_push\"\n{source}\n\
             [format]\ntype = \"json\"\n"
        ),
    )
    .expect("connector");
    (d, format!("http://127.0.0.1:{port}"))
}

/// Waits until the hub answers on its ingest listener and the connector's path is registered.
async fn ready(client: &reqwest::Client, url: &str, hub: &common::Hub) {
    let deadline = std::time::Instant::now() + WAIT;
    while std::time::Instant::now() < deadline {
        if let Ok(r) = client.get(url).send().await
            && r.status() == StatusCode::METHOD_NOT_ALLOWED
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the webhook path never came up; hub log:\n{}",
        hub.log_text()
    );
}

/// Takes one message from `queue` right now, without waiting.
async fn get_now(broker: &Broker, queue: &str) -> Option<Message> {
    let got = broker
        .channel
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .expect("basic_get")?;
    let d = got.delivery;
    d.acker.ack(BasicAckOptions::default()).await.expect("ack");
    Some(Message {
        routing_key: d.routing_key.to_string(),
        body: d.data,
        properties: d.properties,
    })
}

/// The event id a message carries.
fn event_id(m: &Message) -> String {
    m.properties
        .message_id()
        .as_ref()
        .map(|id| id.to_string())
        .unwrap_or_default()
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    webhook_id: &str,
    signature: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Shopify-Webhook-Id", webhook_id)
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("X-Shopify-Hmac-Sha256", signature);
    }
    let response = request.send().await.expect("POST");
    let status = response.status();
    let bytes = response.bytes().await.expect("answer body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_are_answered_after_their_events_and_bad_ones_refused() {
    with_broker(|mut broker: Broker| async move {
        let source = format!(
            "path = \"{PATH}\"\nauth = \"hmac_sha256\"\nsecret_env = \"MALL_WEBHOOK_SECRET\"\n\
             signature_header = \"X-Shopify-Hmac-Sha256\"\nsignature_encoding = \"base64\"\n\
             idempotency_header = \"X-Shopify-Webhook-Id\"\nmax_body = 2048"
        );
        let (d, base) = deployment("push", ORDER, &source);
        broker.owns(&d);
        let events = broker.bound_queue(&d.exchange, "test.push.#").await;
        let hub = d.start_with_env(Some(BROKER), &[("MALL_WEBHOOK_SECRET", SECRET)]);
        let client = reqwest::Client::new();
        let url = format!("{base}{PATH}");
        ready(&client, &url, &hub).await;

        let order =
            r##"{"id": 1001, "name": "#1001", "total_price": "199.00", "currency": "CNY"}"##;
        let (status, answer) = post(&client, &url, "wh-1", Some(&sign(order)), order).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{answer}; hub log:\n{}",
            hub.log_text()
        );
        assert_eq!(answer["accepted"], 1);
        let first = get_now(&broker, &events).await;
        let first = first.expect("the event is on the broker when the 200 comes");
        let event = first.json();
        assert_eq!(event["order_id"], "1001");
        assert_eq!(event["webhook"], "wh-1");
        assert_eq!(event["path"], PATH);

        // Shopify retries a delivery it saw no 2xx for: same webhook id, same event id. Once the
        // dedupe window holds the id (it is written just after the confirm), nothing goes out.
        let mut deduped = false;
        for _ in 0..50 {
            let (status, answer) = post(&client, &url, "wh-1", Some(&sign(order)), order).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            if answer["duplicates"] == 1 {
                deduped = true;
                break;
            }
            let again = broker.take(&events, 1, WAIT).await;
            assert_eq!(again.len(), 1, "{answer}");
            assert_eq!(
                event_id(&again[0]),
                event_id(&first),
                "a retry has the same id"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            deduped,
            "the retried delivery was never dropped as a duplicate"
        );

        let other = r#"{"id": 1002, "total_price": "5.00"}"#;
        let (status, _) = post(&client, &url, "wh-2", Some(&sign(order)), other).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a signature of another body");
        let (status, answer) = post(&client, &url, "wh-2", None, other).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        let (status, _) = post(&client, &url, "wh-2", Some("not base64!"), other).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let broken = r#"{"id": 1003, "total_price": "#;
        let (status, answer) = post(&client, &url, "wh-3", Some(&sign(broken)), broken).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer["reason"].is_string(), "{answer}");
        let no_id = r#"{"total_price": "3.00"}"#;
        let (status, answer) = post(&client, &url, "wh-4", Some(&sign(no_id)), no_id).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["failed"], 1);
        assert!(answer["reasons"][0]["reason"].is_string(), "{answer}");
        let dead = broker.take(&d.dead_queue, 2, WAIT).await;
        let mut names: Vec<String> = dead
            .iter()
            .filter_map(|m| m.header("x-omnibus-file"))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [format!("http:{PATH}/wh-3"), format!("http:{PATH}/wh-4")]
        );

        let big = format!(r#"{{"id": 1005, "note": "{}"}}"#, "x".repeat(4096));
        let (status, _) = post(&client, &url, "wh-5", Some(&sign(&big)), &big).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let csv = client
            .post(&url)
            .header("Content-Type", "text/csv")
            .header("X-Shopify-Hmac-Sha256", sign("id\n1"))
            .body("id\n1")
            .send()
            .await
            .expect("POST");
        assert_eq!(csv.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let nowhere = client
            .post(format!("{base}/webhooks/nobody"))
            .send()
            .await
            .expect("POST");
        assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);

        let more = broker.take(&events, 1, Duration::from_secs(2)).await;
        assert!(
            more.is_empty(),
            "only the first order became an event: {more:?}"
        );
        let log = hub.log_text();
        assert!(!log.contains(SECRET), "the secret was logged");
        assert!(!log.contains(&sign(order)), "a signature was logged");
        assert!(hub.stop().success());
    })
    .await;
}

type Chunks = tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>;

/// Starts a POST whose body is sent a chunk at a time through the returned sender; the first
/// chunk is an unfinished JSON object.
fn slow_post(
    client: &reqwest::Client,
    url: &str,
) -> (
    Chunks,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let _ = tx.try_send(Ok(b"{\"id\": ".to_vec()));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let request = client
        .post(url)
        .bearer_auth(SECRET)
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(stream.boxed()));
    (tx, tokio::spawn(request.send()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_bodies_are_mapped_and_a_saturated_connector_answers_503() {
    with_broker(|mut broker: Broker| async move {
        let source = format!(
            "path = \"{PATH}\"\nauth = \"bearer\"\nsecret_env = \"MALL_TOKEN\"\n\
             content_types = [\"json\", \"form\"]\nmax_in_flight = 1"
        );
        let (d, base) = deployment("pushform", ORDER, &source);
        broker.owns(&d);
        let events = broker.bound_queue(&d.exchange, "test.push.#").await;
        let hub = d.start_with_env(Some(BROKER), &[("MALL_TOKEN", SECRET)]);
        let client = reqwest::Client::new();
        let url = format!("{base}{PATH}");
        ready(&client, &url, &hub).await;

        let form = client
            .post(&url)
            .bearer_auth(SECRET)
            .form(&[("id", "2001"), ("total_price", "12.50")])
            .send()
            .await
            .expect("POST");
        assert_eq!(
            form.status(),
            StatusCode::OK,
            "hub log:\n{}",
            hub.log_text()
        );
        let got = broker.take(&events, 1, WAIT).await;
        assert_eq!(got.len(), 1, "hub log:\n{}", hub.log_text());
        let event = got[0].json();
        assert_eq!(
            (event["order_id"].clone(), event["total"].clone()),
            ("2001".into(), "12.50".into())
        );
        assert!(
            event["webhook"]
                .as_str()
                .is_some_and(|k| k.starts_with("blake3-")),
            "{event}"
        );
        let wrong = client
            .post(&url)
            .bearer_auth("guess")
            .form(&[("id", "1")])
            .send()
            .await
            .expect("POST");
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

        // A sender that never finishes its body holds the only slot; a probe that happens to
        // hold it when the slow sender arrives makes the slow one the refused one: start over.
        let mut busy = None;
        for _ in 0..20 {
            let (tx, slow) = slow_post(&client, &url);
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if slow.is_finished() {
                    break;
                }
                let probe = client
                    .post(&url)
                    .bearer_auth(SECRET)
                    .header("Content-Type", "application/json")
                    .body("{\"id\": 3}")
                    .send()
                    .await
                    .expect("POST");
                if probe.status() == StatusCode::SERVICE_UNAVAILABLE {
                    busy = Some((probe, tx, slow));
                    break;
                }
            }
            if busy.is_some() {
                break;
            }
        }
        let (busy, tx, slow) = busy.expect("a saturated connector answers 503");
        assert_eq!(
            busy.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        tx.send(Ok(b"2002}".to_vec())).await.expect("send");
        drop(tx);
        let slow = slow.await.expect("join").expect("slow POST");
        assert_eq!(slow.status(), StatusCode::OK);
        assert!(!hub.log_text().contains(SECRET), "the token was logged");
        assert!(hub.stop().success());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_ingest_address_stops_the_hub_with_the_address_named() {
    let (d, base) = deployment(
        "pushbind",
        ORDER,
        &format!("path = \"{PATH}\"\nauth = \"none\""),
    );
    let address = base.trim_start_matches("http://").to_string();
    let _taken = std::net::TcpListener::bind(&address).expect("bind");
    let mut hub = d.start(Some(BROKER));
    let status = hub.wait_exit(WAIT);
    assert!(!status.success());
    let log = hub.log_text();
    assert!(
        log.contains(&format!("cannot listen for webhooks on {address}")),
        "{log}"
    );
}
