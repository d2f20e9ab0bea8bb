//! Delivery guarantees end to end, through the real binary and the real RabbitMQ: the file ledger
//! (re-dropped content recognised, a stopped file resumes where it got to), the dedupe window, the
//! local dead-letter index, and graceful shutdown.

mod common;

use common::POS_FORMAT;

use common::{Broker, Deployment, eventually, with_broker};
use std::collections::HashMap;
use std::time::Duration;

const HEADER: &str = "store_id,receipt_no,line_no,sold_at,sku,barcode,item_name,qty,unit_price,amount,payment,member_card\n";
const WAIT: Duration = Duration::from_secs(30);

fn sales(rows: usize) -> Vec<u8> {
    let mut csv = String::from(HEADER);
    for i in 0..rows {
        csv.push_str(&format!(
            "SH-001,R{i},1,2024-03-01 10:15:00,{i},,x,1,1.00,1.00,cash,\n"
        ));
    }
    csv.into_bytes()
}

fn done(d: &Deployment, id: &str, name: &str) -> std::path::PathBuf {
    d.spool(id).join("done").join(name)
}

/// Takes every message until none arrives for two seconds; returns the count per event id.
async fn drain(broker: &Broker, queue: &str) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    loop {
        let batch = broker.take(queue, 5_000, Duration::from_secs(2)).await;
        if batch.is_empty() {
            return ids;
        }
        for m in batch {
            let id = m.header("cloudEvents_id").expect("id");
            *ids.entry(id).or_default() += 1;
        }
    }
}

