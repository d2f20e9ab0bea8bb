//! `omnibus demo`: plays the legacy systems of a deployment. For every connector loaded from the
//! deployment it plays the sample inputs the demo manifest ([`manifest`]) lists for the
//! connector's family (its file's stem), the way that connector's legacy system delivers them —
//! a file dropped in its folder ([`file`]), a signed webhook ([`http_push`]), a message on its
//! queue ([`amqp`]) or topic ([`mqtt`]), rows in its database ([`sql`]), pages of its REST API
//! ([`http_poll`]). Every target comes from the connector specs, never from a list of ids, so
//! every instance of a family gets the family's samples, and a rewritten deployment (other
//! folders, queues, topics, databases, ports) is played where it listens.
//!
//! The order: the systems that exist before the hub (queues, databases with their rows, APIs) are
//! set up, then the running hub is awaited (its admin API ready, no connector still starting), the
//! inputs are played, and the polling connectors are asked to poll now.

pub mod amqp;
pub mod file;
pub mod http_poll;
pub mod http_push;
pub mod manifest;
pub mod mqtt;
pub mod sql;

pub use manifest::{Manifest, Samples};

use crate::config::connector::{ConnectorSpec, SourceSpec};
use crate::config::hub::HubConfig;
use crate::ops::status;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why the demo could not play.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("demo manifest {}: {reason}", path.display())]
    Manifest { path: PathBuf, reason: String },
    #[error("connector \"{connector}\": {reason}")]
    Connector { connector: String, reason: String },
    #[error("the hub's admin API at {url} {reason} (is `omnibus run` running on this deployment?)")]
    Hub { url: String, reason: String },
}

/// One connector's part of the demo.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Part {
    pub connector: String,
    /// The connector's family: its file's stem.
    pub family: String,
    pub system: String,
    pub mapping: String,
    /// The source type (`file`, `http_push`, …).
    pub source: &'static str,
    /// What is played into it: sample files, or the system's SQL scripts.
    pub samples: Vec<PathBuf>,
    /// The MQTT topic value from the manifest.
    #[serde(skip)]
    topic: Option<String>,
}

/// The family of a connector: the stem of the file that defines it.
pub fn family(spec: &ConnectorSpec) -> String {
    spec.file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| spec.id.clone())
}

/// What each connector gets, in the connectors' order; connectors with nothing to play are left
/// out.
pub fn plan(connectors: &[ConnectorSpec], manifest: &Manifest) -> Vec<Part> {
    connectors
        .iter()
        .filter_map(|spec| {
            let family = family(spec);
            let samples = match &spec.source {
                SourceSpec::Sql(_) => manifest.sql_scripts(&spec.system),
                _ => manifest.samples(&family),
            };
            let topic = manifest.families.get(&family).and_then(|s| s.topic.clone());
            (!samples.is_empty()).then(|| Part {
                connector: spec.id.clone(),
                system: spec.system.clone(),
                mapping: spec.mapping.clone(),
                source: spec.source.kind(),
                family,
                samples,
                topic,
            })
        })
        .collect()
}

/// The manifest's families that no connector belongs to, and the connectors the demo plays
/// nothing into: what to warn about.
pub fn gaps(connectors: &[ConnectorSpec], manifest: &Manifest) -> (Vec<String>, Vec<String>) {
    let families: BTreeSet<String> = connectors.iter().map(family).collect();
    let unknown = manifest
        .families
        .keys()
        .filter(|f| !families.contains(*f))
        .cloned()
        .collect();
    let played: BTreeSet<String> = plan(connectors, manifest)
        .into_iter()
        .map(|p| p.connector)
        .collect();
    let silent = connectors
        .iter()
        .filter(|c| !played.contains(&c.id))
        .map(|c| c.id.clone())
        .collect();
    (unknown, silent)
}

/// The demo after its inputs were played: its stand-in APIs serve until [`Playing::finish`].
pub struct Playing {
    servers: http_poll::Servers,
    cancel: CancellationToken,
}

impl Playing {
    /// Waits (at most `timeout`) until every stand-in API was read to its end, then stops them;
    /// the addresses of those that were not.
    pub async fn finish(mut self, timeout: Duration) -> Vec<String> {
        let unread = self.servers.read_through(timeout).await;
        self.cancel.cancel();
        unread
    }
}

/// Plays every part of `plan` into the hub `hub` runs, telling `say` what it did, one line each.
/// `wait` bounds the wait for the hub to be ready.
pub async fn play(
    hub: &HubConfig,
    connectors: &[ConnectorSpec],
    parts: &[Part],
    wait: Duration,
    say: &mut impl FnMut(String),
) -> Result<Playing, DemoError> {
    let specs: HashMap<&str, &ConnectorSpec> =
        connectors.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut work = Vec::new();
    for part in parts {
        match specs.get(part.connector.as_str()) {
            Some(spec) => work.push((*spec, part)),
            None => {
                return Err(fail(&part.connector, "not among the loaded connectors"));
            }
        }
    }
    let cancel = CancellationToken::new();
    let servers = set_up(&work, &cancel, say).await?;
    let admin = status::base_url(&hub.admin.listen);
    wait_for_hub(&admin, wait).await?;
    let ingest = status::base_url(&hub.ingest.listen);
    let client = reqwest::Client::new();
    for (spec, part) in &work {
        play_part(&client, &ingest, spec, part, say).await?;
    }
    for (spec, part) in &work {
        if matches!(spec.source, SourceSpec::Sql(_) | SourceSpec::HttpPoll(_)) {
            let path = format!("/api/connectors/{}/poll-now", spec.id);
            status::post(&admin, &path)
                .await
                .map_err(|e| fail(&part.connector, &e.to_string()))?;
            say(format!("{}: asked the hub to poll now", part.connector));
        }
    }
    Ok(Playing { servers, cancel })
}

