//! Web Push (RFC 8030) to a browser's push service: the device token is the browser's
//! `PushSubscription` as JSON; the payload is encrypted for the browser (RFC 8291, `aes128gcm`
//! content coding of RFC 8188) and the request carries a VAPID token (RFC 8292).
//!
//! Invariants:
//! - Every message uses a fresh ephemeral P-256 key and a fresh random 16-byte salt, and is one
//!   record of at most 4096 bytes (so at most 3993 bytes of plaintext, RFC 8291 §4).
//! - Only `https://` endpoints on a host name are contacted, and the client's resolver drops
//!   every address that is not globally routable, redirects are not followed: a subscription
//!   cannot make the server call into its own network. `allow_loopback_http` (tests) adds
//!   `http://` and `https://` to `127.0.0.1`, `[::1]` and `localhost`, and loopback addresses.
//! - One VAPID JWT (valid 12 hours) is reused for an hour per push-service origin.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead as _, KeyInit as _};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Message, Outcome, SettingsError, keys, retry};

/// The record size every message is sent with (one record).
const RECORD_SIZE: u32 = 4096;
/// The most plaintext one 4096-byte record carries: 4096 − 86 (header) − 16 (tag) − 1 (padding
/// delimiter).
pub(crate) const MAX_PLAINTEXT: usize = 3993;
/// How long a VAPID JWT is valid (RFC 8292 allows up to 24 hours).
const VAPID_VALIDITY: u64 = 12 * 3600;
/// How long one VAPID JWT is reused.
const VAPID_REUSE: Duration = Duration::from_secs(3600);
/// The VAPID cache is cleared when it holds this many origins.
const VAPID_CACHE_MAX: usize = 1024;

/// A browser's push subscription, checked.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    /// The push service URL for this browser.
    pub(crate) endpoint: reqwest::Url,
    /// The browser's ECDH public key.
    pub(crate) p256dh: p256::PublicKey,
    /// The browser's authentication secret.
    pub(crate) auth: [u8; 16],
}

#[derive(Deserialize)]
struct SubscriptionJson {
    endpoint: Option<String>,
    keys: Option<KeysJson>,
}

#[derive(Deserialize)]
struct KeysJson {
    p256dh: Option<String>,
    auth: Option<String>,
}

/// Whether `ip` is globally routable (not private, loopback, link-local, shared, documentation,
/// multicast, broadcast or unspecified).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets().get(2) == Some(&0))
                || (a == 198 && (b == 18 || b == 19)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments().first().copied().unwrap_or(0);
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments().get(1) == Some(&0x0db8))
                || first == 0x0064)
        }
    }
}

/// Whether the endpoint may be contacted at `ip`.
fn allowed_address(ip: IpAddr, allow_loopback: bool) -> bool {
    (allow_loopback && ip.is_loopback()) || is_public(ip)
}

/// Whether `host` names this machine.
fn is_localhost(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

impl Subscription {
    /// Parses and checks a subscription (the JSON `PushSubscription.toJSON()` gives; other fields
    /// such as `expirationTime` are ignored).
    pub(crate) fn parse(token: &str, allow_loopback: bool) -> Result<Subscription, String> {
        let json: SubscriptionJson = serde_json::from_str(token)
            .map_err(|_| "a browser's push subscription is the JSON of its PushSubscription".to_owned())?;
        let endpoint = json.endpoint.ok_or("the Web Push subscription has no endpoint")?;
        let keys = json.keys.ok_or("the Web Push subscription's keys are missing")?;
        let (Some(p256dh), Some(auth)) = (keys.p256dh, keys.auth) else {
            return Err("the Web Push subscription's keys are missing (it needs p256dh and auth)".to_owned());
        };
        let p256dh = keys::b64url_decode(&p256dh)
            .filter(|b| b.len() == 65 && b.first() == Some(&4))
            .and_then(|b| p256::PublicKey::from_sec1_bytes(&b).ok())
            .ok_or("the Web Push subscription's p256dh key is not a P-256 public key")?;
        let auth: [u8; 16] = keys::b64url_decode(&auth)
            .and_then(|b| b.try_into().ok())
            .ok_or("the Web Push subscription's auth secret is not 16 bytes")?;
        let endpoint = check_endpoint(&endpoint, allow_loopback)?;
        Ok(Subscription { endpoint, p256dh, auth })
    }
}

/// Checks the endpoint URL against the rules in the module documentation.
fn check_endpoint(endpoint: &str, allow_loopback: bool) -> Result<reqwest::Url, String> {
    if endpoint.len() > 2048 {
        return Err("the Web Push subscription's endpoint is too long".to_owned());
    }
    let url =
        reqwest::Url::parse(endpoint).map_err(|_| "the Web Push subscription's endpoint is not a URL".to_owned())?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the Web Push subscription's endpoint must not carry a user name or password".to_owned());
    }
    let host = url.host_str().unwrap_or_default();
    let literal = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    let loopback = is_localhost(host) || literal.is_some_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" | "http" if allow_loopback && loopback => Ok(url),
        "https" if host.is_empty() => Err("the Web Push subscription's endpoint has no host".to_owned()),
        "https" if literal.is_some() || loopback => {
            Err("the Web Push subscription's endpoint must name a push service, not an address".to_owned())
        }
        "https" => Ok(url),
        _ => Err("the Web Push subscription's endpoint must be an https:// URL".to_owned()),
    }
}

