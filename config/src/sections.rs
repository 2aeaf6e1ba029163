//! The sections of [`crate::Config`]. Each is a flat struct whose serde names are the keys
//! operators write (`redis_url`, `queue_reclaim_idle_secs`, …): `Config` flattens them, so the
//! file and the environment stay one flat namespace. Every field has a default, so no
//! configuration at all runs the embedded default (SQLite, mail to files, in-memory limits)
//! under `./data`. Each section checks its own values (`validate`); the key in an error is the
//! one operators set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use app_core::types::Secret;
use serde::Deserialize;

use crate::{ConfigError, units};

fn bad(key: &str, message: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError { key: key.into(), message: message.into() })
}

fn at_least_one(pairs: &[(&str, u32)]) -> Result<(), ConfigError> {
    match pairs.iter().find(|(_, v)| *v == 0) {
        Some((key, _)) => bad(key, "must be at least 1"),
        None => Ok(()),
    }
}

/// Which kind of deployment this is; production hardens the GraphQL surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AppEnv {
    /// Local use: introspection and suggestions on.
    #[default]
    Development,
    /// Introspection and field suggestions off.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where inference should run (`inference_device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DevicePreference {
    /// CUDA when it registers, else CPU.
    #[default]
    Auto,
    /// CPU only.
    Cpu,
    /// CUDA, falling back to CPU (logged) when it does not register.
    Cuda,
}

impl DevicePreference {
    /// Reads the configuration spelling: `auto`, `cpu` or `cuda`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(DevicePreference::Auto),
            "cpu" => Some(DevicePreference::Cpu),
            "cuda" => Some(DevicePreference::Cuda),
            _ => None,
        }
    }
}

/// The HTTP server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// `env`: `development` or `production`.
    pub env: AppEnv,
    /// `listen`: the address the HTTP server binds (port 0: a free port).
    #[serde(deserialize_with = "units::socket_addr")]
    pub listen: SocketAddr,
    /// `http_workers`: HTTP worker threads; 0 means one per core.
    pub http_workers: usize,
    /// `trust_forwarded_for`: take the client address from `X-Forwarded-For` (only behind a
    /// trusted proxy).
    pub trust_forwarded_for: bool,
    /// `max_upload_bytes`: largest upload accepted (GraphQL multipart), in bytes.
    pub max_upload_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            env: AppEnv::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            http_workers: 0,
            trust_forwarded_for: false,
            max_upload_bytes: 50 * 1024 * 1024,
        }
    }
}

impl ServerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_upload_bytes < 1024 * 1024 {
            return bad("APP_MAX_UPLOAD_BYTES", "must be at least 1 MiB");
        }
        Ok(())
    }
}

/// Limits of the GraphQL surface.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct GraphqlConfig {
    /// `graphql_max_depth`: deepest allowed selection.
    #[serde(rename = "graphql_max_depth")]
    pub max_depth: usize,
    /// `graphql_max_complexity`: highest allowed complexity.
    #[serde(rename = "graphql_max_complexity")]
    pub max_complexity: usize,
    /// `graphql_max_batch`: most operations in one batched request.
    #[serde(rename = "graphql_max_batch")]
    pub max_batch: usize,
}

impl Default for GraphqlConfig {
    fn default() -> Self {
        Self { max_depth: 12, max_complexity: 1000, max_batch: 10 }
    }
}

impl GraphqlConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_depth < 4 {
            return bad("APP_GRAPHQL_MAX_DEPTH", "must be at least 4");
        }
        if self.max_complexity < 10 {
            return bad("APP_GRAPHQL_MAX_COMPLEXITY", "must be at least 10");
        }
        if self.max_batch == 0 {
            return bad("APP_GRAPHQL_MAX_BATCH", "must be at least 1");
        }
        Ok(())
    }
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// `log`: the filter (`tracing` env-filter syntax), e.g. `info,sqlx=warn`.
    #[serde(rename = "log")]
    pub filter: String,
    /// `log_format`: `text` or `json`.
    #[serde(rename = "log_format")]
    pub format: LogFormat,
    /// `otlp_endpoint`: an OpenTelemetry collector's OTLP/HTTP base URL (`http://collector:4318`;
    /// spans go to `/v1/traces` under it, as protobuf). Unset: no trace leaves the process.
    #[serde(rename = "otlp_endpoint")]
    pub otlp_endpoint: Option<String>,
    /// `otlp_sample_ratio`: the share of new traces exported, 0 to 1; a trace begun elsewhere
    /// (an incoming `traceparent`, a queued job) keeps its own decision.
    #[serde(rename = "otlp_sample_ratio")]
    pub otlp_sample_ratio: f64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info,sqlx=warn,sea_orm=warn".into(),
            format: LogFormat::Text,
            otlp_endpoint: None,
            otlp_sample_ratio: 1.0,
        }
    }
}

