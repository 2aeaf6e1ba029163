#![allow(clippy::result_large_err)] // figment::Jail's closure signature

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};

use super::*;

/// The keys as they were before the configuration was split into sections (`backend/src/config.rs`
/// at the time): operators' files and environments use exactly these.
const KEYS_OPERATORS_USE: &[&str] = &[
    "env",
    "listen",
    "data_dir",
    "database_url",
    "database_max_connections",
    "redis_url",
    "redis_prefix",
    "public_url",
    "jwt_private_key_pem",
    "jwt_previous_public_keys_pem",
    "jwt_issuer",
    "jwt_audience",
    "access_token_ttl_secs",
    "refresh_token_ttl_days",
    "verify_email_ttl_hours",
    "password_reset_ttl_minutes",
    "invite_quota",
    "invite_code_length",
    "smtp_url",
    "mail_from",
    "redeem_per_ip_per_minute",
    "redeem_global_per_minute",
    "login_per_ip_per_minute",
    "login_per_account_per_minute",
    "mail_requests_per_ip_per_hour",
    "trust_forwarded_for",
    "graphql_max_depth",
    "graphql_max_complexity",
    "graphql_max_batch",
    "hash_concurrency",
    "http_workers",
    "log_format",
    "log",
    "otlp_endpoint",
    "otlp_sample_ratio",
    "prompt_classifier",
    "text_encoder",
    "text_encoder_tokenizer",
    "restriction_meaning_threshold",
    "model_manifest",
    "ort_dylib_path",
    "inference_device",
    "inference_threads",
    "inference_batch_max",
    "inference_batch_window_ms",
    "inference_memory_budget_mb",
    "voice_model",
    "max_storyboard_seconds",
    "age_checks",
    "teen_daily_feed_minutes",
    "feed_break_minutes",
    "flite_path",
    "in_process_workers",
    "worker_name",
    "total_workers",
    "max_queued_jobs_per_user",
    "max_running_jobs_per_user",
    "queue_max_deliveries",
    "queue_reclaim_idle_secs",
    "queue_retry_backoff_secs",
    "queue_stop_grace_secs",
    "s3_bucket",
    "s3_endpoint",
    "s3_region",
    "s3_access_key",
    "s3_secret_key",
    "media_url_ttl_secs",
    "sweep_interval_secs",
    "frame_classifier",
    "frame_samples",
    "frame_review_threshold",
    "frame_block_threshold",
    "watermark_key",
    "watermark_previous_keys",
    "c2pa_cert_chain",
    "c2pa_private_key",
    "c2pa_tsa_url",
    "c2pa_trust_roots",
    "max_upload_bytes",
    "web_dir",
    "provenance_checks_per_ip_per_minute",
    "searches_per_minute",
    "reports_per_user_per_hour",
    "comments_per_user_per_minute",
    "max_cameos_per_video",
    "cameo_verifications_per_user_per_hour",
    "feed_fanout_max_followers",
    "feed_list_ttl_secs",
    "feed_refresh_secs",
    "feed_seen_window_hours",
    "feed_page_cache_secs",
    "feed_shared_pools_secs",
    "search_refresh_ms",
    "social_actions_per_user_per_minute",
    "views_per_user_per_minute",
    "apns_key_file",
    "apns_key_id",
    "apns_team_id",
    "apns_topic",
    "apns_url",
    "fcm_service_account_file",
    "fcm_url",
    "vapid_private_key_file",
    "vapid_subject",
    "push_allow_loopback_http",
    "push_lease_secs",
    "push_poll_ms",
    "digest_interval_hours",
];

