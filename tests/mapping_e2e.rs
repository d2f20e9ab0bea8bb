//! Mappings end to end through the real binary and RabbitMQ: rows grouped into one event per
//! receipt, one event per line with `split`, and events that break their schema dead-lettered at
//! stage `validate` while the rest of the file flows.

mod common;

use common::POS_FORMAT;

use common::{Broker, Deployment, eventually, with_broker};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const HEADER: &str = "store_id,receipt_no,line_no,sold_at,sku,barcode,item_name,qty,unit_price,amount,payment,member_card\n";

fn receipts() -> String {
    let rows = [
        "SH-003,R1,1,2024-03-02 03:59:59,10023456,6901234567892,农夫山泉 550ml,1,2.00,2.00,wechat,",
        "SH-003,R1,2,2024-03-02 03:59:59,10023457,6901234500004,康师傅红烧牛肉面,2,4.50,9.00,wechat,",
        " SH-003,R2,1,2024-03-02 09:00:00,10023456,6901234567892,农夫山泉 550ml,1,2.00,2.00,cash,",
        " SH-003,R2,2,2024-03-02 09:00:00,10023456,6901234567892,农夫山泉 550ml,1,2.00,2.00,cash,",
        "SH-003,R3,1,2024-03-02 04:00:00,10023456,6901234567892,农夫山泉 550ml,3,2.00,6.00,alipay,",
    ];
    format!("{HEADER}{}\n", rows.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grouped_rows_make_one_event_per_receipt_and_schema_violations_are_dead_lettered() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("grouped");
        broker.owns(&d);
        d.file_connector("receipts", "pos_receipts", POS_FORMAT);
        let events = broker.bound_queue(&d.exchange, "retail.receipt.#").await;
        let hub = d.start(None);
        d.drop_file("receipts", "day.csv", receipts().as_bytes());

        let got = broker.take(&events, 2, WAIT).await;
        assert_eq!(got.len(), 2, "hub log:\n{}", hub.log_text());
        let first = got[0].json();
        assert_eq!(first["receipt"], "R1");
        assert_eq!(
            first["business_date"], "2024-03-01",
            "03:59 is before the 04:00 cut-over"
        );
        assert_eq!(first["total_amount"], "11.00");
        assert_eq!(first["lines"].as_array().map(Vec::len), Some(2));
        assert_eq!(got[1].json()["receipt"], "R3");
        assert_eq!(got[1].json()["business_date"], "2024-03-02");

        let letters = broker.take(&d.dead_queue, 1, WAIT).await;
        assert_eq!(letters.len(), 1, "hub log:\n{}", hub.log_text());
        let letter = &letters[0];
        assert_eq!(
            letter.header("x-omnibus-stage").as_deref(),
            Some("validate")
        );
        assert_eq!(letter.header("x-omnibus-line").as_deref(), Some("4"));
        let error = letter.header("x-omnibus-error").unwrap_or_default();
        assert!(
            error.contains("pos_receipts.toml:11: field \"store\""),
            "{error}"
        );
        assert!(error.contains("at /store"), "{error}");
        let raw = String::from_utf8_lossy(&letter.body);
        assert_eq!(raw.lines().count(), 2, "both rows of the receipt: {raw}");

        let done = d.spool("receipts").join("done/day.csv");
        assert!(
            eventually(WAIT, || done.exists()).await,
            "{}",
            hub.log_text()
        );
        hub.stop();
    })
    .await;
}

const LINES: &str = r#"type = "test.line.v1"
split = "rows"
key = ["receipt", "line"]
[group]
by = ["receipt_no"]
[fields]
receipt = { from = "$.receipt_no" }
store   = { expr = "record.store_id" }
line    = { from = "line_no", type = "integer" }
sku     = { from = "sku" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_publishes_one_event_per_line_with_the_receipts_fields() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("split");
        broker.owns(&d);
        d.mapping("lines", LINES);
        d.file_connector("lines", "lines", POS_FORMAT);
        let events = broker.bound_queue(&d.exchange, "test.line.#").await;
        let hub = d.start(None);
        d.drop_file("lines", "day.csv", receipts().as_bytes());

        let got = broker.take(&events, 5, WAIT).await;
        assert_eq!(got.len(), 5, "hub log:\n{}", hub.log_text());
        let keys: Vec<(String, i64, String)> = got
            .iter()
            .map(|m| {
                let j = m.json();
                let text = |k: &str| j[k].as_str().unwrap_or_default().to_string();
                (
                    text("receipt"),
                    j["line"].as_i64().unwrap_or(0),
                    text("store"),
                )
            })
            .collect();
        assert_eq!(keys[0], ("R1".to_string(), 1, "SH-003".to_string()));
        assert_eq!(keys[1], ("R1".to_string(), 2, "SH-003".to_string()));
        assert_eq!(keys[4], ("R3".to_string(), 1, "SH-003".to_string()));
        let ids: std::collections::BTreeSet<_> = got
            .iter()
            .filter_map(|m| m.header("cloudEvents_id"))
            .collect();
        assert_eq!(ids.len(), 5, "each line has its own id");
        let done = d.spool("lines").join("done/day.csv");
        assert!(
            eventually(WAIT, || done.exists()).await,
            "{}",
            hub.log_text()
        );
        hub.stop();
    })
    .await;
}
