//! The weekly digest's unsubscribe link, which works without signing in.
//!
//! `GET /unsubscribe?token=…` shows a page with one button (a GET changes nothing: mail scanners
//! open links); the button, or a one-click `POST` from the mail client (RFC 8058), turns the
//! digest off (`domain::push::PushService::unsubscribe`). The token is signed and names the
//! member; a bad or expired one gets a page that says so.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::AppState;

/// The link's query.
#[derive(Deserialize)]
pub struct Link {
    token: Option<String>,
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn page(status: actix_web::http::StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/html; charset=utf-8").insert_header(("Cache-Control", "no-store")).body(
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}button{{font-size:1rem;padding:.5rem 1rem}}</style></head><body><h1>{title}</h1>{body}</body></html>"
        ),
    )
}

/// `GET /unsubscribe`: the confirmation page.
pub async fn show(q: web::Query<Link>) -> HttpResponse {
    let Some(token) = q.token.as_deref().filter(|t| !t.trim().is_empty()) else {
        return page(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Link incomplete",
            "<p>This unsubscribe link is missing its code. Open the link from the email again, or turn the weekly email off in Settings.</p>",
        );
    };
    page(
        actix_web::http::StatusCode::OK,
        "Stop the weekly email?",
        &format!(
            "<p>You get a weekly summary by email because no phone or browser receives your notifications.</p><form method=\"post\" action=\"/unsubscribe?token={}\"><button type=\"submit\">Stop the weekly email</button></form>",
            escape(token)
        ),
    )
}

/// `POST /unsubscribe`: turns the digest off.
pub async fn confirm(state: web::Data<AppState>, q: web::Query<Link>) -> HttpResponse {
    let token = q.token.as_deref().unwrap_or("");
    match state.services.push.unsubscribe(token).await {
        Ok(username) => page(
            actix_web::http::StatusCode::OK,
            "Unsubscribed",
            &format!(
                "<p>@{} will not get the weekly email any more. You can turn it back on in Settings → Notifications.</p>",
                escape(&username)
            ),
        ),
        Err(app_core::error::AppError::BadUserInput { .. }) => page(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Link not valid",
            "<p>This unsubscribe link is invalid or has expired. Turn the weekly email off in Settings → Notifications instead.</p>",
        ),
        Err(e) => {
            tracing::warn!(error = %e, "unsubscribe failed");
            page(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "<p>We could not save that just now. Open the link again in a minute.</p>",
            )
        }
    }
}
