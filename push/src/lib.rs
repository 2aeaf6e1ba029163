//! Push delivery to phones and browsers: one [`Channels`] value holds the configured channels
//! and sends one [`Message`] to one device token, answering an [`Outcome`] the caller (the
//! domain's push worker) acts on.
//!
//! CONTRACT (written before the implementation; keep these names and meanings):
//! - [`Channels::new`] builds the channels from [`Settings`]; a channel whose credentials are
//!   absent is off (and [`Channels::describe`] says so); credentials that are present but wrong
//!   (unreadable file, bad key) are an error naming the setting, never a panic.
//! - [`Channels::send`] never fails: every transport or provider answer maps to an [`Outcome`].
//!   `Delivered` — the provider accepted it; `Gone` — the token/subscription is dead (APNs 410
//!   or 400 BadDeviceToken/DeviceTokenNotForTopic, FCM 404 UNREGISTERED or 400 INVALID_ARGUMENT on
//!   the token, Web Push 404/410): the caller removes the device; `Retry` — 429, 5xx, timeouts,
//!   connection errors, expired provider/OAuth tokens (after one refresh), with `after` taken from
//!   `Retry-After` (seconds or HTTP date) when given; `Rejected` — anything else (payload too
//!   big, bad request), not retried.
//! - [`Message::key`] is the idempotency key of one (notification, device) delivery: the same key
//!   is sent again when a delivery is retried after a crash, as APNs `apns-id` (a UUID) and
//!   `apns-collapse-id`, FCM `android.collapse_key` / `apns-collapse-id` and `data.key`, Web Push
//!   `Topic` (≤ 32 base64url characters) and inside the payload, so a repeat replaces rather than
//!   adds to what the device shows.
//!
//! Invariants the implementation keeps:
//! - Nothing here panics on input: files, keys, tokens and provider answers are all checked and
//!   mapped to a [`SettingsError`], a `check_token` message or an [`Outcome`].
//! - Provider credentials are minted lazily and cached (APNs provider token 50 minutes, FCM OAuth
//!   access token until 5 minutes before it expires, VAPID JWT one hour per push-service origin);
//!   an "expired" answer refreshes once and retries once, never more.
//! - Web Push endpoints are only ever contacted over `https://` on a host name that resolves to
//!   public addresses (the Web Push client's resolver drops private, loopback and link-local
//!   addresses), so a subscription cannot point the server at its own network (SSRF). With
//!   [`Settings::allow_loopback_http`] (tests) loopback `http://` endpoints are allowed too.
//! - A payload that the provider would refuse for its size is `Rejected` before it is sent
//!   (APNs 4096 bytes of JSON, Web Push 3993 bytes of plaintext, RFC 8291 §4).
#![forbid(unsafe_code)]

mod apns;
mod fcm;
mod keys;
mod retry;
mod webpush;

use std::time::Duration;

pub use app_core::model::PushPlatform;
pub use retry::parse_retry_after;

/// Where the channels' credentials and endpoints come from (the service's configuration).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// APNs: the `.p8` signing key (PEM, EC P-256) file, its key id and team id, the topic (the
    /// app's bundle id) and the base URL (`https://api.push.apple.com`; the sandbox or a
    /// loopback test server otherwise). All four of file, key id, team id and topic, or none.
    pub apns_key_file: Option<std::path::PathBuf>,
    /// APNs key id (10 characters).
    pub apns_key_id: Option<String>,
    /// APNs team id.
    pub apns_team_id: Option<String>,
    /// APNs topic (bundle id).
    pub apns_topic: Option<String>,
    /// APNs base URL.
    pub apns_url: String,
    /// FCM: the Google service-account JSON file (`project_id`, `client_email`, `private_key`,
    /// `token_uri`); off when absent.
    pub fcm_service_account_file: Option<std::path::PathBuf>,
    /// FCM base URL (`https://fcm.googleapis.com`).
    pub fcm_url: String,
    /// Web Push: the VAPID private key file (PEM, EC P-256) and the subject (`mailto:` or
    /// `https:` contact); off when absent.
    pub vapid_private_key_file: Option<std::path::PathBuf>,
    /// VAPID subject.
    pub vapid_subject: Option<String>,
    /// Accept `http://` Web Push endpoints on loopback (tests only); otherwise endpoints must be
    /// `https://` on a public host.
    pub allow_loopback_http: bool,
    /// One request's time limit.
    pub timeout: Duration,
}

