//! Shared harness for the integration tests: a throw-away deployment (hub file, connectors, spool
//! folders) with uniquely named exchanges and queues, the real `omnibus` binary, and a lapin client
//! on the real local RabbitMQ to observe what the hub published.

#![allow(dead_code)]

pub mod offline;
pub mod proxy;
pub mod xlsx;

use futures_util::FutureExt;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The `[format]` of the POS sample `examples/pos/sales_20240301.csv` (UTF-8 CSV with a header).
pub const POS_FORMAT: &str = "type = \"csv\"\nencoding = \"utf-8\"\nheader = true";

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "test.{prefix}.{}.{nanos}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Copies a folder and its subfolders.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let path = entry.expect("dir entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

/// A deployment in a temporary folder, using the repository's mappings and a copy of its schemas.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub exchange: String,
    pub dead_exchange: String,
    pub dead_queue: String,
}

impl Deployment {
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = Self {
            exchange: unique(&format!("{name}.events")),
            dead_exchange: unique(&format!("{name}.dead")),
            dead_queue: unique(&format!("{name}.deadq")),
            dir,
        };
        std::fs::create_dir_all(d.dir.path().join("config")).expect("mkdir");
        std::fs::create_dir_all(d.dir.path().join("connectors")).expect("mkdir");
        let mappings = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas"),
            &d.dir.path().join("schemas"),
        );
        let hub = format!(
            "[broker]\nurl = \"{BROKER}\"\nexchange = \"{}\"\ndead_letter_exchange = \"{}\"\n\
             dead_letter_queue = \"{}\"\nconfirm_window = 64\n[paths]\nconnectors = \"../connectors\"\n\
             mappings = \"{}\"\nschemas = \"../schemas\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            d.exchange,
            d.dead_exchange,
            d.dead_queue,
            mappings.display()
        );
        std::fs::write(d.config(), hub).expect("write hub file");
        d
    }

    /// Appends a section to the hub file (e.g. `[delivery]` settings).
    pub fn hub_section(&self, toml: &str) {
        let mut text = std::fs::read_to_string(self.config()).expect("hub file");
        text.push('\n');
        text.push_str(toml);
        text.push('\n');
        std::fs::write(self.config(), text).expect("write hub file");
    }

    /// Points the admin API at a free loopback port; its base URL (`http://127.0.0.1:PORT`).
    pub fn admin_on_free_port(&self) -> String {
        let port = proxy::free_port();
        self.admin_on(&format!("127.0.0.1:{port}"));
        format!("http://127.0.0.1:{port}")
    }

    /// Points the admin API at `listen`.
    pub fn admin_on(&self, listen: &str) {
        let text = std::fs::read_to_string(self.config()).expect("hub file");
        let text = text.replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{listen}\""),
        );
        std::fs::write(self.config(), text).expect("hub file");
    }

    /// The deployment's state dir (`[state] dir`, by default `var/state` beside `config/`).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("var/state")
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config/omnibus.toml")
    }

    pub fn spool(&self, id: &str) -> PathBuf {
        self.dir.path().join("spool").join(id)
    }

    /// Writes `connectors/<id>.toml` with a file source on this deployment's spool folder.
    pub fn file_connector(&self, id: &str, mapping: &str, format: &str) {
        self.file_connector_with(id, mapping, "", format);
    }

    /// [`Deployment::file_connector`] with extra `[source]` lines (e.g. `on_duplicate = "reprocess"`).
    pub fn file_connector_with(&self, id: &str, mapping: &str, source: &str, format: &str) {
        std::fs::create_dir_all(self.spool(id)).expect("mkdir spool");
        let text = format!(
            "system = \"test\"\nmapping = \"{mapping}\"\n[source]\ntype = \"file\"\npath = \"{}\"\n\
             glob = \"*\"\nsettle = \"200ms\"\nrescan = \"200ms\"\n{source}\n[format]\n{format}\n",
            self.spool(id).display()
        );
        std::fs::write(self.dir.path().join(format!("connectors/{id}.toml")), text)
            .expect("write connector");
    }

    /// Starts `omnibus run` on this deployment; `broker` overrides the URL through the environment.
    pub fn start(&self, broker: Option<&str>) -> Hub {
        self.start_with_env(broker, &[])
    }

    /// [`Deployment::start`] with more environment variables for the hub.
    pub fn start_with_env(&self, broker: Option<&str>, vars: &[(&str, &str)]) -> Hub {
        let log = (0..)
            .map(|n| self.dir.path().join(format!("hub.{n}.log")))
            .find(|p| !p.exists())
            .expect("a free log name");
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnibus"));
        cmd.args(["run", "--config"])
            .arg(self.config())
            .env("OMNIBUS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(url) = broker {
            cmd.env("OMNIBUS__BROKER__URL", url);
        }
        cmd.envs(vars.iter().copied());
        Hub {
            child: cmd.spawn().expect("spawn omnibus"),
            log,
        }
    }

    /// Drops a file into a connector's folder atomically (written elsewhere, then renamed in).
    pub fn drop_file(&self, id: &str, name: &str, bytes: &[u8]) -> PathBuf {
        let tmp = self.dir.path().join(format!(".{name}.writing"));
        std::fs::write(&tmp, bytes).expect("write");
        let dest = self.spool(id).join(name);
        std::fs::rename(&tmp, &dest).expect("rename into spool");
        dest
    }
}

