//! EdDSA (Ed25519) access tokens. Validation pins the algorithm, and requires `exp`, `iss`,
//! `aud` and `typ = "access"`, so no other token we might ever sign passes as an access token.

use std::path::Path;

use base64::Engine;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use app_core::error::{AppError, AppResult};
use app_core::types::{SessionId, UserId};

/// The `typ` claim of access tokens.
pub const ACCESS_TYP: &str = "access";

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session (refresh-token family) the token belongs to.
    pub sid: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Token kind; must be `access`.
    pub typ: String,
    /// Unique id.
    pub jti: String,
}

/// What a valid access token proves.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedAccess {
    /// Whose token it is.
    pub user_id: UserId,
    /// Which session issued it.
    pub session_id: SessionId,
}

/// Signs and verifies access tokens.
pub struct AccessTokens {
    /// Tokens whose signature and claims were verified, with their expiry: a client sends the
    /// same token with every request for its whole life, and the signature check is the
    /// costliest step of a cached feed page.
    verified: moka::sync::Cache<String, (VerifiedAccess, i64)>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_secs: i64,
}

impl AccessTokens {
    /// From a PKCS#8 PEM Ed25519 private key.
    pub fn from_pem(pem: &str, issuer: &str, audience: &str, ttl_secs: u64) -> AppResult<Self> {
        let signing = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| AppError::internal("jwt key is not a PKCS#8 Ed25519 PEM", e))?;
        let der = signing.to_pkcs8_der().map_err(|e| AppError::internal("jwt key", e))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        let decoding = DecodingKey::from_ed_components(&x).map_err(|e| AppError::internal("jwt public key", e))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            verified: moka::sync::Cache::builder()
                .max_capacity(200_000)
                .time_to_live(std::time::Duration::from_secs(300))
                .build(),
            encoding,
            decoding,
            validation,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(900),
        })
    }

    /// Reads the key from `path`, creating it (mode 0600) on first use.
    pub fn load_or_create_key(path: &Path) -> AppResult<String> {
        if path.exists() {
            return std::fs::read_to_string(path).map_err(|e| AppError::internal("read jwt key", e));
        }
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| AppError::internal("encode jwt key", e))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AppError::internal("create key folder", e))?;
        }
        write_private(path, pem.as_bytes())?;
        Ok(pem.to_string())
    }

    /// Token lifetime in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Issues an access token for `user` in `session`.
    pub fn issue(&self, user: UserId, session: SessionId) -> AppResult<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.to_string(),
            sid: session.to_string(),
            iat: now,
            exp: now + self.ttl_secs,
            typ: ACCESS_TYP.into(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .map_err(|e| AppError::internal("sign jwt", e))
    }

    /// Verifies signature, algorithm, expiry, issuer, audience and kind.
    /// A token verified before is recognised by its exact text until its expiry (revocation
    /// is checked by the caller on every request either way).
    pub fn verify(&self, token: &str) -> Option<VerifiedAccess> {
        let now = chrono::Utc::now().timestamp();
        if let Some((v, exp)) = self.verified.get(token) {
            return (now < exp).then_some(v);
        }
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        if data.claims.typ != ACCESS_TYP {
            return None;
        }
        let v = VerifiedAccess {
            user_id: UserId::parse(&data.claims.sub)?,
            session_id: SessionId::parse(&data.claims.sid)?,
        };
        self.verified.insert(token.to_owned(), (v, data.claims.exp));
        Some(v)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> AppResult<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AppError::internal("write jwt key", e))?;
    f.write_all(bytes).map_err(|e| AppError::internal("write jwt key", e))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> AppResult<()> {
    std::fs::write(path, bytes).map_err(|e| AppError::internal("write jwt key", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(dir: &Path, iss: &str) -> AccessTokens {
        let pem = AccessTokens::load_or_create_key(&dir.join("k.pem")).unwrap();
        AccessTokens::from_pem(&pem, iss, "aud", 60).unwrap()
    }

    #[test]
    fn issue_verify_and_refuse_tampering() {
        let dir = std::env::temp_dir().join(format!("tok-{}", uuid::Uuid::new_v4()));
        let t = tokens(&dir, "iss");
        let (u, s) = (UserId::new(), SessionId::new());
        let tok = t.issue(u, s).unwrap();
        let v = t.verify(&tok).unwrap();
        assert_eq!(v.user_id, u);
        assert_eq!(v.session_id, s);
        // Key is kept and reused.
        let again = tokens(&dir, "iss");
        assert!(again.verify(&tok).is_some());
        // Another issuer is refused.
        let other = tokens(&dir, "other");
        assert!(other.verify(&tok).is_none());
        // A token with alg none, or a mangled signature, is refused.
        let mut parts: Vec<&str> = tok.split('.').collect();
        let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        parts[0] = &none_header;
        assert!(t.verify(&format!("{}.{}.", parts[0], parts[1])).is_none());
        assert!(t.verify(&format!("{}x", tok)).is_none());
        // A token signed with our key but another typ is refused.
        let pem = std::fs::read_to_string(dir.join("k.pem")).unwrap();
        let der = SigningKey::from_pkcs8_pem(&pem).unwrap().to_pkcs8_der().unwrap();
        let enc = EncodingKey::from_ed_der(der.as_bytes());
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: "iss".into(),
            aud: "aud".into(),
            sub: u.to_string(),
            sid: s.to_string(),
            iat: now,
            exp: now + 60,
            typ: "refresh".into(),
            jti: "x".into(),
        };
        let wrong = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &enc).unwrap();
        assert!(t.verify(&wrong).is_none());
        // An expired one is refused.
        let expired = AccessClaims { typ: "access".into(), exp: now - 600, iat: now - 1200, ..claims };
        let expired = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &expired, &enc).unwrap();
        assert!(t.verify(&expired).is_none());
        std::fs::remove_dir_all(&dir).ok();
    }
}
