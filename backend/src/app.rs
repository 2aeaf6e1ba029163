//! Wiring: configuration → services → HTTP server. Used by `backend serve` and by the tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, middleware::from_fn, web};

use crate::api::{Hardening, build_schema};
use crate::auth::password::PasswordHasherPool;
use crate::auth::tokens::AccessTokens;
use crate::config::{AppEnv, Config};
use crate::domain::{Deps, Rules, Services};
use crate::error::{AppError, AppResult};
use crate::http::metrics::Metrics;
use crate::http::{AppState, observe, routes};
use crate::kv::{KeyValue, Limit};
use crate::mail::MailService;
use crate::store::Store;

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
        mail_per_ip: Limit { name: "mail-ip", limit: c.mail_requests_per_ip_per_hour, window: Duration::from_secs(3600) },
    }
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
    Ok(Services::new(Deps { store, kv, hasher, tokens, mail, rules: rules(c) }))
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
}

/// Builds everything and starts listening on `c.listen` (port 0 picks a free port).
pub async fn start(c: &Config) -> AppResult<Running> {
    let services = build_services(c).await?;
    let metrics = Arc::new(Metrics::new()?);
    let schema = build_schema(
        services.clone(),
        c.effective_public_url(),
        metrics.clone(),
        Hardening { production: c.env == AppEnv::Production, max_depth: c.graphql_max_depth, max_complexity: c.graphql_max_complexity },
    );
    let state = web::Data::new(AppState {
        schema,
        services: services.clone(),
        metrics,
        trust_forwarded_for: c.trust_forwarded_for,
        max_batch: c.graphql_max_batch,
    });
    let mut server = HttpServer::new(move || App::new().app_data(state.clone()).wrap(from_fn(observe)).configure(routes))
        .disable_signals()
        .shutdown_timeout(10);
    if c.http_workers > 0 {
        server = server.workers(c.http_workers);
    }
    let server = server.bind(&c.listen).map_err(|e| AppError::internal(&format!("bind {}", c.listen), e))?;
    let addr = server.addrs().first().copied().ok_or_else(|| AppError::internal("bind", "no address"))?;
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, database = if c.database_url.is_some() { "configured" } else { "embedded sqlite" }, redis = c.redis_url.is_some(), "listening");
    Ok(Running { addr, handle, task, services })
}
