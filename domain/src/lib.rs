//! The rules: who may do what, and in which order things happen. Services here are called by
//! the GraphQL resolvers and the command line alike.
//!
//! Architecture invariant: no HTTP, GraphQL or SQL types; every mutation checks authorization
//! here (not only in the resolver). Errors are `AppError`, whose variants are the client codes.
//!
//! Atomicity invariant: an operation that writes more than one row opens one unit of work
//! (`Store::begin` → `store::Tx`), runs every statement of the operation on it (its reads too:
//! on SQLite the unit holds the write lock, and a pool read waiting for a connection could wait
//! forever), and commits once; an error returned before the commit drops the unit and nothing
//! of it remains. What is not in the database (queue messages, feed cache epochs and timelines,
//! media files, job updates, mail, session revocations in kv) happens after the commit, so a
//! failed operation leaves none of it either. `tests/api/atomic.rs` fails each such operation
//! after each of its statements and finds the database unchanged.

pub use app_core::model;

pub mod accounts;
pub mod auth;
pub mod cameos;
pub mod consent;
pub mod feed;
pub mod gate;
pub mod housekeeping;
pub mod invites;
pub mod moderation;
pub mod push;
pub mod reads;
pub mod search;
pub mod social;
pub mod storyboard;
pub mod teens;
pub use kv::updates;
pub mod text;
pub mod values;
pub mod videos;
pub mod wellbeing;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::password::PasswordHasherPool;
use crate::auth::tokens::AccessTokens;
use app_core::age::{Clock, SystemClock};
use app_core::error::{AppError, AppResult};
use app_core::telemetry::{Silent, Telemetry};
use app_core::types::SessionId;
use kv::{KeyValue, Limit};
use mail::MailService;
use model::{Role, User};
use store::Store;

/// Settings the rules need (a slice of the configuration).
#[derive(Debug, Clone)]
pub struct Rules {
    /// Codes per new member.
    pub invite_quota: u32,
    /// Code length.
    pub invite_code_length: usize,
    /// Refresh-family lifetime.
    pub refresh_ttl: Duration,
    /// Verification-link lifetime.
    pub verify_ttl: Duration,
    /// Reset-link lifetime.
    pub reset_ttl: Duration,
    /// Sign-ups per address per minute.
    pub redeem_per_ip: Limit,
    /// Sign-ups per minute overall.
    pub redeem_global: Limit,
    /// Log-ins per address per minute.
    pub login_per_ip: Limit,
    /// Log-ins per account per minute.
    pub login_per_account: Limit,
    /// Mail-sending requests per address per hour.
    pub mail_per_ip: Limit,
    /// Whether sign-up asks for a date of birth (`teens`).
    pub age_checks: bool,
    /// A teen's daily feed minutes unless their parent sets otherwise.
    pub teen_daily_feed_minutes: u32,
}

/// Everything a service may use. Its parts are private to the domain: the API and the server
/// reach stored data only through services (the composition root builds it with [`Deps::new`]).
pub struct Deps {
    /// Database.
    pub(crate) store: Store,
    /// Rate limits and revocations.
    pub(crate) kv: KeyValue,
    /// Password hashing.
    pub(crate) hasher: PasswordHasherPool,
    /// Access tokens.
    pub(crate) tokens: AccessTokens,
    /// Mail.
    pub(crate) mail: MailService,
    /// Settings.
    pub(crate) rules: Rules,
    /// Feed timelines, ranked lists, cached pages and their epochs (Redis, or in process).
    pub(crate) feed_cache: ::feed::cache::FeedCache,
    /// Counts for the operator's dashboards.
    pub(crate) telemetry: Arc<dyn Telemetry>,
    /// Feed epochs whose bump failed (the cache did not answer), bumped by
    /// `feed::settle_epochs` once it does.
    pub(crate) pending_epochs: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    /// The time the age rules and daily limits read (tests move it).
    pub(crate) clock: Arc<dyn Clock>,
    /// The sentence encoder (feed preferences and search by meaning); the backend always loads
    /// it, unit tests may go without (words only).
    pub(crate) meaning: Option<Arc<meaning::TextEncoder>>,
}

impl Deps {
    /// Bundles the dependencies the services share.
    pub fn new(
        store: Store,
        kv: KeyValue,
        hasher: PasswordHasherPool,
        tokens: AccessTokens,
        mail: MailService,
        rules: Rules,
        feed_cache: ::feed::cache::FeedCache,
    ) -> Self {
        Self {
            store,
            kv,
            hasher,
            tokens,
            mail,
            rules,
            feed_cache,
            telemetry: Arc::new(Silent),
            pending_epochs: Arc::default(),
            clock: Arc::new(SystemClock),
            meaning: None,
        }
    }

    /// Reads by meaning with `encoder` (one per process).
    pub fn with_meaning(mut self, encoder: Arc<meaning::TextEncoder>) -> Self {
        self.meaning = Some(encoder);
        self
    }

    /// The sentence encoder, when loaded.
    pub fn meaning(&self) -> Option<&Arc<meaning::TextEncoder>> {
        self.meaning.as_ref()
    }

    /// Reads `clock` instead of the system's (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Today's date by the rules' clock (UTC).
    pub(crate) fn today(&self) -> chrono::NaiveDate {
        self.clock.now().date_naive()
    }

    /// The latest birth month of an adult today; none when age checks are off.
    pub(crate) fn adult_cutoff(&self) -> Option<app_core::age::BirthMonth> {
        self.rules.age_checks.then(|| app_core::age::BirthMonth::adult_cutoff(self.today()))
    }

