//! The hub's own settings (`config/omnibus.toml`), layered with `OMNIBUS__…` environment overrides.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `config/omnibus.toml` after environment overrides, with relative paths resolved against the
/// directory of the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    pub broker: BrokerConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub paths: PathsConfig,
    #[serde(default)]
    pub admin: AdminConfig,
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
