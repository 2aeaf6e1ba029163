//! The one configuration of the service, read by both binaries (`backend` and `generator`):
//! defaults → optional TOML file (`APP_CONFIG`) → `APP_`-prefixed environment variables.
//!
//! [`Config`] is made of sections ([`ServerConfig`], [`DatabaseConfig`], [`QueueConfig`], …),
//! each a flat struct of typed values (durations as [`std::time::Duration`], the listen address
//! as a [`std::net::SocketAddr`], credentials as [`Secret`], which never prints). The sections are
//! `#[serde(flatten)]`ed, so operators keep writing the flat keys they always did
//! (`redis_url = …` in the file, `APP_REDIS_URL` in the environment).
//!
//! [`Config::load`] reads each section from the same merged sources (serde's `flatten` buffers
//! values and would lose the key of a bad one), refuses keys that no section reads, and checks
//! values that parse but cannot work. Every error names the key as operators spell it
//! (`APP_…`). What needs the service's runtime (opening files, loading models, connecting) is
//! checked by the binaries at start.

mod keys;
mod sections;
pub mod units;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::Dict;
use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use app_core::types::Secret;
pub use sections::{
    AppEnv, AuthConfig, DatabaseConfig, DevicePreference, FeedConfig, GraphqlConfig, InferenceConfig, InviteConfig,
    LimitsConfig, LogConfig, LogFormat, MailConfig, ModerationConfig, PushConfig, QueueConfig, RedisConfig,
    ServerConfig, StorageConfig, WATERMARK_KEY_BYTES, WebConfig,
};

/// The whole configuration: one section per concern, all read from one flat set of keys.
/// `Debug` prints no credential (they are [`Secret`]s).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Config {
    /// The HTTP server: `env`, `listen`, `http_workers`, `trust_forwarded_for`, `max_upload_bytes`.
    #[serde(flatten)]
    pub server: ServerConfig,
    /// `graphql_max_depth`, `graphql_max_complexity`, `graphql_max_batch`.
    #[serde(flatten)]
    pub graphql: GraphqlConfig,
    /// `log`, `log_format`.
    #[serde(flatten)]
    pub log: LogConfig,
    /// `database_url`, `database_max_connections`.
    #[serde(flatten)]
    pub database: DatabaseConfig,
    /// `redis_url`, `redis_prefix`.
    #[serde(flatten)]
    pub redis: RedisConfig,
    /// `jwt_*`, the token and link lifetimes, `hash_concurrency`.
    #[serde(flatten)]
    pub auth: AuthConfig,
    /// `invite_quota`, `invite_code_length`.
    #[serde(flatten)]
    pub invites: InviteConfig,
    /// `smtp_url`, `mail_from`.
    #[serde(flatten)]
    pub mail: MailConfig,
    /// Rate limits and per-member job and cameo limits.
    #[serde(flatten)]
    pub limits: LimitsConfig,
    /// `model_manifest`, `ort_dylib_path`, `inference_*` (device, threads, batching, memory budget),
    /// `voice_model`, `flite_path` (speech).
    #[serde(flatten)]
    pub inference: InferenceConfig,
    /// `queue_*` and the workers: `in_process_workers`, `total_workers`, `worker_name`.
    #[serde(flatten)]
    pub queue: QueueConfig,
    /// `data_dir`, `s3_*`, `media_url_ttl_secs`.
    #[serde(flatten)]
    pub storage: StorageConfig,
    /// `prompt_classifier`, `frame_*`, `watermark_key`, `c2pa_*`.
    #[serde(flatten)]
    pub moderation: ModerationConfig,
    /// `feed_*`.
    #[serde(flatten)]
    pub feed: FeedConfig,
    /// `public_url`, `web_dir`.
    #[serde(flatten)]
    pub web: WebConfig,
    /// `apns_*`, `fcm_*`, `vapid_*`, `push_*`, `digest_interval_hours`.
    #[serde(flatten)]
    pub push: PushConfig,
}

/// A configuration value that cannot be used, named by its key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {key}: {message}")]
pub struct ConfigError {
    /// The key, as spelled in the environment (`APP_…`).
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

fn env_key(key: &str) -> String {
    format!("APP_{}", key.to_uppercase())
}

fn from_figment_error(e: figment::Error) -> ConfigError {
    let key = e.path.last().map(|k| env_key(k)).unwrap_or_else(|| "APP_*".into());
    ConfigError { key, message: e.kind.to_string() }
}

/// One section, read from all the keys (it ignores those of other sections).
fn section<T: DeserializeOwned>(fig: &Figment) -> Result<T, ConfigError> {
    fig.extract().map_err(from_figment_error)
}

/// Edit distance, for "did you mean" on a misspelt key.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for ((cb, diag), up) in b.iter().zip(&prev).zip(prev.iter().skip(1)) {
            let left = row.last().copied().unwrap_or(0);
            row.push((diag + usize::from(ca != *cb)).min(up + 1).min(left + 1));
        }
        prev = row;
    }
    prev.last().copied().unwrap_or(0)
}