    /// Whether `user` is a teen account today.
    pub(crate) fn is_teen(&self, user: &User) -> bool {
        self.rules.age_checks && user.is_teen_on(self.today())
    }

    /// Reports to `telemetry` instead of nobody.
    pub fn with_telemetry(mut self, telemetry: Arc<dyn Telemetry>) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// Jobs waiting and jobs being made, across every worker (the queue depth on dashboards).
    pub async fn live_job_counts(&self) -> AppResult<(u64, u64)> {
        Ok((self.store.queued_count().await?, self.store.running_count().await?))
    }

    /// Access tokens (the server verifies a bearer token before its response cache).
    pub fn tokens(&self) -> &AccessTokens {
        &self.tokens
    }

    /// Rate limits and revocations (the server's response cache checks revocations).
    pub fn kv(&self) -> &KeyValue {
        &self.kv
    }

    /// The JSON Web Key Set of the access-token keys (`GET /.well-known/jwks.json`).
    pub fn jwks(&self) -> serde_json::Value {
        self.tokens.jwks()
    }

    /// The feed cache (the server keeps whole feed responses in it).
    pub fn feed_cache(&self) -> &::feed::cache::FeedCache {
        &self.feed_cache
    }

    /// Readiness: whether the database answers.
    pub async fn ping_database(&self) -> AppResult<()> {
        self.store.ping().await
    }
}

/// The services, shared by every request.
#[derive(Clone)]
pub struct Services {
    /// Sign-up, log-in, sessions, roles, bans.
    pub accounts: accounts::AccountService,
    /// Codes, the waitlist and the invite tree.
    pub invites: invites::InviteService,
    /// Feeds.
    pub feed: feed::FeedService,
    /// Follows, blocks, likes, views, preferences.
    pub social: social::SocialService,
    /// Teen accounts, parents, maturity labels.
    pub teens: teens::TeenService,
    /// Push devices, notification settings, the push worker and the weekly digest.
    pub push: push::PushService,
    /// Search over videos, members and cameos.
    pub search: search::SearchService,
    /// Shared dependencies (health checks use the store and kv).
    pub deps: Arc<Deps>,
}

/// What the feed and social services need beyond the shared dependencies.
pub struct SocialWiring {
    /// Feed settings.
    pub settings: feed::FeedSettings,
    /// Per-member limits.
    pub limits: social::SocialLimits,
    /// Push channels and the worker's timing.
    pub push: push::PushWiring,
    /// Search's refresher timing.
    pub search: search::SearchSettings,
}

impl Services {
    /// Wires the services over shared dependencies.
    pub fn new(deps: Deps, social: SocialWiring) -> Self {
        let deps = Arc::new(deps);
        let feed = feed::FeedService::new(deps.clone(), social.settings);
        Self {
            accounts: accounts::AccountService::new(deps.clone()),
            invites: invites::InviteService::new(deps.clone()),
            social: social::SocialService::new(deps.clone(), feed.clone(), social.limits),
            teens: teens::TeenService::new(deps.clone(), feed.meter().clone()),
            push: push::PushService::new(deps.clone(), social.push.channels, social.push.settings),
            search: search::SearchService::new(deps.clone(), feed.clone(), social.search),
            feed,
            deps,
        }
    }

    /// Every `every` until the process stops (an API node with Redis): puts back revocation
    /// markers a Redis that lost its data no longer has (`AccountService::restore_revocations`)
    /// and makes the feed epoch bumps that failed while it did not answer
    /// (`feed::settle_epochs`). A failure (Redis still down) is tried again next time.
    pub async fn run_cache_keeper(self, every: Duration) {
        loop {
            if let Err(e) = self.accounts.restore_revocations().await {
                tracing::debug!(error = %e, "revocation markers not checked; trying again");
            }
            feed::settle_epochs(&self.deps).await;
            tokio::time::sleep(every).await;
        }
    }
}

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The member, as loaded for this request.
    pub user: User,
    /// The session their token belongs to.
    pub session: SessionId,
}

/// Who is calling.
// One per request, made once and borrowed: boxing the member would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Caller {
    /// No token.
    Anonymous,
    /// A token was sent but does not work (expired, revoked, banned…).
    Rejected(&'static str),
    /// A valid token.
    Member(Viewer),
}

impl Caller {
    /// The signed-in viewer, or `UNAUTHENTICATED`.
    pub fn require(&self) -> AppResult<&Viewer> {
        match self {
            Caller::Member(v) => Ok(v),
            Caller::Anonymous => Err(AppError::Unauthenticated("sign in first")),
            Caller::Rejected(why) => Err(AppError::Unauthenticated(why)),
        }
    }

    /// The viewer if signed in, nothing if anonymous, `UNAUTHENTICATED` if the token is bad
    /// (so clients know to refresh rather than silently seeing a signed-out view).
    pub fn optional(&self) -> AppResult<Option<&Viewer>> {
        match self {
            Caller::Member(v) => Ok(Some(v)),
            Caller::Anonymous => Ok(None),
            Caller::Rejected(why) => Err(AppError::Unauthenticated(why)),
        }
    }

    /// The viewer, who must hold at least `role`.
    pub fn require_role(&self, role: Role) -> AppResult<&Viewer> {
        let v = self.require()?;
        if v.user.role < role {
            return Err(AppError::Forbidden(format!("this needs the {} role", role.as_str())));
        }
        Ok(v)
    }
}