impl LogConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if tracing_subscriber::EnvFilter::try_new(&self.filter).is_err() {
            return bad("APP_LOG", "is not a log filter like `info,sqlx=warn`");
        }
        if let Some(url) = &self.otlp_endpoint {
            let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
            if !rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace)) {
                return bad("APP_OTLP_ENDPOINT", "is not an http:// or https:// URL like `http://collector:4318`");
            }
        }
        if !(0.0..=1.0).contains(&self.otlp_sample_ratio) {
            return bad("APP_OTLP_SAMPLE_RATIO", "must be between 0 and 1");
        }
        Ok(())
    }
}

/// The database.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `database_url`: PostgreSQL or SQLite URL (it may carry a password); unset means SQLite in
    /// the data folder (see [`crate::Config::effective_database_url`]).
    #[serde(rename = "database_url")]
    pub url: Option<Secret<String>>,
    /// `database_max_connections`: connection pool size.
    #[serde(rename = "database_max_connections")]
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: None, max_connections: 16 }
    }
}

impl DatabaseConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.url {
            let u = url.expose();
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://") || u.starts_with("sqlite:")) {
                return bad("APP_DATABASE_URL", "must start with postgres://, postgresql:// or sqlite:");
            }
        }
        Ok(())
    }
}

/// Redis: rate limits, revocations, the job queue and its events, the feed cache.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct RedisConfig {
    /// `redis_url`: unset means in-process rate limits, token revocation and job queue.
    #[serde(rename = "redis_url")]
    pub url: Option<Secret<String>>,
    /// `redis_prefix`: prefix of every Redis key this instance writes (lets tests and tenants
    /// share a server).
    #[serde(rename = "redis_prefix")]
    pub prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self { url: None, prefix: "sv".into() }
    }
}

impl RedisConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.url {
            let u = url.expose();
            if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                return bad("APP_REDIS_URL", "must start with redis:// or rediss://");
            }
        }
        if self.prefix.is_empty() || self.prefix.contains(char::is_whitespace) {
            return bad("APP_REDIS_PREFIX", "must be a non-empty word");
        }
        Ok(())
    }
}

/// Access and refresh tokens, account links, password hashing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// `jwt_private_key_pem`: Ed25519 private key (PKCS#8 PEM) for access tokens; unset means
    /// generated once under the data folder.
    pub jwt_private_key_pem: Option<Secret<String>>,
    /// `jwt_previous_public_keys_pem`: public keys (a bundle of `PUBLIC KEY` PEM blocks) that
    /// access tokens signed before a key rotation were signed with; they keep verifying until
    /// taken out. Besides `<data>/keys/jwt-previous.pem` (written by `backend keys rotate-jwt`).
    pub jwt_previous_public_keys_pem: Option<String>,
    /// `jwt_issuer`: `iss` of issued access tokens.
    pub jwt_issuer: String,
    /// `jwt_audience`: `aud` of issued access tokens.
    pub jwt_audience: String,
    /// `access_token_ttl_secs`: lifetime of an access token (whole seconds).
    #[serde(rename = "access_token_ttl_secs", deserialize_with = "units::seconds")]
    pub access_token_ttl: Duration,
    /// `refresh_token_ttl_days`: lifetime of a refresh-token family (whole days).
    #[serde(rename = "refresh_token_ttl_days", deserialize_with = "units::days")]
    pub refresh_token_ttl: Duration,
    /// `verify_email_ttl_hours`: lifetime of an email-verification link (whole hours).
    #[serde(rename = "verify_email_ttl_hours", deserialize_with = "units::hours")]
    pub verify_email_ttl: Duration,
    /// `password_reset_ttl_minutes`: lifetime of a password-reset link (whole minutes).
    #[serde(rename = "password_reset_ttl_minutes", deserialize_with = "units::minutes")]
    pub password_reset_ttl: Duration,
    /// `hash_concurrency`: password hashes computed at once (each takes 19 MiB); 0 means twice
    /// the cores (see [`AuthConfig::effective_hash_concurrency`]).
    pub hash_concurrency: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_private_key_pem: None,
            jwt_previous_public_keys_pem: None,
            jwt_issuer: "soravibe".into(),
            jwt_audience: "soravibe-clients".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            verify_email_ttl: Duration::from_secs(48 * 3600),
            password_reset_ttl: Duration::from_secs(30 * 60),
            hash_concurrency: 0,
        }
    }
}

