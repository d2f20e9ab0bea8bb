//! The admin API of a running hub, through the real binary and the real RabbitMQ: `/health`,
//! `/ready`, the connectors' states (a file connector that takes a file, an AMQP connector whose
//! broker is out of reach), and `omnibus status` printing the same table; a hub asked to listen
//! beyond loopback without a token refuses to start; a connector whose input is overdue shows late
//! until a file arrives.

mod common;

use common::{BROKER, Broker, Deployment, with_broker};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

const SALE: &str = "type = \"test.admin.sale.v1\"\nkey = [\"receipt\"]\n[fields]\n\
                    receipt = { from = \"receipt\", required = true }\n";

async fn get(url: &str) -> Option<(u16, Value)> {
    let response = reqwest::get(url).await.ok()?;
    let status = response.status().as_u16();
    let body = response.bytes().await.ok()?;
    Some((status, serde_json::from_slice(&body).ok()?))
}

/// Polls `url` until `done` holds for its answer; the last answer.
async fn until(url: &str, done: impl Fn(u16, &Value) -> bool) -> Option<(u16, Value)> {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < WAIT {
        last = get(url).await;
        if last.as_ref().is_some_and(|(s, v)| done(*s, v)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_report_their_state_and_status_prints_it() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("admin");
        broker.owns(&d);
        d.mapping("sale", SALE);
        d.file_connector("pos", "sale", "type = \"csv\"");
        std::fs::write(
            d.dir.path().join("connectors/auction.toml"),
            "system = \"auction\"\nmapping = \"sale\"\n[source]\ntype = \"amqp\"\n\
             url = \"amqp://guest:guest@127.0.0.1:1/%2f\"\nqueue = \"nowhere\"\n\
             [format]\ntype = \"json\"\n",
        )
        .expect("connector");
        let base = d.admin_on_free_port();
        let _events = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(Some(BROKER));

        let health = until(&format!("{base}/health"), |s, _| s == 200).await;
        assert_eq!(
            health.map(|(_, v)| v),
            Some(serde_json::json!({"status": "ok"})),
            "hub log:\n{}",
            hub.log_text()
        );
        let ready = until(&format!("{base}/ready"), |s, _| s == 200).await;
        let (_, ready) = ready.expect("an answer from /ready");
        assert_eq!(ready["ready"], true, "{ready}");
        assert_eq!(ready["checks"]["broker"]["state"], "connected");
        assert_eq!(ready["checks"]["config"]["connectors"], 2);

        d.drop_file("pos", "day.csv", b"receipt\nR1\n");
        let list = until(&format!("{base}/api/connectors"), |_, v| {
            let pos = &v["connectors"][1];
            let auction = &v["connectors"][0];
            !pos["last_success"].is_null() && auction["state"] == "backing_off"
        })
        .await;
        let (_, list) = list.expect("an answer from /api/connectors");
        let auction = &list["connectors"][0];
        let pos = &list["connectors"][1];
        assert_eq!(
            (&auction["id"], &auction["source"], &auction["state"]),
            (&"auction".into(), &"amqp".into(), &"backing_off".into()),
            "{list}"
        );
        assert!(
            auction["last_error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{list}"
        );
        assert!(auction["retry_at"].is_string(), "{list}");
        assert_eq!(
            (&pos["id"], &pos["source"], &pos["state"], &pos["system"]),
            (
                &"pos".into(),
                &"file".into(),
                &"connected".into(),
                &"test".into()
            ),
            "{list}"
        );
        assert!(
            pos["last_success"].is_string(),
            "{list}\nhub log:\n{}",
            hub.log_text()
        );

        let one = get(&format!("{base}/api/connectors/pos")).await;
        assert_eq!(
            one.map(|(s, v)| (s, v["id"].clone())),
            Some((200, "pos".into()))
        );
        let missing = get(&format!("{base}/api/connectors/nope")).await;
        assert_eq!(missing.map(|(s, _)| s), Some(404));

        let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
            .args(["status", "--config"])
            .arg(d.config())
            .output()
            .expect("omnibus status");
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{table}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0][..4],
            ["CONNECTOR", "SYSTEM", "SOURCE", "STATE"],
            "{table}"
        );
        assert_eq!(
            rows[1][..4],
            ["auction", "auction", "amqp", "backing_off"],
            "{table}"
        );
        assert_eq!(
            rows[2][..4],
            ["pos", "test", "file", "connected"],
            "{table}"
        );
        assert!(hub.stop().success());
    })
    .await;
}

#[test]
fn beyond_loopback_the_admin_api_needs_a_token() {
    let d = Deployment::new("admintoken");
    d.admin_on("0.0.0.0:0");
    let mut hub = d.start(Some("amqp://127.0.0.1:1/%2f"));
    let status = hub.wait_exit(WAIT);
    assert!(!status.success());
    let log = hub.log_text();
    assert!(
        log.contains("not loopback: set OMNIBUS_ADMIN_TOKEN"),
        "hub log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_without_input_turns_late_and_a_file_clears_it() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("late");
        broker.owns(&d);
        d.mapping("sale", SALE);
        d.file_connector("pos", "sale", "type = \"csv\"");
        let file = d.dir.path().join("connectors/pos.toml");
        let text = std::fs::read_to_string(&file).expect("connector");
        std::fs::write(&file, format!("expect_every = \"2s\"\n{text}")).expect("connector");
        let base = d.admin_on_free_port();
        let _events = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(Some(BROKER));
        let url = format!("{base}/api/connectors/pos");

        let late = until(&url, |_, v| v["late"].is_object()).await;
        let (_, late) = late.expect("an answer");
        assert_eq!(late["late"]["expected"], "every 2s", "{late}");
        assert_eq!(late["expect"], "every 2s", "{late}");
        assert!(late["last_input"].is_null(), "{late}");
        let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
            .args(["status", "--config"])
            .arg(d.config())
            .output()
            .expect("omnibus status");
        let table = String::from_utf8_lossy(&out.stdout);
        assert!(table.contains("connected,late"), "{table}");
        assert!(hub.log_text().contains("connector is late"));
        let metrics = reqwest::get(format!("{base}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        assert!(
            metrics.contains("omnibus_connector_late{connector=\"pos\"} 1"),
            "{metrics}"
        );

        d.drop_file("pos", "day.csv", b"receipt\nR1\n");
        let fresh = until(&url, |_, v| v["late"].is_null()).await;
        let (_, fresh) = fresh.expect("an answer");
        assert!(fresh["late"].is_null(), "{fresh}");
        assert!(fresh["last_input"].is_string(), "{fresh}");
        assert!(hub.stop().success());
    })
    .await;
}
