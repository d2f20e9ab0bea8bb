//! Compressed drops through the real binary and RabbitMQ: a `.gz` file and the entries of a
//! `.zip` archive are decoded like plain files; an archive that inflates past the limit goes to
//! `error/` and publishes nothing.

mod common;

use common::POS_FORMAT;

use common::{Broker, Deployment, eventually, with_broker};
use std::io::Write;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn sample() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/pos/sales_20240301.csv"
    ))
    .expect("sample")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, body) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        w.write_all(body).expect("zip");
    }
    w.finish().expect("zip").into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_files_and_zip_entries_are_decoded_and_a_bomb_is_refused() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("compressed");
        broker.owns(&d);
        d.file_connector_with(
            "pos",
            "pos_sales",
            "max_inflated_bytes = 100000",
            POS_FORMAT,
        );
        let queue = broker.bound_queue(&d.exchange, "retail.sale.#").await;
        let hub = d.start(None);

        d.drop_file("pos", "day.csv.gz", &gzip(&sample()));
        let got = broker.take(&queue, 5, WAIT).await;
        assert_eq!(got.len(), 5, "hub log:\n{}", hub.log_text());
        assert!(
            eventually(WAIT, || d.spool("pos").join("done/day.csv.gz").exists()).await,
            "{}",
            hub.log_text()
        );

        let day = |n: &str| {
            String::from_utf8(sample())
                .expect("utf-8")
                .replace("R20240301", n)
        };
        let (a, b) = (day("R20240302"), day("R20240303"));
        let archive = zip(&[("a.csv", a.as_bytes()), ("b.csv", b.as_bytes())]);
        d.drop_file("pos", "days.zip", &archive);
        let got = broker.take(&queue, 10, WAIT).await;
        assert_eq!(got.len(), 10, "hub log:\n{}", hub.log_text());
        let origins: Vec<String> = got
            .iter()
            .filter_map(|m| m.header("cloudEvents_omnibusorigin"))
            .collect();
        assert!(
            origins.iter().any(|o| o.contains("days.zip!b.csv:")),
            "{origins:?}"
        );

        let bomb = zip(&[("big.csv", &vec![b'0'; 1 << 20])]);
        d.drop_file("pos", "bomb.zip", &bomb);
        let refused = d.spool("pos").join("error/bomb.zip");
        assert!(
            eventually(WAIT, || refused.exists()).await,
            "{}",
            hub.log_text()
        );
        assert!(
            hub.log_text().contains("inflates past max_inflated_bytes"),
            "{}",
            hub.log_text()
        );
        assert!(
            broker
                .take(&queue, 1, Duration::from_secs(1))
                .await
                .is_empty()
        );
        hub.stop();
    })
    .await;
}
