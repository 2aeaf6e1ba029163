//! EdDSA (Ed25519) access tokens. Validation pins the algorithm, and requires `exp`, `iss`,
//! `aud` and `typ = "access"`, so no other token we might ever sign passes as an access token.
//!
//! Keys rotate: every token names its key in the header (`kid`, the key's RFC 7638 JWK
//! thumbprint), and a token is checked against the key it names: the signing key, or one of the
//! previous public keys still trusted (`with_previous`), so tokens signed before a rotation keep
//! working until they expire. A token without a `kid` (signed before key ids existed) is checked
//! against the signing key only; a `kid` no trusted key has is refused. [`AccessTokens::jwks`] is
//! the JSON Web Key Set other services verify tokens with (`GET /.well-known/jwks.json`).

use std::path::Path;

use base64::Engine;
use ed25519_dalek::SigningKey;
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use app_core::error::{AppError, AppResult};
use app_core::types::{SessionId, UserId};

/// The `typ` claim of access tokens.
pub const ACCESS_TYP: &str = "access";
/// `typ` of a digest unsubscribe link's token (never accepted as an access token).
pub const UNSUBSCRIBE_TYP: &str = "unsubscribe";
/// How long an unsubscribe link works.
const UNSUBSCRIBE_TTL_SECS: i64 = 90 * 86400;

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

/// A public key tokens may be signed with.
struct TrustedKey {
    kid: String,
    /// The raw public key, base64url (the JWK's `x`).
    x: String,
    decoding: DecodingKey,
}

impl TrustedKey {
    fn new(key: &VerifyingKey) -> AppResult<Self> {
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes());
        let decoding = DecodingKey::from_ed_components(&x).map_err(|e| AppError::internal("jwt public key", e))?;
        Ok(Self { kid: key_id(&x), x, decoding })
    }
}

/// RFC 7638 thumbprint of an Ed25519 public key (`x`, base64url): SHA-256 of its canonical JWK,
/// base64url.
fn key_id(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical.as_bytes()))
}

/// The public keys of a PEM bundle (`-----BEGIN PUBLIC KEY-----` blocks, SPKI).
pub fn parse_public_keys(pem: &str) -> AppResult<Vec<VerifyingKey>> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let mut keys = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            return Err(AppError::internal("jwt previous keys", "a PUBLIC KEY block has no end line"));
        };
        let block = &rest[start..start + len + END.len()];
        keys.push(
            VerifyingKey::from_public_key_pem(block)
                .map_err(|e| AppError::internal("jwt previous keys: not an Ed25519 public key", e))?,
        );
        rest = &rest[start + len + END.len()..];
    }
    Ok(keys)
}

/// The public half of a PKCS#8 PEM Ed25519 private key, as a `PUBLIC KEY` PEM block.
pub fn public_pem(private_pem: &str) -> AppResult<String> {
    let signing = SigningKey::from_pkcs8_pem(private_pem)
        .map_err(|e| AppError::internal("jwt key is not a PKCS#8 Ed25519 PEM", e))?;
    signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| AppError::internal("encode jwt public key", e))
}

/// A new Ed25519 signing key as PKCS#8 PEM.
pub fn new_private_pem() -> AppResult<String> {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    Ok(key.to_pkcs8_pem(LineEnding::LF).map_err(|e| AppError::internal("encode jwt key", e))?.to_string())
}

/// The key id (`kid`) of a PKCS#8 PEM Ed25519 private key's public half.
pub fn key_id_of(private_pem: &str) -> AppResult<String> {
    let signing = SigningKey::from_pkcs8_pem(private_pem)
        .map_err(|e| AppError::internal("jwt key is not a PKCS#8 Ed25519 PEM", e))?;
    Ok(TrustedKey::new(&signing.verifying_key())?.kid)
}

