//! The reference deployment end to end: a copy of it (config, connectors, mappings, schemas,
//! examples) rewritten for isolation — its own exchanges, queues, MQTT topics and client ids,
//! databases, ports and state — runs in the real `omnibus` binary, `omnibus demo` plays every
//! legacy system's samples into it, and every connector's events must arrive on the exchange with
//! the type of its mapping and the subjects and data of the golden files of its samples
//! (`mappings/tests/<mapping>/<sample>.expected.jsonl`, or `omnibus map` of the sample when it has
//! none); a SQL connector's, one event per row of its table (or, for a custom query, per what
//! [`QUERY_COUNTS`] counts).

mod common;

use common::proxy::free_port;
use common::{Broker, Message, copy_dir, unique, with_broker};
use futures_util::FutureExt;
use serde_json::Value;
use sqlx::Connection;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The webhook secrets the reference deployment's `http_push` connectors read.
const SECRETS: [(&str, &str); 3] = [
    ("SMS_CALLBACK_SECRET", "test-sms-secret"),
    ("ONLINE_MALL_WEBHOOK_SECRET", "test-online-mall-secret"),
    ("MARKETING_WEBHOOK_SECRET", "test-marketing-secret"),
];

/// Longest wait for all the events (a bound, not an assertion on time).
const WAIT: Duration = Duration::from_secs(120);

/// The copied deployment and what was renamed in it.
struct Site {
    dir: tempfile::TempDir,
    suffix: String,
    exchange: String,
    dead_exchange: String,
    dead_queue: String,
    admin: u16,
    ingest: u16,
    /// Queues, databases (by URL) and MQTT client ids the connectors use now.
    queues: Vec<String>,
    databases: Vec<String>,
    mqtt_clients: Vec<String>,
}

impl Site {
    fn copy() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for folder in ["config", "connectors", "mappings", "schemas", "examples"] {
            copy_dir(&repo.join(folder), &dir.path().join(folder));
        }
        let suffix = unique("ref").replace('.', "_");
        let mut site = Self {
            exchange: unique("ref.events"),
            dead_exchange: unique("ref.dead"),
            dead_queue: unique("ref.deadq"),
            admin: free_port(),
            ingest: free_port(),
            queues: Vec::new(),
            databases: Vec::new(),
            mqtt_clients: Vec::new(),
            suffix,
            dir,
        };
        site.isolate_connectors();
        site
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Rewrites every connector file's targets to names and ports of this test's own.
    fn isolate_connectors(&mut self) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.path("connectors"))
            .expect("connectors")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("connector file");
            let mut table: toml::Table = toml::from_str(&text).expect("connector TOML");
            let instance_param = first_instance_param(&table);
            let table_instances = table.get("instances").cloned();
            let source = table
                .get_mut("source")
                .and_then(|s| s.as_table_mut())
                .expect("[source]");
            let kind = source["type"].as_str().expect("source type").to_string();
            match kind.as_str() {
                "amqp" => {
                    let queue = format!("{}.{}", str_of(source, "queue"), self.suffix);
                    self.queues.push(queue.clone());
                    source.insert("queue".into(), queue.into());
                }
                "mqtt" => {
                    let topics: Vec<toml::Value> = source["topics"]
                        .as_array()
                        .expect("topics")
                        .iter()
                        .map(|t| format!("{}/{}", self.suffix, t.as_str().expect("topic")).into())
                        .collect();
                    source.insert("topics".into(), topics.into());
                    let stem = file.file_stem().expect("stem").to_string_lossy();
                    let mut client = format!("{}-{stem}", self.suffix);
                    match &instance_param {
                        Some(param) => {
                            for value in instance_values(&table_instances, param) {
                                self.mqtt_clients.push(format!("{client}-{value}"));
                            }
                            client.push_str(&format!("-${{{param}}}"));
                        }
                        None => self.mqtt_clients.push(client.clone()),
                    }
                    source.insert("client_id".into(), client.into());
                }
                "sql" => {
                    let mut url = url::Url::parse(&str_of(source, "url")).expect("sql URL");
                    let db = format!("{}_{}", url.path().trim_start_matches('/'), self.suffix);
                    url.set_path(&format!("/{db}"));
                    self.databases.push(url.to_string());
                    source.insert("url".into(), url.to_string().into());
                }
                "http_poll" => {
                    let mut url = url::Url::parse(&str_of(source, "url")).expect("API URL");
                    url.set_port(Some(free_port())).expect("a port");
                    source.insert("url".into(), url.to_string().into());
                }
                _ => {}
            }
            std::fs::write(&file, toml::to_string(&table).expect("TOML")).expect("write");
        }
    }

    /// The environment of the hub and of `omnibus demo`: overrides and secrets.
    fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("OMNIBUS__BROKER__EXCHANGE", self.exchange.clone()),
            (
                "OMNIBUS__BROKER__DEAD_LETTER_EXCHANGE",
                self.dead_exchange.clone(),
            ),
            (
                "OMNIBUS__BROKER__DEAD_LETTER_QUEUE",
                self.dead_queue.clone(),
            ),
            (
                "OMNIBUS__ADMIN__LISTEN",
                format!("127.0.0.1:{}", self.admin),
            ),
            (
                "OMNIBUS__INGEST__LISTEN",
                format!("127.0.0.1:{}", self.ingest),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(SECRETS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    }

    /// `omnibus <args>` on this deployment, with its environment.
    fn omnibus(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_omnibus"));
        cmd.args(args)
            .arg("--config")
            .arg(self.path("config/omnibus.toml"))
            .envs(self.env())
            .env("OMNIBUS_LOG", "info");
        cmd
    }

    fn demo(&self, extra: &[&str]) -> Command {
        let mut cmd = self.omnibus(&["demo"]);
        cmd.arg("--samples")
            .arg(self.path("examples/demo.toml"))
            .args(extra);
        cmd
    }
}

