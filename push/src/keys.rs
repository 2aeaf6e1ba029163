//! Key files and the small encodings the three protocols share.
//!
//! EC keys are read with `p256` (PKCS#8 `PRIVATE KEY`, as Apple's `.p8` files and
//! `openssl genpkey` write them, or SEC1 `EC PRIVATE KEY`, as `openssl ecparam -genkey` writes
//! them) and RSA keys with `rsa` (PKCS#8 or PKCS#1); both are handed to `jsonwebtoken` as DER, so
//! a key that parsed here signs. Nothing here panics on a bad file: every failure is a sentence.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};

use crate::SettingsError;

/// The file's text, or an error naming `setting`.
pub(crate) fn read_file(path: &Path, setting: &'static str) -> Result<String, SettingsError> {
    std::fs::read_to_string(path)
        .map_err(|e| SettingsError::new(setting, format!("cannot read {}: {e}", path.display())))
}

/// A P-256 private key from PEM (PKCS#8 or SEC1).
pub(crate) fn ec_secret_from_pem(pem: &str) -> Result<p256::SecretKey, String> {
    let pem = pem.trim();
    p256::SecretKey::from_pkcs8_pem(pem)
        .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
        .map_err(|_| "it is not a PEM EC P-256 private key (PKCS#8 \"PRIVATE KEY\" or \"EC PRIVATE KEY\")".to_owned())
}

/// The `jsonwebtoken` ES256 signing key for `secret`.
pub(crate) fn es256_key(secret: &p256::SecretKey) -> Result<EncodingKey, String> {
    let der = secret.to_pkcs8_der().map_err(|e| format!("cannot encode the EC key: {e}"))?;
    Ok(EncodingKey::from_ec_der(der.as_bytes()))
}

/// The `jsonwebtoken` RS256 signing key for an RSA private key in PEM (PKCS#8 or PKCS#1).
pub(crate) fn rs256_key_from_pem(pem: &str) -> Result<EncodingKey, String> {
    use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
    let pem = pem.trim();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| "its private_key is not a PEM RSA private key".to_owned())?;
    let der = key.to_pkcs1_der().map_err(|e| format!("cannot encode the RSA key: {e}"))?;
    Ok(EncodingKey::from_rsa_der(der.as_bytes()))
}

/// The uncompressed SEC1 point (65 bytes) of a public key.
pub(crate) fn uncompressed(public: &p256::PublicKey) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    public.to_encoded_point(false).as_bytes().to_vec()
}

/// base64url without padding.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url with or without padding (browsers send it without; some libraries add it).
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.ends_with('=') { URL_SAFE.decode(text).ok() } else { URL_SAFE_NO_PAD.decode(text).ok() }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `jsonwebtoken::encode`, with its error as words.
pub(crate) fn sign<T: serde::Serialize>(
    header: &jsonwebtoken::Header,
    claims: &T,
    key: &EncodingKey,
) -> Result<String, String> {
    jsonwebtoken::encode(header, claims, key).map_err(|e| format!("cannot sign the JWT: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_accepts_both_paddings() {
        assert_eq!(b64url_decode("AQI").as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(b64url_decode("AQI=").as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(b64url_decode("A+I"), None);
    }

    #[test]
    fn a_bad_pem_is_words_not_a_panic() {
        assert!(ec_secret_from_pem("nonsense").is_err());
        assert!(rs256_key_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
    }
}
