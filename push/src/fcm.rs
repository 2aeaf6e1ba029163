//! Firebase Cloud Messaging, HTTP v1: `POST /v1/projects/<project>/messages:send` with an OAuth
//! 2.0 access token that the service account's key buys at its `token_uri` (JWT bearer grant,
//! RFC 7523: an RS256 assertion for the `firebase.messaging` scope).
//!
//! Invariants: one access token is fetched at a time (the cache sits behind an async mutex) and
//! reused until 5 minutes before it expires; a 401 from the send endpoint refreshes it once and
//! retries once. A token endpoint that refuses the assertion (400/401) is a configuration
//! problem: logged as an error and `Rejected`; one that is busy or unreachable is `Retry`.

use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Message, Outcome, SettingsError, keys, retry};

/// The OAuth scope FCM sends need.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// An access token is replaced this long before it expires.
const EARLY: Duration = Duration::from_secs(5 * 60);
/// The grant type of RFC 7523, form-encoded.
const GRANT: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

/// The Android channel.
pub(crate) struct Fcm {
    client: reqwest::Client,
    send_url: String,
    project_id: String,
    client_email: String,
    token_uri: String,
    key: jsonwebtoken::EncodingKey,
    access: tokio::sync::Mutex<Option<(String, Instant)>>,
}

/// Checks an FCM registration token: 20 to 4096 characters of `[A-Za-z0-9_:-]`.
pub(crate) fn check_token(token: &str) -> Result<(), String> {
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-');
    if !(20..=4096).contains(&token.len()) || !token.bytes().all(ok) {
        return Err("an Android registration token is 20 or more letters, digits, '_', ':' or '-'".to_owned());
    }
    Ok(())
}

#[derive(Deserialize)]
struct ServiceAccount {
    project_id: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    token_uri: Option<String>,
}

#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Serialize)]
struct Send<'a> {
    message: Msg<'a>,
}

#[derive(Serialize)]
struct Msg<'a> {
    token: &'a str,
    notification: Notification<'a>,
    data: Data<'a>,
    android: Android<'a>,
    apns: ApnsOverride<'a>,
}

#[derive(Serialize)]
struct Notification<'a> {
    title: &'a str,
    body: &'a str,
}

/// FCM `data` values must all be strings.
#[derive(Serialize)]
struct Data<'a> {
    key: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
}

#[derive(Serialize)]
struct Android<'a> {
    collapse_key: &'a str,
    ttl: String,
    priority: &'static str,
}

#[derive(Serialize)]
struct ApnsOverride<'a> {
    headers: ApnsHeaders<'a>,
}

#[derive(Serialize)]
struct ApnsHeaders<'a> {
    #[serde(rename = "apns-collapse-id")]
    collapse_id: &'a str,
}

/// Google's error body: `{"error":{"code","message","status","details":[…]}}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorInner,
}

#[derive(Deserialize, Default)]
struct ErrorInner {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Deserialize, Default)]
struct Detail {
    #[serde(default, rename = "errorCode")]
    error_code: Option<String>,
    #[serde(default, rename = "fieldViolations")]
    field_violations: Vec<FieldViolation>,
}

#[derive(Deserialize, Default)]
struct FieldViolation {
    #[serde(default)]
    field: String,
}

impl ErrorInner {
    fn error_code(&self) -> Option<&str> {
        self.details.iter().find_map(|d| d.error_code.as_deref())
    }

    /// Whether an `INVALID_ARGUMENT` is about the registration token (rather than the message).
    fn token_at_fault(&self) -> bool {
        self.details.iter().flat_map(|d| d.field_violations.iter()).any(|v| v.field == "message.token")
            || self.message.to_ascii_lowercase().contains("registration token")
    }
}