/// A resolver that keeps only the addresses an endpoint may be reached at.
struct PublicOnly {
    allow_loopback: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed_address(a.ip(), allow_loopback))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// HKDF-SHA-256 of `len` ≤ 32 bytes.
fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Result<[u8; N], String> {
    let mut okm = [0u8; N];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand_multi_info(info, &mut okm)
        .map_err(|_| "HKDF output length".to_owned())?;
    Ok(okm)
}

/// Encrypts `plaintext` for the browser holding `ua_public` and `auth` (RFC 8291 §3–4), with the
/// application server's ephemeral key `as_secret` and `salt`: the `aes128gcm` body, header
/// (`salt || rs || idlen || as_public`) and one record (`plaintext || 0x02`, sealed).
pub(crate) fn encrypt(
    plaintext: &[u8],
    ua_public: &p256::PublicKey,
    auth: &[u8; 16],
    as_secret: &p256::SecretKey,
    salt: &[u8; 16],
) -> Result<Vec<u8>, String> {
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(format!(
            "the payload is {} bytes, more than one record carries ({MAX_PLAINTEXT})",
            plaintext.len()
        ));
    }
    let ua = keys::uncompressed(ua_public);
    let as_public = keys::uncompressed(&as_secret.public_key());
    let shared = p256::ecdh::diffie_hellman(as_secret.to_nonzero_scalar(), ua_public.as_affine());
    let ikm: [u8; 32] = hkdf(auth, shared.raw_secret_bytes(), &[b"WebPush: info\0", &ua, &as_public])?;
    let cek: [u8; 16] = hkdf(salt, &ikm, &[b"Content-Encoding: aes128gcm\0"])?;
    let nonce: [u8; 12] = hkdf(salt, &ikm, &[b"Content-Encoding: nonce\0"])?;
    let mut record = Vec::with_capacity(plaintext.len() + 1);
    record.extend_from_slice(plaintext);
    record.push(2);
    let cipher = Aes128Gcm::new_from_slice(&cek).map_err(|_| "AES key length".to_owned())?;
    let sealed = cipher.encrypt(&nonce.into(), record.as_slice()).map_err(|_| "AES-GCM failed".to_owned())?;
    let idlen = u8::try_from(as_public.len()).map_err(|_| "key id length".to_owned())?;
    let mut body = Vec::with_capacity(16 + 4 + 1 + as_public.len() + sealed.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(idlen);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&sealed);
    Ok(body)
}

/// A random valid P-256 private key.
fn ephemeral_key() -> Result<p256::SecretKey, String> {
    // A random 32-byte string is a valid scalar except with probability ~2^-32.
    for _ in 0..8 {
        if let Ok(k) = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
            return Ok(k);
        }
    }
    Err("cannot make an ephemeral key".to_owned())
}

#[derive(Serialize)]
struct Payload<'a> {
    key: &'a str,
    kind: &'a str,
    title: &'a str,
    body: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
}

#[derive(Serialize)]
struct VapidClaims<'a> {
    aud: &'a str,
    exp: u64,
    sub: &'a str,
}

/// The browser channel.
pub(crate) struct WebPush {
    client: reqwest::Client,
    key: jsonwebtoken::EncodingKey,
    public: String,
    subject: String,
    allow_loopback: bool,
    jwts: Mutex<HashMap<String, (String, Instant)>>,
}

