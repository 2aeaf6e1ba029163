//! Apple Push Notification service: `POST /3/device/<token>` over HTTP/2 with an ES256 provider
//! token (JWT `{"alg":"ES256","kid":<key id>}` / `{"iss":<team id>,"iat":<now>}`).
//!
//! Invariants: one provider token is reused for 50 minutes (Apple refuses tokens older than an
//! hour and answers `TooManyProviderTokenUpdates` to refreshing more than once per 20 minutes);
//! it is replaced early only when APNs answers `ExpiredProviderToken`, once per send. The JSON
//! payload never exceeds 4096 bytes (`Rejected` before sending). `http://` base URLs (loopback
//! test servers) are spoken as HTTP/2 with prior knowledge (h2c); `https://` negotiates h2 by ALPN.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{Message, Outcome, SettingsError, keys, retry};

/// APNs refuses a payload bigger than this.
const MAX_PAYLOAD: usize = 4096;
/// How long one provider token is used.
const TOKEN_LIFE: Duration = Duration::from_secs(50 * 60);
/// `apns-collapse-id` is at most this long.
const MAX_COLLAPSE_ID: usize = 64;

/// The APNs settings, all present.
pub(crate) struct Config<'a> {
    pub(crate) key_file: &'a Path,
    pub(crate) key_id: &'a str,
    pub(crate) team_id: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) url: &'a str,
}

/// The iOS channel.
pub(crate) struct Apns {
    client: reqwest::Client,
    base: String,
    key: jsonwebtoken::EncodingKey,
    key_id: String,
    team_id: String,
    topic: String,
    token: Mutex<Option<(String, Instant)>>,
}

/// Checks an APNs device token: 64 to 200 hexadecimal characters.
pub(crate) fn check_token(token: &str) -> Result<(), String> {
    if !(64..=200).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("an iPhone or iPad device token is 64 or more hexadecimal characters".to_owned());
    }
    Ok(())
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
}

#[derive(Serialize)]
struct Payload<'a> {
    aps: Aps<'a>,
    key: &'a str,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
}

#[derive(Serialize)]
struct Aps<'a> {
    alert: Alert<'a>,
    sound: &'static str,
    #[serde(rename = "thread-id")]
    thread_id: &'a str,
}

#[derive(Serialize)]
struct Alert<'a> {
    title: &'a str,
    body: &'a str,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    reason: String,
}

/// Whether `s` is a hyphenated UUID (`apns-id` must be one).
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