/// Every default before the split, written out as a file.
const OLD_DEFAULTS: &str = r#"
env = "development"
listen = "127.0.0.1:8080"
data_dir = "./data"
database_max_connections = 16
redis_prefix = "sv"
jwt_issuer = "soravibe"
jwt_audience = "soravibe-clients"
access_token_ttl_secs = 900
refresh_token_ttl_days = 30
verify_email_ttl_hours = 48
password_reset_ttl_minutes = 30
invite_quota = 4
invite_code_length = 10
mail_from = "Soravibe <no-reply@soravibe.local>"
redeem_per_ip_per_minute = 10
redeem_global_per_minute = 600
login_per_ip_per_minute = 60
login_per_account_per_minute = 10
mail_requests_per_ip_per_hour = 20
trust_forwarded_for = false
graphql_max_depth = 12
graphql_max_complexity = 1000
graphql_max_batch = 10
hash_concurrency = 0
http_workers = 0
log_format = "text"
log = "info,sqlx=warn,sea_orm=warn"
otlp_sample_ratio = 1.0
prompt_classifier = "models/moderation/text_classifier.onnx"
text_encoder = ".venv/models/minilm.onnx"
text_encoder_tokenizer = ".venv/models/minilm-tokenizer.json"
restriction_meaning_threshold = 0.20
model_manifest = "models/world/manifest.toml"
inference_device = "auto"
inference_threads = 0
inference_batch_max = 1
inference_batch_window_ms = 50
inference_memory_budget_mb = 0
flite_path = "flite"
max_queued_jobs_per_user = 3
max_running_jobs_per_user = 1
queue_max_deliveries = 3
queue_reclaim_idle_secs = 60
queue_retry_backoff_secs = 2
queue_stop_grace_secs = 240
s3_region = "us-east-1"
media_url_ttl_secs = 3600
sweep_interval_secs = 3600
frame_classifier = ".venv/models/open-nsfw.onnx"
frame_samples = 8
frame_review_threshold = 0.4
frame_block_threshold = 0.8
max_upload_bytes = 52428800
provenance_checks_per_ip_per_minute = 10
reports_per_user_per_hour = 30
comments_per_user_per_minute = 10
max_cameos_per_video = 2
cameo_verifications_per_user_per_hour = 10
feed_fanout_max_followers = 1000
feed_list_ttl_secs = 1800
feed_refresh_secs = 60
feed_seen_window_hours = 72
feed_page_cache_secs = 15
feed_shared_pools_secs = 5
social_actions_per_user_per_minute = 120
views_per_user_per_minute = 600
apns_url = "https://api.push.apple.com"
fcm_url = "https://fcm.googleapis.com"
push_allow_loopback_http = false
push_lease_secs = 60
push_poll_ms = 1000
digest_interval_hours = 168
"#;

fn toml(s: &str) -> Figment {
    Figment::new().merge(Toml::string(s))
}

fn load_env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut out = None;
    figment::Jail::expect_with(|jail| {
        for (k, v) in vars {
            jail.set_env(k, v);
        }
        out = Some(Config::load());
        Ok(())
    });
    out.unwrap()
}

fn key_of(r: Result<Config, ConfigError>) -> String {
    r.unwrap_err().key
}

#[test]
fn defaults_are_valid() {
    Config::default().validate().unwrap();
}

#[test]
fn defaults_are_the_ones_before_the_split() {
    let written_out = Config::from_figment(&toml(OLD_DEFAULTS)).unwrap();
    assert_eq!(written_out, Config::default());
    assert_eq!(Config::from_figment(&Figment::new()).unwrap(), Config::default());
    // Every key without a default above is unset by default.
    let c = Config::default();
    assert!(c.database.url.is_none() && c.redis.url.is_none() && c.mail.smtp_url.is_none());
    assert!(c.web.public_url.is_none() && c.web.web_dir.is_none() && c.auth.jwt_private_key_pem.is_none());
    assert!(c.queue.in_process_workers.is_none() && c.queue.total_workers.is_none() && c.queue.worker_name.is_none());
    assert!(c.storage.s3_bucket.is_none() && c.storage.s3_endpoint.is_none() && c.inference.ort_dylib_path.is_none());
    assert!(c.inference.voice_model.is_none());
    assert!(c.moderation.watermark_key.is_none() && c.moderation.c2pa_cert_chain.is_none());
    assert!(c.moderation.c2pa_private_key.is_none() && c.moderation.c2pa_tsa_url.is_none());
    assert!(c.moderation.c2pa_trust_roots.is_none());
}

