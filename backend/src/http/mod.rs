//! The actix-web application: `/graphql` (POST), `/graphql/ws` (graphql-transport-ws),
//! `/healthz`, `/ping`, `/readyz`, `/metrics`, `/media/…`, and the web client (`/`, `/static/…`)
//! and the admin console (`/admin`).
//!
//! Architecture invariant: turns HTTP into a `RequestCtx` (caller + client address) and hands
//! everything else to the schema; no rules live here.
//!
//! `/graphql` takes `application/json` (at most [`MAX_JSON_BODY`], 1 MiB) or `multipart/form-data`
//! following the GraphQL multipart request spec, for uploads (`createCameo`, `verifyProvenance`):
//! at most `APP_MAX_UPLOAD_BYTES` plus 64 KiB of framing, checked on `Content-Length` and again while
//! reading (413), at most 4 files; anything else is 415, a body that is not GraphQL 400, a batch
//! outside 1–`APP_GRAPHQL_MAX_BATCH` 400 (each refusal still GraphQL-shaped, code `BAD_USER_INPUT`).
//! Accepting multipart opens no cross-site hole: a form on another site cannot attach the bearer
//! token, and nothing authenticates by cookie. async-graphql accepts `Upload` variables only in
//! mutations, so `upload_query_as_mutation` rewrites a multipart `query` whose every top-level field
//! is `verifyProvenance` into the mutation of the same name and resolver; nothing else is touched.
//!
//! Then, per request: the client address (the socket peer, or `X-Forwarded-For`/`Forwarded` only
//! with `APP_TRUST_FORWARDED_FOR`), the bearer token through `AccountService::authenticate` (a
//! database or Redis fault answers one `INTERNAL` error), and per operation a `RequestCtx` with fresh
//! DataLoaders. A single JSON query whose every top-level field is `feed` is first looked up in the
//! whole-response cache ([`feed_responses`]). On `/graphql/ws` the same authentication runs once on
//! the `connection_init` payload (`Authorization`); a rejected token refuses the connection, and the
//! caller is fixed for its lifetime; when the server stops, every open WebSocket is closed with
//! code 1012, *service restart*, so clients reconnect elsewhere ([`ws`]). `/ping` is a constant
//! answer (the feed benchmark's floor); `/readyz` pings the database and, when configured, Redis
//! (503 when one is down).

pub mod feed_responses;
pub mod media;
pub use api::metrics;
pub mod site;
pub mod unsubscribe;
pub mod ws;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::{BatchRequest, Data};
use async_graphql_actix_web::GraphQLResponse;
use futures_util::StreamExt;
use tracing::Instrument;

use api::accounts::UserLoader;
use api::moderation::{RemixCountLoader, RemixCounts};
use api::{AppSchema, RequestCtx, ensure_codes, request_error, to_gql};
use app_core::telemetry::Telemetry;
use domain::{Caller, Services};
use metrics::Metrics;

/// Largest JSON body accepted on `/graphql`.
pub const MAX_JSON_BODY: u64 = 1024 * 1024;

