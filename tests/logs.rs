//! The hub's logs through the real binary: `--log-format json` (here from `OMNIBUS_LOG_FORMAT`)
//! writes one JSON object per line with the connector's id as a field, and a legacy broker's
//! password given through the environment never appears in them while the source keeps failing
//! (the webhook, MQTT, HTTP and SQL sources' tests check their own secrets).

mod common;

use common::{BROKER, Broker, Deployment, with_broker};
use std::time::{Duration, Instant};

const PASSWORD: &str = "hunter2-amqp-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_name_the_connector_and_never_hold_a_secret() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("logs");
        broker.owns(&d);
        d.mapping(
            "won",
            "type = \"test.logs.won.v1\"\n[fields]\nlot = { from = \"lot\" }\n",
        );
        std::fs::write(
            d.dir.path().join("connectors/auction.toml"),
            "system = \"auction\"\nmapping = \"won\"\n[source]\ntype = \"amqp\"\n\
             url = \"amqp://guest:${AUCTION_PASSWORD}@127.0.0.1:1/%2f\"\nqueue = \"results\"\n\
             [format]\ntype = \"json\"\n",
        )
        .expect("connector");
        let hub = d.start_with_env(
            Some(BROKER),
            &[
                ("OMNIBUS_LOG_FORMAT", "json"),
                ("AUCTION_PASSWORD", PASSWORD),
            ],
        );
        let start = Instant::now();
        while !hub.log_text().contains("reconnecting") && start.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let path = hub.log.clone();
        assert!(hub.stop().success());
        let log = std::fs::read_to_string(path).expect("hub log");
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        let failing = lines
            .iter()
            .find(|l| l["message"] == "AMQP source disconnected; reconnecting")
            .unwrap_or_else(|| panic!("no reconnect line in:\n{log}"));
        assert_eq!(failing["connector"], "auction", "{failing}");
        assert_eq!(failing["level"], "WARN", "{failing}");
        assert!(
            failing["broker"]
                .as_str()
                .is_some_and(|b| b.contains("***@127.0.0.1:1")),
            "{failing}"
        );
        assert!(!log.contains(PASSWORD), "the broker password was logged");
        assert!(lines.iter().any(|l| l["message"] == "hub stopped"));
    })
    .await;
}