fn str_of(table: &toml::Table, key: &str) -> String {
    table[key].as_str().expect("a string").to_string()
}

/// The first parameter of a family's instances, so that per-instance names stay distinct.
fn first_instance_param(table: &toml::Table) -> Option<String> {
    let first = table.get("instances")?.as_array()?.first()?.as_table()?;
    first.keys().next().cloned()
}

/// The values a family's instances give `param`.
fn instance_values(instances: &Option<toml::Value>, param: &str) -> Vec<String> {
    let Some(list) = instances.as_ref().and_then(|i| i.as_array()) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|i| i.get(param).and_then(|v| v.as_str()).map(str::to_string))
        .collect()
}

/// How many events a SQL connector with a custom `query` makes of its tables' sample rows: the
/// query polls joined rows that its mapping groups and filters, so its count is not a table's.
const QUERY_COUNTS: [(&str, &str); 1] = [(
    "distribution-orders",
    "SELECT COUNT(*) FROM fx_order WHERE status <> 90",
)];

/// One connector's part of the demo, as `omnibus demo --plan` prints it.
#[derive(Debug, serde::Deserialize)]
struct Part {
    connector: String,
    family: String,
    mapping: String,
    source: String,
    samples: Vec<PathBuf>,
}

/// What a connector must publish: its events' subjects and data (any order) and how many records
/// go to the dead letters, or for a SQL connector only how many events.
#[derive(Debug)]
enum Expected {
    Events {
        events: Vec<(String, Value)>,
        failed: usize,
    },
    Rows(usize),
}

impl Expected {
    fn count(&self) -> usize {
        match self {
            Expected::Events { events, .. } => events.len(),
            Expected::Rows(n) => *n,
        }
    }

    fn failed(&self) -> usize {
        match self {
            Expected::Events { failed, .. } => *failed,
            Expected::Rows(_) => 0,
        }
    }
}

