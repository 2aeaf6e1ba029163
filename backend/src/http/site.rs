//! The web client (`/`) and the admin console (`/admin`): static files from the repository's
//! `web/` folder, built into the binary (or read from `web_dir` while developing them).
//!
//! Both are single-page applications with history routing: `/admin` and everything under it
//! answer with the console's page, and any other GET of a path the backend does not own and
//! that does not name a file (no dot in its last segment) answers with the web client's page.
//! Assets live under `/static/…` and are revalidated by ETag (no build step, so no hashed names).
//! Pages carry a strict Content-Security-Policy: scripts and styles only from this origin.
//! Pages also carry `X-Frame-Options: DENY`, `Referrer-Policy: same-origin` and `nosniff`; media and
//! images may also come from the media store. `backend/build.rs` embeds every file of `web/`;
//! `APP_WEB_DIR` serves them from disk instead, for front-end work without rebuilding.
//!
//! How the front-ends talk to the API (`web/shared/api.js`, the only code that does): `gql` posts
//! JSON with the bearer token; an `UNAUTHENTICATED` answer triggers one `refreshSession`, shared by
//! every request failing at that moment (a refresh token works once; a second use would end the
//! session), then the request is sent again once. `gqlUpload` sends the multipart request,
//! `subscribe` speaks graphql-transport-ws (token in `connection_init`). `web/shared/dom.js` builds
//! elements with `h()`: text is always text, no `innerHTML`. Only the two tokens live in
//! `localStorage`; the member and their role are read again on each load. The console hides what a
//! role may not do, but the API refuses it anyway.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

/// Files of `web/`, embedded by `build.rs`: (path relative to `web/`, bytes).
static EMBEDDED: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The policy every page is served with. Media and images may come from the media store
/// (this origin, or an S3 endpoint); the API and its WebSocket are same-origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Paths the backend answers itself; the client's fallback page never shadows them.
const OWNED_PREFIXES: &[&str] =
    &["/graphql", "/media/", "/static/", "/admin", "/healthz", "/readyz", "/metrics", "/ping", "/.well-known/"];

/// Where the files come from.
#[derive(Clone, Debug, Default)]
pub struct WebFiles {
    /// `Some(dir)`: read from disk on each request (development); `None`: the embedded copy.
    pub dir: Option<PathBuf>,
}

struct Embedded {
    bytes: &'static [u8],
    etag: String,
}

fn embedded() -> &'static HashMap<&'static str, Embedded> {
    static MAP: OnceLock<HashMap<&'static str, Embedded>> = OnceLock::new();
    MAP.get_or_init(|| EMBEDDED.iter().map(|(path, bytes)| (*path, Embedded { bytes, etag: etag_of(bytes) })).collect())
}

fn etag_of(bytes: &[u8]) -> String {
    let digest = domain::auth::sha256_hex(bytes);
    format!("\"{}\"", &digest[..32])
}

/// A relative path with only normal components (no `..`, no root, no drive).
fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    let ok = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| p.to_path_buf())
}

impl WebFiles {
    /// The file at `path` (relative to `web/`) and its ETag.
    async fn get(&self, path: &str) -> Option<(Cow<'static, [u8]>, String)> {
        let rel = safe_relative(path)?;
        match &self.dir {
            None => embedded().get(path).map(|e| (Cow::Borrowed(e.bytes), e.etag.clone())),
            Some(dir) => {
                let bytes = tokio::fs::read(dir.join(rel)).await.ok()?;
                let etag = etag_of(&bytes);
                Some((Cow::Owned(bytes), etag))
            }
        }
    }

    /// How many files are embedded (for the startup log).
    pub fn embedded_count() -> usize {
        EMBEDDED.len()
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .content_type("text/plain; charset=utf-8")
        .body("not found\n")
}

/// Answers with a file: 304 when the client's ETag matches, the policy headers on pages.
async fn respond(req: &HttpRequest, files: &WebFiles, path: &str, page: bool) -> HttpResponse {
    let Some((bytes, etag)) = files.get(path).await else { return not_found() };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    resp.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if page {
        resp.insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .insert_header((
                header::HeaderName::from_static("permissions-policy"),
                HeaderValue::from_static("camera=(self), microphone=(self), geolocation=()"),
            ));
    }
    if fresh {
        return resp.finish();
    }
    resp.content_type(content_type(path));
    match bytes {
        // The embedded copy is served from the binary as it is, without copying it per request.
        Cow::Borrowed(b) => resp.body(b),
        Cow::Owned(v) => resp.body(v),
    }
}

/// `GET /static/{path}`: an asset.
pub async fn asset(req: HttpRequest, files: web::Data<WebFiles>, path: web::Path<String>) -> HttpResponse {
    respond(&req, &files, &path, false).await
}

/// `GET /admin`, `/admin/…`: the console's page.
pub async fn console(req: HttpRequest, files: web::Data<WebFiles>) -> HttpResponse {
    respond(&req, &files, "admin/index.html", true).await
}

/// `GET /favicon.ico`: the app's icon (browsers ask for it whatever the page says).
pub async fn icon(req: HttpRequest, files: web::Data<WebFiles>) -> HttpResponse {
    respond(&req, &files, "shared/icon.svg", false).await
}

/// Whether a GET of `path` is a client route (the web client's page answers it).
pub fn is_client_route(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    !last.contains('.') && !OWNED_PREFIXES.iter().any(|p| path == p.trim_end_matches('/') || path.starts_with(p))
}

/// Every request no route matched: the web client's page for a client route, else 404.
pub async fn fallback(req: HttpRequest, files: Option<web::Data<WebFiles>>) -> HttpResponse {
    let method = req.method();
    match files {
        Some(files)
            if (method == actix_web::http::Method::GET || method == actix_web::http::Method::HEAD)
                && is_client_route(req.path()) =>
        {
            respond(&req, &files, "app/index.html", true).await
        }
        _ => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_routes_exclude_owned_paths_and_files() {
        for p in ["/", "/join", "/v/0190abcd", "/u/alice", "/create", "/cameos", "/verify-email"] {
            assert!(is_client_route(p), "{p}");
        }
        for p in [
            "/graphql",
            "/graphql/ws",
            "/media/x/y.mp4",
            "/static/app/app.js",
            "/admin",
            "/admin/queue",
            "/healthz",
            "/favicon.ico",
            "/robots.txt",
            "/metrics",
        ] {
            assert!(!is_client_route(p), "{p}");
        }
    }

    #[test]
    fn only_plain_relative_paths_are_read() {
        assert!(safe_relative("app/app.js").is_some());
        for p in ["", "../Cargo.toml", "/etc/passwd", "app/../../x", "./app.js"] {
            assert!(safe_relative(p).is_none(), "{p}");
        }
    }

    #[test]
    fn both_pages_are_embedded() {
        assert!(embedded().contains_key("app/index.html"));
        assert!(embedded().contains_key("admin/index.html"));
        assert!(embedded().contains_key("shared/api.js"));
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("app/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("shared/api.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
    }
}