/// One notification for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Idempotency key of this delivery (a UUID, hyphenated).
    pub key: String,
    /// The notification's kind (`video.ready`, `user.followed`, …), in the payload.
    pub kind: String,
    /// Title line.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Path in the web client to open (`/v/<id>`), in the payload.
    pub path: Option<String>,
    /// How long the provider may hold it for an offline device.
    pub ttl: Duration,
}

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted it.
    Delivered,
    /// The token is dead: remove the device.
    Gone {
        /// The provider's reason (for logs).
        reason: String,
    },
    /// Try again later (`after` from `Retry-After` when the provider gave one).
    Retry {
        /// The provider's wait.
        after: Option<Duration>,
        /// Why (for logs).
        reason: String,
    },
    /// Refused for good (not retried).
    Rejected {
        /// Why (for logs).
        reason: String,
    },
}

/// A configuration problem, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The setting (`APP_APNS_KEY_FILE`, …).
    pub setting: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

impl std::error::Error for SettingsError {}

impl SettingsError {
    fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self { setting, message: message.into() }
    }
}

/// A request's time limit when [`Settings::timeout`] is zero (its `Default`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The configured push channels; a channel without credentials is off and says why.
pub struct Channels {
    apns: Result<apns::Apns, String>,
    fcm: Result<fcm::Fcm, String>,
    web: Result<webpush::WebPush, String>,
    allow_loopback_http: bool,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channels").field("channels", &self.describe()).finish()
    }
}

impl Channels {
    /// Builds the channels from `settings`: reads and checks the key files now, so a wrong key is
    /// an error at start-up rather than at the first push.
    pub fn new(settings: &Settings) -> Result<Channels, SettingsError> {
        let timeout = if settings.timeout.is_zero() { DEFAULT_TIMEOUT } else { settings.timeout };
        let apns = match (&settings.apns_key_file, &settings.apns_key_id, &settings.apns_team_id, &settings.apns_topic)
        {
            (None, None, None, None) => Err("APP_APNS_KEY_FILE is not set".to_owned()),
            (Some(file), Some(key_id), Some(team_id), Some(topic)) => Ok(apns::Apns::new(
                &apns::Config { key_file: file, key_id, team_id, topic, url: &settings.apns_url },
                timeout,
            )?),
            (file, key_id, team_id, _) => {
                let missing = if file.is_none() {
                    "APP_APNS_KEY_FILE"
                } else if key_id.is_none() {
                    "APP_APNS_KEY_ID"
                } else if team_id.is_none() {
                    "APP_APNS_TEAM_ID"
                } else {
                    "APP_APNS_TOPIC"
                };
                return Err(SettingsError::new(
                    missing,
                    "set all of APP_APNS_KEY_FILE, APP_APNS_KEY_ID, APP_APNS_TEAM_ID and APP_APNS_TOPIC, or none",
                ));
            }
        };
        let fcm = match &settings.fcm_service_account_file {
            None => Err("APP_FCM_SERVICE_ACCOUNT_FILE is not set".to_owned()),
            Some(file) => Ok(fcm::Fcm::new(file, &settings.fcm_url, timeout)?),
        };
        let web = match (&settings.vapid_private_key_file, &settings.vapid_subject) {
            (None, _) => Err("APP_VAPID_PRIVATE_KEY_FILE is not set".to_owned()),
            (Some(_), None) => {
                return Err(SettingsError::new(
                    "APP_VAPID_SUBJECT",
                    "Web Push needs a contact: set APP_VAPID_SUBJECT to a mailto: or https: address",
                ));
            }
            (Some(file), Some(subject)) => {
                Ok(webpush::WebPush::new(file, subject, settings.allow_loopback_http, timeout)?)
            }
        };
        Ok(Channels { apns, fcm, web, allow_loopback_http: settings.allow_loopback_http })
    }

    /// Each platform's channel (iOS, Android, Web, in that order): `Ok` when on, otherwise
    /// `Err("off: <why>")`.
    pub fn describe(&self) -> Vec<(PushPlatform, Result<(), String>)> {
        fn state<T>(c: &Result<T, String>) -> Result<(), String> {
            c.as_ref().map(|_| ()).map_err(|why| format!("off: {why}"))
        }
        vec![
            (PushPlatform::Ios, state(&self.apns)),
            (PushPlatform::Android, state(&self.fcm)),
            (PushPlatform::Web, state(&self.web)),
        ]
    }

    /// Whether `platform`'s channel is on.
    pub fn is_on(&self, platform: PushPlatform) -> bool {
        match platform {
            PushPlatform::Ios => self.apns.is_ok(),
            PushPlatform::Android => self.fcm.is_ok(),
            PushPlatform::Web => self.web.is_ok(),
        }
    }