fn run(mut cmd: Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .expect("run the omnibus binary");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The event type a mapping produces.
fn mapping_type(site: &Site, mapping: &str) -> String {
    let text = std::fs::read_to_string(site.path(&format!("mappings/{mapping}.toml")))
        .expect("mapping file");
    let table: toml::Table = toml::from_str(&text).expect("mapping TOML");
    str_of(&table, "type")
}

/// The golden outcome of a sample (its events, and its failing records; filtered records make
/// neither), or what `omnibus map` makes of it when it has no golden file.
fn sample_outcome(site: &Site, part: &Part, sample: &Path) -> Expected {
    let name = sample.file_name().expect("sample name").to_string_lossy();
    let golden = site.path(&format!(
        "mappings/tests/{}/{name}.expected.jsonl",
        part.mapping
    ));
    let text = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
        let mut map = site.omnibus(&["map", "--connector", &part.connector]);
        map.arg(sample);
        String::from_utf8(run(map).stdout).expect("UTF-8")
    });
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let failed = lines.iter().filter(|e| e.get("error").is_some()).count();
    let events = lines
        .into_iter()
        .filter(|e| e.get("data").is_some())
        .map(|e| {
            let subject = e["subject"].as_str().unwrap_or_default().to_string();
            (subject, e["data"].clone())
        })
        .collect();
    Expected::Events { events, failed }
}

/// The outcome of all of a part's samples.
fn part_outcome(site: &Site, part: &Part) -> Expected {
    let mut events = Vec::new();
    let mut failed = 0;
    for sample in &part.samples {
        if let Expected::Events {
            events: e,
            failed: f,
        } = sample_outcome(site, part, sample)
        {
            events.extend(e);
            failed += f;
        }
    }
    Expected::Events { events, failed }
}

/// Rows in the table a SQL connector polls.
async fn table_rows(site: &Site, part: &Part) -> usize {
    let file = site.path(&format!("connectors/{}.toml", part.family));
    let table: toml::Table =
        toml::from_str(&std::fs::read_to_string(file).expect("connector")).expect("TOML");
    let source = table["source"].as_table().expect("[source]");
    let url = str_of(source, "url");
    let sql = match source.get("table").and_then(|t| t.as_str()) {
        Some(name) => format!("SELECT COUNT(*) FROM {name}"),
        None => QUERY_COUNTS
            .iter()
            .find(|(family, _)| *family == part.family)
            .map(|(_, count)| count.to_string())
            .unwrap_or_else(|| panic!("{}: add its count to QUERY_COUNTS", part.family)),
    };
    let count: i64 = if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("PostgreSQL");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .expect("count")
    } else {
        let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("MariaDB");
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .expect("count")
    };
    usize::try_from(count).expect("a count")
}

