//! One typed configuration: defaults → optional TOML file (`APP_CONFIG`) → `APP_`-prefixed
//! environment. Validated at start; a bad value stops the process with a message naming the key.

use std::path::PathBuf;

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::Deserialize;

use app_core::types::Secret;

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

/// The whole service configuration. Every field has a default so that no configuration at all
/// runs the embedded default (SQLite, mail to files, in-memory limits) under `./data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `development` or `production`.
    pub env: AppEnv,
    /// Address the HTTP server binds.
    pub listen: String,
    /// Folder for the SQLite file, media, mail and generated keys.
    pub data_dir: PathBuf,
    /// PostgreSQL or SQLite URL; unset means SQLite in the data folder.
    pub database_url: Option<Secret<String>>,
    /// Connection pool size.
    pub database_max_connections: u32,
    /// Redis URL; unset means in-process rate limits and token revocation.
    pub redis_url: Option<Secret<String>>,
    /// Prefix of every Redis key this instance writes (lets tests and tenants share a server).
    pub redis_prefix: String,
    /// Public base URL of the web client, used in links sent by mail; unset means
    /// `http://<APP_LISTEN>`.
    pub public_url: Option<String>,
    /// Ed25519 private key (PKCS#8 PEM) for access tokens; unset means generated once under the data folder.
    pub jwt_private_key_pem: Option<Secret<String>>,
    /// `iss` of issued access tokens.
    pub jwt_issuer: String,
    /// `aud` of issued access tokens.
    pub jwt_audience: String,
    /// Lifetime of an access token in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh-token family in days.
    pub refresh_token_ttl_days: u64,
    /// Lifetime of an email-verification link in hours.
    pub verify_email_ttl_hours: u64,
    /// Lifetime of a password-reset link in minutes.
    pub password_reset_ttl_minutes: u64,
    /// Invite codes each new member receives.
    pub invite_quota: u32,
    /// Length of generated invite codes (at least 8).
    pub invite_code_length: usize,
    /// SMTP URL: `smtps://user:pass@host:465`, `smtp://host:587?tls=required` (STARTTLS), or plain
    /// `smtp://host:25` for a relay on loopback; unset means mail is written to files.
    pub smtp_url: Option<Secret<String>>,
    /// Sender of every mail.
    pub mail_from: String,
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
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Deepest allowed GraphQL selection.
    pub graphql_max_depth: usize,
    /// Highest allowed GraphQL complexity.
    pub graphql_max_complexity: usize,
    /// Most operations in one batched request.
    pub graphql_max_batch: usize,
    /// Password hashes computed at once (each takes 19 MiB); 0 means twice the cores.
    pub hash_concurrency: usize,
    /// HTTP worker threads; 0 means one per core.
    pub http_workers: usize,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// Log filter (`tracing` env-filter syntax), e.g. `info,sqlx=warn`.
    pub log: String,
    /// The prompt classifier (ONNX) of the content policy.
    pub prompt_classifier: PathBuf,
    /// The model manifest (TOML) the generator runs.
    pub model_manifest: PathBuf,
    /// ONNX Runtime library; unset means `ORT_DYLIB_PATH`, else `.venv/ort/libonnxruntime.so`.
    pub ort_dylib_path: Option<PathBuf>,
    /// `auto` (CUDA when it registers), `cpu` or `cuda`.
    pub inference_device: String,
    /// Threads per model (0: ONNX Runtime's default).
    pub inference_threads: usize,
    /// Generator workers inside this process; unset means 1 without Redis, 0 with Redis.
    pub in_process_workers: Option<usize>,
    /// Name of this generator process (read by `generator`; the backend names its in-process
    /// workers after it); unset means the host name.
    pub worker_name: Option<String>,
    /// Generator workers serving the queue in all (for ETAs); unset means `in_process_workers`.
    pub total_workers: Option<usize>,
    /// Jobs a member may have waiting.
    pub max_queued_jobs_per_user: u32,
    /// Jobs a member may have running.
    pub max_running_jobs_per_user: u32,
    /// Deliveries before a job is dead-lettered and ends FAILED.
    pub queue_max_deliveries: u32,
    /// Seconds a delivery may go unacknowledged before another worker reclaims it.
    pub queue_reclaim_idle_secs: u64,
    /// Base of the retry backoff, in seconds (doubles per attempt).
    pub queue_retry_backoff_secs: u64,
    /// S3-compatible bucket for media; unset means `<data_dir>/media`.
    pub s3_bucket: Option<String>,
    /// S3 endpoint (MinIO etc.); unset means AWS.
    pub s3_endpoint: Option<String>,
    /// S3 region.
    pub s3_region: String,
    /// S3 access key.
    pub s3_access_key: Option<Secret<String>>,
    /// S3 secret key.
    pub s3_secret_key: Option<Secret<String>>,
    /// Lifetime of signed media links, in seconds.
    pub media_url_ttl_secs: u64,
    /// The frame classifier (open_nsfw ONNX) the workers run on sampled frames.
    pub frame_classifier: PathBuf,
    /// Frames sampled per clip by the frame check (at least 8).
    pub frame_samples: usize,
    /// Highest frame score from which a clip is held for human review.
    pub frame_review_threshold: f32,
    /// Highest frame score from which a clip is refused.
    pub frame_block_threshold: f32,
    /// Invisible-watermark key (64 hex characters); unset means `<data_dir>/keys/watermark.key`,
    /// created on first start. Workers and API nodes must share it.
    pub watermark_key: Option<Secret<String>>,
    /// PEM certificate chain (signer first) for C2PA signing; unset means a local CA under
    /// `<data_dir>/c2pa`, created on first start.
    pub c2pa_cert_chain: Option<PathBuf>,
    /// PEM PKCS#8 key of the C2PA signer (with `c2pa_cert_chain`).
    pub c2pa_private_key: Option<PathBuf>,
    /// RFC 3161 time-stamp authority for C2PA signatures.
    pub c2pa_tsa_url: Option<String>,
    /// PEM roots the publish gate and `verifyProvenance` trust; unset means the local CA's root.
    pub c2pa_trust_roots: Option<PathBuf>,
    /// Largest upload accepted (GraphQL multipart), in bytes.
    pub max_upload_bytes: usize,
    /// Serve the web client and console from this folder (the repository's `web/`) instead of
    /// the copy built into the binary: edits show on reload. For front-end development.
    pub web_dir: Option<PathBuf>,
    /// `verifyProvenance` calls per client address per minute.
    pub provenance_checks_per_ip_per_minute: u32,
    /// Reports a member may file per hour.
    pub reports_per_user_per_hour: u32,
    /// Comments a member may post per minute.
    pub comments_per_user_per_minute: u32,
    /// Cameos one video may hold.
    pub max_cameos_per_video: usize,
    /// Cameo verification challenges a member may start per hour.
    pub cameo_verifications_per_user_per_hour: u32,
    /// Authors with at most this many followers have new videos pushed into their followers'
    /// FOLLOWING timelines (fan-out on write); bigger accounts are merged in at read time.
    pub feed_fanout_max_followers: i64,
    /// How long a ranked FOR_YOU / TRENDING list stays readable by its cursors, in seconds.
    pub feed_list_ttl_secs: u64,
    /// How long a first page reuses the member's current FOR_YOU list (and everyone the current
    /// TRENDING list) before a fresh ranking, in seconds.
    pub feed_refresh_secs: u64,
    /// Videos a member watched within this many hours are not shown again in FOR_YOU.
    pub feed_seen_window_hours: u64,
    /// How long a served feed page is reused, hydrated, for the same member, cursor and size
    /// (0: never). Removals, bans and the member's own likes, follows and blocks invalidate it
    /// at once; counts and new FOLLOWING posts may lag by up to this long.
    pub feed_page_cache_secs: u64,
    /// Follows, unfollows, blocks, likes and unlikes a member may make per minute.
    pub social_actions_per_user_per_minute: u32,
    /// Views a member may record per minute.
    pub views_per_user_per_minute: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            env: AppEnv::Development,
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 16,
            redis_url: None,
            redis_prefix: "sv".into(),
            public_url: None,
            jwt_private_key_pem: None,
            jwt_issuer: "soravibe".into(),
            jwt_audience: "soravibe-clients".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            verify_email_ttl_hours: 48,
            password_reset_ttl_minutes: 30,
            invite_quota: 4,
            invite_code_length: 10,
            smtp_url: None,
            mail_from: "Soravibe <no-reply@soravibe.local>".into(),
            redeem_per_ip_per_minute: 10,
            redeem_global_per_minute: 600,
            login_per_ip_per_minute: 60,
            login_per_account_per_minute: 10,
            mail_requests_per_ip_per_hour: 20,
            trust_forwarded_for: false,
            graphql_max_depth: 12,
            graphql_max_complexity: 1000,
            graphql_max_batch: 10,
            hash_concurrency: 0,
            http_workers: 0,
            log_format: LogFormat::Text,
            log: "info,sqlx=warn,sea_orm=warn".into(),
            prompt_classifier: PathBuf::from("models/moderation/text_classifier.onnx"),
            model_manifest: PathBuf::from("models/tiny/manifest.toml"),
            ort_dylib_path: None,
            inference_device: "auto".into(),
            inference_threads: 0,
            in_process_workers: None,
            worker_name: None,
            total_workers: None,
            max_queued_jobs_per_user: 3,
            max_running_jobs_per_user: 1,
            queue_max_deliveries: 3,
            queue_reclaim_idle_secs: 60,
            queue_retry_backoff_secs: 2,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key: None,
            s3_secret_key: None,
            media_url_ttl_secs: 3600,
            frame_classifier: PathBuf::from(".venv/models/open-nsfw.onnx"),
            frame_samples: 8,
            frame_review_threshold: 0.4,
            frame_block_threshold: 0.8,
            watermark_key: None,
            c2pa_cert_chain: None,
            c2pa_private_key: None,
            c2pa_tsa_url: None,
            c2pa_trust_roots: None,
            max_upload_bytes: 50 * 1024 * 1024,
            web_dir: None,
            provenance_checks_per_ip_per_minute: 10,
            reports_per_user_per_hour: 30,
            comments_per_user_per_minute: 10,
            max_cameos_per_video: 2,
            cameo_verifications_per_user_per_hour: 10,
            feed_fanout_max_followers: 1000,
            feed_list_ttl_secs: 1800,
            feed_refresh_secs: 60,
            feed_seen_window_hours: 72,
            feed_page_cache_secs: 15,
            social_actions_per_user_per_minute: 120,
            views_per_user_per_minute: 600,
        }
    }
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

