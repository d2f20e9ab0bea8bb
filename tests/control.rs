//! Ops' requests to a running hub, through the real binary, its admin API and the real RabbitMQ:
//! pause and resume (a paused connector takes nothing), poll-now (an hourly poll runs at once),
//! and reload (only the changed connector restarts; a broken configuration is refused and the
//! running one keeps working; SIGHUP and `omnibus reload` reload too; `omnibus connectors pause`).

mod common;

use common::{BROKER, Broker, Deployment, with_broker};
use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

fn mapping(ty: &str, tag: &str) -> String {
    format!(
        "type = \"test.control.{ty}.v1\"\nkey = [\"receipt\"]\n[fields]\n\
         receipt = {{ from = \"receipt\", required = true }}\ntag = {{ value = \"{tag}\" }}\n"
    )
}

async fn get(url: &str) -> Option<Value> {
    let response = reqwest::get(url).await.ok()?;
    serde_json::from_slice(&response.bytes().await.ok()?).ok()
}

async fn post(url: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .send()
        .await
        .expect("admin API answers");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Polls `GET {base}/api/connectors` until `done` holds; the last listing.
async fn connectors_until(base: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let listing = get(&format!("{base}/api/connectors"))
            .await
            .unwrap_or(Value::Null);
        if done(&listing) || start.elapsed() > WAIT {
            return listing;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn connector<'a>(listing: &'a Value, id: &str) -> &'a Value {
    listing["connectors"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == id))
        .unwrap_or(&Value::Null)
}

