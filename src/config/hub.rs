//! The hub's own settings (`config/omnibus.toml`), layered with `OMNIBUS__…` environment overrides.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `config/omnibus.toml` after environment overrides, with relative paths resolved against the
/// directory of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    pub broker: BrokerConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub paths: PathsConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub ingest: IngestConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    #[serde(default = "default_url")]
    pub url: String,
    #[serde(default = "default_exchange")]
    pub exchange: String,
    #[serde(default = "default_dead")]
    pub dead_letter_exchange: String,
    #[serde(default = "default_dead")]
    pub dead_letter_queue: String,
    /// Publishes awaiting a broker confirm at once (the confirm window).
    #[serde(default = "default_window")]
    pub confirm_window: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    #[serde(default = "default_state_dir")]
    pub dir: PathBuf,
}

/// `[delivery]`: the outbox, the dedupe window, shutdown and replay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// The outbox's size limit in bytes; when full, sources wait.
    pub outbox_max_bytes: u64,
    /// How long sources may wait on the broker before the outbox takes their messages.
    #[serde(deserialize_with = "duration")]
    pub spill_after: Duration,
    /// How long confirmed ids are remembered (`0s` turns deduplication off).
    #[serde(deserialize_with = "duration")]
    pub dedupe_window: Duration,
    /// How many confirmed ids are remembered at most.
    pub dedupe_max_ids: u64,
    /// How long a stopping hub may take to finish or store in-flight work.
    #[serde(deserialize_with = "duration")]
    pub shutdown_timeout: Duration,
    /// Replays of one dead letter before `omnibus dlq replay` skips it without `--force`.
    pub replay_max_attempts: u32,
    /// Keep a receipts stream (`<exchange>.receipts`) so that messages in doubt after a crash or a
    /// lost connection are not published twice. Costs one more copy of each message on the broker,
    /// and unroutable messages are no longer returned (the stream takes them).
    pub receipts: bool,
    /// Retention of the receipts stream, in RabbitMQ's `x-max-age` syntax (`24h`, `7D`).
    pub receipts_max_age: String,
    /// Size limit of the receipts stream in bytes.
    pub receipts_max_bytes: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            outbox_max_bytes: 1 << 30,
            spill_after: Duration::from_secs(2),
            dedupe_window: Duration::from_secs(24 * 3600),
            dedupe_max_ids: 10_000_000,
            shutdown_timeout: Duration::from_secs(30),
            replay_max_attempts: 5,
            receipts: false,
            receipts_max_age: "24h".into(),
            receipts_max_bytes: 1 << 30,
        }
    }
}

/// A duration written the humantime way: `"2s"`, `"500ms"`, `"24h"`.
fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "\"{text}\" is not a duration ({e}); write e.g. \"2s\", \"500ms\", \"24h\""
        ))
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    #[serde(default = "default_connectors")]
    pub connectors: PathBuf,
    #[serde(default = "default_mappings")]
    pub mappings: PathBuf,
    #[serde(default = "default_schemas")]
    pub schemas: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    #[serde(default = "default_admin")]
    pub listen: String,
}

/// `[ingest]`: the listener that receives webhooks for `http_push` connectors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Address and port; started only when an `http_push` connector exists.
    #[serde(default = "default_ingest")]
    pub listen: String,
}

impl HubConfig {
    /// Resolves the relative paths (`[state] dir`, `[paths]`) against `base`, the directory of the
    /// hub file; absolute paths stay as they are.
    pub fn resolve(mut self, base: &Path) -> Self {
        self.state.dir = base.join(&self.state.dir);
        self.paths.connectors = base.join(&self.paths.connectors);
        self.paths.mappings = base.join(&self.paths.mappings);
        self.paths.schemas = base.join(&self.paths.schemas);
        self
    }
}

fn default_url() -> String {
    "amqp://guest:guest@127.0.0.1:5672/%2f".into()
}
fn default_exchange() -> String {
    "omnibus.events".into()
}
fn default_dead() -> String {
    "omnibus.dead".into()
}
fn default_window() -> usize {
    1024
}
fn default_state_dir() -> PathBuf {
    "../var/state".into()
}
fn default_connectors() -> PathBuf {
    "../connectors".into()
}
fn default_mappings() -> PathBuf {
    "../mappings".into()
}
fn default_schemas() -> PathBuf {
    "../schemas".into()
}
fn default_admin() -> String {
    "127.0.0.1:8089".into()
}
fn default_ingest() -> String {
    "127.0.0.1:8088".into()
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            dir: default_state_dir(),
        }
    }
}

impl Default for PathsConfig {
    fn default() -> Self {
        Self {
            connectors: default_connectors(),
            mappings: default_mappings(),
            schemas: default_schemas(),
        }
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            listen: default_admin(),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            listen: default_ingest(),
        }
    }
}