impl Apns {
    /// Reads the key and builds the HTTP/2 client.
    pub(crate) fn new(c: &Config<'_>, timeout: Duration) -> Result<Apns, SettingsError> {
        let pem = keys::read_file(c.key_file, "APP_APNS_KEY_FILE")?;
        let secret = keys::ec_secret_from_pem(&pem)
            .map_err(|m| SettingsError::new("APP_APNS_KEY_FILE", format!("{}: {m}", c.key_file.display())))?;
        let key = keys::es256_key(&secret).map_err(|m| SettingsError::new("APP_APNS_KEY_FILE", m))?;
        if c.key_id.trim().is_empty() {
            return Err(SettingsError::new("APP_APNS_KEY_ID", "the APNs key id is empty"));
        }
        if c.team_id.trim().is_empty() {
            return Err(SettingsError::new("APP_APNS_TEAM_ID", "the APNs team id is empty"));
        }
        if c.topic.trim().is_empty() {
            return Err(SettingsError::new("APP_APNS_TOPIC", "the APNs topic (the app's bundle id) is empty"));
        }
        let base = c.url.trim().trim_end_matches('/').to_owned();
        let builder = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout);
        let builder = if base.starts_with("http://") {
            builder.http2_prior_knowledge()
        } else if base.starts_with("https://") {
            builder
        } else {
            return Err(SettingsError::new("APP_APNS_URL", format!("{base:?} is not an http(s) URL")));
        };
        let client = builder.build().map_err(|e| SettingsError::new("APP_APNS_URL", e.to_string()))?;
        let apns = Apns {
            client,
            base,
            key,
            key_id: c.key_id.trim().to_owned(),
            team_id: c.team_id.trim().to_owned(),
            topic: c.topic.trim().to_owned(),
            token: Mutex::new(None),
        };
        // Sign once now: a key that cannot sign is a start-up error, not a failed push.
        apns.provider_token(None).map_err(|m| SettingsError::new("APP_APNS_KEY_FILE", m))?;
        Ok(apns)
    }

    /// The provider token: the cached one while it is young, a new one when it is old or when it
    /// is `stale` (the one APNs just called expired; a concurrent send may already have replaced
    /// it, then that replacement is used).
    fn provider_token(&self, stale: Option<&str>) -> Result<String, String> {
        let mut cached = self.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((jwt, minted)) = cached.as_ref()
            && minted.elapsed() < TOKEN_LIFE
            && stale != Some(jwt.as_str())
        {
            return Ok(jwt.clone());
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = None;
        header.kid = Some(self.key_id.clone());
        let jwt = keys::sign(&header, &Claims { iss: &self.team_id, iat: keys::unix_now() }, &self.key)?;
        *cached = Some((jwt.clone(), Instant::now()));
        Ok(jwt)
    }

    /// Sends one notification.
    pub(crate) async fn send(&self, token: &str, msg: &Message) -> Outcome {
        if let Err(why) = check_token(token) {
            return Outcome::Gone { reason: format!("APNs: the stored token is not valid: {why}") };
        }
        let payload = Payload {
            aps: Aps { alert: Alert { title: &msg.title, body: &msg.body }, sound: "default", thread_id: &msg.kind },
            key: &msg.key,
            kind: &msg.kind,
            path: msg.path.as_deref(),
        };
        let body = match serde_json::to_vec(&payload) {
            Ok(b) => b,
            Err(e) => return Outcome::Rejected { reason: format!("APNs: cannot encode the payload: {e}") },
        };
        if body.len() > MAX_PAYLOAD {
            return Outcome::Rejected {
                reason: format!("APNs: the payload is {} bytes, more than APNs takes ({MAX_PAYLOAD})", body.len()),
            };
        }
        let expiration = if msg.ttl.is_zero() { 0 } else { keys::unix_now().saturating_add(msg.ttl.as_secs()) };
        let url = format!("{}/3/device/{token}", self.base);
        let mut stale: Option<String> = None;
        loop {
            let jwt = match self.provider_token(stale.as_deref()) {
                Ok(j) => j,
                Err(m) => return Outcome::Rejected { reason: format!("APNs: {m}") },
            };
            let mut req = self
                .client
                .post(&url)
                .header("authorization", format!("bearer {jwt}"))
                .header("apns-topic", &self.topic)
                .header("apns-push-type", "alert")
                .header("apns-priority", "10")
                .header("apns-expiration", expiration.to_string())
                .header("content-type", "application/json")
                .body(body.clone());
            if is_uuid(&msg.key) {
                req = req.header("apns-id", &msg.key);
            }
            if !msg.key.is_empty() && msg.key.len() <= MAX_COLLAPSE_ID {
                req = req.header("apns-collapse-id", &msg.key);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => return Outcome::Retry { after: None, reason: format!("APNs: {e}") },
            };
            let status = resp.status().as_u16();
            let after = retry::from_headers(resp.headers());
            if status == 200 {
                return Outcome::Delivered;
            }
            let reason = match resp.bytes().await {
                Ok(b) => serde_json::from_slice::<ErrorBody>(&b).unwrap_or_default().reason,
                Err(_) => String::new(),
            };
            let words = format!("APNs {status} {reason}").trim_end().to_owned();
            match (status, reason.as_str()) {
                (403, "ExpiredProviderToken") if stale.is_none() => stale = Some(jwt),
                (403, "ExpiredProviderToken") => return Outcome::Retry { after, reason: words },
                (410, _) | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => {
                    return Outcome::Gone { reason: words };
                }
                (403, "InvalidProviderToken" | "MissingProviderToken") => {
                    tracing::error!(
                        status,
                        reason,
                        "APNs refused the provider token: check APP_APNS_KEY_FILE, APP_APNS_KEY_ID and APP_APNS_TEAM_ID"
                    );
                    return Outcome::Rejected { reason: words };
                }
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
        assert!(check_token(&"ab".repeat(32)).is_ok());
        assert!(check_token(&"AB".repeat(100)).is_ok());
        assert!(check_token(&"ab".repeat(31)).is_err());
        assert!(check_token(&"a".repeat(201)).is_err());
        assert!(check_token(&format!("{}zz", "ab".repeat(32))).is_err());
    }

    #[test]
    fn uuids() {
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
        assert!(!is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
    }
}