fn ids(listing: &Value) -> Vec<String> {
    listing["connectors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect()
}

fn omnibus(d: &Deployment, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(args)
        .arg("--config")
        .arg(d.config())
        .output()
        .expect("omnibus runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The `tag` of the one event that arrives on `queue`.
async fn tag_of_next(broker: &Broker, queue: &str) -> Value {
    let events = broker.take(queue, 1, WAIT).await;
    events
        .first()
        .map(|e| e.json()["tag"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_reloads_restart_only_what_changed() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("control");
        broker.owns(&d);
        d.mapping("a", &mapping("a", "one"));
        d.mapping("b", &mapping("b", "one"));
        d.file_connector("alpha", "a", "type = \"csv\"");
        d.file_connector("beta", "b", "type = \"csv\"");
        let base = d.admin_on_free_port();
        let alpha_events = broker.bound_queue(&d.exchange, "test.control.a.v1").await;
        let beta_events = broker.bound_queue(&d.exchange, "test.control.b.v1").await;
        let hub = d.start(Some(BROKER));
        let both = |l: &Value| ["alpha", "beta"].iter().all(|id| connector(l, id)["state"] == "connected");
        let listing = connectors_until(&base, both).await;
        assert!(both(&listing), "{listing}\nhub log:\n{}", hub.log_text());

        // Paused: a dropped file stays where it is and nothing is published.
        let paused = post(&format!("{base}/api/connectors/alpha/pause")).await;
        assert_eq!(paused, (200, json!({"id": "alpha", "state": "paused"})));
        let file = d.drop_file("alpha", "r1.csv", b"receipt\nR1\n");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(file.exists(), "a paused connector took a file");
        assert!(broker.take(&alpha_events, 1, Duration::from_millis(200)).await.is_empty());
        let refused = post(&format!("{base}/api/connectors/alpha/poll-now")).await;
        assert_eq!(refused.0, 409, "{refused:?}");

        // Resumed: the file is taken.
        let resumed = post(&format!("{base}/api/connectors/alpha/resume")).await;
        assert_eq!(resumed.0, 200, "{resumed:?}");
        assert_eq!(tag_of_next(&broker, &alpha_events).await, "one");
        assert!(common::eventually(WAIT, || !file.exists()).await);

        // A changed mapping restarts its connector only.
        let beta_since = connector(&listing, "beta")["since"].clone();
        d.mapping("a", &mapping("a", "two"));
        let (status, reloaded) = post(&format!("{base}/api/reload")).await;
        assert_eq!(status, 200, "{reloaded}");
        assert_eq!(
            reloaded,
            json!({"added": [], "changed": ["alpha"], "removed": [], "unchanged": 1, "warnings": []})
        );
        let listing = connectors_until(&base, both).await;
        assert_eq!(connector(&listing, "beta")["since"], beta_since, "beta was restarted");
        d.drop_file("alpha", "r2.csv", b"receipt\nR2\n");
        assert_eq!(tag_of_next(&broker, &alpha_events).await, "two");

        // A broken mapping is refused whole; the running beta keeps its mapping.
        d.mapping("b", &mapping("b", "two").replace("[fields]", "typo = 1\n[fields]"));
        let (status, refused) = post(&format!("{base}/api/reload")).await;
        assert_eq!(status, 422, "{refused}");
        let problems = refused["problems"].to_string();
        assert!(problems.contains("b.toml") && problems.contains("typo"), "{refused}");
        d.drop_file("beta", "r3.csv", b"receipt\nR3\n");
        assert_eq!(tag_of_next(&broker, &beta_events).await, "one");

        // SIGHUP reloads: the mapping is mended and a third connector added.
        d.mapping("b", &mapping("b", "one"));
        d.file_connector("gamma", "b", "type = \"csv\"");
        hub.signal("HUP");
        let three = |l: &Value| ids(l) == ["alpha", "beta", "gamma"];
        let listing = connectors_until(&base, three).await;
        assert!(three(&listing), "{listing}\nhub log:\n{}", hub.log_text());
        assert_eq!(connector(&listing, "beta")["since"], beta_since, "beta was restarted");

        // The CLI: pause through the API, and a reload that removes a connector.
        let (ok, out) = omnibus(&d, &["connectors", "pause", "gamma"]);
        assert!(ok && out.contains("gamma: paused"), "{out}");
        std::fs::remove_file(d.dir.path().join("connectors/gamma.toml")).expect("remove");
        let (ok, out) = omnibus(&d, &["reload"]);
        assert!(ok, "{out}");
        assert!(out.contains("removed: gamma") && out.contains("unchanged: 2"), "{out}");
        let (ok, out) = omnibus(&d, &["connectors", "resume", "nope"]);
        assert!(!ok && out.contains("no connector \"nope\""), "{out}");
        assert!(hub.stop().success());
    })
    .await;
}

/// Serves `GET /orders` on a free loopback port, counting requests; its base URL.
async fn order_api(count: Arc<AtomicUsize>) -> String {
    let app = axum::Router::new().route(
        "/orders",
        axum::routing::get(move || {
            count.fetch_add(1, Ordering::SeqCst);
            async { axum::Json(json!({"orders": []})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_now_runs_an_hourly_poll_at_once() {
    with_broker(|mut broker: Broker| async move {
        let d = Deployment::new("pollnow");
        broker.owns(&d);
        d.mapping("a", &mapping("a", "one"));
        let requests = Arc::new(AtomicUsize::new(0));
        let api = order_api(Arc::clone(&requests)).await;
        std::fs::write(
            d.dir.path().join("connectors/mall.toml"),
            format!(
                "system = \"mall\"\nmapping = \"a\"\n[source]\ntype = \"http_poll\"\n\
                 url = \"{api}/orders\"\ninterval = \"1h\"\n[format]\ntype = \"json\"\n\
                 record = \"/orders/*\"\n"
            ),
        )
        .expect("connector");
        let base = d.admin_on_free_port();
        let hub = d.start(Some(BROKER));
        let first = common::eventually(WAIT, || requests.load(Ordering::SeqCst) == 1).await;
        assert!(first, "no poll at start\nhub log:\n{}", hub.log_text());
        let idle = connectors_until(&base, |l| connector(l, "mall")["state"] == "idle").await;
        assert_eq!(connector(&idle, "mall")["state"], "idle", "{idle}");

        let (status, answer) = post(&format!("{base}/api/connectors/mall/poll-now")).await;
        assert_eq!(status, 200, "{answer}");
        let second = common::eventually(WAIT, || requests.load(Ordering::SeqCst) == 2).await;
        assert!(
            second,
            "poll-now did not poll\nhub log:\n{}",
            hub.log_text()
        );
        let (status, missing) = post(&format!("{base}/api/connectors/nope/poll-now")).await;
        assert_eq!(status, 404, "{missing}");
        assert!(hub.stop().success());
    })
    .await;
}
