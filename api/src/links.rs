//! Signed media links: the API mints a short-lived link (HMAC over key and expiry) for a viewer
//! allowed to see the video, so a draft's media never leak to others; `/media/{key}` (in the
//! server) checks it. With S3, presigned URLs are used instead.

use std::time::Duration;

use hmac::{Hmac, Mac};
use media::MediaStore;
use sha2::Sha256;

use app_core::error::{AppError, AppResult};

/// Mints and checks signed media links.
#[derive(Clone)]
pub struct MediaLinks {
    secret: Vec<u8>,
    ttl: Duration,
    base: String,
    store: MediaStore,
}

impl MediaLinks {
    /// Links under `base` (the public URL) signed with `secret`, valid for `ttl`.
    pub fn new(secret: Vec<u8>, ttl: Duration, base: &str, store: MediaStore) -> Self {
        Self { secret, ttl, base: base.trim_end_matches('/').to_owned(), store }
    }

    /// The key file (32 random bytes) under the data folder, created once.
    pub fn load_or_create_secret(path: &std::path::Path) -> AppResult<Vec<u8>> {
        if let Ok(b) = std::fs::read(path)
            && b.len() >= 32
        {
            return Ok(b);
        }
        use rand::RngCore;
        let mut b = vec![0u8; 32];
        rand::rng().fill_bytes(&mut b);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AppError::internal("key folder", e))?;
        }
        std::fs::write(path, &b).map_err(|e| AppError::internal("write media key", e))?;
        Ok(b)
    }

    /// The MAC over `key` and `exp`, before finalising (signing and checking share it).
    fn mac(&self, key: &str, exp: i64) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).ok()?;
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(exp.to_string().as_bytes());
        Some(mac)
    }

    fn signature(&self, key: &str, exp: i64) -> String {
        self.mac(key, exp).map(|m| domain::auth::hex(&m.finalize().into_bytes())).unwrap_or_default()
    }

    /// The media store the links point into.
    pub fn store(&self) -> &MediaStore {
        &self.store
    }

    /// A link to `key` for someone allowed to see it.
    pub async fn url(&self, key: &str) -> AppResult<String> {
        if let Some(u) =
            self.store.presigned_get_url(key, self.ttl).await.map_err(|e| AppError::internal("presign", e))?
        {
            return Ok(u);
        }
        let exp = chrono::Utc::now().timestamp() + i64::try_from(self.ttl.as_secs()).unwrap_or(3600);
        Ok(format!("{}/media/{key}?exp={exp}&sig={}", self.base, self.signature(key, exp)))
    }

    /// Whether `sig` is this server's signature of `key` until `exp`, and `exp` has not passed.
    pub fn verify(&self, key: &str, exp: i64, sig: &str) -> bool {
        if exp < chrono::Utc::now().timestamp() {
            return false;
        }
        let Some(mac) = self.mac(key, exp) else { return false };
        let Some(raw) = (0..sig.len())
            .step_by(2)
            .map(|i| sig.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
        else {
            return false;
        };
        mac.verify_slice(&raw).is_ok()
    }
}