impl Config {
    /// Reads defaults, then the file named by `APP_CONFIG` (if any), then `APP_*` variables.
    pub fn load() -> Result<Self, ConfigError> {
        let mut fig = Figment::new();
        if let Ok(path) = std::env::var("APP_CONFIG") {
            if !std::path::Path::new(&path).exists() {
                return Err(ConfigError { key: "APP_CONFIG".into(), message: format!("file {path} does not exist") });
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("APP_").ignore(&["config"]));
        let config: Config = fig.extract().map_err(|e| {
            let key = e.path.last().map(|k| format!("APP_{}", k.to_uppercase())).unwrap_or_else(|| "APP_*".into());
            ConfigError { key, message: e.kind.to_string() }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn bad(key: &str, message: impl Into<String>) -> Result<(), ConfigError> {
            Err(ConfigError { key: key.into(), message: message.into() })
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad("APP_LISTEN", format!("`{}` is not an address like 127.0.0.1:8080", self.listen));
        }
        if let Some(url) = &self.database_url {
            let u = url.expose();
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://") || u.starts_with("sqlite:")) {
                return bad("APP_DATABASE_URL", "must start with postgres://, postgresql:// or sqlite:");
            }
        }
        if let Some(url) = &self.redis_url {
            let u = url.expose();
            if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                return bad("APP_REDIS_URL", "must start with redis:// or rediss://");
            }
        }
        if let Some(url) = &self.smtp_url {
            let u = url.expose();
            if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
                return bad("APP_SMTP_URL", "must start with smtp:// or smtps://");
            }
        }
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return bad("APP_PUBLIC_URL", "must start with http:// or https://");
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return bad("APP_MAIL_FROM", "is not a mailbox like `Name <addr@example.com>`");
        }
        if self.invite_code_length < 8 || self.invite_code_length > 32 {
            return bad("APP_INVITE_CODE_LENGTH", "must be between 8 and 32");
        }
        if self.access_token_ttl_secs < 30 || self.access_token_ttl_secs > 24 * 3600 {
            return bad("APP_ACCESS_TOKEN_TTL_SECS", "must be between 30 and 86400");
        }
        if self.refresh_token_ttl_days == 0 || self.refresh_token_ttl_days > 365 {
            return bad("APP_REFRESH_TOKEN_TTL_DAYS", "must be between 1 and 365");
        }
        if self.verify_email_ttl_hours == 0 {
            return bad("APP_VERIFY_EMAIL_TTL_HOURS", "must be at least 1");
        }
        if self.password_reset_ttl_minutes == 0 {
            return bad("APP_PASSWORD_RESET_TTL_MINUTES", "must be at least 1");
        }
        if self.invite_quota > 1000 {
            return bad("APP_INVITE_QUOTA", "must be at most 1000");
        }
        for (key, v) in [
            ("APP_REDEEM_PER_IP_PER_MINUTE", self.redeem_per_ip_per_minute),
            ("APP_REDEEM_GLOBAL_PER_MINUTE", self.redeem_global_per_minute),
            ("APP_LOGIN_PER_IP_PER_MINUTE", self.login_per_ip_per_minute),
            ("APP_LOGIN_PER_ACCOUNT_PER_MINUTE", self.login_per_account_per_minute),
            ("APP_MAIL_REQUESTS_PER_IP_PER_HOUR", self.mail_requests_per_ip_per_hour),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1");
            }
        }
        if self.graphql_max_depth < 4 {
            return bad("APP_GRAPHQL_MAX_DEPTH", "must be at least 4");
        }
        if self.graphql_max_complexity < 10 {
            return bad("APP_GRAPHQL_MAX_COMPLEXITY", "must be at least 10");
        }
        if self.graphql_max_batch == 0 {
            return bad("APP_GRAPHQL_MAX_BATCH", "must be at least 1");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log).is_err() {
            return bad("APP_LOG", "is not a log filter like `info,sqlx=warn`");
        }
        if generator::runtime::DevicePreference::parse(&self.inference_device).is_none() {
            return bad("APP_INFERENCE_DEVICE", "must be auto, cpu or cuda");
        }
        if self.max_queued_jobs_per_user == 0 || self.max_running_jobs_per_user == 0 {
            return bad("APP_MAX_QUEUED_JOBS_PER_USER", "per-member job limits must be at least 1");
        }
        if self.queue_max_deliveries == 0 {
            return bad("APP_QUEUE_MAX_DELIVERIES", "must be at least 1");
        }
        if self.queue_reclaim_idle_secs == 0 {
            return bad("APP_QUEUE_RECLAIM_IDLE_SECS", "must be at least 1");
        }
        if self.s3_bucket.is_some() && (self.s3_access_key.is_none() || self.s3_secret_key.is_none()) {
            return bad("APP_S3_ACCESS_KEY", "S3 needs APP_S3_ACCESS_KEY and APP_S3_SECRET_KEY");
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
        if let Some(k) = &self.watermark_key
            && moderation::watermark::parse_key(k.expose()).is_none()
        {
            return bad("APP_WATERMARK_KEY", "must be 64 hex characters");
        }
        if self.c2pa_cert_chain.is_some() != self.c2pa_private_key.is_some() {
            return bad("APP_C2PA_CERT_CHAIN", "set both APP_C2PA_CERT_CHAIN and APP_C2PA_PRIVATE_KEY, or neither");
        }
        if self.c2pa_cert_chain.is_some() && self.c2pa_trust_roots.is_none() {
            return bad("APP_C2PA_TRUST_ROOTS", "a configured signing chain needs the roots that verify it");
        }
        if self.max_cameos_per_video == 0 || self.max_cameos_per_video > 8 {
            return bad("APP_MAX_CAMEOS_PER_VIDEO", "must be between 1 and 8");
        }
        if self.max_upload_bytes < 1024 * 1024 {
            return bad("APP_MAX_UPLOAD_BYTES", "must be at least 1 MiB");
        }
        for (key, v) in [
            ("APP_PROVENANCE_CHECKS_PER_IP_PER_MINUTE", self.provenance_checks_per_ip_per_minute),
            ("APP_REPORTS_PER_USER_PER_HOUR", self.reports_per_user_per_hour),
            ("APP_COMMENTS_PER_USER_PER_MINUTE", self.comments_per_user_per_minute),
            ("APP_CAMEO_VERIFICATIONS_PER_USER_PER_HOUR", self.cameo_verifications_per_user_per_hour),
            ("APP_SOCIAL_ACTIONS_PER_USER_PER_MINUTE", self.social_actions_per_user_per_minute),
            ("APP_VIEWS_PER_USER_PER_MINUTE", self.views_per_user_per_minute),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1");
            }
        }
        if self.feed_fanout_max_followers < 0 {
            return bad("APP_FEED_FANOUT_MAX_FOLLOWERS", "must not be negative");
        }
        if self.feed_list_ttl_secs < 60
            || self.feed_refresh_secs == 0
            || self.feed_refresh_secs > self.feed_list_ttl_secs
        {
            return bad("APP_FEED_LIST_TTL_SECS", "must be at least 60, and APP_FEED_REFRESH_SECS between 1 and it");
        }
        if self.media_url_ttl_secs < 60 {
            return bad("APP_MEDIA_URL_TTL_SECS", "must be at least 60");
        }
        if self.redis_prefix.is_empty() || self.redis_prefix.contains(char::is_whitespace) {
            return bad("APP_REDIS_PREFIX", "must be a non-empty word");
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or SQLite in the data folder.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose().clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("app.db").display()),
        }
    }

    /// The base URL put in links.
    pub fn effective_public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Generator workers to run inside this process.
    pub fn effective_in_process_workers(&self) -> usize {
        self.in_process_workers.unwrap_or(if self.redis_url.is_some() { 0 } else { 1 })
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

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = Config { listen: "nope".into(), ..Config::default() };
        assert_eq!(c.validate().unwrap_err().key, "APP_LISTEN");
        let c = Config { invite_code_length: 6, ..Config::default() };
        assert_eq!(c.validate().unwrap_err().key, "APP_INVITE_CODE_LENGTH");
        let c = Config { database_url: Some(Secret::new("mysql://x".into())), ..Config::default() };
        assert_eq!(c.validate().unwrap_err().key, "APP_DATABASE_URL");
    }

    #[test]
    fn moderation_keys_are_checked() {
        let bad = [
            (Config { frame_samples: 4, ..Config::default() }, "APP_FRAME_SAMPLES"),
            (
                Config { frame_review_threshold: 0.9, frame_block_threshold: 0.5, ..Config::default() },
                "APP_FRAME_BLOCK_THRESHOLD",
            ),
            (Config { frame_review_threshold: 1.5, ..Config::default() }, "APP_FRAME_REVIEW_THRESHOLD"),
            (Config { watermark_key: Some(Secret::new("abc".into())), ..Config::default() }, "APP_WATERMARK_KEY"),
            (Config { c2pa_cert_chain: Some("chain.pem".into()), ..Config::default() }, "APP_C2PA_CERT_CHAIN"),
            (
                Config {
                    c2pa_cert_chain: Some("chain.pem".into()),
                    c2pa_private_key: Some("key.pem".into()),
                    ..Config::default()
                },
                "APP_C2PA_TRUST_ROOTS",
            ),
            (Config { max_upload_bytes: 10, ..Config::default() }, "APP_MAX_UPLOAD_BYTES"),
            (Config { reports_per_user_per_hour: 0, ..Config::default() }, "APP_REPORTS_PER_USER_PER_HOUR"),
        ];
        for (c, key) in bad {
            assert_eq!(c.validate().unwrap_err().key, key);
        }
        let ok = Config { watermark_key: Some(Secret::new("0f".repeat(32))), ..Config::default() };
        ok.validate().unwrap();
    }

    #[test]
    fn the_example_configuration_loads() {
        let example =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/app.example.toml")).unwrap();
        figment::Jail::expect_with(|jail| {
            jail.create_file("app.toml", &example)?;
            jail.set_env("APP_CONFIG", "app.toml");
            let c = Config::load().unwrap();
            assert_eq!(c.frame_samples, 8);
            assert!(c.c2pa_trust_roots.is_some());
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_and_type_errors_name_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("APP_INVITE_QUOTA", "7");
            let c = Config::load().unwrap();
            assert_eq!(c.invite_quota, 7);
            jail.set_env("APP_INVITE_QUOTA", "lots");
            let e = Config::load().unwrap_err();
            assert_eq!(e.key, "APP_INVITE_QUOTA");
            Ok(())
        });
    }

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("app.toml", "invite_quota = 2\nlisten = \"127.0.0.1:9000\"\n")?;
            jail.set_env("APP_CONFIG", "app.toml");
            jail.set_env("APP_LISTEN", "127.0.0.1:9001");
            let c = Config::load().unwrap();
            assert_eq!(c.invite_quota, 2);
            assert_eq!(c.listen, "127.0.0.1:9001");
            Ok(())
        });
    }
}