impl AuthConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let secs = self.access_token_ttl.as_secs();
        if !(30..=24 * 3600).contains(&secs) {
            return bad("APP_ACCESS_TOKEN_TTL_SECS", "must be between 30 and 86400");
        }
        if !(Duration::from_secs(86_400)..=Duration::from_secs(365 * 86_400)).contains(&self.refresh_token_ttl) {
            return bad("APP_REFRESH_TOKEN_TTL_DAYS", "must be between 1 and 365");
        }
        if self.verify_email_ttl < Duration::from_secs(3600) {
            return bad("APP_VERIFY_EMAIL_TTL_HOURS", "must be at least 1");
        }
        if self.password_reset_ttl < Duration::from_secs(60) {
            return bad("APP_PASSWORD_RESET_TTL_MINUTES", "must be at least 1");
        }
        Ok(())
    }

    /// Hashes run at once.
    pub fn effective_hash_concurrency(&self) -> usize {
        if self.hash_concurrency > 0 {
            self.hash_concurrency
        } else {
            std::thread::available_parallelism().map(|n| n.get() * 2).unwrap_or(4)
        }
    }
}

/// Invite codes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct InviteConfig {
    /// `invite_quota`: codes each new member receives.
    #[serde(rename = "invite_quota")]
    pub quota: u32,
    /// `invite_code_length`: length of generated codes (8–32).
    #[serde(rename = "invite_code_length")]
    pub code_length: usize,
}

impl Default for InviteConfig {
    fn default() -> Self {
        Self { quota: 4, code_length: 10 }
    }
}

impl InviteConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(8..=32).contains(&self.code_length) {
            return bad("APP_INVITE_CODE_LENGTH", "must be between 8 and 32");
        }
        if self.quota > 1000 {
            return bad("APP_INVITE_QUOTA", "must be at most 1000");
        }
        Ok(())
    }
}

/// Outgoing mail.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct MailConfig {
    /// `smtp_url`: `smtps://user:pass@host:465`, `smtp://host:587?tls=required` (STARTTLS), or
    /// plain `smtp://host:25` for a relay on loopback; unset means mail is written to files.
    pub smtp_url: Option<Secret<String>>,
    /// `mail_from`: the sender of every mail.
    #[serde(rename = "mail_from")]
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self { smtp_url: None, from: "Soravibe <no-reply@soravibe.local>".into() }
    }
}

impl MailConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.smtp_url {
            let u = url.expose();
            if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                return bad("APP_SMTP_URL", "must start with smtp:// or smtps://");
            }
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return bad("APP_MAIL_FROM", "is not a mailbox like `Name <addr@example.com>`");
        }
        Ok(())
    }
}

/// Per-client and per-member limits (rates are counts per window named in the key).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Invite redemptions (sign-ups) allowed per client address per minute.
    pub redeem_per_ip_per_minute: u32,
    /// Invite redemptions allowed across all clients per minute.
    pub redeem_global_per_minute: u32,
    /// Log-in attempts allowed per client address per minute.
    pub login_per_ip_per_minute: u32,
    /// Log-in attempts allowed per account per minute.
    pub login_per_account_per_minute: u32,
    /// Waitlist joins and reset requests allowed per client address per hour.
    pub mail_requests_per_ip_per_hour: u32,
    /// `verifyProvenance` calls per client address per minute.
    pub provenance_checks_per_ip_per_minute: u32,
    /// `search` calls per member (signed out: per client address) per minute.
    pub searches_per_minute: u32,
    /// Reports a member may file per hour.
    pub reports_per_user_per_hour: u32,
    /// Comments a member may post per minute.
    pub comments_per_user_per_minute: u32,
    /// Cameo verification challenges a member may start per hour.
    pub cameo_verifications_per_user_per_hour: u32,
    /// Follows, unfollows, blocks, likes and unlikes a member may make per minute.
    pub social_actions_per_user_per_minute: u32,
    /// Views a member may record per minute.
    pub views_per_user_per_minute: u32,
    /// Jobs a member may have waiting.
    pub max_queued_jobs_per_user: u32,
    /// Jobs a member may have running.
    pub max_running_jobs_per_user: u32,
    /// Cameos one video may hold (1–8).
    pub max_cameos_per_video: usize,
    /// Seconds a storyboard's shots may add up to (1–600; each shot is within the model's range).
    pub max_storyboard_seconds: u32,
    /// Whether sign-up asks for a date of birth, refuses under-13s and makes 13–17s teen accounts.
    pub age_checks: bool,
    /// Minutes of feed a teen account gets a day unless their parent sets otherwise (5–1440).
    pub teen_daily_feed_minutes: u32,
    /// Minutes of feed without a pause after which `feedItems` offers a take-a-break card (5–600).
    pub feed_break_minutes: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            redeem_per_ip_per_minute: 10,
            redeem_global_per_minute: 600,
            login_per_ip_per_minute: 60,
            login_per_account_per_minute: 10,
            mail_requests_per_ip_per_hour: 20,
            provenance_checks_per_ip_per_minute: 10,
            searches_per_minute: 60,
            reports_per_user_per_hour: 30,
            comments_per_user_per_minute: 10,
            cameo_verifications_per_user_per_hour: 10,
            social_actions_per_user_per_minute: 120,
            views_per_user_per_minute: 600,
            max_queued_jobs_per_user: 3,
            max_running_jobs_per_user: 1,
            max_cameos_per_video: 2,
            max_storyboard_seconds: 60,
            age_checks: true,
            teen_daily_feed_minutes: 60,
            feed_break_minutes: 30,
        }
    }
}