/// Shared by every handler.
pub struct AppState {
    /// The executable schema.
    pub schema: AppSchema,
    /// Services (for authentication and health).
    pub services: Services,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Read the client address from `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    /// Most operations per batch.
    pub max_batch: usize,
    /// Largest multipart (upload) body.
    pub max_upload_bytes: usize,
    /// Which operation texts (by digest) consist only of `feed` fields.
    pub feed_only: moka::sync::Cache<[u8; 32], bool>,
    /// Whole responses of feed-only operations.
    pub feed_responses: feed_responses::FeedResponses,
    /// Set when the server stops: open WebSockets close with code 1012 (`ws`).
    pub closing: ws::Closing,
    /// The automatic persisted queries this node knows (`api::persisted`).
    pub persisted: api::persisted::PersistedQueries,
}

pub use api::FeedResponseCacheable;

/// Whether an operation is a single query whose every top-level field is `feed`: its response
/// then depends only on the viewer, the operation's text and variables, and the feed epochs.
fn is_feed_only(query: &str) -> bool {
    async_graphql::parser::parse_query(query).is_ok_and(|doc| is_feed_only_doc(&doc))
}

fn is_feed_only_doc(doc: &async_graphql::parser::types::ExecutableDocument) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
    // One operation, anonymous (`Single`) or named (a `Multiple` of one).
    let op = match &doc.operations {
        DocumentOperations::Single(op) => op,
        DocumentOperations::Multiple(map) if map.len() == 1 => match map.values().next() {
            Some(op) => op,
            None => return false,
        },
        DocumentOperations::Multiple(_) => return false,
    };
    let items = &op.node.selection_set.node.items;
    op.node.ty == OperationType::Query
        && op.node.directives.is_empty()
        && !items.is_empty()
        && items.iter().all(
            |s| matches!(&s.node, Selection::Field(f) if f.node.name.node == "feed" && f.node.directives.is_empty()),
        )
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/graphql", web::post().to(graphql))
        .route("/graphql", web::get().to(graphql_get))
        .route("/graphql/ws", web::get().to(graphql_ws))
        .route("/healthz", web::get().to(healthz))
        .route("/ping", web::get().to(ping))
        .route("/readyz", web::get().to(readyz))
        .route("/.well-known/jwks.json", web::get().to(jwks))
        .route("/metrics", web::get().to(metrics_text))
        .route("/unsubscribe", web::get().to(unsubscribe::show))
        .route("/unsubscribe", web::post().to(unsubscribe::confirm))
        .route("/media/{key:.+}", web::get().to(media::serve))
        .service(
            web::resource("/static/{path:.+}").route(web::get().to(site::asset)).route(web::head().to(site::asset)),
        )
        .service(web::resource("/favicon.ico").route(web::get().to(site::icon)).route(web::head().to(site::icon)))
        .service(
            web::resource(["/admin", "/admin/{tail:.*}"])
                .route(web::get().to(site::console))
                .route(web::head().to(site::console)),
        )
        .default_service(web::to(site::fallback));
}

/// Counts and times every request by its route pattern, and traces it: a server span (continuing
/// the caller's `traceparent`, if it sent one) that the GraphQL operation, the domain and, through
/// a job, the generator hang their spans under. Probes, scrapes, static files and WebSocket
/// connections (which live for hours) are not traced.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let path = req.path();
    let traced = telemetry::active()
        && !matches!(path, "/metrics" | "/healthz" | "/readyz" | "/ping" | "/graphql/ws" | "/favicon.ico")
        && !path.starts_with("/static/");
    let res = if traced {
        let span = tracing::info_span!(
            "HTTP request",
            otel.name = %method,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            http.request.method = %method,
            url.path = req.path(),
            http.route = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
        );
        let incoming = req.headers().get(telemetry::TRACEPARENT).and_then(|v| v.to_str().ok());
        telemetry::continue_trace(&span, incoming);
        let res = next.call(req).instrument(span.clone()).await?;
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
        telemetry::rename(&span, format!("{method} {route}"));
        span.record("http.route", route.as_str());
        span.record("http.response.status_code", res.status().as_u16());
        if res.status().is_server_error() {
            span.record("otel.status_code", "ERROR");
        }
        res
    } else {
        next.call(req).await?
    };
    if let Some(state) = state {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
        let status = res.status().as_u16().to_string();
        state.metrics.http_requests.with_label_values(&[route.as_str(), method.as_str(), status.as_str()]).inc();
        state.metrics.http_latency.with_label_values(&[route.as_str()]).observe(start.elapsed().as_secs_f64());
    }
    Ok(res)
}

fn client_address(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for && let Some(ip) = req.connection_info().realip_remote_addr() {
        return ip.to_owned();
    }
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let h = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    strip_bearer(h)
}

fn strip_bearer(h: &str) -> Option<String> {
    let h = h.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Per-operation data: the caller, and DataLoaders that batch look-ups across one response.
pub struct RequestData {
    ctx: RequestCtx,
    users: api::accounts::Users,
    remixes: RemixCounts,
    followed: api::social::Followed,
    blocked: api::social::Blocked,
    liked: api::social::Liked,
}

fn request_data(services: &Services, caller: Caller, client: String) -> RequestData {
    let viewer = match &caller {
        Caller::Member(v) => Some(v.user.id),
        _ => None,
    };
    RequestData {
        ctx: RequestCtx { caller, client },
        users: DataLoader::with_cache(UserLoader(services.clone()), tokio::spawn, HashMapCache::default()),
        remixes: DataLoader::with_cache(RemixCountLoader(services.clone()), tokio::spawn, HashMapCache::default()),
        followed: DataLoader::with_cache(
            api::social::FollowedLoader { services: services.clone(), viewer },
            tokio::spawn,
            HashMapCache::default(),
        ),
        blocked: DataLoader::with_cache(
            api::social::BlockedLoader { services: services.clone(), viewer },
            tokio::spawn,
            HashMapCache::default(),
        ),
        liked: DataLoader::with_cache(
            api::social::LikedLoader { services: services.clone(), viewer },
            tokio::spawn,
            HashMapCache::default(),
        ),
    }
}

fn refuse(state: &AppState, status: actix_web::http::StatusCode, message: &str) -> HttpResponse {
    let mut resp = request_error(message);
    ensure_codes(&mut resp, &state.metrics);
    HttpResponse::build(status).json(resp)
}

/// Reads a JSON body of at most `MAX_JSON_BODY` bytes, whatever the framing (a chunked body is
/// cut off as soon as it passes the limit, so it cannot fill memory).
async fn read_limited(
    payload: &mut web::Payload,
    max: u64,
) -> Result<Vec<u8>, (actix_web::http::StatusCode, &'static str)> {
    use actix_web::http::StatusCode;
    let mut buf = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| (StatusCode::BAD_REQUEST, "the request body could not be read"))?;
        if (buf.len() + chunk.len()) as u64 > max {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large"));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Applies `f` to every operation of a batch.
fn map_batch(batch: BatchRequest, f: impl Fn(async_graphql::Request) -> async_graphql::Request) -> BatchRequest {
    match batch {
        BatchRequest::Single(r) => BatchRequest::Single(f(r)),
        BatchRequest::Batch(v) => BatchRequest::Batch(v.into_iter().map(f).collect()),
    }
}

/// async-graphql accepts `Upload` variables only in mutations, while the contract puts
/// `verifyProvenance(clip: Upload!)` on `Query`. A multipart query whose every top-level field
/// is `verifyProvenance` is therefore run as the identical, read-only `Mutation.verifyProvenance`
/// (its keyword rewritten); any other query is left alone and refused by validation as before.
fn upload_query_as_mutation(mut r: async_graphql::Request) -> async_graphql::Request {
    use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
    let Ok(doc) = async_graphql::parser::parse_query(&r.query) else { return r };
    let ops: Vec<_> = match &doc.operations {
        DocumentOperations::Single(op) => vec![op],
        DocumentOperations::Multiple(map) => map.values().collect(),
    };
    let mut starts: Vec<usize> = Vec::new();
    for op in ops {
        if op.node.ty != OperationType::Query {
            continue;
        }
        let only_provenance = op.node.selection_set.node.items.iter().all(|sel| match &sel.node {
            Selection::Field(f) => f.node.name.node == "verifyProvenance",
            _ => false,
        });
        if !only_provenance {
            continue;
        }
        // `pos` is 1-based line and column (in characters) of the `query` keyword.
        let (line, column) = (op.pos.line, op.pos.column);
        let line_start = r.query.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum::<usize>();
        let offset = r
            .query
            .get(line_start..)
            .and_then(|rest| rest.char_indices().nth(column.saturating_sub(1)))
            .map(|(i, _)| line_start + i);
        if let Some(at) = offset.filter(|&at| r.query.get(at..).is_some_and(|t| t.starts_with("query"))) {
            starts.push(at);
        }
    }
    starts.sort_unstable_by(|a, b| b.cmp(a));
    for at in starts {
        r.query.replace_range(at..at + "query".len(), "mutation");
    }
    r
}

async fn graphql(state: web::Data<AppState>, req: HttpRequest, mut payload: web::Payload) -> HttpResponse {
    use actix_web::http::StatusCode;
    let content_type =
        req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    // JSON, or the GraphQL multipart request spec for uploads. Form-encoded and text bodies are
    // refused. (A cross-site form could send multipart, but it cannot attach the bearer token:
    // authentication never rides on ambient credentials such as cookies.)
    let lowered = content_type.trim_start().to_ascii_lowercase();
    let multipart = lowered.starts_with("multipart/form-data");
    if !multipart && !lowered.starts_with("application/json") {
        return refuse(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as application/json (or multipart/form-data with an upload)",
        );
    }
    // Multipart framing adds a little to the file itself.
    let limit = if multipart { state.max_upload_bytes as u64 + 64 * 1024 } else { MAX_JSON_BODY };
    let declared_too_big = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit);
    if declared_too_big {
        return refuse(&state, StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large");
    }
    let body = match read_limited(&mut payload, limit).await {
        Ok(b) => b,
        Err((status, message)) => return refuse(&state, status, message),
    };
    // The response cache's key for this exact body (JSON requests only).
    let body_key = (!multipart).then(|| domain::auth::sha256_hex(&body));
    let batch: BatchRequest = if multipart {
        let opts =
            async_graphql::http::MultipartOptions::default().max_file_size(state.max_upload_bytes).max_num_files(4);
        match async_graphql::http::receive_batch_body(Some(content_type), futures_util::io::Cursor::new(body), opts)
            .await
        {
            Ok(b) => map_batch(b, upload_query_as_mutation),
            Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
                return refuse(&state, StatusCode::PAYLOAD_TOO_LARGE, "the upload is too large");
            }
            Err(e) => {
                return refuse(
                    &state,
                    StatusCode::BAD_REQUEST,
                    &format!("the request is not a GraphQL multipart request: {e}"),
                );
            }
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return refuse(&state, StatusCode::BAD_REQUEST, &format!("the request is not a GraphQL request: {e}"));
            }
        }
    };
    if let BatchRequest::Batch(v) = &batch
        && (v.len() > state.max_batch || v.is_empty())
    {
        return refuse(
            &state,
            StatusCode::BAD_REQUEST,
            &format!("a batch may hold 1 to {} operations", state.max_batch),
        );
    }
    execute(&state, &req, batch, body_key).await
}

/// The parameters of `GET /graphql` (GraphQL over HTTP; `variables` and `extensions` as JSON).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// How long a shared cache (a CDN) may keep an anonymous feed page: the feed's own page time, so
/// a removal is gone from it as soon as from the service's cache.
const PUBLIC_FEED_MAX_AGE_SECS: u32 = 15;

/// `GET /graphql`: queries only (a mutation, or a hash whose document is one, answers 405), so a
/// cacheable read, often an automatic persisted query sent by its hash alone
/// (`?extensions={"persistedQuery":{"version":1,"sha256Hash":"…"}}`). Every answer carries a
/// weak `ETag` (the body's SHA-256; weak, since compression changes the bytes, not the page), and
/// `If-None-Match` with it answers 304 without a body. An anonymous feed page that succeeded may
/// be kept by shared caches for [`PUBLIC_FEED_MAX_AGE_SECS`] (`Cache-Control: public`); anything
/// else is `private, no-cache` (revalidate every time), and `Vary: Authorization,
/// Accept-Encoding` keeps one viewer's page, and one encoding, from another.
async fn graphql_get(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    use actix_web::http::{StatusCode, header};
    let bad = |message: &str| refuse(&state, StatusCode::BAD_REQUEST, message);
    let Ok(params) = web::Query::<GetParams>::from_query(req.query_string()) else {
        return bad("the query string is not a GraphQL request (query, operationName, variables, extensions)");
    };
    let params = params.into_inner();
    let mut r = async_graphql::Request::new(params.query.unwrap_or_default());
    if let Some(name) = params.operation_name {
        r = r.operation_name(name);
    }
    if let Some(v) = params.variables {
        match serde_json::from_str::<async_graphql::Variables>(&v) {
            Ok(v) => r = r.variables(v),
            Err(_) => return bad("variables is not a JSON object"),
        }
    }
    if let Some(x) = params.extensions {
        match serde_json::from_str(&x) {
            Ok(x) => r.extensions = x,
            Err(_) => return bad("extensions is not a JSON object"),
        }
    }
    // The document: its text, or the persisted one its hash names (unknown: the schema's
    // extension answers PERSISTED_QUERY_NOT_FOUND, and the client sends the text).
    let doc = if r.query.is_empty() {
        persisted_hash(&r).and_then(|h| state.persisted.document(h))
    } else {
        async_graphql::parser::parse_query(&r.query).ok()
    };
    if let Some(doc) = &doc
        && !is_query(doc, r.operation_name.as_deref())
    {
        let mut resp = refuse(
            &state,
            StatusCode::METHOD_NOT_ALLOWED,
            "only queries may be sent with GET; send mutations and subscriptions with POST",
        );
        resp.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return resp;
    }
    let public = bearer(&req).is_none() && doc.as_ref().is_some_and(is_feed_only_doc);
    let key = domain::auth::sha256_hex(req.query_string().as_bytes());
    let resp = execute(&state, &req, async_graphql::BatchRequest::Single(r), Some(key)).await;
    let status = resp.status();
    let Ok(body) = actix_web::body::to_bytes(resp.into_body()).await else {
        return refuse(&state, StatusCode::INTERNAL_SERVER_ERROR, "the response could not be read");
    };
    // Weak: the same page compressed differently (gzip, brotli) keeps one tag.
    let etag = format!("W/\"{}\"", domain::auth::sha256_hex(&body));
    let succeeded = status.is_success()
        && serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.get("errors").is_none());
    let cache_control = if public && succeeded {
        format!("public, max-age={PUBLIC_FEED_MAX_AGE_SECS}")
    } else {
        "private, no-cache".to_owned()
    };
    let matches = status.is_success()
        && req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| weak_match(t.trim(), &etag)));
    let mut out = if matches { HttpResponse::NotModified() } else { HttpResponse::build(status) };
    out.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::VARY, "Authorization, Accept-Encoding"));
    if matches { out.finish() } else { out.content_type("application/json").body(body) }
}

