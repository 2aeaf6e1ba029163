//! Loopback stand-ins for the three push services, speaking their real protocols over HTTP/2
//! cleartext (prior knowledge) on `127.0.0.1:0`, and validating requests the way the real ones do:
//!
//! - **APNs** (HTTP/2 only, like Apple's): `POST /3/device/<hex token>`; the `authorization:
//!   bearer` provider token must be an ES256 JWT signed by the key the lab generated, with its
//!   `kid` and `iss` = the team id, issued within the hour; `apns-topic` must be the lab's topic,
//!   `apns-push-type` present, `apns-id` a UUID, `apns-collapse-id` ≤ 64 bytes, the payload ≤ 4096
//!   bytes of JSON with `aps`. Errors are Apple's: `403 {"reason":"InvalidProviderToken"}`,
//!   `400 {"reason":"BadDeviceToken"}`, `400 {"reason":"MissingTopic"}`, `410
//!   {"reason":"Unregistered","timestamp":…}`, …; success is 200 with an `apns-id` header.
//! - **FCM HTTP v1** (HTTP/1.1 or h2c): `POST /token` is the OAuth token endpoint of the service
//!   account (JWT bearer grant; the RS256 assertion is verified: `iss`, `aud`, `scope`, lifetime)
//!   and issues access tokens (`expires_in` 3600); `POST /v1/projects/<p>/messages:send` checks
//!   the bearer token, the project and the message's shape, and answers Google's JSON
//!   (`{"name":"projects/<p>/messages/<n>"}`, or `{"error":{…,"details":[{"errorCode":…}]}}`).
//! - **Web Push** (HTTP/1.1 or h2c): `POST /wp/<name>`; the VAPID `Authorization: vapid t=…, k=…`
//!   is verified (ES256 with the `k` key, `aud` = this origin, `exp` within 24 hours) and `k` must
//!   be the key the subscription was made with (as browsers bind a subscription to its
//!   `applicationServerKey`; another key gets 403); `Content-Encoding: aes128gcm` and `TTL` are
//!   required; the body is decrypted with the subscription's private key (RFC 8291; 400 when it
//!   cannot be); success is `201 Created` with a `Location`.
//!
//! Every request for a token is counted (`attempts`); accepted ones are recorded (`received`) the
//! way the device would show them: a notification with the same collapse id (APNs
//! `apns-collapse-id`, FCM `android.collapse_key`, Web Push `Topic`) replaces the earlier one
//! instead of adding a second. `kill` makes a token dead from then on (APNs 410 Unregistered, FCM
//! 404 UNREGISTERED, Web Push 410 Gone) and `fail_next` queues one failure with the provider's
//! real error body and an optional `Retry-After`.
//!
//! The FCM service account's RSA key is the committed test-only key in
//! `tests/fixtures/push/` (generating RSA in a debug build is slow); the P-256 keys are made at
//! start.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use app_core::model::PushPlatform;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The committed test-only RSA key of the fake service account.
const FCM_KEY_PEM: &str = include_str!("../fixtures/push/fcm-service-account-key.pem");
const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// One notification as the device shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The delivery's key (`key` in the payload / data).
    pub key: String,
    /// The notification's kind.
    pub kind: String,
    /// Title line.
    pub title: String,
    /// Body text.
    pub body: String,
    /// The web path it opens.
    pub path: Option<String>,
    /// `apns-collapse-id` / `android.collapse_key` / `Topic`.
    pub collapse: Option<String>,
}

/// What the lab knows about one token (or one Web Push subscription).
#[derive(Default)]
struct Device {
    received: Vec<Received>,
    attempts: usize,
    dead: bool,
    failures: VecDeque<(u16, Option<u64>)>,
}

/// A Web Push subscription the lab handed out: the browser's private half.
struct WebSub {
    secret: p256::SecretKey,
    auth: [u8; 16],
    /// The `applicationServerKey` it was made with (base64url).
    server_key: String,
}

/// State shared by the three servers and the test.
struct Lab {
    apns_verify: DecodingKey,
    apns_key_id: String,
    apns_team_id: String,
    apns_topic: String,
    apns_provider_tokens: Mutex<HashSet<String>>,
    fcm_verify: DecodingKey,
    fcm_project: String,
    fcm_email: String,
    fcm_token_uri: String,
    fcm_access: Mutex<HashSet<String>>,
    fcm_token_requests: AtomicU64,
    web_origin: String,
    vapid_public: String,
    subs: Mutex<HashMap<String, WebSub>>,
    devices: Mutex<HashMap<(PushPlatform, String), Device>>,
    counter: AtomicU64,
    /// Per platform: the next push is recorded at once but answered only after this long (a
    /// provider that accepted a push whose sender dies before reading the answer).
    holds: Mutex<HashMap<PushPlatform, std::time::Duration>>,
}

/// The three loopback push services and their key material.
pub struct PushLab {
    lab: Arc<Lab>,
    apns: SocketAddr,
    fcm: SocketAddr,
    apns_key_file: PathBuf,
    fcm_file: PathBuf,
    vapid_file: PathBuf,
    vapid_subject: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for PushLab {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Clone, Copy)]