/// The keys whose values are text (strings, URLs, secrets), taken from the environment exactly
/// as written: a hex key of digits only, an access key with leading zeros, a prefix like `2024`.
/// (`text_keys_are_keys` keeps the list in step with the sections.)
pub const TEXT_KEYS: &[&str] = &[
    "log",
    "database_url",
    "redis_url",
    "redis_prefix",
    "jwt_private_key_pem",
    "jwt_previous_public_keys_pem",
    "jwt_issuer",
    "jwt_audience",
    "smtp_url",
    "mail_from",
    "worker_name",
    "s3_bucket",
    "s3_endpoint",
    "s3_region",
    "s3_access_key",
    "s3_secret_key",
    "watermark_key",
    "watermark_previous_keys",
    "c2pa_tsa_url",
    "public_url",
    "apns_key_id",
    "apns_team_id",
    "apns_topic",
    "apns_url",
    "fcm_url",
    "vapid_subject",
];

impl Config {
    /// Reads the file named by `APP_CONFIG` (if any), then `APP_*` variables, over the defaults;
    /// checks the values.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_figment(&Self::sources()?)
    }

    /// The sources in force: the `APP_CONFIG` file (which must exist when named), then the
    /// `APP_` environment.
    pub fn sources() -> Result<Figment, ConfigError> {
        let mut fig = Figment::new();
        if let Ok(path) = std::env::var("APP_CONFIG") {
            if !std::path::Path::new(&path).exists() {
                return Err(ConfigError { key: "APP_CONFIG".into(), message: format!("file {path} does not exist") });
            }
            fig = fig.merge(Toml::file(path));
        }
        let mut ignored = vec!["config"];
        ignored.extend_from_slice(TEXT_KEYS);
        fig = fig.merge(Env::prefixed("APP_").ignore(&ignored));
        // Text keys as written: figment's `Env` reads `000…` as a number (refused for a text key,
        // and leading zeros lost) and `true` as a boolean.
        for key in TEXT_KEYS {
            if let Ok(value) = std::env::var(env_key(key)) {
                fig = fig.merge(Serialized::global(key, value));
            }
        }
        Ok(fig)
    }

    /// Reads every section from `fig`, refusing keys no section reads, and checks the values.
    pub fn from_figment(fig: &Figment) -> Result<Self, ConfigError> {
        let given: Dict = fig.extract().map_err(from_figment_error)?;
        let known = Self::keys();
        if let Some(unknown) = given.keys().find(|k| !known.contains(&k.as_str())) {
            let near = known.iter().min_by_key(|k| distance(unknown, k)).filter(|k| distance(unknown, k) <= 3);
            let message = match near {
                Some(k) => format!("unknown field: found `{unknown}`; did you mean {}?", env_key(k)),
                None => format!("unknown field: found `{unknown}`, which no part of the service reads"),
            };
            return Err(ConfigError { key: env_key(unknown), message });
        }
        let config = Config {
            server: section(fig)?,
            graphql: section(fig)?,
            log: section(fig)?,
            database: section(fig)?,
            redis: section(fig)?,
            auth: section(fig)?,
            invites: section(fig)?,
            mail: section(fig)?,
            limits: section(fig)?,
            inference: section(fig)?,
            queue: section(fig)?,
            storage: section(fig)?,
            moderation: section(fig)?,
            feed: section(fig)?,
            web: section(fig)?,
            push: section(fig)?,
        };
        config.validate()?;
        Ok(config)
    }

    /// Every key the configuration reads (file spelling; the environment adds `APP_` and
    /// upper-cases).
    pub fn keys() -> Vec<&'static str> {
        [
            keys::of::<ServerConfig>(),
            keys::of::<GraphqlConfig>(),
            keys::of::<LogConfig>(),
            keys::of::<DatabaseConfig>(),
            keys::of::<RedisConfig>(),
            keys::of::<AuthConfig>(),
            keys::of::<InviteConfig>(),
            keys::of::<MailConfig>(),
            keys::of::<LimitsConfig>(),
            keys::of::<InferenceConfig>(),
            keys::of::<QueueConfig>(),
            keys::of::<StorageConfig>(),
            keys::of::<ModerationConfig>(),
            keys::of::<FeedConfig>(),
            keys::of::<WebConfig>(),
            keys::of::<PushConfig>(),
        ]
        .concat()
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        sections::validate_all(self)
    }

    /// The database URL in force: the configured one, or SQLite in the data folder. Carries
    /// the password when the configured one does: pass it on, never log it.
    pub fn effective_database_url(&self) -> String {
        match &self.database.url {
            Some(u) => u.expose().clone(),
            None => format!("sqlite://{}?mode=rwc", self.storage.data_dir.join("app.db").display()),
        }
    }

    /// The base URL put in links.
    pub fn effective_public_url(&self) -> String {
        match &self.web.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.server.listen),
        }
    }

    /// Generator workers to run inside the backend process.
    pub fn effective_in_process_workers(&self) -> usize {
        self.queue.in_process_workers.unwrap_or(if self.redis.url.is_some() { 0 } else { 1 })
    }

    /// Hashes run at once.
    pub fn effective_hash_concurrency(&self) -> usize {
        self.auth.effective_hash_concurrency()
    }
}

#[cfg(test)]
mod tests;