impl LimitsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        at_least_one(&[
            ("APP_REDEEM_PER_IP_PER_MINUTE", self.redeem_per_ip_per_minute),
            ("APP_REDEEM_GLOBAL_PER_MINUTE", self.redeem_global_per_minute),
            ("APP_LOGIN_PER_IP_PER_MINUTE", self.login_per_ip_per_minute),
            ("APP_LOGIN_PER_ACCOUNT_PER_MINUTE", self.login_per_account_per_minute),
            ("APP_MAIL_REQUESTS_PER_IP_PER_HOUR", self.mail_requests_per_ip_per_hour),
        ])?;
        if self.max_queued_jobs_per_user == 0 || self.max_running_jobs_per_user == 0 {
            return bad("APP_MAX_QUEUED_JOBS_PER_USER", "per-member job limits must be at least 1");
        }
        if self.max_cameos_per_video == 0 || self.max_cameos_per_video > 8 {
            return bad("APP_MAX_CAMEOS_PER_VIDEO", "must be between 1 and 8");
        }
        if self.max_storyboard_seconds == 0 || self.max_storyboard_seconds > 600 {
            return bad("APP_MAX_STORYBOARD_SECONDS", "must be between 1 and 600");
        }
        if !(5..=1440).contains(&self.teen_daily_feed_minutes) {
            return bad("APP_TEEN_DAILY_FEED_MINUTES", "must be between 5 and 1440");
        }
        if !(5..=600).contains(&self.feed_break_minutes) {
            return bad("APP_FEED_BREAK_MINUTES", "must be between 5 and 600");
        }
        at_least_one(&[
            ("APP_PROVENANCE_CHECKS_PER_IP_PER_MINUTE", self.provenance_checks_per_ip_per_minute),
            ("APP_SEARCHES_PER_MINUTE", self.searches_per_minute),
            ("APP_REPORTS_PER_USER_PER_HOUR", self.reports_per_user_per_hour),
            ("APP_COMMENTS_PER_USER_PER_MINUTE", self.comments_per_user_per_minute),
            ("APP_CAMEO_VERIFICATIONS_PER_USER_PER_HOUR", self.cameo_verifications_per_user_per_hour),
            ("APP_SOCIAL_ACTIONS_PER_USER_PER_MINUTE", self.social_actions_per_user_per_minute),
            ("APP_VIEWS_PER_USER_PER_MINUTE", self.views_per_user_per_minute),
        ])
    }
}

/// The model and ONNX Runtime.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct InferenceConfig {
    /// `model_manifest`: the model manifest (TOML) the generator runs.
    pub model_manifest: PathBuf,
    /// `ort_dylib_path`: ONNX Runtime library; unset means `ORT_DYLIB_PATH`, else
    /// `.venv/ort/libonnxruntime.so`.
    pub ort_dylib_path: Option<PathBuf>,
    /// `inference_device`: `auto` (CUDA when it registers), `cpu` or `cuda`.
    #[serde(rename = "inference_device")]
    pub device: DevicePreference,
    /// `inference_threads`: threads per model (0: ONNX Runtime's default).
    #[serde(rename = "inference_threads")]
    pub threads: usize,
    /// `inference_batch_max`: most queued jobs of one shape denoised together in one call (1: no
    /// batching). A generator process runs this many worker tasks over one loaded model.
    #[serde(rename = "inference_batch_max")]
    pub batch_max: usize,
    /// `inference_batch_window_ms`: how long the first job of a batch waits for others.
    #[serde(rename = "inference_batch_window_ms", deserialize_with = "units::millis")]
    pub batch_window: Duration,
    /// `inference_memory_budget_mb`: memory a worker's batch may take, MiB with the weights, by
    /// the manifest's estimate (0: no limit); a job that alone exceeds it is handed back.
    #[serde(rename = "inference_memory_budget_mb")]
    pub memory_budget_mb: u64,
    /// `voice_model`: a Piper-format voice (`.onnx`, its `.onnx.json` beside it) that speaks the
    /// dialogue of generated videos; unset, or a voice that does not load, means flite (logged).
    /// Name only a voice whose licence allows your use (read its model card).
    pub voice_model: Option<PathBuf>,
    /// `flite_path`: the flite program, the speech engine when no voice model is set.
    pub flite_path: PathBuf,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            model_manifest: PathBuf::from("models/world/manifest.toml"),
            ort_dylib_path: None,
            device: DevicePreference::Auto,
            threads: 0,
            batch_max: 1,
            batch_window: Duration::from_millis(50),
            memory_budget_mb: 0,
            voice_model: None,
            flite_path: PathBuf::from("flite"),
        }
    }
}