impl WebPush {
    /// Reads the VAPID key and builds the client.
    pub(crate) fn new(
        file: &Path,
        subject: &str,
        allow_loopback: bool,
        timeout: Duration,
    ) -> Result<WebPush, SettingsError> {
        const SETTING: &str = "APP_VAPID_PRIVATE_KEY_FILE";
        let pem = keys::read_file(file, SETTING)?;
        let secret = keys::ec_secret_from_pem(&pem)
            .map_err(|m| SettingsError::new(SETTING, format!("{}: {m}", file.display())))?;
        let key = keys::es256_key(&secret).map_err(|m| SettingsError::new(SETTING, m))?;
        let subject = subject.trim();
        if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
            return Err(SettingsError::new(
                "APP_VAPID_SUBJECT",
                format!("{subject:?} is not a mailto: or https: contact"),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(PublicOnly { allow_loopback })
            .build()
            .map_err(|e| SettingsError::new(SETTING, format!("cannot build the HTTP client: {e}")))?;
        let web = WebPush {
            client,
            key,
            public: keys::b64url(&keys::uncompressed(&secret.public_key())),
            subject: subject.to_owned(),
            allow_loopback,
            jwts: Mutex::new(HashMap::new()),
        };
        web.vapid_jwt("https://push.example").map_err(|m| SettingsError::new(SETTING, m))?;
        Ok(web)
    }

    /// The VAPID public key, base64url.
    pub(crate) fn public_key(&self) -> &str {
        &self.public
    }

    /// The VAPID JWT for a push service at `origin`.
    fn vapid_jwt(&self, origin: &str) -> Result<String, String> {
        let mut jwts = self.jwts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((jwt, minted)) = jwts.get(origin)
            && minted.elapsed() < VAPID_REUSE
        {
            return Ok(jwt.clone());
        }
        let claims = VapidClaims { aud: origin, exp: keys::unix_now() + VAPID_VALIDITY, sub: &self.subject };
        let jwt = keys::sign(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256), &claims, &self.key)?;
        if jwts.len() >= VAPID_CACHE_MAX {
            jwts.clear();
        }
        jwts.insert(origin.to_owned(), (jwt.clone(), Instant::now()));
        Ok(jwt)
    }

    /// Sends one notification.
    pub(crate) async fn send(&self, token: &str, msg: &Message) -> Outcome {
        let sub = match Subscription::parse(token, self.allow_loopback) {
            Ok(s) => s,
            Err(why) => {
                return Outcome::Gone { reason: format!("Web Push: the stored subscription is not valid: {why}") };
            }
        };
        let payload =
            Payload { key: &msg.key, kind: &msg.kind, title: &msg.title, body: &msg.body, path: msg.path.as_deref() };
        let plaintext = match serde_json::to_vec(&payload) {
            Ok(p) => p,
            Err(e) => return Outcome::Rejected { reason: format!("Web Push: cannot encode the payload: {e}") },
        };
        let sealed = ephemeral_key().and_then(|k| encrypt(&plaintext, &sub.p256dh, &sub.auth, &k, &rand::random()));
        let body = match sealed {
            Ok(b) => b,
            Err(why) => return Outcome::Rejected { reason: format!("Web Push: {why}") },
        };
        let origin = sub.endpoint.origin().ascii_serialization();
        let jwt = match self.vapid_jwt(&origin) {
            Ok(j) => j,
            Err(why) => return Outcome::Rejected { reason: format!("Web Push: {why}") },
        };
        let topic: String = msg.key.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(32).collect();
        let mut req = self
            .client
            .post(sub.endpoint.clone())
            .header("authorization", format!("vapid t={jwt}, k={}", self.public))
            .header("content-encoding", "aes128gcm")
            .header("content-type", "application/octet-stream")
            .header("ttl", msg.ttl.as_secs().to_string())
            .header("urgency", "normal")
            .body(body);
        if !topic.is_empty() {
            req = req.header("topic", topic);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Outcome::Retry { after: None, reason: format!("Web Push: {e}") },
        };
        let status = resp.status().as_u16();
        let after = retry::from_headers(resp.headers());
        let text = resp.text().await.unwrap_or_default();
        let words =
            format!("Web Push {status} {}", text.chars().take(200).collect::<String>().trim()).trim_end().to_owned();
        match status {
            200..=202 => Outcome::Delivered,
            404 | 410 => Outcome::Gone { reason: words },
            401 | 403 => {
                tracing::error!(
                    status,
                    origin,
                    "a push service refused the VAPID token: check APP_VAPID_PRIVATE_KEY_FILE and APP_VAPID_SUBJECT"
                );
                Outcome::Rejected { reason: words }
            }
            429 | 500..=599 => Outcome::Retry { after, reason: words },
            _ => Outcome::Rejected { reason: words },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        keys::b64url_decode(s).unwrap()
    }

    /// RFC 8291 §5 / Appendix A: the same keys and salt give the published message.
    #[test]
    fn rfc8291_example() {
        let plaintext = b"When I grow up, I want to be a watermelon";
        let as_secret = p256::SecretKey::from_slice(&b("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw")).unwrap();
        assert_eq!(
            keys::b64url(&keys::uncompressed(&as_secret.public_key())),
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"
        );
        let ua_public = p256::PublicKey::from_sec1_bytes(&b(
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
        ))
        .unwrap();
        let auth: [u8; 16] = b("BTBZMqHH6r4Tts7J_aSIgg").try_into().unwrap();
        let salt: [u8; 16] = b("DGv6ra1nlYgDCS1FRnbzlw").try_into().unwrap();
        let body = encrypt(plaintext, &ua_public, &auth, &as_secret, &salt).unwrap();
        assert_eq!(
            keys::b64url(&body),
            concat!(
                "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
                "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
                "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
            )
        );
        assert!(encrypt(&[0; MAX_PLAINTEXT + 1], &ua_public, &auth, &as_secret, &salt).is_err());
        assert_eq!(encrypt(&[0; MAX_PLAINTEXT], &ua_public, &auth, &as_secret, &salt).unwrap().len(), 4096);
    }

    fn subscription(endpoint: &str) -> String {
        let ua = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        format!(
            r#"{{"endpoint":"{endpoint}","expirationTime":null,"keys":{{"p256dh":"{ua}","auth":"BTBZMqHH6r4Tts7J_aSIgg"}}}}"#
        )
    }

    #[test]
    fn subscriptions() {
        let ok = |e: &str, loopback: bool| Subscription::parse(&subscription(e), loopback).is_ok();
        assert!(ok("https://fcm.googleapis.com/fcm/send/abc", false));
        assert!(ok("https://updates.push.services.mozilla.com/wpush/v2/x", false));
        assert!(!ok("http://updates.push.services.mozilla.com/wpush/v2/x", false));
        assert!(!ok("https://10.0.0.1/x", false));
        assert!(!ok("https://127.0.0.1/x", false));
        assert!(!ok("https://[::1]/x", false));
        assert!(!ok("https://localhost/x", false));
        assert!(!ok("http://127.0.0.1:8080/wp/a", false));
        assert!(ok("http://127.0.0.1:8080/wp/a", true));
        assert!(ok("http://localhost:8080/wp/a", true));
        assert!(!ok("http://10.0.0.1:8080/wp/a", true));
        assert!(!ok("https://user:pw@push.example/x", false));
        assert!(!ok("ftp://push.example/x", false));
        let missing = Subscription::parse(r#"{"endpoint":"https://push.example/x"}"#, false).unwrap_err();
        assert_eq!(missing, "the Web Push subscription's keys are missing");
        let short_auth = subscription("https://push.example/x").replace("BTBZMqHH6r4Tts7J_aSIgg", "BTBZ");
        assert!(Subscription::parse(&short_auth, false).unwrap_err().contains("auth"));
        let bad_key = subscription("https://push.example/x").replace("BCVxsr7N", "BCVxsr7M");
        assert!(Subscription::parse(&bad_key, false).unwrap_err().contains("p256dh"));
        assert!(Subscription::parse("not json", false).is_err());
    }

    #[test]
    fn addresses() {
        let public = |s: &str| is_public(s.parse().unwrap());
        assert!(public("8.8.8.8"));
        assert!(public("2001:4860:4860::8888"));
        for private in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!public(private), "{private}");
        }
        assert!(allowed_address("127.0.0.1".parse().unwrap(), true));
        assert!(!allowed_address("10.0.0.1".parse().unwrap(), true));
    }
}
