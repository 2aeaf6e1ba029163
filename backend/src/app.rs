//! Wiring: configuration → services → HTTP server. Used by `backend serve` and by the tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, middleware::from_fn, web};

use crate::config::{AppEnv, Config};
use crate::http::metrics::Metrics;
use crate::http::{AppState, observe, routes};
use api::links::MediaLinks;
use api::{Hardening, SchemaData, build_schema};
use app_core::error::{AppError, AppResult};
use app_core::telemetry::{Silent, Telemetry};
use domain::auth::password::PasswordHasherPool;
use domain::auth::tokens::AccessTokens;
use domain::cameos::CameoService;
use domain::feed::FeedSettings;
use domain::moderation::{ClipChecker, ModerationLimits, ModerationService};
use domain::social::SocialLimits;
use domain::updates::JobUpdates;
use domain::videos::{JobLimits, ModelLimits, VideoService};
use domain::{Deps, Rules, Services, SocialWiring};
use generator::finish::Finisher;
use generator::journal::Journal;
use generator::pipeline::Pipeline;
use generator::setup;
use generator::worker::Worker;
use jobs::JobQueue;
use kv::{KeyValue, Limit};
use mail::MailService;
use media::MediaStore;
use store::Store;

fn rules(c: &Config) -> Rules {
    let minute = Duration::from_secs(60);
    Rules {
        invite_quota: c.invites.quota,
        invite_code_length: c.invites.code_length,
        refresh_ttl: c.auth.refresh_token_ttl,
        verify_ttl: c.auth.verify_email_ttl,
        reset_ttl: c.auth.password_reset_ttl,
        redeem_per_ip: Limit { name: "redeem-ip", limit: c.limits.redeem_per_ip_per_minute, window: minute },
        redeem_global: Limit { name: "redeem-all", limit: c.limits.redeem_global_per_minute, window: minute },
        login_per_ip: Limit { name: "login-ip", limit: c.limits.login_per_ip_per_minute, window: minute },
        login_per_account: Limit { name: "login-acct", limit: c.limits.login_per_account_per_minute, window: minute },
        mail_per_ip: Limit {
            name: "mail-ip",
            limit: c.limits.mail_requests_per_ip_per_hour,
            window: Duration::from_secs(3600),
        },
        age_checks: c.limits.age_checks,
        teen_daily_feed_minutes: c.limits.teen_daily_feed_minutes,
    }
}

/// The configured media store: the S3 bucket, or the media folder under the data folder.
pub fn media_store(c: &Config) -> AppResult<MediaStore> {
    setup::media_store(&c.storage).map_err(|e| AppError::internal("media store", e))
}

/// The access-token signing key under the data folder (when `jwt_private_key_pem` is unset).
pub const JWT_KEY_FILE: &str = "jwt-ed25519.pem";
/// The public keys retired by `backend keys rotate-jwt`, still trusted, under `<data>/keys/`.
pub const JWT_PREVIOUS_FILE: &str = "jwt-previous.pem";

/// `backend keys rotate-jwt`: a new signing key under the data folder; the old one's public half
/// is appended to [`JWT_PREVIOUS_FILE`], so tokens it signed keep verifying after the nodes
/// restart. Returns (old kid, new kid). Refused when the key comes from `jwt_private_key_pem`
/// (rotate it there, and put the old public key in `jwt_previous_public_keys_pem`).
pub fn rotate_jwt_key(c: &Config) -> AppResult<(String, String)> {
    if c.auth.jwt_private_key_pem.is_some() {
        return Err(AppError::bad_input(
            "jwt_private_key_pem",
            "the signing key comes from APP_JWT_PRIVATE_KEY_PEM: rotate it there and list the old public key in APP_JWT_PREVIOUS_PUBLIC_KEYS_PEM",
        ));
    }
    let keys = c.storage.data_dir.join("keys");
    let current = keys.join(JWT_KEY_FILE);
    let old_pem = AccessTokens::load_or_create_key(&current)?;
    let old_kid = domain::auth::tokens::key_id_of(&old_pem)?;
    let retired = domain::auth::tokens::public_pem(&old_pem)?;
    let new_pem = rotate_key_file(&current, &keys.join(JWT_PREVIOUS_FILE), &retired, AccessTokens::load_or_create_key)?;
    Ok((old_kid, domain::auth::tokens::key_id_of(&new_pem)?))
}