/// The job queue and the generator workers that serve it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// `queue_max_deliveries`: deliveries before a job is dead-lettered and ends FAILED.
    #[serde(rename = "queue_max_deliveries")]
    pub max_deliveries: u32,
    /// `queue_reclaim_idle_secs`: how long a delivery may go unacknowledged before another
    /// worker reclaims it (whole seconds).
    #[serde(rename = "queue_reclaim_idle_secs", deserialize_with = "units::seconds")]
    pub reclaim_idle: Duration,
    /// `queue_retry_backoff_secs`: base of the retry backoff (whole seconds; doubles per attempt).
    #[serde(rename = "queue_retry_backoff_secs", deserialize_with = "units::seconds")]
    pub retry_backoff: Duration,
    /// `queue_stop_grace_secs`: how long a worker told to stop (SIGTERM) may keep working on the
    /// job in hand before it hands the job back to the queue for another worker, without counting
    /// an attempt (whole seconds; keep it under the orchestrator's kill deadline).
    #[serde(rename = "queue_stop_grace_secs", deserialize_with = "units::seconds")]
    pub stop_grace: Duration,
    /// `in_process_workers`: generator workers inside the backend; unset means 1 without
    /// Redis, 0 with Redis (see [`crate::Config::effective_in_process_workers`]).
    pub in_process_workers: Option<usize>,
    /// `total_workers`: generator workers serving the queue in all (for ETAs); unset means
    /// `in_process_workers`.
    pub total_workers: Option<usize>,
    /// `worker_name`: name of this generator process (the backend names its in-process workers
    /// after it); unset means the host name.
    pub worker_name: Option<String>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_deliveries: 3,
            reclaim_idle: Duration::from_secs(60),
            retry_backoff: Duration::from_secs(2),
            stop_grace: Duration::from_secs(240),
            in_process_workers: None,
            total_workers: None,
            worker_name: None,
        }
    }
}

impl InferenceConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.batch_max == 0 || self.batch_max > 64 {
            return bad("APP_INFERENCE_BATCH_MAX", "must be between 1 and 64");
        }
        if self.batch_window > Duration::from_secs(10) {
            return bad("APP_INFERENCE_BATCH_WINDOW_MS", "must be at most 10000");
        }
        Ok(())
    }
}

impl QueueConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_deliveries == 0 {
            return bad("APP_QUEUE_MAX_DELIVERIES", "must be at least 1");
        }
        if self.reclaim_idle < Duration::from_secs(1) {
            return bad("APP_QUEUE_RECLAIM_IDLE_SECS", "must be at least 1");
        }
        Ok(())
    }
}

/// The data folder and the media store (a local folder, or an S3-compatible bucket).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// `data_dir`: folder for the SQLite file, media (without S3), mail, generated keys, the
    /// local C2PA CA and worker journals.
    pub data_dir: PathBuf,
    /// `s3_bucket`: S3-compatible bucket for media; unset means `<data_dir>/media`.
    pub s3_bucket: Option<String>,
    /// `s3_endpoint`: S3 endpoint (MinIO etc.); unset means AWS.
    pub s3_endpoint: Option<String>,
    /// `s3_region`: S3 region.
    pub s3_region: String,
    /// `s3_access_key`: S3 access key.
    pub s3_access_key: Option<Secret<String>>,
    /// `s3_secret_key`: S3 secret key.
    pub s3_secret_key: Option<Secret<String>>,
    /// `media_url_ttl_secs`: lifetime of signed media links (whole seconds).
    #[serde(rename = "media_url_ttl_secs", deserialize_with = "units::seconds")]
    pub media_url_ttl: Duration,
    /// `sweep_interval_secs`: how often each API node sweeps orphaned media and stuck jobs
    /// (whole seconds; 0 turns the sweeper off, `backend sweep` still runs one).
    #[serde(rename = "sweep_interval_secs", deserialize_with = "units::seconds")]
    pub sweep_interval: Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key: None,
            s3_secret_key: None,
            media_url_ttl: Duration::from_secs(3600),
            sweep_interval: Duration::from_secs(3600),
        }
    }
}

impl StorageConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.s3_bucket.is_some() && (self.s3_access_key.is_none() || self.s3_secret_key.is_none()) {
            return bad("APP_S3_ACCESS_KEY", "S3 needs APP_S3_ACCESS_KEY and APP_S3_SECRET_KEY");
        }
        if self.media_url_ttl < Duration::from_secs(60) {
            return bad("APP_MEDIA_URL_TTL_SECS", "must be at least 60");
        }
        Ok(())
    }

    /// Whether the S3 endpoint is plain HTTP (MinIO on a private network).
    pub fn s3_allows_http(&self) -> bool {
        self.s3_endpoint.as_deref().is_some_and(|e| e.starts_with("http://"))
    }
}