/// Drops the test's databases and forgets its MQTT sessions.
async fn clean_up(site: &Site) {
    for url in &site.databases {
        let mut parsed = url::Url::parse(url).expect("URL");
        let db = parsed.path().trim_start_matches('/').to_string();
        if url.starts_with("postgres") {
            parsed.set_path("/postgres");
            if let Ok(mut conn) = sqlx::PgConnection::connect(parsed.as_str()).await {
                let drop = format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await;
            }
        } else {
            parsed.set_path("/");
            if let Ok(mut conn) = sqlx::MySqlConnection::connect(parsed.as_str()).await {
                let drop = format!("DROP DATABASE IF EXISTS `{db}`");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
    for client in &site.mqtt_clients {
        forget_session(client).await;
    }
}

/// Connects with a clean session under `client_id`, which drops the broker's persistent one.
async fn forget_session(client_id: &str) {
    let options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", 1883);
    let (client, mut events) = rumqttc::AsyncClient::new(options, 4);
    let _ = tokio::time::timeout(Duration::from_secs(5), events.poll()).await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), events.poll()).await;
}

/// The connector of an event: the last part of its CloudEvents source.
fn connector_of(message: &Message) -> String {
    let source = message.header("cloudEvents_source").unwrap_or_default();
    source.rsplit('/').next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reference_connector_publishes_the_events_of_its_samples() {
    let owned = Site::copy();
    let site = &owned;
    let played = with_broker(|mut broker: Broker| async move {
        broker.forget_exchange_later(&site.dead_exchange);
        broker.forget_later(&site.dead_queue);
        for queue in &site.queues {
            broker.forget_later(queue);
        }
        let feed = broker.bound_queue(&site.exchange, "#").await;

        let checked = run(site.omnibus(&["check"]));
        let checked = String::from_utf8_lossy(&checked.stdout).to_string();
        let plan = run(site.demo(&["--plan"]));
        assert!(
            !String::from_utf8_lossy(&plan.stderr).contains("nothing to play"),
            "every connector gets samples: {}",
            String::from_utf8_lossy(&plan.stderr)
        );
        let parts: Vec<Part> = String::from_utf8_lossy(&plan.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a plan line"))
            .collect();
        assert!(
            checked.contains(&format!("ok: {} connector(s)", parts.len())),
            "one part per connector: {checked} vs {} parts",
            parts.len()
        );
        let kinds: std::collections::BTreeSet<&str> =
            parts.iter().map(|p| p.source.as_str()).collect();
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            ["amqp", "file", "http_poll", "http_push", "mqtt", "sql"]
        );

        let mut hub = common::Hub::spawn(site.omnibus(&["run"]), &site.path("hub.log"));
        let demo = tokio::task::spawn_blocking({
            let cmd = site.demo(&[]);
            move || run(cmd)
        })
        .await
        .expect("demo");
        let played = String::from_utf8_lossy(&demo.stdout).to_string();

        let mut expected = BTreeMap::new();
        for part in &parts {
            let wanted = match part.source.as_str() {
                "sql" => Expected::Rows(table_rows(site, part).await),
                _ => part_outcome(site, part),
            };
            assert!(
                wanted.count() > 0,
                "{} has events to expect",
                part.connector
            );
            expected.insert(
                part.connector.clone(),
                (mapping_type(site, &part.mapping), wanted),
            );
        }
        let total: usize = expected.values().map(|(_, e)| e.count()).sum();
        let messages = broker.take(&feed, total, WAIT).await;
        let mut by_connector: BTreeMap<String, Vec<&Message>> = BTreeMap::new();
        for message in &messages {
            by_connector
                .entry(connector_of(message))
                .or_default()
                .push(message);
        }
        let counts: Vec<(&String, usize, usize)> = expected
            .iter()
            .map(|(c, (_, wanted))| (c, by_connector.get(c).map_or(0, Vec::len), wanted.count()))
            .filter(|(_, got, wanted)| got != wanted)
            .collect();
        assert!(
            counts.is_empty(),
            "events published (connector, got, expected): {counts:?}\nplayed:\n{played}\nhub log:\n{}",
            hub.log_text()
        );
        for (connector, (event_type, wanted)) in &expected {
            let got = by_connector.remove(connector).unwrap_or_default();
            for message in &got {
                assert_eq!(
                    message.header("cloudEvents_type").as_deref(),
                    Some(event_type.as_str()),
                    "{connector}"
                );
            }
            match wanted {
                Expected::Events { events, .. } => {
                    let mut published: Vec<(String, String)> = got
                        .iter()
                        .map(|m| {
                            let subject = m.header("cloudEvents_subject").unwrap_or_default();
                            (subject, m.json().to_string())
                        })
                        .collect();
                    let mut golden: Vec<(String, String)> = events
                        .iter()
                        .map(|(s, d)| (s.clone(), d.to_string()))
                        .collect();
                    published.sort();
                    golden.sort();
                    assert_eq!(published, golden, "{connector}: subjects and data");
                }
                Expected::Rows(_) => {
                    let mut ids: Vec<String> = got
                        .iter()
                        .map(|m| m.header("cloudEvents_id").unwrap_or_default())
                        .collect();
                    ids.sort();
                    ids.dedup();
                    assert_eq!(ids.len(), got.len(), "{connector}: one event per row");
                    assert!(
                        got.iter().all(|m| m
                            .header("cloudEvents_subject")
                            .is_some_and(|s| !s.is_empty())),
                        "{connector}: every event has a subject"
                    );
                }
            }
        }
        let failed: usize = expected.values().map(|(_, e)| e.failed()).sum();
        let letters = broker.take(&site.dead_queue, failed, WAIT).await;
        for (connector, (_, wanted)) in &expected {
            let dead = letters
                .iter()
                .filter(|m| &m.routing_key == connector)
                .count();
            assert_eq!(dead, wanted.failed(), "{connector}: records dead-lettered");
        }
        assert!(
            by_connector.is_empty(),
            "events of no played connector: {:?}",
            by_connector.keys()
        );
        assert!(hub.is_running(), "the hub kept running");
        assert!(hub.stop().success(), "the hub stopped cleanly");
    });
    let result = AssertUnwindSafe(played).catch_unwind().await;
    clean_up(site).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