/// The systems that exist before the hub reads them: queues, databases with their rows, APIs.
async fn set_up(
    work: &[(&ConnectorSpec, &Part)],
    cancel: &CancellationToken,
    say: &mut impl FnMut(String),
) -> Result<http_poll::Servers, DemoError> {
    let mut done = BTreeSet::new();
    let mut apis = Vec::new();
    for (spec, part) in work {
        let samples: Vec<&Path> = part.samples.iter().map(PathBuf::as_path).collect();
        match &spec.source {
            SourceSpec::Amqp(amqp)
                if done.insert(format!("amqp {} {}", amqp.url.expose(), amqp.queue)) =>
            {
                amqp::declare_queue(amqp)
                    .await
                    .map_err(|e| fail(&spec.id, &e))?;
                say(format!("{}: queue {} is there", spec.id, amqp.queue));
            }
            SourceSpec::Sql(sql) if done.insert(format!("sql {}", sql.url.expose())) => {
                let loaded = sql::load(sql, &samples)
                    .await
                    .map_err(|e| fail(&spec.id, &e))?;
                say(format!(
                    "{}: {} ready: {} statement(s) run, {} with rows already there",
                    spec.id, sql.url, loaded.statements, loaded.present
                ));
            }
            SourceSpec::HttpPoll(poll) => {
                let url = url::Url::parse(poll.url.expose())
                    .map_err(|e| fail(&spec.id, &e.to_string()))?;
                let api = http_poll::Api::new(poll, spec.format.as_ref(), &samples)
                    .map_err(|e| fail(&spec.id, &e))?;
                say(format!("{}: serving its API at {}", spec.id, poll.url));
                apis.push((url, api));
            }
            _ => {}
        }
    }
    http_poll::Servers::start(apis, cancel.clone())
        .await
        .map_err(|e| fail("stand-in API", &e))
}

/// Plays a part's samples the way its system delivers them; set-up-only sources do nothing.
async fn play_part(
    client: &reqwest::Client,
    ingest: &str,
    spec: &ConnectorSpec,
    part: &Part,
    say: &mut impl FnMut(String),
) -> Result<(), DemoError> {
    let samples: Vec<&Path> = part.samples.iter().map(PathBuf::as_path).collect();
    let failed = |e: String| fail(&spec.id, &e);
    match &spec.source {
        SourceSpec::File(source) => {
            for sample in &samples {
                let dropped = file::drop_sample(source, sample).map_err(failed)?;
                say(format!("{}: dropped {}", spec.id, dropped.display()));
            }
        }
        SourceSpec::HttpPush(push) => {
            for sample in &samples {
                let answer = http_push::post(client, ingest, push, sample)
                    .await
                    .map_err(failed)?;
                say(format!("{}: {} {answer}", spec.id, name(sample)));
            }
        }
        SourceSpec::Amqp(source) => {
            amqp::publish(source, &samples).await.map_err(failed)?;
            say(format!(
                "{}: published {} message(s) to queue {}",
                spec.id,
                samples.len(),
                source.queue
            ));
        }
        SourceSpec::Mqtt(source) => {
            let filter = source
                .topics
                .first()
                .map(String::as_str)
                .unwrap_or_default();
            let topic = mqtt::topic(filter, part.topic.as_deref()).map_err(failed)?;
            mqtt::publish(source, &topic, &samples)
                .await
                .map_err(failed)?;
            say(format!(
                "{}: published {} message(s) on {topic}",
                spec.id,
                samples.len()
            ));
        }
        SourceSpec::Sql(_) | SourceSpec::HttpPoll(_) => {}
    }
    Ok(())
}

/// Waits until the hub's admin API is ready and none of its connectors is still starting.
async fn wait_for_hub(admin: &str, wait: Duration) -> Result<(), DemoError> {
    let deadline = tokio::time::Instant::now() + wait;
    let client = reqwest::Client::new();
    let mut last = String::from("did not answer");
    while tokio::time::Instant::now() < deadline {
        match hub_state(&client, admin).await {
            Ok(()) => return Ok(()),
            Err(reason) => last = reason,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(DemoError::Hub {
        url: admin.to_string(),
        reason: format!("was not ready within {wait:?}: {last}"),
    })
}

/// `Ok` once the hub is ready with every connector started.
async fn hub_state(client: &reqwest::Client, admin: &str) -> Result<(), String> {
    let ready = client
        .get(format!("{admin}/ready"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !ready.status().is_success() {
        return Err(format!("/ready answered {}", ready.status()));
    }
    let connectors = status::fetch(admin).await.map_err(|e| e.to_string())?;
    match connectors.iter().find(|c| c.state == "starting") {
        Some(c) => Err(format!("connector {} is still starting", c.id)),
        None => Ok(()),
    }
}

fn fail(connector: &str, reason: &str) -> DemoError {
    DemoError::Connector {
        connector: connector.to_string(),
        reason: reason.to_string(),
    }
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