/// Moderation and provenance: the prompt classifier (API nodes), the frame check, the
/// watermark key and the C2PA signer (workers), and the roots the publish gate trusts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct ModerationConfig {
    /// `prompt_classifier`: the prompt classifier (ONNX) of the content policy.
    pub prompt_classifier: PathBuf,
    /// `text_encoder`: the sentence encoder (all-MiniLM-L6-v2 ONNX) API nodes read meaning with:
    /// cameo restrictions, feed preferences, search.
    pub text_encoder: PathBuf,
    /// `text_encoder_tokenizer`: its Hugging Face `tokenizer.json`.
    pub text_encoder_tokenizer: PathBuf,
    /// `restriction_meaning_threshold`: cosine similarity from which a prompt breaks a cameo
    /// restriction by meaning (tuned on the labelled pairs; see the README).
    pub restriction_meaning_threshold: f32,
    /// `frame_classifier`: the frame classifier (open_nsfw ONNX) the workers run on sampled
    /// frames.
    pub frame_classifier: PathBuf,
    /// `frame_samples`: frames sampled per clip by the frame check (at least 8).
    pub frame_samples: usize,
    /// `frame_review_threshold`: highest frame score from which a clip is held for human review.
    pub frame_review_threshold: f32,
    /// `frame_block_threshold`: highest frame score from which a clip is refused.
    pub frame_block_threshold: f32,
    /// `watermark_key`: invisible-watermark key (64 hex characters); unset means
    /// `<data_dir>/keys/watermark.key`, created on first start. Workers and API nodes must
    /// share it.
    pub watermark_key: Option<Secret<String>>,
    /// `watermark_previous_keys`: keys used before a rotation (64 hex characters each, separated
    /// by commas or spaces): videos marked with them still verify at the publish gate and in
    /// `verifyProvenance`. Besides `<data_dir>/keys/watermark-previous.keys`.
    pub watermark_previous_keys: Option<Secret<String>>,
    /// `c2pa_cert_chain`: PEM certificate chain (signer first) for C2PA signing; unset means a
    /// local CA under `<data_dir>/c2pa`, created on first start.
    pub c2pa_cert_chain: Option<PathBuf>,
    /// `c2pa_private_key`: PEM PKCS#8 key of the C2PA signer (with `c2pa_cert_chain`).
    pub c2pa_private_key: Option<PathBuf>,
    /// `c2pa_tsa_url`: RFC 3161 time-stamp authority for C2PA signatures.
    pub c2pa_tsa_url: Option<String>,
    /// `c2pa_trust_roots`: PEM roots the publish gate and `verifyProvenance` trust; unset means
    /// the local CA's root.
    pub c2pa_trust_roots: Option<PathBuf>,
}

/// Bytes of the invisible-watermark key (`watermark_key` is twice as many hex characters).
pub const WATERMARK_KEY_BYTES: usize = 32;

impl Default for ModerationConfig {
    fn default() -> Self {
        Self {
            prompt_classifier: PathBuf::from("models/moderation/text_classifier.onnx"),
            text_encoder: PathBuf::from(".venv/models/minilm.onnx"),
            text_encoder_tokenizer: PathBuf::from(".venv/models/minilm-tokenizer.json"),
            restriction_meaning_threshold: 0.20,
            frame_classifier: PathBuf::from(".venv/models/open-nsfw.onnx"),
            frame_samples: 8,
            frame_review_threshold: 0.4,
            frame_block_threshold: 0.8,
            watermark_key: None,
            watermark_previous_keys: None,
            c2pa_cert_chain: None,
            c2pa_private_key: None,
            c2pa_tsa_url: None,
            c2pa_trust_roots: None,
        }
    }
}

impl ModerationConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.restriction_meaning_threshold) {
            return bad("APP_RESTRICTION_MEANING_THRESHOLD", "must be between 0 and 1");
        }
        if self.frame_samples < 8 {
            return bad("APP_FRAME_SAMPLES", "must be at least 8");
        }
        if !(0.0..=1.0).contains(&self.frame_review_threshold) {
            return bad("APP_FRAME_REVIEW_THRESHOLD", "must be between 0 and 1");
        }
        if !(self.frame_review_threshold..=1.0).contains(&self.frame_block_threshold) {
            return bad("APP_FRAME_BLOCK_THRESHOLD", "must be between the review threshold and 1");
        }
        if let Some(k) = &self.watermark_key {
            let k = k.expose();
            if k.len() != WATERMARK_KEY_BYTES * 2 || !k.bytes().all(|b| b.is_ascii_hexdigit()) {
                return bad("APP_WATERMARK_KEY", "must be 64 hex characters");
            }
        }
        if let Some(keys) = &self.watermark_previous_keys {
            let bad_key = keys
                .expose()
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|k| !k.is_empty())
                .any(|k| k.len() != WATERMARK_KEY_BYTES * 2 || !k.bytes().all(|b| b.is_ascii_hexdigit()));
            if bad_key {
                return bad("APP_WATERMARK_PREVIOUS_KEYS", "must be keys of 64 hex characters, separated by commas");
            }
        }
        if self.c2pa_cert_chain.is_some() != self.c2pa_private_key.is_some() {
            return bad("APP_C2PA_CERT_CHAIN", "set both APP_C2PA_CERT_CHAIN and APP_C2PA_PRIVATE_KEY, or neither");
        }
        if self.c2pa_cert_chain.is_some() && self.c2pa_trust_roots.is_none() {
            return bad("APP_C2PA_TRUST_ROOTS", "a configured signing chain needs the roots that verify it");
        }
        Ok(())
    }
}