enum Service {
    Apns,
    Fcm,
    Web,
}

fn random_secret() -> p256::SecretKey {
    loop {
        if let Ok(k) = p256::SecretKey::from_slice(&rand::random::<[u8; 32]>()) {
            return k;
        }
    }
}

fn point(public: &p256::PublicKey) -> Vec<u8> {
    public.to_encoded_point(false).as_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl PushLab {
    /// Starts the three servers and writes the key files (APNs `.p8`, the FCM service account,
    /// the VAPID key) into `dir`.
    pub async fn start(dir: &Path) -> PushLab {
        std::fs::create_dir_all(dir).unwrap();
        let bind = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
        let (apns_l, fcm_l, web_l) = (bind().await, bind().await, bind().await);
        let (apns, fcm, web) = (apns_l.local_addr().unwrap(), fcm_l.local_addr().unwrap(), web_l.local_addr().unwrap());

        // APNs: a PKCS#8 `.p8` like Apple's.
        let apns_secret = random_secret();
        let apns_key_id = "LAB4KEY7ID".to_owned();
        let apns_key_file = dir.join(format!("AuthKey_{apns_key_id}.p8"));
        std::fs::write(&apns_key_file, apns_secret.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();

        // FCM: a service account whose token_uri is this lab.
        let rsa_key = <rsa::RsaPrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(FCM_KEY_PEM).unwrap();
        let rsa_public = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&rsa_key.to_public_key()).unwrap();
        let fcm_project = "push-lab-project".to_owned();
        let fcm_email = format!("firebase-adminsdk@{fcm_project}.iam.gserviceaccount.com");
        let fcm_token_uri = format!("http://{fcm}/token");
        let fcm_file = dir.join("fcm-service-account.json");
        let account = json!({
            "type": "service_account",
            "project_id": fcm_project,
            "private_key_id": "0123456789abcdef",
            "private_key": FCM_KEY_PEM,
            "client_email": fcm_email,
            "client_id": "100000000000000000000",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": fcm_token_uri,
        });
        std::fs::write(&fcm_file, serde_json::to_vec_pretty(&account).unwrap()).unwrap();

        // VAPID: SEC1 `EC PRIVATE KEY`, as `openssl ecparam -genkey` writes it.
        let vapid_secret = random_secret();
        let vapid_file = dir.join("vapid.pem");
        std::fs::write(&vapid_file, vapid_secret.to_sec1_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();

        let lab = Arc::new(Lab {
            apns_verify: DecodingKey::from_ec_der(&point(&apns_secret.public_key())),
            apns_key_id,
            apns_team_id: "LABTEAM123".to_owned(),
            apns_topic: "app.example.lab".to_owned(),
            apns_provider_tokens: Mutex::default(),
            fcm_verify: DecodingKey::from_rsa_der(rsa_public.as_bytes()),
            fcm_project,
            fcm_email,
            fcm_token_uri,
            fcm_access: Mutex::default(),
            fcm_token_requests: AtomicU64::new(0),
            web_origin: format!("http://{web}"),
            vapid_public: b64(&point(&vapid_secret.public_key())),
            subs: Mutex::default(),
            devices: Mutex::default(),
            counter: AtomicU64::new(1),
            holds: Mutex::default(),
        });
        let tasks = vec![
            tokio::spawn(serve(apns_l, lab.clone(), Service::Apns)),
            tokio::spawn(serve(fcm_l, lab.clone(), Service::Fcm)),
            tokio::spawn(serve(web_l, lab.clone(), Service::Web)),
        ];
        PushLab {
            lab,
            apns,
            fcm,
            apns_key_file,
            fcm_file,
            vapid_file,
            vapid_subject: "mailto:push-lab@example.com".to_owned(),
            tasks,
        }
    }

    /// The APNs base URL (`http://127.0.0.1:<port>`, h2c).
    pub fn apns_url(&self) -> String {
        format!("http://{}", self.apns)
    }

    /// The FCM base URL.
    pub fn fcm_url(&self) -> String {
        format!("http://{}", self.fcm)
    }

    /// The APNs signing key (`AuthKey_<kid>.p8`).
    pub fn apns_key_file(&self) -> PathBuf {
        self.apns_key_file.clone()
    }

    /// The APNs key id.
    pub fn apns_key_id(&self) -> &str {
        &self.lab.apns_key_id
    }

    /// The APNs team id.
    pub fn apns_team_id(&self) -> &str {
        &self.lab.apns_team_id
    }

    /// The APNs topic (bundle id).
    pub fn apns_topic(&self) -> &str {
        &self.lab.apns_topic
    }

    /// The FCM service-account JSON (its `token_uri` is this lab's `/token`).
    pub fn fcm_service_account_file(&self) -> PathBuf {
        self.fcm_file.clone()
    }

    /// The VAPID private key (PEM, SEC1).
    pub fn vapid_private_key_file(&self) -> PathBuf {
        self.vapid_file.clone()
    }

    /// The VAPID subject.
    pub fn vapid_subject(&self) -> &str {
        &self.vapid_subject
    }

    /// The VAPID public key the lab's subscriptions are bound to (base64url).
    pub fn vapid_public_key(&self) -> &str {
        &self.lab.vapid_public
    }

    /// Channel settings with every channel pointed at this lab.
    pub fn settings(&self) -> push::Settings {
        push::Settings {
            apns_key_file: Some(self.apns_key_file()),
            apns_key_id: Some(self.apns_key_id().to_owned()),
            apns_team_id: Some(self.apns_team_id().to_owned()),
            apns_topic: Some(self.apns_topic().to_owned()),
            apns_url: self.apns_url(),
            fcm_service_account_file: Some(self.fcm_service_account_file()),
            fcm_url: self.fcm_url(),
            vapid_private_key_file: Some(self.vapid_private_key_file()),
            vapid_subject: Some(self.vapid_subject.clone()),
            allow_loopback_http: true,
            timeout: Duration::from_secs(10),
        }
    }

    /// A new browser subscription for `name` (a fresh key pair and auth secret, bound to the
    /// lab's VAPID key), as the JSON `PushSubscription.toJSON()` gives. Calling it again for the
    /// same name replaces the subscription's keys (the browser re-subscribed).
    pub fn web_subscription(&self, name: &str) -> String {
        let secret = random_secret();
        let auth: [u8; 16] = rand::random();
        let json = json!({
            "endpoint": format!("{}/wp/{name}", self.lab.web_origin),
            "expirationTime": null,
            "keys": {"p256dh": b64(&point(&secret.public_key())), "auth": b64(&auth)},
        });
        let sub = WebSub { secret, auth, server_key: self.lab.vapid_public.clone() };
        self.lab.subs.lock().unwrap().insert(name.to_owned(), sub);
        json.to_string()
    }

    /// The APNs device token of `name`'s iPhone: 64 hex characters derived from the name.
    pub fn ios_token(&self, name: &str) -> String {
        hex(&Sha256::digest(format!("ios:{name}")))
    }

    /// The FCM registration token of `name`'s Android phone.
    pub fn android_token(&self, name: &str) -> String {
        let digest = Sha256::digest(format!("android:{name}"));
        format!("lab{}:APA91b{}", b64(&digest[..8]), b64(&digest[8..]))
    }

    /// The lab's record key for a token, a subscription or a name.
    fn key(&self, platform: PushPlatform, token_or_name: &str) -> (PushPlatform, String) {
        let s = token_or_name.trim();
        let key = match platform {
            PushPlatform::Ios if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => s.to_ascii_lowercase(),
            PushPlatform::Ios => self.ios_token(s),
            PushPlatform::Android if s.starts_with("lab") && s.contains(":APA91b") => s.to_owned(),
            PushPlatform::Android => self.android_token(s),
            PushPlatform::Web => {
                let endpoint = serde_json::from_str::<Value>(s)
                    .ok()
                    .and_then(|v| v["endpoint"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| s.to_owned());
                endpoint.rsplit_once("/wp/").map_or(endpoint.clone(), |(_, name)| name.to_owned())
            }
        };
        (platform, key)
    }

    /// The notifications the device shows (accepted pushes, decrypted for Web Push; one per
    /// collapse id).
    pub fn received(&self, platform: PushPlatform, token_or_name: &str) -> Vec<Received> {
        let key = self.key(platform, token_or_name);
        self.lab.devices.lock().unwrap().get(&key).map(|d| d.received.clone()).unwrap_or_default()
    }

    /// Every request for the token, accepted or not.
    pub fn attempts(&self, platform: PushPlatform, token_or_name: &str) -> usize {
        let key = self.key(platform, token_or_name);
        self.lab.devices.lock().unwrap().get(&key).map_or(0, |d| d.attempts)
    }

    /// From now on the token is dead (APNs 410 Unregistered, FCM 404 UNREGISTERED, Web Push 410).
    pub fn kill(&self, platform: PushPlatform, token_or_name: &str) {
        let key = self.key(platform, token_or_name);
        self.lab.devices.lock().unwrap().entry(key).or_default().dead = true;
    }

    /// Queues one failure for the token's next request: 429, 500 or 503 (or any status) with the
    /// provider's real error body and, when given, `Retry-After: <secs>`.
    pub fn fail_next(&self, platform: PushPlatform, token_or_name: &str, status: u16, retry_after: Option<u64>) {
        let key = self.key(platform, token_or_name);
        self.lab.devices.lock().unwrap().entry(key).or_default().failures.push_back((status, retry_after));
    }

    /// The next push to `platform` is recorded (accepted or not) at once, but its answer is sent
    /// only after `wait`.
    pub fn hold_next(&self, platform: PushPlatform, wait: std::time::Duration) {
        self.lab.holds.lock().unwrap().insert(platform, wait);
    }

    /// Forgets every FCM access token issued so far (the next send gets 401 UNAUTHENTICATED, as
    /// after a revocation).
    pub fn revoke_fcm_access_tokens(&self) {
        self.lab.fcm_access.lock().unwrap().clear();
    }

    /// How many access tokens the FCM token endpoint issued.
    pub fn fcm_token_requests(&self) -> u64 {
        self.lab.fcm_token_requests.load(Ordering::SeqCst)
    }

    /// How many distinct APNs provider tokens were accepted.
    pub fn apns_provider_tokens(&self) -> usize {
        self.lab.apns_provider_tokens.lock().unwrap().len()
    }
}

type Reply = Response<Full<Bytes>>;

async fn serve(listener: tokio::net::TcpListener, lab: Arc<Lab>, service: Service) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let lab = lab.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let lab = lab.clone();
                async move { Ok::<_, Infallible>(handle(&lab, service, req).await) }
            });
            let io = TokioIo::new(stream);
            match service {
                // Apple's service speaks HTTP/2 only.
                Service::Apns => {
                    let _ =
                        hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, svc).await;
                }
                Service::Fcm | Service::Web => {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await;
                }
            }
        });
    }
}

