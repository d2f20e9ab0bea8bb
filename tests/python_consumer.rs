//! The Python consumer of examples/consumers/python against a real hub and the real RabbitMQ: the
//! hub publishes a POS sale from a dropped file, and consumer.py (run from the virtual environment
//! `scripts/python` prepares in target/python) declares its own queue, binds it with an event-type
//! pattern, prints the event's CloudEvents attributes and data, acknowledges it and exits.

mod common;

use common::POS_FORMAT;

use common::{Broker, Deployment, eventually, unique, with_broker};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const SALE: &str = "store_id,receipt_no,line_no,sold_at,sku,barcode,item_name,qty,unit_price,amount,payment,member_card\n\
                    SH-001,R-PY-1,1,2024-03-01 10:15:00,10023456,6901234567892,农夫山泉 550ml,2,2.00,4.00,alipay,\n";

fn python() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python (scripts/test does)",
        python.display()
    );
    python
}

/// Starts consumer.py on `exchange` with its own `queue`, bound with `pattern`, for one event.
fn consumer(d: &Deployment, exchange: &str, queue: &str, pattern: &str) -> Child {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/consumers/python/consumer.py");
    let out = std::fs::File::create(d.dir.path().join("consumer.out")).expect("stdout file");
    let err = std::fs::File::create(d.dir.path().join("consumer.err")).expect("stderr file");
    Command::new(python())
        .arg(script)
        .args([
            "--url",
            common::BROKER,
            "--exchange",
            exchange,
            "--queue",
            queue,
        ])
        .args(["--limit", "1", pattern])
        .stdout(out)
        .stderr(err)
        .stdin(Stdio::null())
        .spawn()
        .expect("run consumer.py")
}

fn read(d: &Deployment, name: &str) -> String {
    std::fs::read_to_string(d.dir.path().join(name)).unwrap_or_default()
}

/// The value printed on the consumer's `  <name>: <value>` line.
fn printed<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("  {name}: ");
    out.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_consumer_prints_and_acknowledges_an_event_the_hub_published() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("pyconsumer");
        broker.owns(&d);
        d.file_connector("pos", "pos_sales", POS_FORMAT);
        let witness = broker.bound_queue(&d.exchange, "retail.sale.#").await;
        let queue = unique("pyconsumer.platform");
        broker.forget_later(&queue);
        let mut py = consumer(&d, &d.exchange, &queue, "retail.sale.#");
        let bound = eventually(WAIT, || {
            read(&d, "consumer.err").contains("consuming") || py.try_wait().ok().flatten().is_some()
        })
        .await;
        assert!(
            bound && read(&d, "consumer.err").contains("consuming"),
            "consumer did not bind its queue:\n{}",
            read(&d, "consumer.err")
        );

        let hub = d.start(None);
        d.drop_file("pos", "sales.csv", SALE.as_bytes());
        let published = broker.take(&witness, 1, WAIT).await;
        assert_eq!(published.len(), 1, "hub log:\n{}", hub.log_text());
        let id = published[0]
            .header("cloudEvents_id")
            .expect("cloudEvents_id");
        let exited = eventually(WAIT, || py.try_wait().ok().flatten().is_some()).await;
        if !exited {
            let _ = py.kill();
        }
        let status = py.wait().expect("consumer exit status");
        let out = read(&d, "consumer.out");
        assert!(
            exited && status.success(),
            "consumer: {status}\n{out}\n{}",
            read(&d, "consumer.err")
        );
        hub.stop();

        assert_eq!(
            printed(&out, "type"),
            Some("retail.sale.recorded.v1"),
            "{out}"
        );
        assert_eq!(printed(&out, "id"), Some(id.as_str()), "{out}");
        assert_eq!(printed(&out, "source"), Some("/omnibus/test/pos"), "{out}");
        assert_eq!(printed(&out, "subject"), Some("SH-001/R-PY-1"), "{out}");
        let data: serde_json::Value =
            serde_json::from_str(printed(&out, "data").expect("a data line")).expect("data JSON");
        assert_eq!(data["receipt"], "R-PY-1", "{out}");
        assert_eq!(data["name"], "农夫山泉 550ml", "{out}");
        let left = broker.take(&queue, 1, Duration::from_millis(500)).await;
        assert!(
            left.is_empty(),
            "the consumer acknowledged its event: none is left in its queue"
        );
    })
    .await;
}