#[test]
fn keys_are_the_ones_operators_use() {
    let mut now = Config::keys();
    now.sort_unstable();
    let mut before = KEYS_OPERATORS_USE.to_vec();
    before.sort_unstable();
    assert_eq!(now, before);
    let mut unique = now.clone();
    unique.dedup();
    assert_eq!(unique.len(), now.len(), "no key is read by two sections");
}

#[test]
fn the_example_file_and_the_readme_use_known_keys() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let example = std::fs::read_to_string(format!("{root}/infra/app.example.toml")).unwrap();
    let keys = Config::keys();
    for line in example.lines().map(|l| l.trim_start_matches("# ")) {
        if let Some((key, _)) = line.split_once(" = ")
            && !key.contains(' ')
        {
            assert!(keys.contains(&key), "infra/app.example.toml: unknown key {key}");
        }
    }
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    for row in readme.lines().filter(|l| l.starts_with("| `APP_")) {
        for name in row.split('|').nth(1).unwrap_or_default().split('/') {
            let name = name.trim().trim_matches('`');
            if name == "APP_CONFIG" {
                continue;
            }
            let key = name.strip_prefix("APP_").unwrap().to_lowercase();
            assert!(keys.contains(&key.as_str()), "README: unknown key {name}");
        }
    }
}

#[test]
fn flattened_sections_read_the_flat_keys() {
    // One value off its default in every section: the sections read with `#[serde(flatten)]`
    // see exactly what `Config::from_figment` reads section by section.
    let fig = toml(
        r#"
        env = "production"
        graphql_max_depth = 7
        log_format = "json"
        database_max_connections = 3
        redis_prefix = "tenant"
        access_token_ttl_secs = 60
        invite_quota = 9
        mail_from = "Ops <ops@example.com>"
        views_per_user_per_minute = 5
        inference_device = "cpu"
        queue_reclaim_idle_secs = 9
        data_dir = "/srv/data"
        frame_samples = 12
        feed_seen_window_hours = 1
        public_url = "https://example.com"
        "#,
    );
    let flat: Config = fig.extract().unwrap();
    let by_section = Config::from_figment(&fig).unwrap();
    assert_eq!(flat, by_section);
    assert_eq!(by_section.server.env, AppEnv::Production);
    assert_eq!(by_section.graphql.max_depth, 7);
    assert_eq!(by_section.log.format, LogFormat::Json);
    assert_eq!(by_section.database.max_connections, 3);
    assert_eq!(by_section.redis.prefix, "tenant");
    assert_eq!(by_section.auth.access_token_ttl, Duration::from_secs(60));
    assert_eq!(by_section.invites.quota, 9);
    assert_eq!(by_section.mail.from, "Ops <ops@example.com>");
    assert_eq!(by_section.limits.views_per_user_per_minute, 5);
    assert_eq!(by_section.inference.device, DevicePreference::Cpu);
    assert_eq!(by_section.queue.reclaim_idle, Duration::from_secs(9));
    assert_eq!(by_section.storage.data_dir, PathBuf::from("/srv/data"));
    assert_eq!(by_section.moderation.frame_samples, 12);
    assert_eq!(by_section.feed.seen_window, Duration::from_secs(3600));
    assert_eq!(by_section.web.public_url.as_deref(), Some("https://example.com"));
}