/// A running hub process, killed when dropped.
pub struct Hub {
    child: Child,
    pub log: PathBuf,
}

impl Hub {
    /// Starts `cmd` (an `omnibus run` command line), its log written to `log`.
    pub fn spawn(mut cmd: Command, log: &Path) -> Self {
        let stderr = std::fs::File::create(log).expect("log file");
        cmd.stdout(Stdio::null()).stderr(stderr);
        Hub {
            child: cmd.spawn().expect("spawn omnibus"),
            log: log.to_path_buf(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`) to the hub.
    pub fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits for the hub to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "hub did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(Instant::now() < deadline, "hub did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `cond` holds, polling; false on timeout.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

/// A test's own connection to the real broker; deletes what the test declared on cleanup.
#[derive(Clone)]
pub struct Broker {
    _conn: std::sync::Arc<Connection>,
    pub channel: Channel,
    declared: std::sync::Arc<std::sync::Mutex<Declared>>,
}

#[derive(Default)]
struct Declared {
    queues: Vec<String>,
    exchanges: Vec<String>,
}

/// One message taken from a queue.
#[derive(Debug)]
pub struct Message {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

impl Message {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let headers = self.properties.headers().as_ref()?;
        match headers.inner().get(name)? {
            AMQPValue::LongString(s) => Some(s.to_string()),
            AMQPValue::LongLongInt(n) => Some(n.to_string()),
            other => Some(format!("{other:?}")),
        }
    }
}

impl Broker {
    pub async fn connect() -> Self {
        let conn = Connection::connect(BROKER, ConnectionProperties::default())
            .await
            .expect("RabbitMQ on 127.0.0.1:5672 (run scripts/services)");
        let channel = conn.create_channel().await.expect("channel");
        Self {
            _conn: std::sync::Arc::new(conn),
            channel,
            declared: Default::default(),
        }
    }

    /// Declares the durable topic `exchange` (as the hub would) and remembers it for cleanup.
    pub async fn exchange(&mut self, exchange: &str) {
        omnibus::route::topology::declare_exchange(&self.channel, exchange)
            .await
            .expect("exchange_declare");
        self.remember(|d| d.exchanges.push(exchange.to_string()));
    }

    /// A fresh queue bound to `exchange` with `pattern`.
    pub async fn bound_queue(&mut self, exchange: &str, pattern: &str) -> String {
        self.exchange(exchange).await;
        let queue = unique("q");
        self.channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue_declare");
        self.channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                pattern.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("queue_bind");
        self.remember(|d| d.queues.push(queue.clone()));
        queue
    }

    /// Remembers a queue someone else declared (the hub's dead-letter queue) for cleanup.
    pub fn forget_later(&mut self, queue: &str) {
        self.remember(|d| d.queues.push(queue.to_string()));
    }

    /// Remembers an exchange someone else declared (the hub's) for cleanup.
    pub fn forget_exchange_later(&mut self, exchange: &str) {
        self.remember(|d| d.exchanges.push(exchange.to_string()));
    }

    /// Cleans up everything the hub of `d` declares.
    pub fn owns(&mut self, d: &Deployment) {
        self.forget_exchange_later(&d.exchange);
        self.forget_exchange_later(&d.dead_exchange);
        self.forget_later(&d.dead_queue);
    }

    fn remember(&self, f: impl FnOnce(&mut Declared)) {
        if let Ok(mut d) = self.declared.lock() {
            f(&mut d);
        }
    }

    /// Takes up to `n` messages, waiting at most `timeout` for them.
    pub async fn take(&self, queue: &str, n: usize, timeout: Duration) -> Vec<Message> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while out.len() < n && Instant::now() < deadline {
            match self
                .channel
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
            {
                Ok(Some(msg)) => {
                    let d = msg.delivery;
                    let _ = d.acker.ack(BasicAckOptions::default()).await;
                    out.push(Message {
                        routing_key: d.routing_key.to_string(),
                        body: d.data,
                        properties: d.properties,
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        out
    }

    pub async fn cleanup(&self) {
        let (queues, exchanges) = match self.declared.lock() {
            Ok(d) => (d.queues.clone(), d.exchanges.clone()),
            Err(_) => return,
        };
        for q in &queues {
            let _ = self
                .channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        for e in &exchanges {
            let _ = self
                .channel
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
}

/// Runs a test body and then cleans the broker up, even when the body panics.
pub async fn with_broker<F, Fut>(body: F)
where
    F: FnOnce(Broker) -> Fut,
    Fut: Future<Output = ()>,
{
    let broker = Broker::connect().await;
    let result = AssertUnwindSafe(body(broker.clone())).catch_unwind().await;
    broker.cleanup().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

impl Deployment {
    /// Writes `mappings/<name>.toml` in this deployment's own folder and points the hub file's
    /// `[paths] mappings` there instead of at the repository's mappings. A type the repository has
    /// no schema for gets one that takes any object.
    pub fn mapping(&self, name: &str, toml: &str) {
        let dir = self.dir.path().join("mappings");
        std::fs::create_dir_all(&dir).expect("mkdir mappings");
        std::fs::write(dir.join(format!("{name}.toml")), toml).expect("write mapping");
        let parsed: toml::Table = toml::from_str(toml).expect("mapping is TOML");
        if let Some(ty) = parsed.get("type").and_then(|t| t.as_str()) {
            let schema = self.dir.path().join(format!("schemas/{ty}.json"));
            if !schema.exists() {
                let any = format!(
                    "{{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", \
                     \"$id\": \"urn:omnibus:schema:{ty}\", \"type\": \"object\"}}"
                );
                std::fs::write(schema, any).expect("write schema");
            }
        }
        let hub = std::fs::read_to_string(self.config()).expect("read hub file");
        let hub: String = hub
            .lines()
            .map(|line| match line.starts_with("mappings = ") {
                true => format!("mappings = \"{}\"\n", dir.display()),
                false => format!("{line}\n"),
            })
            .collect();
        std::fs::write(self.config(), hub).expect("write hub file");
    }
}

impl Hub {
    /// Whether the process is still running: it has neither exited nor crashed.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process's peak resident memory so far (`VmHWM` in /proc/<pid>/status), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Hub {
    /// Kills the hub with SIGKILL (no chance to clean up, as in a crash) and reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
