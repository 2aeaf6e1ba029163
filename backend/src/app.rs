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
use domain::auth::password::PasswordHasherPool;
use domain::auth::tokens::AccessTokens;
use domain::cameos::CameoService;
use domain::feed::FeedSettings;
use domain::moderation::{ClipChecker, ModerationLimits, ModerationService};
use domain::social::SocialLimits;
use domain::updates::JobUpdates;
use domain::videos::{JobLimits, ModelLimits, VideoService};
use domain::{Deps, Rules, Services, SocialWiring};
use generator::finish::{FinishSettings, Finisher};
use generator::journal::Journal;
use generator::pipeline::{Pipeline, PipelineOptions};
use generator::runtime::DevicePreference;
use generator::worker::Worker;
use jobs::{JobQueue, QueueSettings};
use kv::{KeyValue, Limit};
use mail::MailService;
use media::MediaStore;
use store::Store;

fn rules(c: &Config) -> Rules {
    let minute = Duration::from_secs(60);
    Rules {
        invite_quota: c.invite_quota,
        invite_code_length: c.invite_code_length,
        refresh_ttl: Duration::from_secs(c.refresh_token_ttl_days * 86_400),
        verify_ttl: Duration::from_secs(c.verify_email_ttl_hours * 3600),
        reset_ttl: Duration::from_secs(c.password_reset_ttl_minutes * 60),
        redeem_per_ip: Limit { name: "redeem-ip", limit: c.redeem_per_ip_per_minute, window: minute },
        redeem_global: Limit { name: "redeem-all", limit: c.redeem_global_per_minute, window: minute },
        login_per_ip: Limit { name: "login-ip", limit: c.login_per_ip_per_minute, window: minute },
        login_per_account: Limit { name: "login-acct", limit: c.login_per_account_per_minute, window: minute },
        mail_per_ip: Limit {
            name: "mail-ip",
            limit: c.mail_requests_per_ip_per_hour,
            window: Duration::from_secs(3600),
        },
    }
}

/// The configured media store: the S3 bucket, or the media folder under the data folder.
pub fn media_store(c: &Config) -> AppResult<MediaStore> {
    match &c.s3_bucket {
        Some(bucket) => MediaStore::s3(
            bucket,
            c.s3_endpoint.as_deref(),
            &c.s3_region,
            c.s3_access_key.as_ref().map(|s| s.expose().as_str()).unwrap_or_default(),
            c.s3_secret_key.as_ref().map(|s| s.expose().as_str()).unwrap_or_default(),
            c.s3_endpoint.as_deref().is_some_and(|e| e.starts_with("http://")),
        ),
        None => MediaStore::local(&c.data_dir.join("media")),
    }
    .map_err(|e| AppError::internal("media store", e))
}

/// Opens the database (running migrations), Redis if configured, keys and mail.
pub async fn build_services(c: &Config) -> AppResult<Services> {
    std::fs::create_dir_all(&c.data_dir)
        .map_err(|e| AppError::internal(&format!("create data folder {}", c.data_dir.display()), e))?;
    let store = Store::connect(&c.effective_database_url(), c.database_max_connections).await?;
    store.migrate().await?;
    let access_ttl = Duration::from_secs(c.access_token_ttl_secs);
    let kv = match &c.redis_url {
        Some(url) => KeyValue::redis(url.expose(), &c.redis_prefix).await?,
        None => KeyValue::memory(access_ttl),
    };
    let pem = match &c.jwt_private_key_pem {
        Some(p) => p.expose().clone(),
        None => AccessTokens::load_or_create_key(&c.data_dir.join("keys").join("jwt-ed25519.pem"))?,
    };
    let tokens = AccessTokens::from_pem(&pem, &c.jwt_issuer, &c.jwt_audience, c.access_token_ttl_secs)?;
    let mail = MailService::new(
        &c.mail_from,
        c.smtp_url.as_ref().map(|s| s.expose().as_str()),
        &c.data_dir.join("mail"),
        &c.effective_public_url(),
    )?;
    let hasher = PasswordHasherPool::new(c.effective_hash_concurrency())?;
    let cache = match &c.redis_url {
        Some(url) => feed::cache::FeedCache::redis(url.expose(), &c.redis_prefix)
            .await
            .map_err(|e| AppError::internal("feed cache", e))?,
        None => feed::cache::FeedCache::memory(),
    };
    let minute = Duration::from_secs(60);
    let social = SocialWiring {
        settings: FeedSettings {
            fanout_max_followers: c.feed_fanout_max_followers,
            list_ttl: Duration::from_secs(c.feed_list_ttl_secs),
            refresh: Duration::from_secs(c.feed_refresh_secs),
            seen_window: Duration::from_secs(c.feed_seen_window_hours * 3600),
            page_ttl: Duration::from_secs(c.feed_page_cache_secs.min(c.feed_refresh_secs)),
        },
        limits: SocialLimits {
            actions: Limit { name: "social", limit: c.social_actions_per_user_per_minute, window: minute },
            views: Limit { name: "views", limit: c.views_per_user_per_minute, window: minute },
        },
    };
    Ok(Services::new(Deps { store, kv, hasher, tokens, mail, rules: rules(c), feed_cache: cache }, social))
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
}