#[test]
fn durations_and_addresses_are_typed() {
    let c = load_env(&[
        ("APP_LISTEN", "0.0.0.0:9000"),
        ("APP_ACCESS_TOKEN_TTL_SECS", "120"),
        ("APP_REFRESH_TOKEN_TTL_DAYS", "2"),
        ("APP_VERIFY_EMAIL_TTL_HOURS", "3"),
        ("APP_PASSWORD_RESET_TTL_MINUTES", "4"),
        ("APP_QUEUE_RETRY_BACKOFF_SECS", "5"),
        ("APP_MEDIA_URL_TTL_SECS", "600"),
        ("APP_FEED_LIST_TTL_SECS", "120"),
        ("APP_FEED_REFRESH_SECS", "30"),
        ("APP_FEED_PAGE_CACHE_SECS", "0"),
    ])
    .unwrap();
    assert_eq!(c.server.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
    assert_eq!(c.auth.access_token_ttl, Duration::from_secs(120));
    assert_eq!(c.auth.refresh_token_ttl, Duration::from_secs(2 * 86_400));
    assert_eq!(c.auth.verify_email_ttl, Duration::from_secs(3 * 3600));
    assert_eq!(c.auth.password_reset_ttl, Duration::from_secs(4 * 60));
    assert_eq!(c.queue.retry_backoff, Duration::from_secs(5));
    assert_eq!(c.storage.media_url_ttl, Duration::from_secs(600));
    assert_eq!(c.feed.list_ttl, Duration::from_secs(120));
    assert_eq!(c.feed.refresh, Duration::from_secs(30));
    assert_eq!(c.feed.page_cache, Duration::ZERO);
    assert_eq!(c.effective_public_url(), "http://0.0.0.0:9000");
}

#[test]
fn bad_values_name_their_key() {
    let c = Config { invites: InviteConfig { code_length: 6, ..Default::default() }, ..Config::default() };
    assert_eq!(c.validate().unwrap_err().key, "APP_INVITE_CODE_LENGTH");
    let c = Config {
        database: DatabaseConfig { url: Some(Secret::new("mysql://x".into())), ..Default::default() },
        ..Config::default()
    };
    assert_eq!(c.validate().unwrap_err().key, "APP_DATABASE_URL");
    let c = Config {
        auth: AuthConfig { access_token_ttl: Duration::from_secs(10), ..Default::default() },
        ..Config::default()
    };
    assert_eq!(c.validate().unwrap_err().key, "APP_ACCESS_TOKEN_TTL_SECS");
    let c =
        Config { auth: AuthConfig { refresh_token_ttl: Duration::ZERO, ..Default::default() }, ..Config::default() };
    assert_eq!(c.validate().unwrap_err().key, "APP_REFRESH_TOKEN_TTL_DAYS");
    let c =
        Config { feed: FeedConfig { refresh: Duration::from_secs(4000), ..Default::default() }, ..Config::default() };
    assert_eq!(c.validate().unwrap_err().key, "APP_FEED_LIST_TTL_SECS");
    let c = Config { redis: RedisConfig { prefix: "a b".into(), ..Default::default() }, ..Config::default() };
    assert_eq!(c.validate().unwrap_err().key, "APP_REDIS_PREFIX");
    let c = Config { mail: MailConfig { from: "nobody".into(), ..Default::default() }, ..Config::default() };
    assert_eq!(c.validate().unwrap_err().key, "APP_MAIL_FROM");
    let c = Config { log: LogConfig { filter: "info,[".into(), ..Default::default() }, ..Config::default() };
    assert_eq!(c.validate().unwrap_err().key, "APP_LOG");
    let c = Config {
        storage: StorageConfig { s3_bucket: Some("media".into()), ..Default::default() },
        ..Config::default()
    };
    assert_eq!(c.validate().unwrap_err().key, "APP_S3_ACCESS_KEY");
    assert_eq!(key_of(load_env(&[("APP_QUEUE_RECLAIM_IDLE_SECS", "0")])), "APP_QUEUE_RECLAIM_IDLE_SECS");
}

#[test]
fn moderation_keys_are_checked() {
    let m = ModerationConfig::default;
    let bad = [
        (ModerationConfig { frame_samples: 4, ..m() }, "APP_FRAME_SAMPLES"),
        (
            ModerationConfig { frame_review_threshold: 0.9, frame_block_threshold: 0.5, ..m() },
            "APP_FRAME_BLOCK_THRESHOLD",
        ),
        (ModerationConfig { frame_review_threshold: 1.5, ..m() }, "APP_FRAME_REVIEW_THRESHOLD"),
        (ModerationConfig { watermark_key: Some(Secret::new("abc".into())), ..m() }, "APP_WATERMARK_KEY"),
        (ModerationConfig { watermark_key: Some(Secret::new("zz".repeat(32))), ..m() }, "APP_WATERMARK_KEY"),
        (ModerationConfig { c2pa_cert_chain: Some("chain.pem".into()), ..m() }, "APP_C2PA_CERT_CHAIN"),
        (
            ModerationConfig {
                c2pa_cert_chain: Some("chain.pem".into()),
                c2pa_private_key: Some("key.pem".into()),
                ..m()
            },
            "APP_C2PA_TRUST_ROOTS",
        ),
    ];
    for (moderation, key) in bad {
        let c = Config { moderation, ..Config::default() };
        assert_eq!(c.validate().unwrap_err().key, key);
    }
    let big = |max_upload_bytes| Config {
        server: ServerConfig { max_upload_bytes, ..Default::default() },
        ..Config::default()
    };
    assert_eq!(big(10).validate().unwrap_err().key, "APP_MAX_UPLOAD_BYTES");
    let reports =
        Config { limits: LimitsConfig { reports_per_user_per_hour: 0, ..Default::default() }, ..Config::default() };
    assert_eq!(reports.validate().unwrap_err().key, "APP_REPORTS_PER_USER_PER_HOUR");
    let ok = Config {
        moderation: ModerationConfig { watermark_key: Some(Secret::new("0f".repeat(32))), ..m() },
        ..Config::default()
    };
    ok.validate().unwrap();
}

#[test]
fn the_example_configuration_loads() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/app.example.toml")).unwrap();
    figment::Jail::expect_with(|jail| {
        jail.create_file("app.toml", &example)?;
        jail.set_env("APP_CONFIG", "app.toml");
        let c = Config::load().unwrap();
        assert_eq!(c.server.env, AppEnv::Production);
        assert_eq!(c.server.listen, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(c.moderation.frame_samples, 8);
        assert!(c.moderation.c2pa_trust_roots.is_some());
        assert_eq!(c.inference.device, DevicePreference::Cuda);
        assert_eq!(c.queue.reclaim_idle, Duration::from_secs(60));
        assert_eq!(c.feed.seen_window, Duration::from_secs(72 * 3600));
        assert_eq!(c.storage.s3_secret_key.as_ref().map(|s| s.expose().as_str()), Some("secret"));
        assert_eq!(c.effective_in_process_workers(), 0);
        Ok(())
    });
}

#[test]
fn environment_overrides_and_type_errors_name_the_key() {
    assert_eq!(load_env(&[("APP_INVITE_QUOTA", "7")]).unwrap().invites.quota, 7);
    let e = load_env(&[("APP_INVITE_QUOTA", "lots")]).unwrap_err();
    assert_eq!(e.key, "APP_INVITE_QUOTA");
    assert!(e.message.contains("expected u32"), "{e}");
    assert_eq!(e.to_string(), format!("configuration: APP_INVITE_QUOTA: {}", e.message));
    // A wrong type in every kind of typed value still names its key.
    for (key, value) in [
        ("APP_QUEUE_RECLAIM_IDLE_SECS", "soon"),
        ("APP_ACCESS_TOKEN_TTL_SECS", "-5"),
        ("APP_FEED_SEEN_WINDOW_HOURS", "1.5"),
        ("APP_INFERENCE_DEVICE", "gpu"),
        ("APP_LOG_FORMAT", "xml"),
        ("APP_OTLP_ENDPOINT", "collector:4318"),
        ("APP_OTLP_SAMPLE_RATIO", "1.5"),
        ("APP_ENV", "staging"),
        ("APP_TRUST_FORWARDED_FOR", "perhaps"),
        ("APP_FRAME_REVIEW_THRESHOLD", "high"),
        ("APP_IN_PROCESS_WORKERS", "some"),
    ] {
        assert_eq!(key_of(load_env(&[(key, value)])), key, "{key}={value}");
    }
    let e = load_env(&[("APP_LISTEN", "nope")]).unwrap_err();
    assert_eq!(e.key, "APP_LISTEN");
    assert_eq!(e.message, "`nope` is not an address like 127.0.0.1:8080");
    let e = load_env(&[("APP_INFERENCE_DEVICE", "gpu")]).unwrap_err();
    assert!(e.message.contains("`auto`, `cpu`, `cuda`"), "{e}");
}

#[test]
fn unknown_keys_are_refused_naming_the_key() {
    let e = load_env(&[("APP_REDIS_URI", "redis://localhost")]).unwrap_err();
    assert_eq!(e.key, "APP_REDIS_URI");
    assert!(e.message.contains("did you mean APP_REDIS_URL?"), "{e}");
    let e = load_env(&[("APP_COLOUR_SCHEME", "dark")]).unwrap_err();
    assert_eq!(e.key, "APP_COLOUR_SCHEME");
    assert!(e.message.starts_with("unknown field: found `colour_scheme`"), "{e}");
    figment::Jail::expect_with(|jail| {
        jail.create_file("app.toml", "invite_quota = 2\n[server]\nlisten = \"0.0.0.0:1\"\n")?;
        jail.set_env("APP_CONFIG", "app.toml");
        assert_eq!(Config::load().unwrap_err().key, "APP_SERVER");
        Ok(())
    });
}

#[test]
fn a_missing_file_is_named() {
    let e = load_env(&[("APP_CONFIG", "/nonexistent/app.toml")]).unwrap_err();
    assert_eq!(e.key, "APP_CONFIG");
}

#[test]
fn file_then_environment() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("app.toml", "invite_quota = 2\nlisten = \"127.0.0.1:9000\"\n")?;
        jail.set_env("APP_CONFIG", "app.toml");
        jail.set_env("APP_LISTEN", "127.0.0.1:9001");
        let c = Config::load().unwrap();
        assert_eq!(c.invites.quota, 2);
        assert_eq!(c.server.listen, SocketAddr::from(([127, 0, 0, 1], 9001)));
        Ok(())
    });
}

