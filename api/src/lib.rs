//! The GraphQL schema: one module per area, thin resolvers (parse → call a service → map).
//!
//! Architecture invariant: the only crate besides the server that knows async-graphql. Errors
//! leave here with a stable `extensions.code`; internal causes are logged, never returned.
//!
//! - Resolvers parse arguments (ids through [`parse_id`], passwords into `Secret`), call one domain
//!   service with the `Caller` and client address of the [`RequestCtx`], and map the record to a
//!   GraphQL object. Field-level privacy is decided here, on the viewer (`email`, `banned`,
//!   `banReason`; a case's reports, author history, resolver and frame strip for moderators; a
//!   cameo's clip, challenge phrase and review note for its owner and moderators); which videos and
//!   cameos a viewer may see or list, and everything that changes state, is decided in `domain`.
//! - Media links (`Video.url`, `thumbnailUrl`, `frameStripUrl`, `Cameo.clipUrl`) are minted by
//!   `links::MediaLinks` only when the object resolves for a viewer allowed to see it.
//! - DataLoaders (one query per response; `HashMapCache`, so they can be primed): `Users`,
//!   `RemixCounts`, `Followed`, `Blocked`, `Liked`; the server builds fresh ones per operation, and the
//!   `feed` resolver primes them from the page's hydration, so a page's fields run no statement.
//! - Errors: [`to_gql`] (through `ApiResult::api`) sets `code` from `AppError::code`, plus `field`
//!   for `BAD_USER_INPUT`, `retryAfterSeconds` for `RATE_LIMITED`, `reasons` for `POLICY_VIOLATION`,
//!   `check` and `reasons` for `PUBLISH_REFUSED`; an `Internal` cause is logged (`error`, `cause`) and
//!   the client reads only "internal error; it has been logged". Errors raised before a resolver runs
//!   (syntax, unknown fields, coercion, depth and complexity) get `BAD_USER_INPUT` from
//!   [`ensure_codes`], run on every response over HTTP and the WebSocket, which also counts errors
//!   by code; whole-request refusals of the server use [`request_error`].
//! - Limits: depth and complexity from the configuration, recursive depth 32; in production no
//!   introspection and no suggestions. [`sdl`] is what `backend schema` prints and what
//!   `schema.graphql` is checked against.

pub mod accounts;
pub mod audit;
pub mod cameos;
pub mod evolution;
pub mod invites;
pub mod links;
pub mod metrics;
pub mod moderation;
pub mod node;
pub mod persisted;
pub mod push;
pub mod search;
pub mod social;
pub mod teens;
pub mod videos;

use std::sync::Arc;
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextRequest, NextResolve, NextSubscribe,
};
use async_graphql::{ErrorExtensions, MergedObject, Response, Schema, SchemaBuilder, ServerError, ServerResult, Value};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tracing::Instrument;

use crate::metrics::Metrics;
use app_core::error::AppError;
use domain::{Caller, Services};

/// Cleared by the `feed` resolver when its page must not be reused as a whole response (the
/// first page of FOLLOWING, which shows new videos at once); the server's response cache reads it.
pub struct FeedResponseCacheable(pub std::sync::atomic::AtomicBool);

/// The root query.
#[derive(MergedObject, Default)]
pub struct Query(
    accounts::AccountsQuery,
    invites::InvitesQuery,
    videos::VideosQuery,
    audit::AuditQuery,
    moderation::ModerationQuery,
    cameos::CameosQuery,
    social::SocialQuery,
    node::NodeQuery,
    teens::TeensQuery,
    push::PushQuery,
    search::SearchQuery,
);

/// The root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountsMutation,
    invites::InvitesMutation,
    videos::VideosMutation,
    moderation::ModerationMutation,
    cameos::CameosMutation,
    social::SocialMutation,
    teens::TeensMutation,
    push::PushMutation,
);

/// The executable schema.
pub type AppSchema = Schema<Query, Mutation, videos::Subscription>;

/// Per-request context: who is calling and from where.
pub struct RequestCtx {
    /// The caller.
    pub caller: Caller,
    /// Client address (for rate limits).
    pub client: String,
}