fn reply(status: u16, headers: &[(&str, String)], body: impl Into<Bytes>) -> Reply {
    let mut r = Response::builder().status(StatusCode::from_u16(status).unwrap());
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    r.body(Full::new(body.into())).unwrap()
}

fn json_reply(status: u16, retry_after: Option<u64>, body: Value) -> Reply {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(s) = retry_after {
        headers.push(("retry-after", s.to_string()));
    }
    reply(status, &headers, body.to_string())
}

async fn handle(lab: &Lab, service: Service, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, 64 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return reply(413, &[], "request too large"),
    };
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let path = parts.uri.path().to_owned();
    if parts.method != hyper::Method::POST {
        return match service {
            Service::Apns => json_reply(405, None, json!({"reason": "MethodNotAllowed"})),
            _ => reply(405, &[], "method not allowed"),
        };
    }
    let (answer, platform) = match service {
        Service::Apns => (apns(lab, &path, &header, &body), Some(PushPlatform::Ios)),
        Service::Fcm if path == "/token" => (fcm_token(lab, &body), None),
        Service::Fcm => (fcm_send(lab, &path, &header, &body), Some(PushPlatform::Android)),
        Service::Web => (web_push(lab, &path, &header, &body), Some(PushPlatform::Web)),
    };
    let hold = platform.and_then(|p| lab.holds.lock().unwrap().remove(&p));
    if let Some(wait) = hold {
        tokio::time::sleep(wait).await;
    }
    answer
}