/// Feeds and their caches.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct FeedConfig {
    /// `feed_fanout_max_followers`: authors with at most this many followers have new videos
    /// pushed into their followers' FOLLOWING timelines (fan-out on write); bigger accounts are
    /// merged in at read time.
    #[serde(rename = "feed_fanout_max_followers")]
    pub fanout_max_followers: i64,
    /// `feed_list_ttl_secs`: how long a ranked FOR_YOU / TRENDING list stays readable by its
    /// cursors (whole seconds).
    #[serde(rename = "feed_list_ttl_secs", deserialize_with = "units::seconds")]
    pub list_ttl: Duration,
    /// `feed_refresh_secs`: how long a first page reuses the member's current FOR_YOU list (and
    /// everyone the current TRENDING list) before a fresh ranking (whole seconds).
    #[serde(rename = "feed_refresh_secs", deserialize_with = "units::seconds")]
    pub refresh: Duration,
    /// `feed_seen_window_hours`: videos a member watched within this long are not shown again
    /// in FOR_YOU (whole hours).
    #[serde(rename = "feed_seen_window_hours", deserialize_with = "units::hours")]
    pub seen_window: Duration,
    /// `feed_page_cache_secs`: how long a served feed page is reused, hydrated, for the same
    /// member, cursor and size (0: never; whole seconds). Removals, bans and the member's own
    /// likes, follows and blocks invalidate it at once; counts and new FOLLOWING posts may lag
    /// by up to this long.
    #[serde(rename = "feed_page_cache_secs", deserialize_with = "units::seconds")]
    pub page_cache: Duration,
    /// `feed_shared_pools_secs`: how long this process reuses the candidate pools every
    /// member's FOR_YOU ranking shares (the newest videos, the trending list's videos) before
    /// reading them again (whole seconds, at least 1). New videos reach rankings within this long.
    #[serde(rename = "feed_shared_pools_secs", deserialize_with = "units::seconds")]
    pub shared_pools: Duration,
    /// `search_refresh_ms`: how often each API node embeds newly published videos and reads new
    /// vectors into its search index (100–60000); a video is searchable within about twice this.
    /// 0 turns this node's indexing off (its `search` then finds members and cameos only; for
    /// tools and tests that must see no background writes).
    #[serde(rename = "search_refresh_ms", deserialize_with = "units::millis")]
    pub search_refresh: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            fanout_max_followers: 1000,
            list_ttl: Duration::from_secs(1800),
            refresh: Duration::from_secs(60),
            seen_window: Duration::from_secs(72 * 3600),
            page_cache: Duration::from_secs(15),
            shared_pools: Duration::from_secs(5),
            search_refresh: Duration::from_millis(2000),
        }
    }
}

impl FeedConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.fanout_max_followers < 0 {
            return bad("APP_FEED_FANOUT_MAX_FOLLOWERS", "must not be negative");
        }
        if self.list_ttl < Duration::from_secs(60) || self.refresh.is_zero() || self.refresh > self.list_ttl {
            return bad("APP_FEED_LIST_TTL_SECS", "must be at least 60, and APP_FEED_REFRESH_SECS between 1 and it");
        }
        if self.shared_pools.is_zero() || self.shared_pools > self.list_ttl {
            return bad("APP_FEED_SHARED_POOLS_SECS", "must be between 1 and APP_FEED_LIST_TTL_SECS");
        }
        if !self.search_refresh.is_zero()
            && !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&self.search_refresh)
        {
            return bad("APP_SEARCH_REFRESH_MS", "must be 0 (off) or between 100 and 60000");
        }
        Ok(())
    }
}

/// The web client and the links sent out.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct WebConfig {
    /// `public_url`: public base URL of the web client, used in links sent by mail, invite URLs
    /// and media links; unset means `http://<listen>` (see
    /// [`crate::Config::effective_public_url`]).
    pub public_url: Option<String>,
    /// `web_dir`: serve the web client and console from this folder (the repository's `web/`)
    /// instead of the copy built into the binary: edits show on reload. For front-end work.
    pub web_dir: Option<PathBuf>,
}

impl WebConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return bad("APP_PUBLIC_URL", "must start with http:// or https://");
        }
        Ok(())
    }
}