/// The finishing settings (frame check, watermark, C2PA) the workers share with this config.
pub fn finish_settings(c: &Config) -> FinishSettings {
    FinishSettings {
        frame_classifier: c.frame_classifier.clone(),
        frame_samples: c.frame_samples,
        frame_review_threshold: c.frame_review_threshold,
        frame_block_threshold: c.frame_block_threshold,
        watermark_key: c.watermark_key.as_ref().map(|k| k.expose().clone()),
        c2pa_cert_chain: c.c2pa_cert_chain.clone(),
        c2pa_private_key: c.c2pa_private_key.clone(),
        c2pa_tsa_url: c.c2pa_tsa_url.clone(),
    }
}

/// The queue, updates, model limits, media store; starts the event consumer and in-process workers.
pub async fn build_generation(c: &Config, services: &Services) -> AppResult<Generation> {
    let manifest =
        generator::manifest::Manifest::load(&c.model_manifest).map_err(|e| AppError::internal("model manifest", e))?;
    let settings = QueueSettings {
        max_deliveries: c.queue_max_deliveries,
        reclaim_idle: Duration::from_secs(c.queue_reclaim_idle_secs),
        retry_backoff: Duration::from_secs(c.queue_retry_backoff_secs),
    };
    let (queue, updates) = match &c.redis_url {
        Some(url) => (
            JobQueue::redis(url.expose(), &c.redis_prefix, settings)
                .await
                .map_err(|e| AppError::internal("job queue", e))?,
            JobUpdates::redis(url.expose(), &c.redis_prefix).await?,
        ),
        None => (JobQueue::memory(settings), JobUpdates::local()),
    };
    let store = media_store(c)?;
    let secret = MediaLinks::load_or_create_secret(&c.data_dir.join("keys").join("media-links.key"))?;
    let links =
        MediaLinks::new(secret, Duration::from_secs(c.media_url_ttl_secs), &c.effective_public_url(), store.clone());
    let in_process = c.effective_in_process_workers();
    let aspect_ratios = manifest
        .resolutions
        .keys()
        .map(|a| match a {
            generator::manifest::AspectRatio::Portrait => jobs::AspectRatio::Portrait,
            generator::manifest::AspectRatio::Landscape => jobs::AspectRatio::Landscape,
            generator::manifest::AspectRatio::Square => jobs::AspectRatio::Square,
        })
        .collect();
    let model = ModelLimits {
        min_seconds: manifest.min_duration_seconds,
        max_seconds: manifest.max_duration_seconds,
        aspect_ratios,
        steps: u32::try_from(manifest.steps).unwrap_or(u32::MAX),
    };
    let limits = JobLimits {
        max_queued_per_user: u64::from(c.max_queued_jobs_per_user),
        max_running_per_user: u64::from(c.max_running_jobs_per_user),
        workers: c.total_workers.unwrap_or(in_process).max(1) as u64,
        max_cameos_per_video: c.max_cameos_per_video,
    };
    // One ONNX Runtime environment per process: the policy's classifier shares the generator's.
    let dylib = c.ort_dylib_path.clone().unwrap_or_else(generator::runtime::default_dylib_path);
    let env = generator::runtime::environment(&dylib).map_err(|e| AppError::internal("onnx runtime", e))?;
    let policy = moderation::policy::PromptPolicy::load_with(&c.prompt_classifier, env)
        .map_err(|e| AppError::internal(&format!("prompt classifier {}", c.prompt_classifier.display()), e))?;
    let policy = Arc::new(policy);
    let videos =
        VideoService::new(services.deps.clone(), queue.clone(), updates, model, limits, policy.clone(), store.clone());

    // The watermark key and the local CA are created here on first start, so separate
    // generator processes sharing the data folder find them.
    let finish = generator::finish::finish_config(&c.data_dir, &finish_settings(c))
        .map_err(|e| AppError::internal("moderation setup", e))?;
    let roots = match &c.c2pa_trust_roots {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| AppError::internal(&format!("C2PA trust roots {}", path.display()), e))?,
        None => moderation::provenance::local_ca_root_pem(&c.data_dir.join("c2pa"))
            .map_err(|e| AppError::internal("local C2PA root", e))?,
    };
    let minute = Duration::from_secs(60);
    let checker = Arc::new(ClipChecker::new(finish.watermark_key.clone(), roots));
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
                limit: c.provenance_checks_per_ip_per_minute,
                window: minute,
            },
            reports_per_user: Limit {
                name: "reports-user",
                limit: c.reports_per_user_per_hour,
                window: Duration::from_secs(3600),
            },
            comments_per_user: Limit { name: "comments-user", limit: c.comments_per_user_per_minute, window: minute },
        },
    );
    videos.requeue_live().await?;
    tokio::spawn(videos.clone().run_event_consumer(format!("api-{}", uuid::Uuid::new_v4().simple())));

    let (stop_workers, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = vec![];
    if in_process > 0 {
        // Validated at start (`Config::validate`), so unknown spellings never reach here.
        let device = DevicePreference::parse(&c.inference_device).unwrap_or_default();
        let opts = PipelineOptions {
            dylib: c.ort_dylib_path.clone().unwrap_or_else(generator::runtime::default_dylib_path),
            device,
            intra_threads: c.inference_threads,
        };
        let path = c.model_manifest.clone();
        let pipeline = tokio::task::spawn_blocking(move || Pipeline::load(&path, &opts))
            .await
            .map_err(|e| AppError::internal("model load", e))?
            .map_err(|e| AppError::internal("model load", e))?;
        let pipeline = Arc::new(pipeline);
        let finisher = {
            let finish = finish.clone();
            tokio::task::spawn_blocking(move || Finisher::load(finish, env))
                .await
                .map_err(|e| AppError::internal("frame classifier load", e))?
                .map_err(|e| AppError::internal("frame classifier load", e))?
        };
        let finisher = Arc::new(finisher);
        for i in 0..in_process {
            let name = match &c.worker_name {
                Some(n) => format!("{n}-embedded-{i}"),
                None => format!("embedded-{i}"),
            };
            let journal = Journal::open(&c.data_dir.join("journal").join(format!("{name}.sqlite")))
                .map_err(|e| AppError::internal("journal", e))?;
            let w = Worker {
                queue: queue.clone(),
                pipeline: pipeline.clone(),
                finisher: finisher.clone(),
                media: store.clone(),
                journal: Arc::new(journal),
                name,
            };
            workers.push(tokio::spawn(w.run(stop_rx.clone())));
        }
    }
    let verifications = Limit {
        name: "cameo-verify",
        limit: c.cameo_verifications_per_user_per_hour,
        window: Duration::from_secs(3600),
    };
    let cameos = CameoService::new(
        services.deps.clone(),
        store.clone(),
        checker,
        moderation.clone(),
        videos.clone(),
        manifest.embed_dim,
        verifications,
    );
    Ok(Generation { videos, links, stop_workers, workers, moderation, cameos })
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
    /// Jobs and videos.
    pub videos: VideoService,
    /// Stops the in-process workers.
    pub stop_workers: tokio::sync::watch::Sender<bool>,
    /// Moderation, provenance and comments.
    pub moderation: ModerationService,
}