impl Lab {
    /// Counts the request and answers its queued failure or its death, if any.
    fn attempt(&self, key: (PushPlatform, String)) -> Option<(u16, Option<u64>, bool)> {
        let mut devices = self.devices.lock().unwrap();
        let d = devices.entry(key).or_default();
        d.attempts += 1;
        if let Some((status, after)) = d.failures.pop_front() {
            return Some((status, after, false));
        }
        d.dead.then_some((0, None, true))
    }

    /// Records an accepted push; the same collapse id replaces the earlier notification.
    fn accept(&self, key: (PushPlatform, String), r: Received) {
        let mut devices = self.devices.lock().unwrap();
        let d = devices.entry(key).or_default();
        match d.received.iter_mut().find(|old| r.collapse.is_some() && old.collapse == r.collapse) {
            Some(old) => *old = r,
            None => d.received.push(r),
        }
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

fn apns(lab: &Lab, path: &str, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Reply {
    let bad = |status: u16, reason: &str| json_reply(status, None, json!({"reason": reason}));
    let Some(token) = path.strip_prefix("/3/device/") else { return bad(404, "BadPath") };
    // The provider token.
    let Some(auth) = header("authorization") else { return bad(403, "MissingProviderToken") };
    let Some(jwt) = auth.strip_prefix("bearer ") else { return bad(403, "InvalidProviderToken") };
    let Ok(h) = jsonwebtoken::decode_header(jwt) else { return bad(403, "InvalidProviderToken") };
    if h.alg != Algorithm::ES256 || h.kid.as_deref() != Some(lab.apns_key_id.as_str()) {
        return bad(403, "InvalidProviderToken");
    }
    let mut v = Validation::new(Algorithm::ES256);
    v.set_required_spec_claims(&["iss"]);
    v.validate_exp = false;
    v.set_issuer(&[&lab.apns_team_id]);
    let Ok(claims) = jsonwebtoken::decode::<Value>(jwt, &lab.apns_verify, &v) else {
        return bad(403, "InvalidProviderToken");
    };
    let Some(iat) = claims.claims["iat"].as_u64() else { return bad(403, "InvalidProviderToken") };
    if iat + 3600 < now() {
        return bad(403, "ExpiredProviderToken");
    }
    if iat > now() + 60 {
        return bad(403, "InvalidProviderToken");
    }
    lab.apns_provider_tokens.lock().unwrap().insert(jwt.to_owned());
    // The headers.
    match header("apns-topic") {
        None => return bad(400, "MissingTopic"),
        Some(t) if t != lab.apns_topic => return bad(400, "TopicDisallowed"),
        Some(_) => {}
    }
    match header("apns-push-type").as_deref() {
        Some("alert" | "background" | "voip" | "complication" | "fileprovider" | "mdm" | "liveactivity") => {}
        _ => return bad(400, "InvalidPushType"),
    }
    if header("apns-id").is_some_and(|id| !is_uuid(&id)) {
        return bad(400, "BadMessageId");
    }
    let collapse = header("apns-collapse-id");
    if collapse.as_ref().is_some_and(|c| c.len() > 64) {
        return bad(400, "BadCollapseId");
    }
    if header("apns-priority").is_some_and(|p| !matches!(p.as_str(), "1" | "5" | "10")) {
        return bad(400, "BadPriority");
    }
    if header("apns-expiration").is_some_and(|e| e.parse::<u64>().is_err()) {
        return bad(400, "BadExpirationDate");
    }
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return bad(400, "BadDeviceToken");
    }
    if body.len() > 4096 {
        return bad(413, "PayloadTooLarge");
    }
    let Ok(payload) = serde_json::from_slice::<Value>(body) else { return bad(400, "PayloadEmpty") };
    let alert = &payload["aps"]["alert"];
    if !payload["aps"].is_object() {
        return bad(400, "PayloadEmpty");
    }
    let key = (PushPlatform::Ios, token.to_ascii_lowercase());
    match lab.attempt(key.clone()) {
        Some((_, _, true)) => {
            let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
            return json_reply(410, None, json!({"reason": "Unregistered", "timestamp": ms}));
        }
        Some((status, after, false)) => {
            let reason = match status {
                429 => "TooManyRequests",
                500 => "InternalServerError",
                503 => "ServiceUnavailable",
                _ => "InternalServerError",
            };
            return json_reply(status, after, json!({"reason": reason}));
        }
        None => {}
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    lab.accept(
        key,
        Received {
            key: text(&payload["key"]),
            kind: text(&payload["kind"]),
            title: text(&alert["title"]),
            body: text(&alert["body"]),
            path: payload["path"].as_str().map(str::to_owned),
            collapse,
        },
    );
    let id = header("apns-id").unwrap_or_else(|| uuid::Uuid::new_v4().to_string().to_uppercase());
    reply(200, &[("apns-id", id)], Bytes::new())
}

/// Google's error JSON.
fn google_error(status: u16, code: &str, message: &str, fcm_code: Option<&str>, after: Option<u64>) -> Reply {
    let mut error = json!({"code": status, "message": message, "status": code});
    if let Some(c) = fcm_code {
        error["details"] = json!([{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": c}]);
    }
    json_reply(status, after, json!({ "error": error }))
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn fcm_token(lab: &Lab, body: &[u8]) -> Reply {
    let invalid =
        |description: &str| json_reply(400, None, json!({"error": "invalid_grant", "error_description": description}));
    let form: HashMap<String, String> = String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (form_decode(k), form_decode(v)))
        .collect();
    if form.get("grant_type").map(String::as_str) != Some(JWT_BEARER) {
        return json_reply(
            400,
            None,
            json!({"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}),
        );
    }
    let Some(assertion) = form.get("assertion") else { return invalid("Missing assertion") };
    let mut v = Validation::new(Algorithm::RS256);
    v.set_required_spec_claims(&["iss", "aud", "exp"]);
    v.set_issuer(&[&lab.fcm_email]);
    v.set_audience(&[&lab.fcm_token_uri]);
    let claims = match jsonwebtoken::decode::<Value>(assertion, &lab.fcm_verify, &v) {
        Ok(c) => c.claims,
        Err(_) => return invalid("Invalid JWT Signature."),
    };
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return invalid("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    };
    if exp < iat || exp - iat > 3600 || iat > now() + 300 {
        return invalid("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    }
    let scopes = claims["scope"].as_str().unwrap_or_default();
    if !scopes.split(' ').any(|s| s == FCM_SCOPE) {
        return json_reply(400, None, json!({"error": "invalid_scope", "error_description": "Invalid OAuth scope"}));
    }
    let token = format!("ya29.lab-{}-{}", lab.next(), hex(&rand::random::<[u8; 16]>()));
    lab.fcm_access.lock().unwrap().insert(token.clone());
    lab.fcm_token_requests.fetch_add(1, Ordering::SeqCst);
    json_reply(200, None, json!({"access_token": token, "expires_in": 3600, "token_type": "Bearer"}))
}

fn fcm_send(lab: &Lab, path: &str, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Reply {
    let Some(project) = path.strip_prefix("/v1/projects/").and_then(|p| p.strip_suffix("/messages:send")) else {
        return google_error(404, "NOT_FOUND", "Not Found", None, None);
    };
    let bearer = header("authorization").and_then(|a| a.strip_prefix("Bearer ").map(str::to_owned));
    if !bearer.is_some_and(|b| lab.fcm_access.lock().unwrap().contains(&b)) {
        return google_error(
            401,
            "UNAUTHENTICATED",
            concat!(
                "Request had invalid authentication credentials. Expected OAuth 2 access token, ",
                "login cookie or other valid authentication credential."
            ),
            None,
            None,
        );
    }
    if project != lab.fcm_project {
        return google_error(
            403,
            "PERMISSION_DENIED",
            &format!(
                "Permission 'cloudmessaging.messages.create' denied on resource \
                 '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
            ),
            None,
            None,
        );
    }
    let invalid = |message: &str| google_error(400, "INVALID_ARGUMENT", message, Some("INVALID_ARGUMENT"), None);
    let Ok(m) = serde_json::from_slice::<Value>(body) else {
        return invalid("Invalid JSON payload received.");
    };
    let m = &m["message"];
    let Some(token) = m["token"].as_str() else { return invalid("Recipient of the message is not set.") };
    let ok_token = token.len() >= 20 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"_:-".contains(&b));
    if !ok_token {
        return invalid("The registration token is not a valid FCM registration token");
    }
    let notification = &m["notification"];
    if !(notification["title"].is_string() && notification["body"].is_string()) {
        return invalid("Invalid value at 'message.notification'");
    }
    let Some(data) = m["data"].as_object() else { return invalid("Invalid value at 'message.data'") };
    if !data.values().all(Value::is_string) {
        return invalid("Invalid value at 'message.data': data values must be strings");
    }
    let android = &m["android"];
    let ttl_ok = android["ttl"].as_str().is_some_and(|t| {
        t.strip_suffix('s').is_some_and(|n| {
            !n.is_empty() && n.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
    });
    if !android.is_null() && (!ttl_ok || !matches!(android["priority"].as_str(), None | Some("high" | "normal"))) {
        return invalid("Invalid value at 'message.android'");
    }
    let key = (PushPlatform::Android, token.to_owned());
    match lab.attempt(key.clone()) {
        Some((_, _, true)) => {
            return google_error(404, "NOT_FOUND", "Requested entity was not found.", Some("UNREGISTERED"), None);
        }
        Some((status, after, false)) => {
            return match status {
                429 => google_error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded for quota metric 'Send requests' of service 'fcm.googleapis.com'.",
                    Some("QUOTA_EXCEEDED"),
                    after,
                ),
                503 => google_error(
                    503,
                    "UNAVAILABLE",
                    "The service is currently unavailable.",
                    Some("UNAVAILABLE"),
                    after,
                ),
                s => google_error(s, "INTERNAL", "Internal error encountered.", Some("INTERNAL"), after),
            };
        }
        None => {}
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    lab.accept(
        key,
        Received {
            key: text(&data.get("key").cloned().unwrap_or_default()),
            kind: text(&data.get("kind").cloned().unwrap_or_default()),
            title: text(&notification["title"]),
            body: text(&notification["body"]),
            path: data.get("path").and_then(Value::as_str).map(str::to_owned),
            collapse: android["collapse_key"].as_str().map(str::to_owned),
        },
    );
    json_reply(200, None, json!({"name": format!("projects/{project}/messages/0:{}%lab", lab.next())}))
}

/// RFC 8291 from the browser's side: the plaintext, or why not.
fn decrypt(sub: &WebSub, body: &[u8]) -> Result<Vec<u8>, &'static str> {
    if body.len() < 21 {
        return Err("too short");
    }
    let salt = &body[..16];
    let rs = u32::from_be_bytes(body[16..20].try_into().unwrap()) as usize;
    let idlen = body[20] as usize;
    if idlen != 65 || body.len() < 21 + idlen {
        return Err("the key id is not a P-256 point");
    }
    let as_public = p256::PublicKey::from_sec1_bytes(&body[21..21 + idlen]).map_err(|_| "bad sender key")?;
    let record = &body[21 + idlen..];
    if rs < 18 || record.len() > rs || record.len() < 17 {
        return Err("bad record size");
    }
    let shared = p256::ecdh::diffie_hellman(sub.secret.to_nonzero_scalar(), as_public.as_affine());
    let ua = point(&sub.secret.public_key());
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(&ua);
    info.extend_from_slice(&point(&as_public));
    let mut ikm = [0u8; 32];
    hkdf::Hkdf::<Sha256>::new(Some(&sub.auth), shared.raw_secret_bytes()).expand(&info, &mut ikm).unwrap();
    let prk = hkdf::Hkdf::<Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
    let mut plain = Aes128Gcm::new_from_slice(&cek)
        .unwrap()
        .decrypt(&nonce.into(), record)
        .map_err(|_| "the record does not decrypt")?;
    // Strip the padding: zeros after the delimiter, which must be 2 (the last record).
    while plain.last() == Some(&0) {
        plain.pop();
    }
    if plain.pop() != Some(2) {
        return Err("no last-record delimiter");
    }
    Ok(plain)
}

fn web_push(lab: &Lab, path: &str, header: &dyn Fn(&str) -> Option<String>, body: &[u8]) -> Reply {
    let error = |status: u16, errno: u16, message: &str| {
        json_reply(
            status,
            None,
            json!({"code": status, "errno": errno, "error": status_words(status), "message": message}),
        )
    };
    let Some(name) = path.strip_prefix("/wp/") else { return error(404, 102, "Not Found") };
    let key = (PushPlatform::Web, name.to_owned());
    // VAPID: `vapid t=<jwt>, k=<key>`.
    let Some(auth) = header("authorization") else { return error(401, 109, "Missing Authorization header") };
    let Some(params) = auth.strip_prefix("vapid ") else { return error(401, 109, "Unsupported authorization scheme") };
    let mut t = None;
    let mut k = None;
    for p in params.split(',') {
        match p.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim().to_owned()),
            Some(("k", v)) => k = Some(v.trim().to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(k)) = (t, k) else { return error(401, 109, "VAPID needs t and k") };
    let Some(k_point) = URL_SAFE_NO_PAD.decode(&k).ok().filter(|p| p.len() == 65 && p[0] == 4) else {
        return error(401, 109, "The k parameter is not a P-256 public key");
    };
    let mut v = Validation::new(Algorithm::ES256);
    v.set_required_spec_claims(&["aud", "exp", "sub"]);
    v.set_audience(&[&lab.web_origin]);
    let claims = match jsonwebtoken::decode::<Value>(&t, &DecodingKey::from_ec_der(&k_point), &v) {
        Ok(c) => c.claims,
        Err(_) => return error(401, 109, "Invalid VAPID token"),
    };
    if claims["exp"].as_u64().is_none_or(|exp| exp > now() + 24 * 3600) {
        return error(401, 109, "The VAPID token expires more than 24 hours from now");
    }
    let sub_ok = claims["sub"].as_str().is_some_and(|s| s.starts_with("mailto:") || s.starts_with("https:"));
    if !sub_ok {
        return error(401, 109, "The VAPID sub is not a mailto: or https: contact");
    }
    if header("content-encoding").as_deref() != Some("aes128gcm") {
        return error(400, 110, "Unknown Content-Encoding");
    }
    let Some(ttl) = header("ttl") else { return error(400, 111, "Missing TTL header") };
    if ttl.parse::<u64>().is_err() {
        return error(400, 111, "Invalid TTL header");
    }
    let topic = header("topic");
    if topic
        .as_ref()
        .is_some_and(|t| t.len() > 32 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)))
    {
        return error(400, 113, "Topic must be at most 32 base64url characters");
    }
    if body.len() > 4096 {
        return error(413, 104, "Payload too large");
    }
    let subs = lab.subs.lock().unwrap();
    let Some(sub) = subs.get(name) else {
        drop(subs);
        lab.attempt(key);
        return error(404, 102, "Request did not validate: no such subscription");
    };
    if sub.server_key != k {
        drop(subs);
        lab.attempt(key);
        return error(403, 109, "The VAPID key does not match the subscription's applicationServerKey");
    }
    let plain = decrypt(sub, body);
    drop(subs);
    match lab.attempt(key.clone()) {
        Some((_, _, true)) => return error(410, 106, "Request did not validate: subscription expired"),
        Some((status, after, false)) => {
            return json_reply(
                status,
                after,
                json!({"code": status, "errno": 201, "error": status_words(status), "message": "Try again later"}),
            );
        }
        None => {}
    }
    let plain = match plain {
        Ok(p) => p,
        Err(why) => return error(400, 110, why),
    };
    let Ok(payload) = serde_json::from_slice::<Value>(&plain) else {
        return error(400, 110, "the payload is not JSON");
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    lab.accept(
        key,
        Received {
            key: text(&payload["key"]),
            kind: text(&payload["kind"]),
            title: text(&payload["title"]),
            body: text(&payload["body"]),
            path: payload["path"].as_str().map(str::to_owned),
            collapse: topic,
        },
    );
    let location = format!("{}/m/{}", lab.web_origin, lab.next());
    reply(201, &[("location", location), ("ttl", ttl)], Bytes::new())
}

fn status_words(status: u16) -> &'static str {
    StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error")
}

#[tokio::test]
async fn push_lab_speaks_each_protocol() {
    use push::{Channels, Message, Outcome};
    let dir = std::env::temp_dir().join(format!("push-lab-self-{}", uuid::Uuid::new_v4().simple()));
    let lab = PushLab::start(&dir).await;
    let channels = Channels::new(&lab.settings()).unwrap();
    assert!(channels.describe().iter().all(|(_, on)| on.is_ok()), "{:?}", channels.describe());
    assert_eq!(channels.web_public_key().as_deref(), Some(lab.vapid_public_key()));
    let msg = |n: u32| Message {
        key: uuid::Uuid::new_v4().to_string(),
        kind: "video.ready".to_owned(),
        title: "Your video is ready".to_owned(),
        body: format!("A paper boat on a pond ({n})"),
        path: Some(format!("/v/{n}")),
        ttl: Duration::from_secs(3600),
    };
    let seen = |m: &Message, collapse: String| Received {
        key: m.key.clone(),
        kind: m.kind.clone(),
        title: m.title.clone(),
        body: m.body.clone(),
        path: m.path.clone(),
        collapse: Some(collapse),
    };
    let retry_after = |o: &Outcome| match o {
        Outcome::Retry { after, .. } => *after,
        other => panic!("not a retry: {other:?}"),
    };

    for platform in [PushPlatform::Ios, PushPlatform::Android, PushPlatform::Web] {
        let token = match platform {
            PushPlatform::Ios => lab.ios_token("ann"),
            PushPlatform::Android => lab.android_token("ann"),
            PushPlatform::Web => lab.web_subscription("ann"),
        };
        channels.check_token(platform, &token).unwrap();
        let collapse = |m: &Message| match platform {
            PushPlatform::Web => m.key.replace('-', ""),
            _ => m.key.clone(),
        };

        // Delivered, and what the device shows is what was sent.
        let first = msg(1);
        assert_eq!(channels.send(platform, &token, &first).await, Outcome::Delivered, "{platform:?}");
        assert_eq!(lab.received(platform, "ann"), [seen(&first, collapse(&first))], "{platform:?}");
        // The same key again replaces it on the device; every request is counted.
        assert_eq!(channels.send(platform, &token, &first).await, Outcome::Delivered);
        assert_eq!(lab.received(platform, &token).len(), 1, "{platform:?}");
        assert_eq!(lab.attempts(platform, "ann"), 2, "{platform:?}");
        let second = msg(2);
        assert_eq!(channels.send(platform, &token, &second).await, Outcome::Delivered);
        assert_eq!(lab.received(platform, "ann").len(), 2, "{platform:?}");

        // 429 with Retry-After, 503 without.
        lab.fail_next(platform, "ann", 429, Some(7));
        let o = channels.send(platform, &token, &msg(3)).await;
        assert_eq!(retry_after(&o), Some(Duration::from_secs(7)), "{platform:?}: {o:?}");
        lab.fail_next(platform, "ann", 503, None);
        let o = channels.send(platform, &token, &msg(3)).await;
        assert_eq!(retry_after(&o), None, "{platform:?}: {o:?}");
        assert_eq!(lab.received(platform, "ann").len(), 2, "{platform:?}");
        assert_eq!(lab.attempts(platform, "ann"), 5, "{platform:?}");

        // A dead token.
        lab.kill(platform, "ann");
        let o = channels.send(platform, &token, &msg(4)).await;
        assert!(matches!(o, Outcome::Gone { .. }), "{platform:?}: {o:?}");
    }

    // APNs: a payload over 4 KiB is refused before it is sent.
    let ios = lab.ios_token("bea");
    let mut big = msg(5);
    big.body = "x".repeat(4100);
    assert!(matches!(channels.send(PushPlatform::Ios, &ios, &big).await, Outcome::Rejected { .. }));
    assert_eq!(lab.attempts(PushPlatform::Ios, "bea"), 0);
    // One provider token for all those sends.
    assert_eq!(lab.apns_provider_tokens(), 1);
    // APNs: a provider token from the wrong team is refused (a configuration problem).
    let mut wrong_team = lab.settings();
    wrong_team.apns_team_id = Some("OTHERTEAM1".to_owned());
    let other = Channels::new(&wrong_team).unwrap();
    let o = other.send(PushPlatform::Ios, &ios, &msg(6)).await;
    assert!(matches!(&o, Outcome::Rejected { reason } if reason.contains("InvalidProviderToken")), "{o:?}");

    // FCM: one access token so far; after a revocation the 401 refreshes it once and delivers.
    assert_eq!(lab.fcm_token_requests(), 1);
    lab.revoke_fcm_access_tokens();
    let android = lab.android_token("bea");
    assert_eq!(channels.send(PushPlatform::Android, &android, &msg(7)).await, Outcome::Delivered);
    assert_eq!(lab.fcm_token_requests(), 2);
    assert_eq!(lab.attempts(PushPlatform::Android, "bea"), 1, "the 401 is not the token's attempt");

    // Web Push: a VAPID key other than the subscription's is refused by the push service.
    let web = lab.web_subscription("bea");
    let other_key = dir.join("other-vapid.pem");
    std::fs::write(&other_key, random_secret().to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
    let mut wrong_vapid = lab.settings();
    wrong_vapid.vapid_private_key_file = Some(other_key);
    let other = Channels::new(&wrong_vapid).unwrap();
    let o = other.send(PushPlatform::Web, &web, &msg(8)).await;
    assert!(matches!(&o, Outcome::Rejected { reason } if reason.contains("403")), "{o:?}");
    assert_eq!(lab.attempts(PushPlatform::Web, "bea"), 1);
    assert!(lab.received(PushPlatform::Web, "bea").is_empty());
    // The right key still works, and the biggest payload a record carries arrives whole.
    let mut large = msg(9);
    large.body = "y".repeat(3800);
    assert_eq!(channels.send(PushPlatform::Web, &web, &large).await, Outcome::Delivered);
    assert_eq!(lab.received(PushPlatform::Web, "bea")[0].body, large.body);
    large.body = "y".repeat(4000);
    assert!(matches!(channels.send(PushPlatform::Web, &web, &large).await, Outcome::Rejected { .. }));
    // An unreachable push service is a retry.
    let nobody = lab.web_subscription("nobody").replace(&lab.lab.web_origin, "http://127.0.0.1:9");
    assert!(matches!(channels.send(PushPlatform::Web, &nobody, &msg(10)).await, Outcome::Retry { .. }));

    // Off channels say so.
    let off = Channels::new(&push::Settings::default()).unwrap();
    assert!(!off.is_on(PushPlatform::Web));
    assert_eq!(off.describe()[0].1, Err("off: APP_APNS_KEY_FILE is not set".to_owned()));
    assert!(matches!(off.send(PushPlatform::Ios, &ios, &msg(11)).await, Outcome::Rejected { .. }));
    let _ = std::fs::remove_dir_all(&dir);
}
