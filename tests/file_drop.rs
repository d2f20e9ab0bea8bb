//! End to end through the real binary and the real RabbitMQ: files dropped into a folder come out as
//! canonical events, and a file leaves its folder only after the broker confirmed every event.

mod common;

use common::POS_FORMAT;

use common::{Broker, Deployment, eventually, with_broker};
use std::collections::BTreeSet;
use std::time::Duration;

const ERP_FORMAT: &str = "type = \"csv\"\nencoding = \"gbk\"\ndelimiter = \"|\"\nheader = true";
const WAIT: Duration = Duration::from_secs(30);

fn pos_sample() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/pos/sales_20240301.csv"
    ))
    .expect("sample")
}

/// A deployment with one POS connector `pos`, whose exchanges and queues the broker cleans up.
fn pos_deployment(broker: &mut Broker, name: &str) -> Deployment {
    let d = Deployment::new(name);
    broker.owns(&d);
    d.file_connector("pos", "pos_sales", POS_FORMAT);
    d
}

fn done(d: &Deployment, id: &str, name: &str) -> std::path::PathBuf {
    d.spool(id).join("done").join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_file_becomes_cloudevents_with_headers_and_moves_to_done() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "headers");
        let queue = broker.bound_queue(&d.exchange, "retail.sale.#").await;
        let hub = d.start(None);
        let input = d.drop_file("pos", "sales.csv", &pos_sample());
        let got = broker.take(&queue, 5, WAIT).await;
        assert_eq!(got.len(), 5, "hub log:\n{}", hub.log_text());
        assert!(eventually(WAIT, || done(&d, "pos", "sales.csv").exists()).await);
        assert!(!input.exists());

        let first = &got[0];
        assert_eq!(first.routing_key, "retail.sale.recorded.v1");
        let p = &first.properties;
        assert_eq!(
            p.content_type().as_ref().map(|s| s.as_str()),
            Some("application/json")
        );
        assert_eq!(
            p.kind().as_ref().map(|s| s.as_str()),
            Some("retail.sale.recorded.v1")
        );
        assert_eq!(*p.delivery_mode(), Some(2));
        assert_eq!(p.app_id().as_ref().map(|s| s.as_str()), Some("omnibus"));
        assert!(p.timestamp().is_some());
        let id = first.header("cloudEvents_id").expect("id header");
        assert_eq!(p.message_id().as_ref().map(|s| s.to_string()), Some(id));
        assert_eq!(
            first.header("cloudEvents_specversion").as_deref(),
            Some("1.0")
        );
        assert_eq!(
            first.header("cloudEvents_source").as_deref(),
            Some("/omnibus/test/pos")
        );
        assert_eq!(
            first.header("cloudEvents_type").as_deref(),
            Some("retail.sale.recorded.v1")
        );
        assert_eq!(
            first.header("cloudEvents_subject").as_deref(),
            Some("SH-001/R20240301-0001")
        );
        assert!(first.header("cloudEvents_time").is_some());
        assert!(
            first
                .header("cloudEvents_omnibusorigin")
                .is_some_and(|o| o.ends_with("sales.csv:2"))
        );

        let data = first.json();
        assert_eq!(
            data["store"], "SH-001",
            "BOM must not leak into the first column name"
        );
        assert_eq!(data["line"], 1);
        assert_eq!(data["sold_at"], "2024-03-01T10:15:00+08:00");
        assert_eq!(data["unit_price"], "2.00");
        assert_eq!(data["name"], "农夫山泉 550ml");
        assert_eq!(data["payment"]["method"], "alipay");
        let third = got[2].json();
        assert_eq!(third["payment"]["member"], "M88001234");
        assert_eq!(hub.stop().code(), Some(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_read_twice_gives_the_same_ids() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("ids");
        broker.owns(&d);
        d.file_connector_with(
            "pos",
            "pos_sales",
            "on_duplicate = \"reprocess\"",
            POS_FORMAT,
        );
        d.hub_section("[delivery]\ndedupe_window = \"0s\"");
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(None);
        let ids = |msgs: &[common::Message]| -> BTreeSet<String> {
            msgs.iter()
                .filter_map(|m| m.header("cloudEvents_id"))
                .collect()
        };
        d.drop_file("pos", "a.csv", &pos_sample());
        let first = broker.take(&queue, 5, WAIT).await;
        assert!(eventually(WAIT, || done(&d, "pos", "a.csv").exists()).await);
        d.drop_file("pos", "b.csv", &pos_sample());
        let second = broker.take(&queue, 5, WAIT).await;
        assert_eq!(first.len(), 5);
        assert_eq!(
            ids(&first).len(),
            5,
            "five distinct records, five distinct ids"
        );
        assert_eq!(ids(&first), ids(&second));
        drop(hub);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_stays_while_the_broker_returns_its_events_as_unroutable() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "noroute");
        let hub = d.start(None);
        let input = d.drop_file("pos", "sales.csv", &pos_sample());
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(
            input.exists(),
            "no queue is bound: mandatory publishes come back, the file must stay"
        );
        assert!(!done(&d, "pos", "sales.csv").exists());
        assert!(
            hub.log_text().contains("unroutable"),
            "log:\n{}",
            hub.log_text()
        );

        let queue = broker.bound_queue(&d.exchange, "#").await;
        assert!(
            eventually(WAIT, || done(&d, "pos", "sales.csv").exists()).await,
            "log:\n{}",
            hub.log_text()
        );
        let got = broker.take(&queue, 5, WAIT).await;
        assert_eq!(got.len(), 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_dead_lettered_with_line_numbers_and_good_rows_flow() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "badrows");
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(None);
        let csv = "store_id,receipt_no,line_no,sold_at,sku,barcode,item_name,qty,unit_price,amount,payment,member_card\n\
                   SH-001,R1,1,2024-03-01 10:15:00,1001,,水,1,2.00,2.00,cash,\n\
                   SH-001,R1,2,2024-03-01 10:15:00,1002,,面,1,abc,4.50,cash,\n\
                   SH-001,R1,3,2024-03-01 10:15:00,1003\n\
                   SH-001,R1,4,not a time,1004,,茶,1,3.00,3.00,cash,\n\
                   SH-001,R2,1,2024-03-01 11:00:00,1005,,奶,2,5.00,10.00,cash,\n";
        d.drop_file("pos", "mixed.csv", csv.as_bytes());
        let good = broker.take(&queue, 2, WAIT).await;
        assert_eq!(good.len(), 2, "log:\n{}", hub.log_text());
        let receipts: Vec<_> = good.iter().map(|m| m.json()["receipt"].clone()).collect();
        assert_eq!(receipts, vec!["R1", "R2"]);

        let dead = broker.take(&d.dead_queue, 3, WAIT).await;
        assert_eq!(dead.len(), 3);
        let mut lines: Vec<_> = dead.iter().filter_map(|m| m.header("x-omnibus-line")).collect();
        lines.sort();
        assert_eq!(lines, vec!["3", "4", "5"]);
        for m in &dead {
            assert_eq!(m.routing_key, "pos");
            assert_eq!(m.header("x-omnibus-connector").as_deref(), Some("pos"));
            assert!(m.header("x-omnibus-file").is_some_and(|f| f.ends_with("mixed.csv")));
            assert!(!m.body.is_empty(), "the raw record travels with the dead letter");
        }
        let bad_price = dead.iter().find(|m| m.header("x-omnibus-line").as_deref() == Some("3")).expect("line 3");
        assert!(String::from_utf8_lossy(&bad_price.body).contains("abc"));
        assert!(bad_price.header("x-omnibus-error").is_some_and(|e| e.contains("unit_price") && e.contains("abc")));

        assert!(eventually(WAIT, || done(&d, "pos", "mixed.csv").exists()).await);
        let report = std::fs::read_to_string(done(&d, "pos", "mixed.csv.report.txt")).expect("report beside the file");
        assert!(report.contains("\n3\t") && report.contains("\n4\t") && report.contains("\n5\t"), "{report}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gbk_pipe_file_decodes_before_splitting() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("gbk");
        broker.owns(&d);
        d.file_connector("erp", "erp_inventory", ERP_FORMAT);
        let queue = broker.bound_queue(&d.exchange, "retail.inventory.#").await;
        let _hub = d.start(None);
        let sample = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/erp/MARD_20240301.txt"
        ))
        .expect("sample");
        assert!(
            sample.windows(2).any(|w| w == [0xab, b'|']),
            "the fixture has a GBK trail byte equal to the delimiter"
        );
        d.drop_file("erp", "MARD.txt", &sample);
        let got = broker.take(&queue, 6, WAIT).await;
        assert_eq!(got.len(), 6);
        let names: BTreeSet<String> = got
            .iter()
            .map(|m| m.json()["description"].as_str().unwrap_or("").to_string())
            .collect();
        assert!(names.contains("珅美 洗衣液 2kg"), "{names:?}");
        assert!(names.contains("康师傅红烧牛肉面 五连包"));
        let first = got[0].json();
        assert_eq!(first["store"], "SH-001");
        assert_eq!(first["as_of"], "2024-03-01");
        assert_eq!(first["on_hand"], "120.000");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_down_at_start_the_outbox_takes_the_file_and_drains_when_the_broker_is_back() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "down");
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let port = common::proxy::free_port();
        let hub = d.start(Some(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f")));
        d.drop_file("pos", "sales.csv", &pos_sample());
        assert!(
            eventually(WAIT, || done(&d, "pos", "sales.csv").exists()).await,
            "the outbox takes the events while the broker is unreachable; log:\n{}",
            hub.log_text()
        );
        assert!(
            hub.log_text().contains("broker unreachable"),
            "log:\n{}",
            hub.log_text()
        );
        assert!(
            broker
                .take(&queue, 1, Duration::from_secs(1))
                .await
                .is_empty()
        );

        let proxy = common::proxy::start(port, 5672).await;
        let got = broker.take(&queue, 6, WAIT).await;
        assert_eq!(
            got.len(),
            5,
            "the outbox drains once the broker is back; log:\n{}",
            hub.log_text()
        );
        assert!(
            eventually(WAIT, || hub.log_text().contains("outbox drained")).await,
            "log:\n{}",
            hub.log_text()
        );
        drop(hub);
        proxy.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_lost_mid_file_unconfirmed_events_are_republished() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "cut");
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let port = common::proxy::free_port();
        let proxy = common::proxy::start(port, 5672).await;
        let hub = d.start(Some(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f")));
        let rows = 10_000;
        let mut csv = String::from("store_id,receipt_no,line_no,sold_at,sku,barcode,item_name,qty,unit_price,amount,payment,member_card\n");
        for i in 0..rows {
            csv.push_str(&format!("SH-001,R{i},1,2024-03-01 10:15:00,{i},,x,1,1.00,1.00,cash,\n"));
        }
        d.drop_file("pos", "big.csv", csv.as_bytes());
        let first = broker.take(&queue, 1, WAIT).await;
        assert_eq!(first.len(), 1, "log:\n{}", hub.log_text());
        proxy.abort();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let proxy = common::proxy::start(port, 5672).await;
        assert!(eventually(Duration::from_secs(120), || done(&d, "pos", "big.csv").exists()).await, "log:\n{}", hub.log_text());
        let mut ids: BTreeSet<String> = first.iter().filter_map(|m| m.header("cloudEvents_id")).collect();
        loop {
            let batch = broker.take(&queue, 5_000, Duration::from_secs(2)).await;
            if batch.is_empty() {
                break;
            }
            ids.extend(batch.iter().filter_map(|m| m.header("cloudEvents_id")));
        }
        assert_eq!(ids.len(), rows, "every row arrived; log:\n{}", hub.log_text());
        assert!(hub.log_text().contains("broker connection lost"));
        proxy.abort();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trouble_in_one_file_or_connector_stops_nothing_else() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "isolation");
        d.file_connector("broken", "no_such_mapping", POS_FORMAT);
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(None);
        d.drop_file("pos", "empty.csv", b"");
        d.drop_file("pos", "wrong.csv", b"store,receipt\nSH-001,R1\n");
        d.drop_file("pos", "sales.csv", &pos_sample());
        assert!(
            eventually(WAIT, || done(&d, "pos", "sales.csv").exists()).await,
            "log:\n{}",
            hub.log_text()
        );
        assert_eq!(broker.take(&queue, 5, WAIT).await.len(), 5);
        assert!(
            done(&d, "pos", "empty.csv").exists(),
            "an empty file is finished, with no events"
        );
        let error = d.spool("pos").join("error");
        assert!(
            eventually(WAIT, || error.join("wrong.csv").exists()).await,
            "a file without the mapping's columns goes to error/"
        );
        let report = std::fs::read_to_string(error.join("wrong.csv.report.txt")).expect("report");
        assert!(
            report.contains("store_id"),
            "the report names the missing column: {report}"
        );
        let log = hub.log_text();
        assert!(
            log.contains("broken") && log.contains("no_such_mapping"),
            "the broken connector is reported: {log}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_drop_folder_is_created_at_start_and_watched() {
    with_broker(|mut broker: Broker| async move {
        let d = pos_deployment(&mut broker, "autocreate");
        std::fs::remove_dir_all(d.spool("pos")).expect("remove the drop folder");
        let queue = broker.bound_queue(&d.exchange, "retail.sale.#").await;
        let hub = d.start(None);
        assert!(
            eventually(WAIT, || d.spool("pos").is_dir()).await,
            "hub log:\n{}",
            hub.log_text()
        );
        assert!(hub.log_text().contains("created the missing drop folder"));
        d.drop_file("pos", "sales.csv", &pos_sample());
        let got = broker.take(&queue, 5, WAIT).await;
        assert_eq!(got.len(), 5, "hub log:\n{}", hub.log_text());
        assert!(!hub.log_text().contains("cannot read the drop folder"));
        assert_eq!(hub.stop().code(), Some(0));
    })
    .await;
}