/// Runs every section's checks, in a fixed order.
/// Push notifications and the weekly digest. A channel without its credentials is off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct PushConfig {
    /// `apns_key_file`: the APNs signing key (`AuthKey_XXXXXXXXXX.p8`, PEM); with `apns_key_id`,
    /// `apns_team_id` and `apns_topic` it turns iOS pushes on.
    pub apns_key_file: Option<PathBuf>,
    /// `apns_key_id`: the key's 10-character id.
    pub apns_key_id: Option<String>,
    /// `apns_team_id`: the Apple developer team id.
    pub apns_team_id: Option<String>,
    /// `apns_topic`: the iOS app's bundle id.
    pub apns_topic: Option<String>,
    /// `apns_url`: the APNs base URL (the sandbox is `https://api.sandbox.push.apple.com`).
    pub apns_url: String,
    /// `fcm_service_account_file`: the Firebase service-account JSON; turns Android pushes on.
    pub fcm_service_account_file: Option<PathBuf>,
    /// `fcm_url`: the FCM base URL.
    pub fcm_url: String,
    /// `vapid_private_key_file`: the Web Push (VAPID) private key, PEM, EC P-256; with
    /// `vapid_subject` it turns browser pushes on.
    pub vapid_private_key_file: Option<PathBuf>,
    /// `vapid_subject`: a `mailto:` or `https:` contact the push services can reach.
    pub vapid_subject: Option<String>,
    /// `push_allow_loopback_http`: accept `http://127.0.0.1` Web Push endpoints (tests only).
    pub push_allow_loopback_http: bool,
    /// `push_lease_secs`: how long a push worker holds a notification before another may take it
    /// over (whole seconds, 5–3600).
    #[serde(rename = "push_lease_secs", deserialize_with = "units::seconds")]
    pub lease: Duration,
    /// `push_poll_ms`: how often the push worker looks for due notifications (100–60000).
    #[serde(rename = "push_poll_ms", deserialize_with = "units::millis")]
    pub poll: Duration,
    /// `digest_interval_hours`: how often members without a device get the email digest (1 or
    /// more; 168, a week, by default).
    #[serde(rename = "digest_interval_hours", deserialize_with = "units::hours")]
    pub digest_every: Duration,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            apns_key_file: None,
            apns_key_id: None,
            apns_team_id: None,
            apns_topic: None,
            apns_url: "https://api.push.apple.com".into(),
            fcm_service_account_file: None,
            fcm_url: "https://fcm.googleapis.com".into(),
            vapid_private_key_file: None,
            vapid_subject: None,
            push_allow_loopback_http: false,
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            digest_every: Duration::from_secs(7 * 86400),
        }
    }
}

impl PushConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let apns = [
            self.apns_key_file.is_some(),
            self.apns_key_id.is_some(),
            self.apns_team_id.is_some(),
            self.apns_topic.is_some(),
        ];
        if apns.iter().any(|x| *x) && !apns.iter().all(|x| *x) {
            return bad(
                "APP_APNS_KEY_FILE",
                "set all of APP_APNS_KEY_FILE, APP_APNS_KEY_ID, APP_APNS_TEAM_ID and APP_APNS_TOPIC, or none",
            );
        }
        if self.vapid_private_key_file.is_some() != self.vapid_subject.is_some() {
            return bad("APP_VAPID_SUBJECT", "set APP_VAPID_PRIVATE_KEY_FILE and APP_VAPID_SUBJECT together");
        }
        if let Some(s) = &self.vapid_subject
            && !(s.starts_with("mailto:") || s.starts_with("https://"))
        {
            return bad("APP_VAPID_SUBJECT", "must be a mailto: or https: address");
        }
        for (key, url) in [("APP_APNS_URL", &self.apns_url), ("APP_FCM_URL", &self.fcm_url)] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return bad(key, "must be an http(s) URL");
            }
        }
        if self.lease < Duration::from_secs(5) || self.lease > Duration::from_secs(3600) {
            return bad("APP_PUSH_LEASE_SECS", "must be between 5 and 3600");
        }
        if self.poll < Duration::from_millis(100) || self.poll > Duration::from_secs(60) {
            return bad("APP_PUSH_POLL_MS", "must be between 100 and 60000");
        }
        if self.digest_every < Duration::from_secs(3600) {
            return bad("APP_DIGEST_INTERVAL_HOURS", "must be at least 1");
        }
        Ok(())
    }
}

pub(crate) fn validate_all(c: &crate::Config) -> Result<(), ConfigError> {
    c.push.validate()?;
    c.server.validate()?;
    c.graphql.validate()?;
    c.log.validate()?;
    c.database.validate()?;
    c.redis.validate()?;
    c.auth.validate()?;
    c.invites.validate()?;
    c.mail.validate()?;
    c.limits.validate()?;
    c.queue.validate()?;
    c.inference.validate()?;
    c.storage.validate()?;
    c.moderation.validate()?;
    c.feed.validate()?;
    c.web.validate()
}