#[test]
fn debug_prints_no_secret() {
    let secrets = [
        ("APP_DATABASE_URL", "postgres://app:pg-pass-4817@db:5432/app"),
        ("APP_REDIS_URL", "redis://:redis-pass-5521@cache:6379"),
        ("APP_SMTP_URL", "smtps://mailer:smtp-pass-9930@smtp.example.com:465"),
        ("APP_S3_ACCESS_KEY", "s3-access-2231"),
        ("APP_S3_SECRET_KEY", "s3-secret-7712"),
        ("APP_JWT_PRIVATE_KEY_PEM", "-----BEGIN PRIVATE KEY-----jwt-6642-----END PRIVATE KEY-----"),
        ("APP_WATERMARK_KEY", &"7e".repeat(32)),
    ];
    let mut vars = secrets.to_vec();
    vars.push(("APP_S3_BUCKET", "media"));
    let c = load_env(&vars).unwrap();
    assert_eq!(c.redis.url.as_ref().map(|s| s.expose().as_str()), Some("redis://:redis-pass-5521@cache:6379"));
    let printed = [format!("{c:?}"), format!("{c:#?}"), format!("{:?}", c.storage), format!("{:?}", c.database)];
    for text in &printed {
        for (key, secret) in &secrets {
            assert!(!text.contains(secret), "{key} printed in {text}");
        }
        for fragment in ["pg-pass", "redis-pass", "smtp-pass", "s3-access", "s3-secret", "jwt-6642", "7e7e"] {
            assert!(!text.contains(fragment), "{fragment} printed");
        }
    }
    assert!(printed[0].contains("[redacted]"));
    assert!(printed[0].contains("media"), "what is not secret still prints");
}