/// Base URL of the web client, for links in responses.
pub struct PublicUrl(pub String);

/// Limits on what one request may ask.
#[derive(Debug, Clone, Copy)]
pub struct Hardening {
    /// Production: introspection and suggestions off.
    pub production: bool,
    /// Deepest selection.
    pub max_depth: usize,
    /// Highest complexity.
    pub max_complexity: usize,
}

/// The schema without runtime data (for `backend schema` and the drift test).
pub fn schema_builder() -> SchemaBuilder<Query, Mutation, videos::Subscription> {
    Schema::build(Query::default(), Mutation::default(), videos::Subscription)
}

/// The SDL the server exports.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

/// What resolvers reach through the schema's data.
pub struct SchemaData {
    /// Accounts and invites (and the shared dependencies).
    pub services: Services,
    /// Jobs and videos.
    pub videos: domain::videos::VideoService,
    /// Moderation, provenance and comments.
    pub moderation: domain::moderation::ModerationService,
    /// Cameos.
    pub cameos: domain::cameos::CameoService,
    /// Signed media links.
    pub links: crate::links::MediaLinks,
    /// Base URL of the web client.
    pub public_url: String,
    /// Automatic persisted queries (this node's documents, shared with the HTTP layer).
    pub persisted: persisted::PersistedQueries,
}

/// The schema with services, limits and metrics.
pub fn build_schema(d: SchemaData, metrics: Arc<Metrics>, h: Hardening) -> AppSchema {
    let mut b = schema_builder()
        .data(d.services)
        .data(d.videos)
        .data(d.moderation)
        .data(d.cameos)
        .data(d.links)
        .data(PublicUrl(d.public_url.trim_end_matches('/').to_owned()))
        .limit_depth(h.max_depth)
        .limit_complexity(h.max_complexity)
        .limit_recursive_depth(32)
        .extension(async_graphql::extensions::apollo_persisted_queries::ApolloPersistedQueries::new(d.persisted))
        .extension(MetricsExtension(metrics));
    if h.production {
        b = b.disable_introspection().disable_suggestions();
    }
    b.finish()
}

/// Converts a domain error into a GraphQL error with its code (and logs internal causes).
pub fn to_gql(e: AppError) -> async_graphql::Error {
    let code = e.code();
    let message = match &e {
        AppError::Internal(cause) => {
            tracing::error!(error = %cause, cause = ?cause, "internal error");
            "internal error; it has been logged".to_owned()
        }
        other => other.to_string(),
    };
    let mut err = async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code));
    match &e {
        AppError::BadUserInput { field: Some(f), .. } => err = err.extend_with(|_, ext| ext.set("field", *f)),
        AppError::PolicyViolation { reasons } => {
            let list: Vec<Value> = reasons.iter().map(|r| Value::String(r.clone())).collect();
            err = err.extend_with(move |_, ext| ext.set("reasons", Value::List(list.clone())));
        }
        AppError::PublishRefused { check, reason } => {
            let (check, reason) = (*check, reason.clone());
            err = err.extend_with(move |_, ext| {
                ext.set("check", check.as_str());
                ext.set("reasons", Value::List(vec![Value::String(reason.clone())]));
            });
        }
        AppError::LimitReached { resets_at, .. } => {
            let at = resets_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            err = err.extend_with(move |_, ext| ext.set("resetsAt", at.clone()));
        }
        AppError::RateLimited { retry_after_secs } | AppError::Unavailable { retry_after_secs, .. } => {
            let s = *retry_after_secs;
            err = err.extend_with(move |_, ext| ext.set("retryAfterSeconds", s));
        }
        _ => {}
    }
    err
}

/// `?`-friendly conversion for resolver results.
pub trait ApiResult<T> {
    /// Maps the error to a coded GraphQL error.
    fn api(self) -> async_graphql::Result<T>;
}

impl<T> ApiResult<T> for Result<T, AppError> {
    fn api(self) -> async_graphql::Result<T> {
        self.map_err(to_gql)
    }
}

