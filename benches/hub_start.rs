//! Start time and idle CPU of the real `omnibus run` on the bundled reference deployment
//! (`config/omnibus.toml`, every connector and family instance):
//!
//! - time from spawning the hub to its admin API answering;
//! - time from spawning the hub until every connector has left `starting` (connected, idle between
//!   polls, or backing off because its legacy system is not there), and how many are in each state;
//! - CPU the idle hub uses over `BENCH_IDLE_SECS` (default 30), from `/proc/<pid>/stat`, and its
//!   peak RSS.
//!
//! `cargo bench --bench hub_start`. Needs RabbitMQ on loopback (`scripts/services rabbitmq`); the
//! other services are optional (their connectors back off). The hub runs with a temporary state
//! dir, its own exchange names and free ports, so it does not disturb a hub already running.

mod common;

use common::{env_usize, vm_hwm_kb};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

fn main() {
    let idle = Duration::from_secs(env_usize("BENCH_IDLE_SECS", 30) as u64);
    let state = tempfile::tempdir().expect("temporary state dir");
    let admin_port = free_port();
    let admin = format!("http://127.0.0.1:{admin_port}");
    let tag = format!("bench.start.{}", std::process::id());
    let started = Instant::now();
    let mut hub = spawn(state.path(), admin_port, &tag);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let client = reqwest::Client::new();
    let until_admin = runtime.block_on(wait_for_admin(&client, &admin, &mut hub));
    let (until_all, states) = runtime.block_on(wait_for_connectors(&client, &admin, started));
    let since_start = started.elapsed();
    std::thread::sleep(Duration::from_secs(5).saturating_sub(since_start));
    let before = cpu_seconds(hub.id());
    std::thread::sleep(idle);
    let used = cpu_seconds(hub.id()) - before;
    let peak_kb = vm_hwm_kb(Path::new(&format!("/proc/{}/status", hub.id())));
    stop(&mut hub);
    runtime.block_on(remove_exchanges(&tag));

    let total: usize = states.values().map(Vec::len).sum();
    println!("hub_start: reference deployment, {total} connectors");
    println!(
        "  admin API answering after   {:>7.3} s",
        until_admin.as_secs_f64()
    );
    println!(
        "  every connector started in  {:>7.3} s",
        until_all.as_secs_f64()
    );
    for (state, ids) in &states {
        let shown = if state == "backing_off" {
            ids.join(", ")
        } else {
            String::new()
        };
        println!("    {state:<12} {:>3} {shown}", ids.len());
    }
    println!(
        "  idle CPU over {} s:          {used:.3} s ({:.2} % of one core)",
        idle.as_secs(),
        100.0 * used / idle.as_secs_f64()
    );
    println!(
        "  peak RSS:                    {:.1} MB",
        peak_kb as f64 / 1024.0
    );
}

fn spawn(state: &Path, admin_port: u16, tag: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_omnibus"))
        .args(["run", "--config", "config/omnibus.toml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("OMNIBUS__STATE__DIR", state)
        .env("OMNIBUS__ADMIN__LISTEN", format!("127.0.0.1:{admin_port}"))
        .env(
            "OMNIBUS__INGEST__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("OMNIBUS__BROKER__EXCHANGE", format!("{tag}.events"))
        .env(
            "OMNIBUS__BROKER__DEAD_LETTER_EXCHANGE",
            format!("{tag}.dead"),
        )
        .env("OMNIBUS__BROKER__DEAD_LETTER_QUEUE", format!("{tag}.dead"))
        .env("SMS_CALLBACK_SECRET", "bench")
        .env("ONLINE_MALL_WEBHOOK_SECRET", "bench")
        .env("MARKETING_WEBHOOK_SECRET", "bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn omnibus run")
}

async fn wait_for_admin(client: &reqwest::Client, admin: &str, hub: &mut Child) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = hub.try_wait() {
            panic!("the hub exited with {status} before its admin API answered");
        }
        if client.get(format!("{admin}/health")).send().await.is_ok() {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no admin API");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until no connector is `starting`; returns the time since `started` (the spawn) and the
/// connectors in each state.
async fn wait_for_connectors(
    client: &reqwest::Client,
    admin: &str,
    started: Instant,
) -> (Duration, BTreeMap<String, Vec<String>>) {
    loop {
        let states = states(client, admin).await;
        let starting = states.get("starting").map_or(0, Vec::len);
        if starting == 0 && !states.is_empty() {
            return (started.elapsed(), states);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "connectors still starting: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn states(client: &reqwest::Client, admin: &str) -> BTreeMap<String, Vec<String>> {
    let mut states = BTreeMap::new();
    let Ok(response) = client.get(format!("{admin}/api/connectors")).send().await else {
        return states;
    };
    let Ok(bytes) = response.bytes().await else {
        return states;
    };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return states;
    };
    for c in body["connectors"].as_array().into_iter().flatten() {
        let state = c["state"].as_str().unwrap_or("?").to_string();
        let id = c["id"].as_str().unwrap_or("?").to_string();
        states.entry(state).or_default().push(id);
    }
    states
}

/// User + system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .map(|&i| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        })
        .sum();
    ticks / TICKS_PER_SECOND
}

fn stop(hub: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &hub.id().to_string()])
        .status();
    let _ = hub.wait();
}

async fn remove_exchanges(tag: &str) {
    let Ok(conn) = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        for name in [format!("{tag}.events"), format!("{tag}.dead")] {
            let _ = channel
                .exchange_delete(name.as_str().into(), Default::default())
                .await;
        }
        let _ = channel
            .queue_delete(format!("{tag}.dead").as_str().into(), Default::default())
            .await;
    }
    let _ = conn.close(0, "bench done".into()).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
