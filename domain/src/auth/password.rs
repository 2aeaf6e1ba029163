//! Password policy and argon2id hashing at OWASP parameters (m = 19456 KiB, t = 2, p = 1).
//!
//! Hashing takes ~20 MiB and tens of milliseconds, so it runs on Tokio's blocking pool behind a
//! semaphore: the event loop is never held, and memory stays bounded under a login flood.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use app_core::error::{AppError, AppResult};
use app_core::types::Secret;

/// The 10,000 most common passwords (see `scripts/make_common_passwords.py`).
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("../../assets/common-passwords.txt").lines().collect());

/// Shortest accepted password, in characters.
pub const MIN_LEN: usize = 8;
/// Longest accepted password, in characters.
pub const MAX_LEN: usize = 128;

/// Checks the password policy for the input `field`; the message says what to change.
pub fn check_policy(password: &str, field: &'static str) -> AppResult<()> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(AppError::bad_input(field, format!("password must have at least {MIN_LEN} characters")));
    }
    if n > MAX_LEN {
        return Err(AppError::bad_input(field, format!("password must have at most {MAX_LEN} characters")));
    }
    if COMMON.contains(password.to_lowercase().as_str()) {
        return Err(AppError::bad_input(field, "this password is too common; choose another"));
    }
    Ok(())
}

fn argon() -> AppResult<Argon2<'static>> {
    let params = Params::new(19_456, 2, 1, None).map_err(|e| AppError::internal("argon2 params", e))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes and verifies passwords off the event loop, a bounded number at a time.
#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the login names nobody,
    /// so that "no such user" costs the same time as "wrong password".
    dummy_hash: Arc<String>,
}

impl PasswordHasherPool {
    /// A pool allowing `concurrency` hashes at once.
    pub fn new(concurrency: usize) -> AppResult<Self> {
        let dummy = argon()?
            .hash_password(crate::auth::random_secret().as_bytes())
            .map_err(|e| AppError::internal("argon2 hash", e))?
            .to_string();
        Ok(Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy_hash: Arc::new(dummy) })
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: Secret<String>) -> AppResult<String> {
        let _permit = self.permits.acquire().await.map_err(|e| AppError::internal("hash permit", e))?;
        tokio::task::spawn_blocking(move || {
            argon()?
                .hash_password(password.expose().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| AppError::internal("argon2 hash", e))
        })
        .await
        .map_err(|e| AppError::internal("hash task", e))?
    }

    /// Whether `password` matches `phc`; with `None`, spends the same time and answers false.
    pub async fn verify(&self, password: Secret<String>, phc: Option<String>) -> AppResult<bool> {
        let _permit = self.permits.acquire().await.map_err(|e| AppError::internal("hash permit", e))?;
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        tokio::task::spawn_blocking(move || {
            let ok = argon()?.verify_password(password.expose().as_bytes(), phc.as_str()).is_ok();
            Ok(ok && known)
        })
        .await
        .map_err(|e| AppError::internal("verify task", e))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(check_policy("short", "password").is_err());
        assert!(check_policy(&"x".repeat(129), "password").is_err());
        assert!(check_policy("password1", "password").is_err());
        assert!(check_policy("PASSWORD1", "password").is_err(), "the check ignores case");
        assert!(check_policy("correct horse battery", "password").is_ok());
        assert_eq!(COMMON.len(), 10_000);
    }

    #[tokio::test]
    async fn hash_and_verify_with_owasp_params() {
        let pool = PasswordHasherPool::new(2).unwrap();
        let h = pool.hash(Secret::new("a fine long secret".into())).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(pool.verify(Secret::new("a fine long secret".into()), Some(h.clone())).await.unwrap());
        assert!(!pool.verify(Secret::new("another secret!".into()), Some(h)).await.unwrap());
        assert!(!pool.verify(Secret::new("a fine long secret".into()), None).await.unwrap());
    }
}