/// One rotation of a key kept in a file under the data folder: `retired` (what of the old key
/// stays trusted) is appended to the `kept` file, then a key that `create` makes at
/// `<current>.new` replaces `current` in one rename, so a process starting meanwhile reads the
/// old key or the new one, whole. Returns what `create` returned.
fn rotate_key_file<T>(
    current: &std::path::Path,
    kept: &std::path::Path,
    retired: &str,
    create: impl FnOnce(&std::path::Path) -> AppResult<T>,
) -> AppResult<T> {
    let mut bundle = std::fs::read_to_string(kept).unwrap_or_default();
    bundle.push_str(retired);
    write_owner_only(kept, bundle.as_bytes())?;
    let mut fresh = current.as_os_str().to_owned();
    fresh.push(".new");
    let fresh = std::path::PathBuf::from(fresh);
    let _ = std::fs::remove_file(&fresh);
    let made = create(&fresh)?;
    std::fs::rename(&fresh, current).map_err(|e| AppError::internal(&format!("install {}", current.display()), e))?;
    Ok(made)
}

/// `backend keys rotate-watermark`: a new invisible-watermark key under the data folder; the old
/// one is appended to `keys/watermark-previous.keys`, so videos it marked keep verifying. Workers
/// mark with the new key once restarted. Refused when the key comes from `watermark_key` (rotate
/// it there, and list the old one in `watermark_previous_keys`). Returns how many previous keys
/// are now kept.
pub fn rotate_watermark_key(c: &Config) -> AppResult<usize> {
    if c.moderation.watermark_key.is_some() {
        return Err(AppError::bad_input(
            "watermark_key",
            "the watermark key comes from APP_WATERMARK_KEY: rotate it there and list the old key in APP_WATERMARK_PREVIOUS_KEYS",
        ));
    }
    let keys = c.storage.data_dir.join("keys");
    let current = keys.join("watermark.key");
    let hex = |k: &[u8]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let old = moderation::watermark::load_or_create_key(&current)
        .map_err(|e| AppError::internal("read the watermark key", e))?;
    let kept = keys.join(generator::finish::WATERMARK_PREVIOUS_FILE);
    rotate_key_file(&current, &kept, &format!("{}\n", hex(&old)), |fresh| {
        moderation::watermark::load_or_create_key(fresh).map_err(|e| AppError::internal("new watermark key", e))
    })?;
    let kept = std::fs::read_to_string(&kept).map_err(|e| AppError::internal("read the kept watermark keys", e))?;
    Ok(kept.lines().filter(|l| !l.trim().is_empty()).count())
}

/// `backend keys renew-c2pa`: a new signer key and certificate under the local C2PA root (the
/// default when `c2pa_cert_chain` is unset); manifests signed before keep verifying. Returns the
/// new certificate (PEM). Refused with a configured chain (renew it with its CA and keep its
/// root in `c2pa_trust_roots`).
pub fn renew_c2pa_signer(c: &Config) -> AppResult<String> {
    if c.moderation.c2pa_cert_chain.is_some() {
        return Err(AppError::bad_input(
            "c2pa_cert_chain",
            "the signer comes from APP_C2PA_CERT_CHAIN: renew it with its CA and keep every root that signed manifests in APP_C2PA_TRUST_ROOTS",
        ));
    }
    let dir = c.storage.data_dir.join("c2pa");
    moderation::provenance::load_or_create_local_ca(&dir).map_err(|e| AppError::internal("local C2PA CA", e))?;
    moderation::provenance::renew_local_signer(&dir).map_err(|e| AppError::internal("renew the C2PA signer", e))
}

/// Writes a file only its owner may read (keys).
fn write_owner_only(path: &std::path::Path, bytes: &[u8]) -> AppResult<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(|e| AppError::internal(&format!("write {}", path.display()), e))?;
    f.write_all(bytes).map_err(|e| AppError::internal(&format!("write {}", path.display()), e))
}