    /// The VAPID public key (the uncompressed P-256 point, base64url without padding) that
    /// browsers take as `applicationServerKey`; `None` when Web Push is off.
    pub fn web_public_key(&self) -> Option<String> {
        self.web.as_ref().ok().map(|w| w.public_key().to_owned())
    }

    /// Checks a device token at registration; the error is a sentence for the person registering.
    pub fn check_token(&self, platform: PushPlatform, token: &str) -> Result<(), String> {
        match platform {
            PushPlatform::Ios => apns::check_token(token),
            PushPlatform::Android => fcm::check_token(token),
            PushPlatform::Web => webpush::Subscription::parse(token, self.allow_loopback_http).map(|_| ()),
        }
    }

    /// Sends `msg` to one device; never fails (see the crate's contract for the outcomes).
    pub async fn send(&self, platform: PushPlatform, token: &str, msg: &Message) -> Outcome {
        match platform {
            PushPlatform::Ios => match &self.apns {
                Ok(c) => c.send(token, msg).await,
                Err(_) => Outcome::Rejected { reason: "APNs (iOS push) is off".to_owned() },
            },
            PushPlatform::Android => match &self.fcm {
                Ok(c) => c.send(token, msg).await,
                Err(_) => Outcome::Rejected { reason: "FCM (Android push) is off".to_owned() },
            },
            PushPlatform::Web => match &self.web {
                Ok(c) => c.send(token, msg).await,
                Err(_) => Outcome::Rejected { reason: "Web Push is off".to_owned() },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("push-unit-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn absent_credentials_turn_a_channel_off() {
        let c = Channels::new(&Settings::default()).unwrap();
        assert_eq!(
            c.describe(),
            vec![
                (PushPlatform::Ios, Err("off: APP_APNS_KEY_FILE is not set".to_owned())),
                (PushPlatform::Android, Err("off: APP_FCM_SERVICE_ACCOUNT_FILE is not set".to_owned())),
                (PushPlatform::Web, Err("off: APP_VAPID_PRIVATE_KEY_FILE is not set".to_owned())),
            ]
        );
        assert!(!c.is_on(PushPlatform::Ios));
        assert_eq!(c.web_public_key(), None);
    }

    #[test]
    fn wrong_credentials_name_the_setting() {
        let partial = Settings { apns_key_id: Some("ABC123DEFG".into()), ..Settings::default() };
        assert_eq!(Channels::new(&partial).unwrap_err().setting, "APP_APNS_KEY_FILE");

        let missing = Settings { fcm_service_account_file: Some("/nonexistent/sa.json".into()), ..Settings::default() };
        let e = Channels::new(&missing).unwrap_err();
        assert_eq!(e.setting, "APP_FCM_SERVICE_ACCOUNT_FILE");
        assert!(e.message.contains("cannot read"), "{e}");

        let sa = scratch(
            "sa.json",
            r#"{"project_id":"p","client_email":"a@b","private_key":"nope","token_uri":"https://oauth2.googleapis.com/token"}"#,
        );
        let e = Channels::new(&Settings { fcm_service_account_file: Some(sa), ..Settings::default() }).unwrap_err();
        assert!(e.message.contains("private_key"), "{e}");

        let not_a_key = scratch("vapid.pem", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n");
        let no_subject = Settings { vapid_private_key_file: Some(not_a_key.clone()), ..Settings::default() };
        assert_eq!(Channels::new(&no_subject).unwrap_err().setting, "APP_VAPID_SUBJECT");
        let bad_key = Settings {
            vapid_private_key_file: Some(not_a_key),
            vapid_subject: Some("mailto:a@b".into()),
            ..Settings::default()
        };
        assert_eq!(Channels::new(&bad_key).unwrap_err().setting, "APP_VAPID_PRIVATE_KEY_FILE");
    }

    #[test]
    fn a_vapid_key_gives_the_browser_key() {
        use p256::pkcs8::EncodePrivateKey as _;
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        let pem = secret.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
        let file = scratch("vapid-ok.pem", &pem);
        let s = Settings {
            vapid_private_key_file: Some(file),
            vapid_subject: Some("https://example.com/contact".into()),
            ..Settings::default()
        };
        let c = Channels::new(&s).unwrap();
        assert!(c.is_on(PushPlatform::Web));
        let key = keys::b64url_decode(&c.web_public_key().unwrap()).unwrap();
        assert_eq!((key.len(), key.first()), (65, Some(&4)));
        let bad_subject = Settings { vapid_subject: Some("someone".into()), ..s };
        assert_eq!(Channels::new(&bad_subject).unwrap_err().setting, "APP_VAPID_SUBJECT");
    }
}
