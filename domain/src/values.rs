//! "Parse, don't validate": input types that can only hold acceptable values.

use app_core::error::{AppError, AppResult};

/// A lower-cased, syntactically valid email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trims, lower-cases and checks the address.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() || s.len() > 254 || !mail::is_valid_address(&s) || !s.contains('.') {
            return Err(AppError::bad_input("email", "enter a valid email address"));
        }
        Ok(Self(s))
    }
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Handles that would mislead other members.
const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "moderator",
    "mod",
    "support",
    "staff",
    "system",
    "official",
    "security",
    "help",
    "me",
    "null",
];

/// A handle: 3–30 characters of letters, digits, `_` and `.`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Checks the handle; case is kept, uniqueness ignores it.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let s = raw.trim();
        let n = s.chars().count();
        if !(3..=30).contains(&n) {
            return Err(AppError::bad_input("username", "username must have 3 to 30 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Err(AppError::bad_input("username", "username may use only letters, digits, _ and ."));
        }
        if !s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err(AppError::bad_input("username", "username must start with a letter or digit"));
        }
        if RESERVED.contains(&s.to_lowercase().as_str()) {
            return Err(AppError::bad_input("username", "this username is reserved"));
        }
        Ok(Self(s.to_owned()))
    }
    /// The handle.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An optional display name: 1–64 characters, no control characters.
pub fn parse_display_name(raw: Option<&str>) -> AppResult<Option<String>> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > 64 || s.chars().any(char::is_control) {
        return Err(AppError::bad_input("displayName", "display name must have at most 64 printable characters"));
    }
    Ok(Some(s.to_owned()))
}

/// Invite-code alphabet: no 0/O, 1/I/L look-alikes.
pub const INVITE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Normalises a typed invite code: case-insensitive, spaces and dashes ignored. `None` when it
/// cannot be one of ours (so it is refused without a database look-up).
pub fn normalise_invite_code(raw: &str) -> Option<String> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_uppercase();
    if s.len() < 8 || s.len() > 32 || !s.bytes().all(|b| INVITE_ALPHABET.contains(&b)) {
        return None;
    }
    Some(s)
}

/// A fresh random invite code of `len` characters.
pub fn new_invite_code(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            let i = rng.random_range(0..INVITE_ALPHABET.len());
            char::from(INVITE_ALPHABET.get(i).copied().unwrap_or(b'X'))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(Email::parse("  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
        assert!(Email::parse("nope").is_err());
        assert!(Email::parse("a@b").is_err());
    }

    #[test]
    fn usernames() {
        assert!(Username::parse("ann_1").is_ok());
        assert!(Username::parse("an").is_err());
        assert!(Username::parse("_ann").is_err());
        assert!(Username::parse("ann smith").is_err());
        assert!(Username::parse("Admin").is_err());
    }

    #[test]
    fn invite_codes() {
        let c = new_invite_code(10);
        assert_eq!(c.len(), 10);
        assert!(c.bytes().all(|b| INVITE_ALPHABET.contains(&b)));
        assert_eq!(normalise_invite_code(&c.to_lowercase()).as_deref(), Some(c.as_str()));
        assert_eq!(normalise_invite_code("abcd-efgh").as_deref(), Some("ABCDEFGH"));
        assert_eq!(normalise_invite_code("ABCD0EFG"), None, "0 is not in the alphabet");
        assert_eq!(normalise_invite_code("short"), None);
        for b in INVITE_ALPHABET {
            assert!(!b"01OIL".contains(b));
        }
    }
}