/// Signs and verifies access tokens.
pub struct AccessTokens {
    /// Tokens whose signature and claims were verified, with their expiry: a client sends the
    /// same token with every request for its whole life, and the signature check is the
    /// costliest step of a cached feed page.
    verified: moka::sync::Cache<String, (VerifiedAccess, i64)>,
    encoding: EncodingKey,
    /// The signing key's id.
    kid: String,
    /// Keys that verify: the signing key's public half first, then the previous ones.
    keys: Vec<TrustedKey>,
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
        let current = TrustedKey::new(&signing.verifying_key())?;
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
            kid: current.kid.clone(),
            keys: vec![current],
            validation,
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(900),
        })
    }

    /// Also trusts the public keys of a PEM bundle (keys tokens were signed with before a
    /// rotation), until they are taken out of the configuration.
    pub fn with_previous(mut self, public_pems: &str) -> AppResult<Self> {
        for key in parse_public_keys(public_pems)? {
            let key = TrustedKey::new(&key)?;
            if !self.keys.iter().any(|k| k.kid == key.kid) {
                self.keys.push(key);
            }
        }
        Ok(self)
    }

    /// The signing key's id, the `kid` of every token issued now.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JSON Web Key Set of every key that verifies (the signing key first), for other
    /// services that check our access tokens.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|k| serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid, "use": "sig", "alg": "EdDSA"}))
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Reads the key from `path`, creating it (mode 0600) on first use.
    pub fn load_or_create_key(path: &Path) -> AppResult<String> {
        if path.exists() {
            return std::fs::read_to_string(path).map_err(|e| AppError::internal("read jwt key", e));
        }
        let pem = new_private_pem()?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AppError::internal("create key folder", e))?;
        }
        write_private(path, pem.as_bytes())?;
        Ok(pem)
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
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| AppError::internal("sign jwt", e))
    }

    /// A token for the weekly digest's unsubscribe link: names `user`, signed like access
    /// tokens but of its own kind, valid 90 days.
    pub fn issue_unsubscribe(&self, user: UserId) -> AppResult<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.to_string(),
            sid: String::new(),
            iat: now,
            exp: now + UNSUBSCRIBE_TTL_SECS,
            typ: UNSUBSCRIBE_TYP.into(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(|e| AppError::internal("sign jwt", e))
    }

    /// The member an unsubscribe token names, if it is genuine, unexpired and of that kind.
    pub fn verify_unsubscribe(&self, token: &str) -> Option<UserId> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = match &header.kid {
            Some(kid) => self.keys.iter().find(|k| &k.kid == kid)?,
            None => self.keys.first()?,
        };
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation).ok()?;
        if data.claims.typ != UNSUBSCRIBE_TYP {
            return None;
        }
        UserId::parse(&data.claims.sub)
    }

    /// Verifies signature, algorithm, expiry, issuer, audience and kind.
    /// A token verified before is recognised by its exact text until its expiry (revocation
    /// is checked by the caller on every request either way).
    pub fn verify(&self, token: &str) -> Option<VerifiedAccess> {
        let now = chrono::Utc::now().timestamp();
        if let Some((v, exp)) = self.verified.get(token) {
            return (now < exp).then_some(v);
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        let key = match &header.kid {
            Some(kid) => self.keys.iter().find(|k| &k.kid == kid)?,
            None => self.keys.first()?,
        };
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation).ok()?;
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

    #[test]
    fn keys_rotate_without_ending_the_tokens_signed_before() {
        let (u, sid) = (UserId::new(), SessionId::new());
        let old_pem = new_private_pem().unwrap();
        let new_pem = new_private_pem().unwrap();
        let old = AccessTokens::from_pem(&old_pem, "iss", "aud", 60).unwrap();
        let before = old.issue(u, sid).unwrap();
        let header = jsonwebtoken::decode_header(&before).unwrap();
        assert_eq!(header.kid.as_deref(), Some(old.kid()));
        assert_eq!(old.kid(), key_id_of(&old_pem).unwrap());

        // After the rotation: new tokens name the new key; the old ones still verify.
        let rotated = AccessTokens::from_pem(&new_pem, "iss", "aud", 60)
            .unwrap()
            .with_previous(&public_pem(&old_pem).unwrap())
            .unwrap();
        assert_ne!(rotated.kid(), old.kid());
        let after = rotated.issue(u, sid).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&after).unwrap().kid.as_deref(), Some(rotated.kid()));
        assert!(rotated.verify(&before).is_some(), "a token signed before the rotation");
        assert!(rotated.verify(&after).is_some());
        assert!(old.verify(&after).is_none(), "a node that has not rotated does not know the new key");
        let jwks = rotated.jwks();
        let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids, [rotated.kid(), old.kid()]);
        assert_eq!(jwks["keys"][0]["kty"], "OKP");
        assert_eq!(jwks["keys"][0]["alg"], "EdDSA");

        // The old key retired: its tokens stop verifying.
        let retired = AccessTokens::from_pem(&new_pem, "iss", "aud", 60).unwrap();
        assert!(retired.verify(&before).is_none());
        assert!(retired.verify(&after).is_some());

        // No kid: the signing key only. An unknown kid: refused, whatever the signature.
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            iss: "iss".into(),
            aud: "aud".into(),
            sub: u.to_string(),
            sid: sid.to_string(),
            iat: now,
            exp: now + 60,
            typ: ACCESS_TYP.into(),
            jti: "j".into(),
        };
        let sign = |pem: &str, kid: Option<&str>| {
            let der = SigningKey::from_pkcs8_pem(pem).unwrap().to_pkcs8_der().unwrap();
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = kid.map(str::to_owned);
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
        };
        assert!(rotated.verify(&sign(&new_pem, None)).is_some());
        assert!(rotated.verify(&sign(&old_pem, None)).is_none());
        assert!(rotated.verify(&sign(&new_pem, Some("not-a-key"))).is_none());
        // A token that names the old key but is signed with another: refused.
        let stranger = new_private_pem().unwrap();
        assert!(rotated.verify(&sign(&stranger, Some(old.kid()))).is_none());
    }

    #[test]
    fn previous_keys_come_as_a_pem_bundle() {
        let a = public_pem(&new_private_pem().unwrap()).unwrap();
        let b = public_pem(&new_private_pem().unwrap()).unwrap();
        assert_eq!(parse_public_keys(&format!("{a}\n{b}")).unwrap().len(), 2);
        assert_eq!(parse_public_keys("").unwrap().len(), 0);
        assert!(parse_public_keys("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
        assert!(parse_public_keys("-----BEGIN PUBLIC KEY-----\nAAAA").is_err());
        // The same key twice is trusted once.
        let pem = new_private_pem().unwrap();
        let t = AccessTokens::from_pem(&pem, "i", "a", 60).unwrap().with_previous(&public_pem(&pem).unwrap()).unwrap();
        assert_eq!(t.jwks()["keys"].as_array().unwrap().len(), 1);
    }
}