/// Opens the database (running migrations), Redis if configured, keys and mail; without the
/// sentence encoder (the command-line tools need no meaning).
pub async fn build_services(c: &Config) -> AppResult<Services> {
    Ok(build_services_and_store(c, Arc::new(Silent), Arc::new(app_core::age::SystemClock), false).await?.0)
}

/// The sweeper alone (`backend sweep`): the database, the media store and the queue, without
/// the model or the workers.
pub async fn build_sweeper(c: &Config) -> AppResult<domain::housekeeping::Sweeper> {
    let services = build_services(c).await?;
    let queue = match &c.redis.url {
        Some(url) => JobQueue::redis(url.expose(), &c.redis.prefix, setup::queue_settings(&c.queue))
            .await
            .map_err(|e| AppError::internal("job queue", e))?,
        None => JobQueue::memory(setup::queue_settings(&c.queue)),
    };
    Ok(domain::housekeeping::Sweeper::new(services.deps.clone(), media_store(c)?, queue))
}

/// [`build_services`], and the store handle for the server's own tests to inspect.
async fn build_services_and_store(
    c: &Config,
    telemetry: Arc<dyn Telemetry>,
    clock: Arc<dyn app_core::age::Clock>,
    with_meaning: bool,
) -> AppResult<(Services, Store)> {
    let data_dir = &c.storage.data_dir;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| AppError::internal(&format!("create data folder {}", data_dir.display()), e))?;
    let store = Store::connect(&c.effective_database_url(), c.database.max_connections).await?;
    store.migrate().await?;
    let auth = &c.auth;
    let kv = match &c.redis.url {
        Some(url) => KeyValue::redis(url.expose(), &c.redis.prefix).await?,
        None => KeyValue::memory(auth.access_token_ttl),
    };
    let pem = match &auth.jwt_private_key_pem {
        Some(p) => p.expose().clone(),
        None => AccessTokens::load_or_create_key(&data_dir.join("keys").join(JWT_KEY_FILE))?,
    };
    let mut tokens =
        AccessTokens::from_pem(&pem, &auth.jwt_issuer, &auth.jwt_audience, auth.access_token_ttl.as_secs())?;
    // Keys retired by a rotation still verify the tokens they signed, until taken out.
    if let Some(previous) = &auth.jwt_previous_public_keys_pem {
        tokens = tokens.with_previous(previous)?;
    }
    let retired = data_dir.join("keys").join(JWT_PREVIOUS_FILE);
    if retired.exists() {
        let previous = std::fs::read_to_string(&retired)
            .map_err(|e| AppError::internal(&format!("read {}", retired.display()), e))?;
        tokens = tokens.with_previous(&previous)?;
    }
    tracing::debug!(kid = tokens.kid(), "access-token signing key");
    let mail = MailService::new(
        &c.mail.from,
        c.mail.smtp_url.as_ref().map(|s| s.expose().as_str()),
        &data_dir.join("mail"),
        &c.effective_public_url(),
    )?;
    let hasher = PasswordHasherPool::new(c.effective_hash_concurrency())?;
    let cache = match &c.redis.url {
        Some(url) => feed::cache::FeedCache::redis(url.expose(), &c.redis.prefix)
            .await
            .map_err(|e| AppError::internal("feed cache", e))?,
        None => feed::cache::FeedCache::memory(),
    };
    let minute = Duration::from_secs(60);
    let social = SocialWiring {
        settings: FeedSettings {
            fanout_max_followers: c.feed.fanout_max_followers,
            list_ttl: c.feed.list_ttl,
            refresh: c.feed.refresh,
            seen_window: c.feed.seen_window,
            page_ttl: c.feed.page_cache.min(c.feed.refresh),
            break_after: std::time::Duration::from_secs(u64::from(c.limits.feed_break_minutes) * 60),
            shared_pools: c.feed.shared_pools,
        },
        limits: SocialLimits {
            actions: Limit { name: "social", limit: c.limits.social_actions_per_user_per_minute, window: minute },
            views: Limit { name: "views", limit: c.limits.views_per_user_per_minute, window: minute },
        },
        push: push_wiring(c)?,
        search: domain::search::SearchSettings {
            refresh: c.feed.search_refresh,
            per_minute: Limit { name: "search", limit: c.limits.searches_per_minute, window: minute },
        },
    };
    let mut deps =
        Deps::new(store.clone(), kv, hasher, tokens, mail, rules(c), cache).with_telemetry(telemetry).with_clock(clock);
    // The server reads meaning; the command-line tools (invites, users, keys, digests, sweep) do not.
    if with_meaning {
        deps = deps.with_meaning(text_encoder(c).await?);
    }
    Ok((Services::new(deps, social), store))
}