impl Fcm {
    /// Reads the service account and builds the client.
    pub(crate) fn new(file: &Path, base_url: &str, timeout: Duration) -> Result<Fcm, SettingsError> {
        const SETTING: &str = "APP_FCM_SERVICE_ACCOUNT_FILE";
        let bad = |m: String| SettingsError::new(SETTING, format!("{}: {m}", file.display()));
        let text = keys::read_file(file, SETTING)?;
        let account: ServiceAccount =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a service-account JSON file: {e}")))?;
        let field = |v: Option<String>, name: &str| {
            v.filter(|s| !s.trim().is_empty()).ok_or_else(|| bad(format!("the service account has no {name}")))
        };
        let project_id = field(account.project_id, "project_id")?;
        let client_email = field(account.client_email, "client_email")?;
        let private_key = field(account.private_key, "private_key")?;
        let token_uri = field(account.token_uri, "token_uri")?;
        if !(token_uri.starts_with("https://") || token_uri.starts_with("http://")) {
            return Err(bad(format!("its token_uri {token_uri:?} is not an http(s) URL")));
        }
        if !project_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) {
            return Err(bad(format!("its project_id {project_id:?} is not a project id")));
        }
        let key = keys::rs256_key_from_pem(&private_key).map_err(bad)?;
        let base = base_url.trim().trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(SettingsError::new("APP_FCM_URL", format!("{base:?} is not an http(s) URL")));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| SettingsError::new("APP_FCM_URL", e.to_string()))?;
        Ok(Fcm {
            client,
            send_url: format!("{base}/v1/projects/{project_id}/messages:send"),
            project_id,
            client_email,
            token_uri,
            key,
            access: tokio::sync::Mutex::new(None),
        })
    }

    /// The access token: the cached one while it is valid and not `stale` (the one the send
    /// endpoint just refused), otherwise a new one from the token endpoint.
    async fn access_token(&self, stale: Option<&str>) -> Result<String, Outcome> {
        let mut cached = self.access.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
            && stale != Some(token.as_str())
        {
            return Ok(token.clone());
        }
        let iat = keys::unix_now();
        let claims = Assertion { iss: &self.client_email, scope: SCOPE, aud: &self.token_uri, iat, exp: iat + 3600 };
        let jwt = keys::sign(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &self.key)
            .map_err(|m| Outcome::Rejected { reason: format!("FCM: {m}") })?;
        let resp = self
            .client
            .post(&self.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("grant_type={GRANT}&assertion={jwt}"))
            .send()
            .await
            .map_err(|e| Outcome::Retry { after: None, reason: format!("FCM token endpoint: {e}") })?;
        let status = resp.status().as_u16();
        let after = retry::from_headers(resp.headers());
        let body = resp.bytes().await.unwrap_or_default();
        if status != 200 {
            let words = format!("FCM token endpoint {status} {}", String::from_utf8_lossy(&body).trim());
            if status == 429 || status >= 500 {
                return Err(Outcome::Retry { after, reason: words });
            }
            tracing::error!(
                status,
                project = %self.project_id,
                "the OAuth token endpoint refused the service account: check APP_FCM_SERVICE_ACCOUNT_FILE"
            );
            return Err(Outcome::Rejected { reason: words });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| Outcome::Retry {
            after: None,
            reason: format!("FCM token endpoint: unreadable answer: {e}"),
        })?;
        let life = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let until = Instant::now() + life.checked_sub(EARLY).unwrap_or(life / 2);
        *cached = Some((answer.access_token.clone(), until));
        Ok(answer.access_token)
    }

    /// Sends one notification.
    pub(crate) async fn send(&self, token: &str, msg: &Message) -> Outcome {
        if let Err(why) = check_token(token) {
            return Outcome::Gone { reason: format!("FCM: the stored token is not valid: {why}") };
        }
        let body = Send {
            message: Msg {
                token,
                notification: Notification { title: &msg.title, body: &msg.body },
                data: Data { key: &msg.key, kind: &msg.kind, path: msg.path.as_deref() },
                android: Android { collapse_key: &msg.key, ttl: format!("{}s", msg.ttl.as_secs()), priority: "high" },
                apns: ApnsOverride { headers: ApnsHeaders { collapse_id: &msg.key } },
            },
        };
        let body = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => return Outcome::Rejected { reason: format!("FCM: cannot encode the message: {e}") },
        };
        let mut stale: Option<String> = None;
        loop {
            let access = match self.access_token(stale.as_deref()).await {
                Ok(a) => a,
                Err(outcome) => return outcome,
            };
            let resp = match self
                .client
                .post(&self.send_url)
                .bearer_auth(&access)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => return Outcome::Retry { after: None, reason: format!("FCM: {e}") },
            };
            let status = resp.status().as_u16();
            let after = retry::from_headers(resp.headers());
            if status == 200 {
                return Outcome::Delivered;
            }
            let error = match resp.bytes().await {
                Ok(b) => serde_json::from_slice::<ErrorBody>(&b).unwrap_or_default().error,
                Err(_) => ErrorInner::default(),
            };
            let code = error.error_code().unwrap_or(error.status.as_str()).to_owned();
            let words = format!("FCM {status} {code} {}", error.message).trim_end().to_owned();
            match (status, code.as_str()) {
                (401, "THIRD_PARTY_AUTH_ERROR") => return Outcome::Rejected { reason: words },
                (401, _) if stale.is_none() => stale = Some(access),
                (401, _) => return Outcome::Retry { after, reason: words },
                (404, _) | (_, "UNREGISTERED") => return Outcome::Gone { reason: words },
                // The token belongs to another Firebase project: it will never work with ours.
                (403, "SENDER_ID_MISMATCH") => return Outcome::Gone { reason: words },
                (400, "INVALID_ARGUMENT") if error.token_at_fault() => return Outcome::Gone { reason: words },
                (429 | 500..=599, _) => return Outcome::Retry { after, reason: words },
                _ => return Outcome::Rejected { reason: words },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(check_token("dQw4w9WgXcQ:APA91bH-some_token_value").is_ok());
        assert!(check_token("short").is_err());
        assert!(check_token("dQw4w9WgXcQ:APA91bH some token").is_err());
        assert!(check_token(&"a".repeat(4097)).is_err());
    }

    #[test]
    fn an_invalid_token_is_told_apart_from_an_invalid_message() {
        let token = r#"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}"#;
        let e = serde_json::from_str::<ErrorBody>(token).unwrap().error;
        assert_eq!(e.error_code(), Some("INVALID_ARGUMENT"));
        assert!(e.token_at_fault());
        let message = r#"{"error":{"code":400,"message":"Invalid value at 'message.android.ttl'","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.android.ttl","description":"Invalid value"}]}]}}"#;
        let e = serde_json::from_str::<ErrorBody>(message).unwrap().error;
        assert!(!e.token_at_fault());
    }
}