#[test]
fn effective_values() {
    let c = Config::default();
    assert_eq!(c.effective_database_url(), "sqlite://./data/app.db?mode=rwc");
    assert_eq!(c.effective_public_url(), "http://127.0.0.1:8080");
    assert_eq!(c.effective_in_process_workers(), 1);
    assert!(c.effective_hash_concurrency() >= 2);
    let c = Config {
        redis: RedisConfig { url: Some(Secret::new("redis://x".into())), ..Default::default() },
        web: WebConfig { public_url: Some("https://example.com/".into()), ..Default::default() },
        ..Config::default()
    };
    assert_eq!(c.effective_in_process_workers(), 0);
    assert_eq!(c.effective_public_url(), "https://example.com");
}

#[test]
fn misspelt_keys_find_their_neighbour() {
    assert_eq!(distance("redis_uri", "redis_url"), 1);
    assert_eq!(distance("", "abc"), 3);
    assert_eq!(distance("listen", "listen"), 0);
    assert_eq!(distance("kitten", "sitting"), 3);
}

#[test]
fn text_keys_are_keys() {
    let known = Config::keys();
    for key in crate::TEXT_KEYS {
        assert!(known.contains(key), "{key} is in TEXT_KEYS but no section reads it");
    }
}

/// Values of digits only stay text, leading zeros and all (figment's `Env` alone read them as
/// numbers: refused for a text key, or zeros lost).
#[test]
fn text_keys_keep_digits_as_written() {
    let zeros = "0".repeat(64);
    let c = load_env(&[
        ("APP_WATERMARK_KEY", &zeros),
        ("APP_S3_BUCKET", "2024"),
        ("APP_S3_ACCESS_KEY", "000123"),
        ("APP_S3_SECRET_KEY", "true"),
        ("APP_REDIS_PREFIX", "42"),
        ("APP_DATABASE_MAX_CONNECTIONS", "7"),
    ])
    .unwrap();
    assert_eq!(c.moderation.watermark_key.as_ref().unwrap().expose(), &zeros);
    assert_eq!(c.storage.s3_bucket.as_deref(), Some("2024"));
    assert_eq!(c.storage.s3_access_key.as_ref().unwrap().expose(), "000123");
    assert_eq!(c.storage.s3_secret_key.as_ref().unwrap().expose(), "true");
    assert_eq!(c.redis.prefix, "42");
    assert_eq!(c.database.max_connections, 7, "numbers are still numbers");
}