/// The sentence encoder, once per process, in the process's ONNX Runtime environment.
async fn text_encoder(c: &Config) -> AppResult<Arc<meaning::TextEncoder>> {
    let dylib = setup::dylib(&c.inference);
    let model = c.moderation.text_encoder.clone();
    let tokenizer = c.moderation.text_encoder_tokenizer.clone();
    let encoder = tokio::task::spawn_blocking(move || {
        let env = generator::runtime::environment(&dylib).map_err(|e| AppError::internal("onnx runtime", e))?;
        meaning::TextEncoder::load(env, &model, &tokenizer, 1)
            .map_err(|e| AppError::internal(&format!("text encoder {}", model.display()), e))
    })
    .await
    .map_err(|e| AppError::internal("text encoder load", e))??;
    Ok(Arc::new(encoder))
}

/// The push channels the configuration turns on (a channel without credentials is off).
fn push_wiring(c: &Config) -> AppResult<domain::push::PushWiring> {
    let p = &c.push;
    let settings = push::Settings {
        apns_key_file: p.apns_key_file.clone(),
        apns_key_id: p.apns_key_id.clone(),
        apns_team_id: p.apns_team_id.clone(),
        apns_topic: p.apns_topic.clone(),
        apns_url: p.apns_url.clone(),
        fcm_service_account_file: p.fcm_service_account_file.clone(),
        fcm_url: p.fcm_url.clone(),
        vapid_private_key_file: p.vapid_private_key_file.clone(),
        vapid_subject: p.vapid_subject.clone(),
        allow_loopback_http: p.push_allow_loopback_http,
        timeout: Duration::from_secs(10),
    };
    let channels = push::Channels::new(&settings).map_err(|e| AppError::internal(e.setting, e.message))?;
    Ok(domain::push::PushWiring {
        channels: Arc::new(channels),
        settings: domain::push::PushSettings { lease: p.lease, poll: p.poll, digest_every: p.digest_every },
    })
}

/// Generation wiring: the service, the media store and links, and the in-process workers.
pub struct Generation {
    /// Jobs and videos.
    pub videos: VideoService,
    /// Signed media links.
    pub links: MediaLinks,
    /// Stops the in-process workers.
    pub stop_workers: tokio::sync::watch::Sender<bool>,
    /// The in-process workers.
    pub workers: Vec<tokio::task::JoinHandle<()>>,
    /// Moderation, provenance and comments.
    pub moderation: ModerationService,
    /// Cameos.
    pub cameos: CameoService,
    /// The sweeper of orphaned media and stuck jobs.
    pub sweeper: domain::housekeeping::Sweeper,
}