/// `If-None-Match` compares weakly (RFC 9110 §13.1.2): `W/"x"` and `"x"` match, and `*` matches
/// anything.
fn weak_match(tag: &str, etag: &str) -> bool {
    tag == "*" || tag.trim_start_matches("W/") == etag.trim_start_matches("W/")
}

/// Whether the operation a request runs (`operation_name`, or the only one) is a query.
fn is_query(doc: &async_graphql::parser::types::ExecutableDocument, operation_name: Option<&str>) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => op.node.ty == OperationType::Query,
        (DocumentOperations::Multiple(map), Some(name)) => {
            map.get(name).is_none_or(|op| op.node.ty == OperationType::Query)
        }
        (DocumentOperations::Multiple(map), None) => map.values().all(|op| op.node.ty == OperationType::Query),
    }
}

/// The hash an automatic persisted query names (`extensions.persistedQuery.sha256Hash`).
fn persisted_hash(r: &async_graphql::Request) -> Option<&str> {
    match r.extensions.get("persistedQuery") {
        Some(async_graphql::Value::Object(o)) => match o.get("sha256Hash") {
            Some(async_graphql::Value::String(h)) => Some(h),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a request runs a feed-only query: its text, or, sent by hash alone, the persisted
/// document the hash names (unknown: no, and the schema answers PERSISTED_QUERY_NOT_FOUND).
fn feed_only(state: &AppState, r: &async_graphql::Request) -> bool {
    if !r.query.is_empty() {
        return state.feed_only.get_with(digest(r.query.as_bytes()), || is_feed_only(&r.query));
    }
    let Some(hash) = persisted_hash(r) else { return false };
    // Remembered per hash like a text per digest (a hash names one document); an unknown hash
    // is not remembered, so the answer is found once the client has registered it.
    let key = digest(format!("apq:{hash}").as_bytes());
    if let Some(known) = state.feed_only.get(&key) {
        return known;
    }
    let Some(doc) = state.persisted.document(hash) else { return false };
    let known = is_feed_only_doc(&doc);
    state.feed_only.insert(key, known);
    known
}

/// Runs a parsed batch for the request's caller: the feed response cache first (a single
/// feed-only operation by a signed-in viewer), else the schema.
async fn execute(state: &AppState, req: &HttpRequest, batch: BatchRequest, body_key: Option<String>) -> HttpResponse {
    let mut store_as = None;
    let token = bearer(req);
    // A feed-only query the viewer made recently, still valid: served from the response cache
    // without executing it (the token's signature, its session and the feed epochs are checked).
    if let (Some(key), BatchRequest::Single(r), Some(token)) = (body_key, &batch, token.as_deref())
        && state.feed_responses.enabled()
        && feed_only(state, r)
        && let Some(v) = state.services.deps.tokens().verify(token)
        // The request counts as feed time; a member whose daily limit is used up is answered by
        // the full path (`LIMIT_REACHED`), never from the cache.
        && matches!(state.services.feed.meter().tick(v.user_id, None, false).await, Ok(domain::wellbeing::Decision::Go))
    {
        match state.feed_responses.probe(v.user_id, v.session_id, &key).await {
            Ok(p) => {
                state.metrics.feed_cache_lookup("response", p.hit.is_some());
                if let Some((hit, source)) = p.hit {
                    if source == feed_responses::Source::Memory {
                        state.metrics.feed_cache_lookup("memory", true);
                    }
                    state.metrics.operations.with_label_values(&["feed", "query"]).inc();
                    return HttpResponse::Ok().content_type("application/json").body(hit);
                }
                if !p.revoked {
                    store_as = Some((v.user_id, key, p.epochs));
                }
            }
            Err(e) => tracing::warn!(error = %e, "feed response cache unavailable; executing"),
        }
    }
    let client = client_address(req, state.trust_forwarded_for);
    let caller = match state.services.accounts.authenticate(token.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            let mut resp = async_graphql::Response::from_errors(vec![to_gql(e).into_server_error(Default::default())]);
            ensure_codes(&mut resp, &state.metrics);
            return HttpResponse::Ok().json(resp);
        }
    };
    let cacheable = Arc::new(FeedResponseCacheable(std::sync::atomic::AtomicBool::new(true)));
    let with_data = |r: async_graphql::Request| {
        let d = request_data(&state.services, caller.clone(), client.clone());
        r.data(d.ctx)
            .data(d.users)
            .data(d.remixes)
            .data(d.followed)
            .data(d.blocked)
            .data(d.liked)
            .data(cacheable.clone())
    };
    let batch = map_batch(batch, with_data);
    // Codes and error metrics are applied per operation by the schema's extension.
    let resp = state.schema.execute_batch(batch).await;
    if let (Some((user, key, epochs)), async_graphql::BatchResponse::Single(r)) = (store_as, &resp)
        && r.is_ok()
        && cacheable.0.load(std::sync::atomic::Ordering::Relaxed)
        && let Ok(bytes) = serde_json::to_vec(r)
    {
        if let Err(e) = state.feed_responses.store(user, &key, &epochs, &bytes).await {
            tracing::warn!(error = %e, "feed response not cached");
        }
        return HttpResponse::Ok().content_type("application/json").body(bytes);
    }
    GraphQLResponse::from(resp).respond_to(req).map_into_boxed_body()
}

async fn graphql_ws(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let services = state.services.clone();
    let client = client_address(&req, state.trust_forwarded_for);
    ws::serve(state.schema.clone(), &req, payload, state.closing.clone(), move |value| async move {
        let token = value
            .get("Authorization")
            .or_else(|| value.get("authorization"))
            .and_then(|v| v.as_str())
            .and_then(strip_bearer);
        let caller = services.accounts.authenticate(token.as_deref()).await.map_err(to_gql)?;
        if let Caller::Rejected(why) = caller {
            return Err(async_graphql::Error::new(why));
        }
        let d = request_data(&services, caller, client);
        let mut data = Data::default();
        data.insert(d.ctx);
        data.insert(d.users);
        data.insert(d.remixes);
        data.insert(d.followed);
        data.insert(d.blocked);
        data.insert(d.liked);
        Ok(data)
    })
}

/// A bare JSON answer (no database, no cache): the baseline of the load benchmarks.
async fn ping() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(r#"{"ok":true}"#)
}

/// The public keys access tokens are signed with (current first, then those still trusted after a
/// rotation), for other services; cacheable for a few minutes.
async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(state.services.deps.jwks())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let deps = &state.services.deps;
    let db = deps.ping_database().await;
    let redis = if deps.kv().is_redis() { Some(deps.kv().ping().await) } else { None };
    let db_ok = db.is_ok();
    let redis_ok = redis.as_ref().is_none_or(|r| r.is_ok());
    if let Err(e) = &db {
        tracing::warn!(error = %e, cause = ?e, "readiness: database");
    }
    if let Some(Err(e)) = &redis {
        tracing::warn!(error = %e, cause = ?e, "readiness: redis");
    }
    let body = serde_json::json!({
        "database": if db_ok { "ok" } else { "down" },
        "redis": match redis { None => "not configured", Some(Ok(())) => "ok", Some(Err(_)) => "down" },
    });
    if db_ok && redis_ok { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// The exposition, with the queue depth read from the database now (every node reports the same
/// figure; a database that does not answer leaves the last one, and the scrape still succeeds).
async fn metrics_text(state: web::Data<AppState>) -> HttpResponse {
    match tokio::time::timeout(Duration::from_secs(2), state.services.deps.live_job_counts()).await {
        Ok(Ok((queued, running))) => state.metrics.set_live_jobs(queued, running),
        Ok(Err(e)) => tracing::warn!(error = %e, "job counts for /metrics"),
        Err(_) => tracing::warn!("job counts for /metrics: the database took over 2 s"),
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}

#[cfg(test)]
mod tests {
    use super::is_feed_only;

    #[test]
    fn only_single_feed_queries_are_response_cacheable() {
        assert!(is_feed_only("{ feed(kind: TRENDING) { edges { cursor } } }"));
        assert!(is_feed_only(
            "query F($a: String) { top: feed(kind: FOR_YOU, after: $a) { edges { cursor } } more: feed(kind: TRENDING) { edges { cursor } } }"
        ));
        assert!(!is_feed_only("{ feed(kind: TRENDING) { edges { cursor } } me { id } }"));
        assert!(!is_feed_only("mutation { feed }"));
        assert!(!is_feed_only("query A { feed(kind: TRENDING) { edges { cursor } } } query B { me { id } }"));
        assert!(!is_feed_only("{ feed(kind: TRENDING) @include(if: true) { edges { cursor } } }"));
        assert!(!is_feed_only("{ ...F } fragment F on Query { feed(kind: TRENDING) { edges { cursor } } }"));
        assert!(!is_feed_only("not graphql"));
    }
}