/// Builds everything and starts listening on `c.listen` (port 0 picks a free port).
pub async fn start(c: &Config) -> AppResult<Running> {
    // Bind first: with port 0 the real address is known only now, and links need it.
    let listener =
        std::net::TcpListener::bind(&c.listen).map_err(|e| AppError::internal(&format!("bind {}", c.listen), e))?;
    let addr = listener.local_addr().map_err(|e| AppError::internal("bind", e))?;
    let mut c = c.clone();
    if c.public_url.is_none() {
        c.public_url = Some(format!("http://{addr}"));
    }
    let c = &c;
    let services = build_services(c).await?;
    let generation = build_generation(c, &services).await?;
    let metrics = Arc::new(Metrics::new()?);
    let schema = build_schema(
        SchemaData {
            services: services.clone(),
            videos: generation.videos.clone(),
            moderation: generation.moderation.clone(),
            cameos: generation.cameos.clone(),
            links: generation.links.clone(),
            public_url: c.effective_public_url(),
        },
        metrics.clone(),
        Hardening {
            production: c.env == AppEnv::Production,
            max_depth: c.graphql_max_depth,
            max_complexity: c.graphql_max_complexity,
        },
    );
    let state = web::Data::new(AppState {
        schema,
        services: services.clone(),
        metrics,
        trust_forwarded_for: c.trust_forwarded_for,
        max_batch: c.graphql_max_batch,
        max_upload_bytes: c.max_upload_bytes,
        feed_only: moka::sync::Cache::new(10_000),
        feed_responses: crate::http::feed_responses::FeedResponses::new(
            services.deps.feed_cache.clone(),
            services.deps.kv.clone(),
            services.feed.page_ttl(),
        ),
    });
    let links = web::Data::new(generation.links.clone());
    let files = web::Data::new(crate::http::site::WebFiles { dir: c.web_dir.clone() });
    match &c.web_dir {
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
            .wrap(from_fn(observe))
            .configure(routes)
    })
    .disable_signals()
    .shutdown_timeout(10);
    if c.http_workers > 0 {
        server = server.workers(c.http_workers);
    }
    let server = server.listen(listener).map_err(|e| AppError::internal(&format!("listen {addr}"), e))?;
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, database = if c.database_url.is_some() { "configured" } else { "embedded sqlite" }, redis = c.redis_url.is_some(), "listening");
    Ok(Running {
        addr,
        handle,
        task,
        services,
        videos: generation.videos,
        stop_workers: generation.stop_workers,
        moderation: generation.moderation,
    })
}
