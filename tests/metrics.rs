//! Metrics of a running hub, through the real binary and the real RabbitMQ: a CSV file with good
//! and bad rows is counted the same on `GET /metrics` (records by stage, failures by stage, the
//! broker gauge) and in the connector's JSON (`records.in/out/failed`).

mod common;

use common::{BROKER, Broker, Deployment, with_broker};
use serde_json::Value;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

const SALE: &str = "type = \"test.admin.sale.v1\"\nkey = [\"receipt\"]\n[fields]\n\
                    receipt = { from = \"receipt\", required = true }\n";

/// Three good rows and two without the required receipt.
const DAY: &[u8] = b"receipt,amount\nR1,1\n,2\nR3,3\n,4\nR5,5\n";

/// Polls `url` until `done` holds for its body; the last body.
async fn until(url: &str, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < WAIT {
        if let Ok(response) = reqwest::get(url).await {
            last = response.text().await.unwrap_or_default();
            if done(&last) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

/// The value of the sample `series` (name and labels as rendered) in a scrape.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_is_counted_alike_in_metrics_and_the_connector_json() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("metrics");
        broker.owns(&d);
        d.mapping("sale", SALE);
        d.file_connector("pos", "sale", "type = \"csv\"");
        let base = d.admin_on_free_port();
        let events = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(Some(BROKER));

        d.drop_file("pos", "day.csv", DAY);
        let delivered = broker.take(&events, 3, WAIT).await;
        assert_eq!(delivered.len(), 3, "hub log:\n{}", hub.log_text());

        let confirmed = r#"omnibus_records_total{connector="pos",stage="confirmed"}"#;
        let dead = r#"omnibus_records_total{connector="pos",stage="dead_lettered"}"#;
        let scrape = until(&format!("{base}/metrics"), |t| {
            sample(t, confirmed) == Some(3.0) && sample(t, dead) == Some(2.0)
        })
        .await;
        let expected = [
            (confirmed.to_string(), 3.0),
            (dead.to_string(), 2.0),
            (
                r#"omnibus_records_total{connector="pos",stage="read"}"#.into(),
                5.0,
            ),
            (
                r#"omnibus_records_total{connector="pos",stage="mapped"}"#.into(),
                3.0,
            ),
            (
                r#"omnibus_records_total{connector="pos",stage="published"}"#.into(),
                3.0,
            ),
            (
                r#"omnibus_record_failures_total{connector="pos",stage="map"}"#.into(),
                2.0,
            ),
            (
                r#"omnibus_inputs_total{connector="pos",outcome="ok"}"#.into(),
                1.0,
            ),
            (
                r#"omnibus_connector_state{connector="pos",state="connected"}"#.into(),
                1.0,
            ),
            ("omnibus_broker_connected".into(), 1.0),
            (
                r#"omnibus_batch_records_count{connector="pos"}"#.into(),
                1.0,
            ),
        ];
        for (series, value) in expected {
            assert_eq!(
                sample(&scrape, &series),
                Some(value),
                "{series} in:\n{scrape}\nhub log:\n{}",
                hub.log_text()
            );
        }

        let body = until(&format!("{base}/api/connectors/pos"), |_| true).await;
        let pos: Value = serde_json::from_str(&body).expect("connector JSON");
        assert_eq!(
            pos["records"],
            serde_json::json!({"in": 5, "out": 3, "failed": 2}),
            "{pos}"
        );
        assert_eq!(pos["outbox_depth"], 0, "{pos}");
        assert!(pos["lag_seconds"].is_null(), "nothing in flight: {pos}");
        assert!(
            pos["position"]
                .as_str()
                .is_some_and(|p| p.ends_with("day.csv")),
            "{pos}"
        );
        assert_eq!(pos["recent"]["out_per_min"], 0.6, "3 events / 5: {pos}");
        assert_eq!(pos["recent"]["failed_last_hour"], 2, "{pos}");
        hub.stop();
    })
    .await;
}
