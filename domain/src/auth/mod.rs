//! Credentials: argon2id password hashing (on a bounded blocking pool), the password policy,
//! EdDSA access tokens, and the random secrets behind refresh and one-time mail tokens.
//!
//! Architecture invariant: this module holds no state about users; it turns secrets into
//! hashes and tokens into claims. Who may do what is decided in `domain`.

pub mod password;
pub mod tokens;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh 256-bit random secret in URL-safe base64 (refresh tokens, mail links).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The SHA-256 of a high-entropy secret, hex: what the database keeps instead of the secret.
pub fn secret_digest(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// The SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let digit = |n: u8| char::from(if n < 10 { b'0' + n } else { b'a' + n - 10 });
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0x0f));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }

    #[test]
    fn secrets_are_unique_and_digests_stable() {
        let a = random_secret();
        let b = random_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(secret_digest(&a), secret_digest(&a));
        assert_eq!(secret_digest(&a).len(), 64);
    }
}