fn store(d: &Deployment) -> rusqlite::Connection {
    rusqlite::Connection::open(d.state_dir().join("omnibus.db")).expect("state store")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_content_dropped_again_is_skipped_and_reprocess_is_deduplicated() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("redrop");
        broker.owns(&d);
        d.file_connector("skip", "pos_sales", POS_FORMAT);
        d.file_connector_with(
            "again",
            "pos_sales",
            "on_duplicate = \"reprocess\"",
            POS_FORMAT,
        );
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(None);
        for id in ["skip", "again"] {
            d.drop_file(id, "a.csv", &sales(20));
            assert!(
                eventually(WAIT, || done(&d, id, "a.csv").exists()).await,
                "log:\n{}",
                hub.log_text()
            );
        }
        let first = drain(&broker, &queue).await;
        assert_eq!(first.len(), 40, "log:\n{}", hub.log_text());

        for id in ["skip", "again"] {
            d.drop_file(id, "b.csv", &sales(20));
            assert!(
                eventually(WAIT, || done(&d, id, "b.csv").exists()).await,
                "log:\n{}",
                hub.log_text()
            );
        }
        assert!(
            drain(&broker, &queue).await.is_empty(),
            "nothing is published twice"
        );
        let log = hub.log_text();
        assert!(
            log.contains("identical content was already processed; skipping"),
            "log:\n{log}"
        );
        assert!(
            log.contains("duplicates=20"),
            "reprocessing finds every event in the dedupe window; log:\n{log}"
        );
        let files: i64 = store(&d)
            .query_row("SELECT COUNT(*) FROM files WHERE state = 'done'", [], |r| {
                r.get(0)
            })
            .expect("ledger");
        assert_eq!(files, 2, "one ledger row per connector and content");
        assert_eq!(hub.stop().code(), Some(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_stopped_half_way_resumes_where_it_got_to_and_nothing_arrives_twice() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("resume");
        broker.owns(&d);
        d.file_connector("pos", "pos_sales", POS_FORMAT);
        let queue = broker.bound_queue(&d.exchange, "#").await;
        let port = common::proxy::free_port();
        let proxy = common::proxy::start(port, 5672).await;
        let url = format!("amqp://guest:guest@127.0.0.1:{port}/%2f");
        // No outbox: the file cannot be acknowledged while the broker is away. Receipts: what was
        // in flight when the connection went is not published twice.
        d.hub_section(
            "[delivery]\noutbox_max_bytes = 0\nshutdown_timeout = \"10s\"\nreceipts = true",
        );
        broker.forget_later(&format!("{}.receipts", d.exchange));
        let rows = 30_000;
        let hub = d.start(Some(&url));
        d.drop_file("pos", "big.csv", &sales(rows));
        let progress = || -> i64 {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
            rusqlite::Connection::open_with_flags(d.state_dir().join("omnibus.db"), flags)
                .and_then(|c| c.query_row("SELECT rows_done FROM files", [], |r| r.get(0)))
                .unwrap_or(0)
        };
        assert!(
            eventually(WAIT, || progress() > 0).await,
            "log:\n{}",
            hub.log_text()
        );
        proxy.abort();
        assert_eq!(hub.stop().code(), Some(0), "SIGTERM stops the hub cleanly");
        assert!(
            d.spool("pos").join("big.csv").exists(),
            "an unfinished file stays"
        );
        let saved = progress();
        assert!(saved < rows as i64, "stopped half-way: {saved}");

        let hub = d.start(None);
        assert!(
            eventually(WAIT, || done(&d, "pos", "big.csv").exists()).await,
            "log:\n{}",
            hub.log_text()
        );
        let log = hub.log_text();
        assert!(
            log.contains(&format!("resume={saved}")),
            "resumed after the saved position; log:\n{log}"
        );
        let ids = drain(&broker, &queue).await;
        assert_eq!(ids.len(), rows, "every row arrived; log:\n{log}");
        assert!(ids.values().all(|n| *n == 1), "no id twice");
        assert_eq!(hub.stop().code(), Some(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_kept_in_the_local_index_with_raw_and_decoded_forms() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("dlindex");
        broker.owns(&d);
        d.file_connector("pos", "pos_sales", POS_FORMAT);
        let hub = d.start(None);
        let csv = format!("{HEADER}SH-001,R1,1,2024-03-01 10:15:00,1001,,水,1,abc,2.00,cash,\n");
        d.drop_file("pos", "bad.csv", csv.as_bytes());
        assert!(eventually(WAIT, || d.spool("pos").join("error/bad.csv").exists()).await, "log:\n{}", hub.log_text());
        let dead = broker.take(&d.dead_queue, 1, WAIT).await;
        assert_eq!(dead.len(), 1);
        let (connector, line, stage, error, raw, decoded, mapping, version, key): (String, i64, String, String, Vec<u8>, String, String, String, Vec<u8>) = store(&d)
            .query_row(
                "SELECT connector, line, stage, error, raw, decoded, mapping, mapping_version, key FROM dead_letters",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?)),
            )
            .expect("one dead letter");
        assert_eq!((connector.as_str(), line, stage.as_str()), ("pos", 2, "map"));
        assert!(error.contains("abc"), "{error}");
        assert!(String::from_utf8_lossy(&raw).contains("abc"));
        let decoded: serde_json::Value = serde_json::from_str(&decoded).expect("decoded JSON");
        assert_eq!(decoded["unit_price"], "abc");
        assert_eq!(mapping, "pos_sales");
        assert_eq!(version.len(), 12);
        let message_id = dead[0].properties.message_id().as_ref().map(|s| s.to_string()).expect("message id");
        assert_eq!(uuid::Uuid::parse_str(&message_id).expect("uuid").as_bytes().as_slice(), key.as_slice());
        assert_eq!(hub.stop().code(), Some(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_hub_on_the_same_state_is_refused_and_a_second_signal_exits_at_once() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("twice");
        broker.owns(&d);
        d.file_connector("pos", "pos_sales", POS_FORMAT);
        // A broker that never answers: connecting hangs, so stopping takes a while.
        let black_hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = black_hole.local_addr().expect("addr").port();
        d.hub_section("[delivery]\noutbox_max_bytes = 0\nshutdown_timeout = \"60s\"");
        let mut hub = d.start(Some(&format!("amqp://guest:guest@127.0.0.1:{port}/%2f")));
        assert!(
            eventually(WAIT, || hub.log_text().contains("state store open")).await,
            "log:\n{}",
            hub.log_text()
        );
        let mut second = d.start(None);
        let status = second.wait_exit(WAIT);
        assert_eq!(status.code(), Some(1));
        assert!(
            second.log_text().contains("already running"),
            "log:\n{}",
            second.log_text()
        );

        d.drop_file("pos", "a.csv", &sales(3));
        assert!(eventually(WAIT, || hub.log_text().contains("taking file")).await);
        hub.signal("TERM");
        assert!(
            eventually(WAIT, || hub
                .log_text()
                .contains("a second signal exits at once"))
            .await
        );
        hub.signal("TERM");
        let status = hub.wait_exit(WAIT);
        assert_eq!(status.code(), Some(130), "log:\n{}", hub.log_text());
        drop(black_hole);
        assert!(
            d.spool("pos").join("a.csv").exists(),
            "nothing unconfirmed was acknowledged"
        );
    })
    .await;
}
