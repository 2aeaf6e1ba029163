//! `/media/{key}`: stored videos, thumbnails and captions behind short-lived signed links
//! (`api::links::MediaLinks`), with HTTP range requests (players seek and stream).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use api::links::MediaLinks;
use media::MediaError;

/// Query of a signed link.
#[derive(serde::Deserialize)]
pub struct Signed {
    exp: i64,
    sig: String,
}

fn content_type(key: &str) -> &'static str {
    if key.ends_with(".mp4") {
        "video/mp4"
    } else if key.ends_with(".jpg") {
        "image/jpeg"
    } else if key.ends_with(".vtt") {
        // A <track> element reads captions only when served as WebVTT.
        "text/vtt; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range against `size`.
fn parse_range(h: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = h.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (a, "") => (a.parse().ok()?, size),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.saturating_add(1).min(size)),
    };
    (start < end && start < size).then_some(start..end)
}

/// Serves a stored object for a valid signed link, honouring `Range`.
pub async fn serve(
    links: web::Data<MediaLinks>,
    req: HttpRequest,
    path: web::Path<String>,
    q: Option<web::Query<Signed>>,
) -> HttpResponse {
    let key = path.into_inner();
    let Some(q) = q else { return HttpResponse::Forbidden().body("a signed link is required") };
    if !links.verify(&key, q.exp, &q.sig) {
        return HttpResponse::Forbidden().body("this link is invalid or has expired");
    }
    let size = match links.store().size(&key).await {
        Ok(s) => s,
        Err(MediaError::NotFound { .. }) => return HttpResponse::NotFound().finish(),
        Err(MediaError::BadKey { .. }) => return HttpResponse::NotFound().finish(),
        Err(e) => {
            tracing::warn!(error = %e, key, "media size: the store did not answer");
            return unavailable();
        }
    };
    let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(|h| parse_range(h, size));
    let (status, range) = match range {
        None => (actix_web::http::StatusCode::OK, 0..size),
        Some(Some(r)) => (actix_web::http::StatusCode::PARTIAL_CONTENT, r),
        Some(None) => {
            return HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish();
        }
    };
    let body = if range.start == 0 && range.end == size {
        links.store().get(&key).await
    } else {
        links.store().get_range(&key, range.clone()).await
    };
    match body {
        Ok(bytes) => {
            let mut resp = HttpResponse::build(status);
            resp.insert_header((header::CONTENT_TYPE, content_type(&key)))
                .insert_header((header::ACCEPT_RANGES, "bytes"))
                .insert_header((header::CACHE_CONTROL, "private, max-age=3600"));
            if status == actix_web::http::StatusCode::PARTIAL_CONTENT {
                resp.insert_header((
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{size}", range.start, range.end.saturating_sub(1)),
                ));
            }
            resp.body(bytes)
        }
        Err(e) => {
            tracing::warn!(error = %e, key, "media read: the store did not answer");
            unavailable()
        }
    }
}

/// The media store did not answer (a disk or network fault, not a missing file): 503 with
/// `Retry-After`, so players and caches try again rather than treat the file as broken.
fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "5"))
        .body("the media store is unavailable for a moment; try again in 5 s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_by_key() {
        assert_eq!(content_type("videos/a.mp4"), "video/mp4");
        assert_eq!(content_type("thumbs/a.jpg"), "image/jpeg");
        assert_eq!(content_type("captions/a.vtt"), "text/vtt; charset=utf-8");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some(0..100));
        assert_eq!(parse_range("bytes=900-", 1000), Some(900..1000));
        assert_eq!(parse_range("bytes=-100", 1000), Some(900..1000));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some(990..1000));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=5-1", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }
}