/// Gives every error a code and counts it: errors raised before our resolvers run (syntax,
/// validation, limits, argument coercion) are the client's input, so `BAD_USER_INPUT`.
pub fn ensure_codes(resp: &mut Response, metrics: &Metrics) {
    for e in &mut resp.errors {
        let has_code = e.extensions.as_ref().is_some_and(|x| x.get("code").is_some());
        if !has_code {
            // The APQ extension's miss keeps the message Apollo clients match on.
            let code =
                if e.message == "PersistedQueryNotFound" { "PERSISTED_QUERY_NOT_FOUND" } else { "BAD_USER_INPUT" };
            e.extensions.get_or_insert_with(Default::default).set("code", code);
            if e.message == "provided sha does not match query" {
                e.message = "the query's text does not match extensions.persistedQuery.sha256Hash".into();
            }
        }
        let code = match e.extensions.as_ref().and_then(|x| x.get("code")) {
            Some(Value::String(s)) => s.clone(),
            _ => "BAD_USER_INPUT".into(),
        };
        metrics.errors.with_label_values(&[code.as_str()]).inc();
    }
}

/// A refusal of a whole request (batch too large), in GraphQL shape.
pub fn request_error(message: &str) -> Response {
    let mut e = ServerError::new(message, None);
    e.extensions.get_or_insert_with(Default::default).set("code", "BAD_USER_INPUT");
    Response::from_errors(vec![e])
}

struct MetricsExtension(Arc<Metrics>);

impl ExtensionFactory for MetricsExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MetricsResolve(self.0.clone()))
    }
}

struct MetricsResolve(Arc<Metrics>);

#[async_graphql::async_trait::async_trait]
impl Extension for MetricsResolve {
    /// Every operation over HTTP or WebSocket (parse, validation and execution included).
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut r = next.run(ctx).await;
        ensure_codes(&mut r, &self.0);
        r
    }

    /// Every response of a WebSocket operation.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let metrics = self.0.clone();
        Box::pin(next.run(ctx, stream).map(move |mut r| {
            ensure_codes(&mut r, &metrics);
            r
        }))
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: async_graphql::extensions::ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let top = info.path_node.parent.is_none() && !info.is_for_introspection;
        if !top {
            return next.run(ctx, info).await;
        }
        let kind = match info.parent_type {
            "Mutation" => "mutation",
            "Subscription" => "subscription",
            _ => "query",
        };
        let name = info.name.to_owned();
        let start = Instant::now();
        // One span per top-level field (the operation's real work), under the request's span,
        // when spans go anywhere (`telemetry::active`).
        let span = if telemetry::active() {
            tracing::info_span!(
                "graphql field",
                otel.name = %format_args!("{kind} {name}"),
                graphql.operation.type = kind,
                graphql.field = name.as_str(),
                graphql.error.code = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
            )
        } else {
            tracing::Span::none()
        };
        let r = next.run(ctx, info).instrument(span.clone()).await;
        if let Err(e) = &r
            && let Some(Value::String(code)) = e.extensions.as_ref().and_then(|x| x.get("code"))
        {
            span.record("graphql.error.code", code.as_str());
            // The service's own failures, not a refusal of the client's input.
            if code == "INTERNAL" || code == "UNAVAILABLE" {
                span.record("otel.status_code", "ERROR");
            }
        }
        self.0.operations.with_label_values(&[name.as_str(), kind]).inc();
        self.0.operation_latency.with_label_values(&[name.as_str()]).observe(start.elapsed().as_secs_f64());
        r
    }
}

/// The caller of this request.
pub fn caller<'a>(ctx: &'a async_graphql::Context<'_>) -> async_graphql::Result<&'a RequestCtx> {
    ctx.data::<RequestCtx>()
}

/// The services.
pub fn services<'a>(ctx: &'a async_graphql::Context<'_>) -> async_graphql::Result<&'a Services> {
    ctx.data::<Services>()
}

/// Parses a client-sent id.
pub fn parse_id<T>(
    raw: &async_graphql::ID,
    field: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> async_graphql::Result<T> {
    parse(raw.as_str()).ok_or_else(|| to_gql(AppError::bad_input(field, format!("{field} is not a valid id"))))
}
