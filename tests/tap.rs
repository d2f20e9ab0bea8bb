//! The live tap of a running hub, through the real binary and the real RabbitMQ: `omnibus tap`
//! prints a file connector's records as decoded (with their lines), its events as mapped, and its
//! events as published (confirmed by the broker), then exits 0 at its limit; an unknown connector
//! and a hub that is not running are refused with a message.

mod common;

use common::proxy::free_port;
use common::{BROKER, Broker, Deployment, with_broker};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

const SALE: &str = "type = \"test.tap.sale.v1\"\nkey = [\"receipt\"]\n[fields]\n\
                    receipt = { from = \"receipt\", required = true }\n\
                    amount = { from = \"amount\", type = \"decimal\" }\n";

/// A running `omnibus tap`, its stderr read as it comes.
struct Tapping {
    child: Child,
    stderr: mpsc::Receiver<String>,
}

impl Tapping {
    fn start(d: &Deployment, base: &str, args: &[&str]) -> Tapping {
        let mut child = Command::new(env!("CARGO_BIN_EXE_omnibus"))
            .arg("tap")
            .args(args)
            .args(["--admin", base, "--config"])
            .arg(d.config())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn omnibus tap");
        let stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Tapping { child, stderr: rx }
    }

    /// Waits until the hub took the request (the tap says so on stderr).
    fn until_started(&self) {
        let line = self.stderr.recv_timeout(WAIT).expect("omnibus tap starts");
        assert!(line.starts_with("tapping "), "{line}");
    }

    /// Waits for the tap to exit; its exit status and its stdout's JSON lines.
    fn finish(mut self) -> (std::process::ExitStatus, Vec<Value>) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if start.elapsed() > WAIT {
                let _ = self.child.kill();
                panic!("omnibus tap did not exit");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut out = String::new();
        let stdout = self.child.stdout.as_mut().expect("stdout");
        stdout.read_to_string(&mut out).expect("stdout");
        let lines = out
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        (status, lines)
    }
}

fn omnibus_tap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .arg("tap")
        .args(args)
        .output()
        .expect("omnibus tap")
}

async fn until_healthy(base: &str) {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if reqwest::get(format!("{base}/health")).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the hub's admin API did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tap_prints_what_a_connector_decodes_maps_and_publishes() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("tap");
        broker.owns(&d);
        d.mapping("sale", SALE);
        d.file_connector("pos", "sale", "type = \"csv\"");
        let base = d.admin_on_free_port();
        let events = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(Some(BROKER));
        until_healthy(&base).await;

        let taps: Vec<Tapping> = ["decoded", "mapped", "published"]
            .iter()
            .map(|stage| {
                let args = ["--connector", "pos", "--stage", stage, "--limit", "2"];
                Tapping::start(&d, &base, &args)
            })
            .collect();
        taps.iter().for_each(Tapping::until_started);
        d.drop_file(
            "pos",
            "day.csv",
            b"receipt,amount\nR1,12.50\nR2,3.00\nR3,1\n",
        );
        let mut finished = taps.into_iter().map(Tapping::finish);
        let mut next = || {
            let (status, lines) = finished.next().expect("a tap");
            assert!(status.success(), "{status}\nhub log:\n{}", hub.log_text());
            assert_eq!(lines.len(), 2, "{lines:?}");
            lines
        };

        let decoded = next();
        for (line, (n, receipt, amount)) in
            decoded.iter().zip([(2, "R1", "12.50"), (3, "R2", "3.00")])
        {
            assert_eq!(
                (&line["connector"], &line["stage"]),
                (&"pos".into(), &"decoded".into())
            );
            assert_eq!(line["origin"]["line"], n, "{line}");
            assert!(
                line["origin"]["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with("day.csv")),
                "{line}"
            );
            assert_eq!(
                line["record"],
                serde_json::json!({"receipt": receipt, "amount": amount})
            );
        }

        let mapped = next();
        for (line, (receipt, amount)) in mapped.iter().zip([("R1", "12.50"), ("R2", "3.00")]) {
            assert_eq!(line["stage"], "mapped", "{line}");
            let event = &line["event"];
            assert_eq!(event["type"], "test.tap.sale.v1", "{line}");
            assert_eq!(event["source"], "/omnibus/test/pos", "{line}");
            assert_eq!(event["data"]["receipt"], receipt, "{line}");
            assert_eq!(event["data"]["amount"], amount, "{line}");
            assert!(event["id"].is_string(), "{line}");
        }

        let published = next();
        let delivered: Vec<Value> = broker
            .take(&events, 3, WAIT)
            .await
            .iter()
            .map(|m| Value::from(m.header("cloudEvents_id")))
            .collect();
        for line in &published {
            assert_eq!(line["stage"], "published", "{line}");
            assert!(
                delivered.contains(&line["event"]["id"]),
                "{line}\n{delivered:?}"
            );
            assert_eq!(line["event"]["type"], "test.tap.sale.v1", "{line}");
            assert_eq!(line["event"]["delivery"], "confirmed", "{line}");
            assert!(line["event"]["routing_key"].is_string(), "{line}");
        }

        let unknown = omnibus_tap(&["--connector", "nope", "--admin", &base]);
        let message = String::from_utf8_lossy(&unknown.stderr);
        assert!(!unknown.status.success(), "{message}");
        assert!(message.contains("no connector \"nope\""), "{message}");
    })
    .await;
}

#[test]
fn a_hub_that_is_not_running_is_reported() {
    let base = format!("http://127.0.0.1:{}", free_port());
    let out = omnibus_tap(&["--admin", &base]);
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{message}");
    assert!(message.contains("is the hub running?"), "{message}");
}