/// The queue, updates, model limits, media store; starts the event consumer and in-process workers.
pub async fn build_generation(c: &Config, services: &Services) -> AppResult<Generation> {
    let manifest = generator::manifest::Manifest::load(&c.inference.model_manifest)
        .map_err(|e| AppError::internal("model manifest", e))?;
    let settings = setup::queue_settings(&c.queue);
    let (queue, updates) = match &c.redis.url {
        Some(url) => (
            JobQueue::redis(url.expose(), &c.redis.prefix, settings)
                .await
                .map_err(|e| AppError::internal("job queue", e))?,
            JobUpdates::redis(url.expose(), &c.redis.prefix).await?,
        ),
        None => (JobQueue::memory(settings), JobUpdates::local()),
    };
    let store = media_store(c)?;
    let data_dir = &c.storage.data_dir;
    let secret = MediaLinks::load_or_create_secret(&data_dir.join("keys").join("media-links.key"))?;
    let links = MediaLinks::new(secret, c.storage.media_url_ttl, &c.effective_public_url(), store.clone());
    let in_process = c.effective_in_process_workers();
    let aspect_ratios = manifest.resolutions.keys().copied().collect();
    let model = ModelLimits {
        min_seconds: manifest.min_duration_seconds,
        max_seconds: manifest.max_duration_seconds,
        aspect_ratios,
        steps: u32::try_from(manifest.steps()).unwrap_or(u32::MAX),
        model: format!("{} {}", manifest.name, manifest.version),
    };
    let limits = JobLimits {
        max_queued_per_user: u64::from(c.limits.max_queued_jobs_per_user),
        max_running_per_user: u64::from(c.limits.max_running_jobs_per_user),
        workers: c.queue.total_workers.unwrap_or(in_process).max(1) as u64,
        max_cameos_per_video: c.limits.max_cameos_per_video,
        max_storyboard_seconds: c.limits.max_storyboard_seconds,
    };
    // One ONNX Runtime environment per process: the policy's classifier shares the generator's.
    let dylib = setup::dylib(&c.inference);
    let env = generator::runtime::environment(&dylib).map_err(|e| AppError::internal("onnx runtime", e))?;
    let prompt_classifier = &c.moderation.prompt_classifier;
    let mut policy = moderation::policy::PromptPolicy::load_with(prompt_classifier, env)
        .map_err(|e| AppError::internal(&format!("prompt classifier {}", prompt_classifier.display()), e))?;
    if let Some(encoder) = services.deps.meaning() {
        policy = policy.with_meaning(encoder.clone(), c.moderation.restriction_meaning_threshold);
    }
    let policy = Arc::new(policy);
    let videos =
        VideoService::new(services.deps.clone(), queue.clone(), updates, model, limits, policy.clone(), store.clone());

    // The watermark key and the local CA are created here on first start, so separate
    // generator processes sharing the data folder find them.
    let finish = generator::finish::finish_config(data_dir, &c.moderation)
        .map_err(|e| AppError::internal("moderation setup", e))?;
    let roots = match &c.moderation.c2pa_trust_roots {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| AppError::internal(&format!("C2PA trust roots {}", path.display()), e))?,
        None => moderation::provenance::local_ca_root_pem(&data_dir.join("c2pa"))
            .map_err(|e| AppError::internal("local C2PA root", e))?,
    };
    let minute = Duration::from_secs(60);
    let previous = generator::finish::previous_watermark_keys(data_dir, &c.moderation)
        .map_err(|e| AppError::internal("previous watermark keys", e))?;
    let checker =
        Arc::new(ClipChecker::new(finish.watermark_key.clone(), roots).with_previous_watermark_keys(previous));
    let moderation = ModerationService::new(
        services.deps.clone(),
        services.accounts.clone(),
        services.feed.clone(),
        store.clone(),
        checker.clone(),
        policy,
        ModerationLimits {
            provenance_per_ip: Limit {
                name: "provenance-ip",
                limit: c.limits.provenance_checks_per_ip_per_minute,
                window: minute,
            },
            reports_per_user: Limit {
                name: "reports-user",
                limit: c.limits.reports_per_user_per_hour,
                window: Duration::from_secs(3600),
            },
            comments_per_user: Limit {
                name: "comments-user",
                limit: c.limits.comments_per_user_per_minute,
                window: minute,
            },
        },
    );
    videos.requeue_live().await?;
    // Jobs whose queue entry vanished (a Redis restarted empty) are offered again.
    tokio::spawn(videos.clone().run_reconciler(c.queue.reclaim_idle));
    tokio::spawn(videos.clone().run_event_consumer(format!("api-{}", uuid::Uuid::new_v4().simple())));

    let (stop_workers, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = vec![];
    if in_process > 0 {
        let opts = setup::pipeline_options(&c.inference);
        let path = c.inference.model_manifest.clone();
        let pipeline = tokio::task::spawn_blocking(move || Pipeline::load(&path, &opts))
            .await
            .map_err(|e| AppError::internal("model load", e))?
            .map_err(|e| AppError::internal("model load", e))?;
        let batcher = generator::batch::Batcher::new(Arc::new(pipeline), setup::batch_settings(&c.inference));
        let finisher = {
            let finish = finish.clone();
            tokio::task::spawn_blocking(move || Finisher::load(finish, env))
                .await
                .map_err(|e| AppError::internal("frame classifier load", e))?
                .map_err(|e| AppError::internal("frame classifier load", e))?
        };
        let finisher = Arc::new(finisher);
        let speech = {
            let config = setup::speech_config(&c.inference);
            tokio::task::spawn_blocking(move || generator::speech::SpeechEngine::load(&config))
                .await
                .map_err(|e| AppError::internal("speech engine load", e))?
                .map_err(|e| AppError::internal("speech engine load", e))?
        };
        let speech = Arc::new(speech);
        for i in 0..in_process {
            let name = match &c.queue.worker_name {
                Some(n) => format!("{n}-embedded-{i}"),
                None => format!("embedded-{i}"),
            };
            let journal = Journal::open(&setup::journal_path(&c.storage, &name))
                .await
                .map_err(|e| AppError::internal("journal", e))?;
            let w = Worker {
                queue: queue.clone(),
                batcher: batcher.clone(),
                finisher: finisher.clone(),
                media: store.clone(),
                journal,
                name,
                speech: speech.clone(),
            };
            workers.push(tokio::spawn(w.run(stop_rx.clone())));
        }
    }
    let verifications = Limit {
        name: "cameo-verify",
        limit: c.limits.cameo_verifications_per_user_per_hour,
        window: Duration::from_secs(3600),
    };
    let cameos = CameoService::new(
        services.deps.clone(),
        store.clone(),
        checker,
        moderation.clone(),
        videos.clone(),
        manifest.embed_dim(),
        verifications,
    );
    let sweeper = domain::housekeeping::Sweeper::new(services.deps.clone(), store.clone(), queue.clone());
    if !c.storage.sweep_interval.is_zero() {
        tokio::spawn(sweeper.clone().run(c.storage.sweep_interval));
    }
    Ok(Generation { videos, links, stop_workers, workers, moderation, cameos, sweeper })
}