#[test]
fn push_channels_need_all_their_settings() {
    assert_eq!(key_of(load_env(&[("APP_APNS_KEY_ID", "ABC123DEFG")])), "APP_APNS_KEY_FILE");
    assert_eq!(key_of(load_env(&[("APP_VAPID_SUBJECT", "mailto:ops@example.com")])), "APP_VAPID_SUBJECT");
    assert_eq!(
        key_of(load_env(&[("APP_VAPID_PRIVATE_KEY_FILE", "/k.pem"), ("APP_VAPID_SUBJECT", "ops@example.com")])),
        "APP_VAPID_SUBJECT"
    );
    assert_eq!(key_of(load_env(&[("APP_PUSH_POLL_MS", "10")])), "APP_PUSH_POLL_MS");
    assert_eq!(key_of(load_env(&[("APP_DIGEST_INTERVAL_HOURS", "0")])), "APP_DIGEST_INTERVAL_HOURS");
    let c = load_env(&[
        ("APP_APNS_TEAM_ID", "0123456789"),
        ("APP_APNS_KEY_ID", "0000000001"),
        ("APP_APNS_KEY_FILE", "/k.p8"),
        ("APP_APNS_TOPIC", "app.soravibe"),
    ])
    .unwrap();
    assert_eq!(c.push.apns_team_id.as_deref(), Some("0123456789"));
    assert_eq!(c.push.lease, Duration::from_secs(60));
}
