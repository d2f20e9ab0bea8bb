//! The admin status page in a real headless Chromium (tests/browser/status_page.mjs, playwright-core
//! driving Debian's `chromium`; `scripts/browser` installs both) against a running hub with two
//! file connectors and the real RabbitMQ: the page lists both, and once a file the connector cannot
//! use is dropped into one, that row shows the failing badge without a page reload. The
//! screenshots stay in target/artifacts/.

mod common;

use common::{BROKER, Broker, Deployment, eventually, with_broker};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

const SALE: &str = "type = \"test.page.sale.v1\"\nkey = [\"receipt\"]\n[fields]\n\
                    receipt = { from = \"receipt\", required = true }\n";

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/artifacts");
    std::fs::create_dir_all(&dir).expect("target/artifacts");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_lists_connectors_and_shows_a_failing_one_without_a_reload() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("page");
        broker.owns(&d);
        d.mapping("sale", SALE);
        d.file_connector("erp", "sale", "type = \"csv\"");
        d.file_connector("pos", "sale", "type = \"csv\"");
        let base = d.admin_on_free_port();
        let _events = broker.bound_queue(&d.exchange, "#").await;
        let hub = d.start(Some(BROKER));
        d.drop_file("pos", "day.csv", b"receipt\nR1\n\n");
        d.drop_file("erp", "day.csv", b"receipt\nR2\n");

        let shot = artifacts().join("status-page.png");
        let ready = PathBuf::from(format!("{}.ready", shot.display()));
        let _ = std::fs::remove_file(&ready);
        let _ = std::fs::remove_file(&shot);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/status_page.mjs");
        let mut node = Command::new("node")
            .arg(&script)
            .arg(&base)
            .arg(&shot)
            .args(["erp,pos", "erp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs (scripts/browser installs it and the page's test dependencies)");
        let started = eventually(WAIT, || {
            ready.exists() || node.try_wait().ok().flatten().is_some()
        })
        .await;
        let listed = started && ready.exists();
        if listed {
            d.drop_file("erp", "wrong.csv", b"store,amount\nSH-001,3\n");
        }
        let finished = eventually(WAIT, || node.try_wait().ok().flatten().is_some()).await;
        if !finished {
            let _ = node.kill();
        }
        let out = node.wait_with_output().expect("node's output");
        let said = format!(
            "{}{}\nhub log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            hub.log_text()
        );
        assert!(listed, "the page never listed the connectors: {said}");
        assert!(out.status.success(), "the browser check failed: {said}");
        assert!(
            said.contains("erp: failing badge shown without a reload"),
            "{said}"
        );
        assert!(shot.exists(), "no screenshot: {said}");
        println!("status page screenshot: {}", shot.display());
        let _ = std::fs::remove_file(&ready);
    })
    .await;
}