/// A running HTTP server.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it.
    pub handle: actix_web::dev::ServerHandle,
    /// Completes when it stops.
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// The services it runs (tests use them to inspect state).
    pub services: Services,
    /// The database handle (tests inspect stored state through it).
    pub store: Store,
    /// Jobs and videos.
    pub videos: VideoService,
    /// Stops the in-process workers.
    pub stop_workers: tokio::sync::watch::Sender<bool>,
    /// The in-process workers (each ends within `queue_stop_grace_secs` of `stop_workers`).
    pub workers: Vec<tokio::task::JoinHandle<()>>,
    /// Closes every open WebSocket with code 1012 (*service restart*).
    pub close_sockets: tokio::sync::watch::Sender<bool>,
    /// Moderation, provenance and comments.
    pub moderation: ModerationService,
    /// The sweeper of orphaned media and stuck jobs (tests run it by hand).
    pub sweeper: domain::housekeeping::Sweeper,
}

/// How often an API node checks that Redis still holds the revocation markers (the longest a
/// token of a session ended before Redis lost its data can work again) and retries feed epoch
/// bumps that failed.
const CACHE_CHECK: Duration = Duration::from_secs(5);

/// How often an API node looks for members whose weekly email digest is due.
const DIGEST_CHECK: Duration = Duration::from_secs(600);

/// Builds everything and starts listening on `c.server.listen` (port 0 picks a free port).
pub async fn start(c: &Config) -> AppResult<Running> {
    start_with_clock(c, Arc::new(app_core::age::SystemClock)).await
}

/// [`start`] with the rules reading `clock` (tests move it: daily limits, birthdays).
pub async fn start_with_clock(c: &Config, clock: Arc<dyn app_core::age::Clock>) -> AppResult<Running> {
    // Bind first: with port 0 the real address is known only now, and links need it.
    let listen = c.server.listen;
    let listener = std::net::TcpListener::bind(listen).map_err(|e| AppError::internal(&format!("bind {listen}"), e))?;
    let addr = listener.local_addr().map_err(|e| AppError::internal("bind", e))?;
    let mut c = c.clone();
    if c.web.public_url.is_none() {
        c.web.public_url = Some(format!("http://{addr}"));
    }
    let c = &c;
    let metrics = Arc::new(Metrics::new()?);
    let (services, database) = build_services_and_store(c, metrics.clone(), clock, true).await?;
    if c.redis.url.is_some() {
        // A Redis that restarted empty gets its revocation markers back from the database, and
        // feed epochs not bumped during an outage are bumped.
        tokio::spawn(services.clone().run_cache_keeper(CACHE_CHECK));
    }
    let generation = build_generation(c, &services).await?;
    // Push channels: say which are on; the worker runs when one is.
    let mut any_channel = false;
    for (platform, state) in services.push.channels() {
        match state {
            Ok(()) => {
                any_channel = true;
                tracing::info!(platform = platform.as_str(), "push channel on");
            }
            Err(why) => tracing::info!(platform = platform.as_str(), %why, "push channel off"),
        }
    }
    if any_channel {
        tokio::spawn(services.push.clone().run_worker());
    }
    tokio::spawn(services.push.clone().run_digests(DIGEST_CHECK));
    tokio::spawn(services.search.clone().run());
    let persisted = api::persisted::PersistedQueries::default();
    // With Redis and a page cache, this node's mirror of the change channel lets it answer a
    // repeated feed query from memory (`http::feed_responses`, `reconnect::changes`).
    let mirror = match &c.redis.url {
        Some(url) if !services.feed.page_ttl().is_zero() => {
            let conn = reconnect::Reconnecting::connect(url.expose(), redis::aio::ConnectionManagerConfig::new())
                .await
                .map_err(|e| AppError::internal("redis connect", e))?;
            let revocations = c.auth.access_token_ttl + Duration::from_secs(60);
            Some(
                reconnect::changes::Mirror::start(
                    url.expose(),
                    &c.redis.prefix,
                    conn,
                    revocations,
                    services.feed.page_ttl(),
                )
                .map_err(|e| AppError::internal("change mirror", e))?,
            )
        }
        _ => None,
    };
    let schema = build_schema(
        SchemaData {
            services: services.clone(),
            videos: generation.videos.clone(),
            moderation: generation.moderation.clone(),
            cameos: generation.cameos.clone(),
            links: generation.links.clone(),
            public_url: c.effective_public_url(),
            persisted: persisted.clone(),
        },
        metrics.clone(),
        Hardening {
            production: c.server.env == AppEnv::Production,
            max_depth: c.graphql.max_depth,
            max_complexity: c.graphql.max_complexity,
        },
    );
    let (close_sockets, closing) = crate::http::ws::Closing::channel();
    let state = web::Data::new(AppState {
        schema,
        services: services.clone(),
        metrics,
        trust_forwarded_for: c.server.trust_forwarded_for,
        max_batch: c.graphql.max_batch,
        max_upload_bytes: c.server.max_upload_bytes,
        feed_only: moka::sync::Cache::new(10_000),
        feed_responses: crate::http::feed_responses::FeedResponses::new(
            services.deps.feed_cache().clone(),
            services.deps.kv().clone(),
            services.feed.page_ttl(),
            mirror,
        ),
        closing,
        persisted,
    });
    let links = web::Data::new(generation.links.clone());
    let files = web::Data::new(crate::http::site::WebFiles { dir: c.web.web_dir.clone() });
    match &c.web.web_dir {
        Some(dir) => tracing::info!(dir = %dir.display(), "web client and console served from disk"),
        None => {
            tracing::debug!(files = crate::http::site::WebFiles::embedded_count(), "web client and console embedded")
        }
    }
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(links.clone())
            .app_data(files.clone())
            // gzip, brotli or zstd as the client's Accept-Encoding asks (images and video are
            // sent as they are).
            .wrap(actix_web::middleware::Compress::default())
            .wrap(from_fn(observe))
            .configure(routes)
    })
    .disable_signals()
    .shutdown_timeout(10);
    if c.server.http_workers > 0 {
        server = server.workers(c.server.http_workers);
    }
    let server = server.listen(listener).map_err(|e| AppError::internal(&format!("listen {addr}"), e))?;
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, database = if c.database.url.is_some() { "configured" } else { "embedded sqlite" }, redis = c.redis.url.is_some(), "listening");
    Ok(Running {
        addr,
        handle,
        task,
        services,
        store: database,
        videos: generation.videos,
        stop_workers: generation.stop_workers,
        workers: generation.workers,
        close_sockets,
        moderation: generation.moderation,
        sweeper: generation.sweeper,
    })
}
