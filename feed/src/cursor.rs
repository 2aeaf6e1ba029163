//! Opaque pagination cursors for the feeds.
//!
//! A cursor is URL-safe base64 (no padding) of a versioned text payload,
//! `f1|<kind>|r|<offset>|<list>` or `f1|<kind>|k|<at_micros>|<video id>`.
//! Its invariant: [`decode`] accepts exactly what [`encode`] produces for the
//! same feed kind and a valid list id, and rejects anything else (garbage,
//! another kind's cursor, another version, input over [`MAX_CURSOR_LEN`]
//! characters, list ids outside `[A-Za-z0-9_-]{1,64}`). Cursors are not
//! signed: they carry only positions, never permissions.
//!
//! Why FOR_YOU and TRENDING cursors are positions in a stored list, not scores: scores change with
//! every like and with time, so a cursor holding a score would repeat or skip videos between pages.
//! A first page ranks once and stores the ranked ids; later pages continue that list exactly while
//! new videos arrive (they enter at the next ranking). The price is `CURSOR_EXPIRED` for a cursor
//! older than its list, after which the client loads from the top. FOLLOWING, ordered by
//! publication time, uses keyset positions (`at_micros`, video id).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// The cursor format version.
pub const VERSION: &str = "f1";
/// The longest encoded cursor [`decode`] accepts.
pub const MAX_CURSOR_LEN: usize = 256;
/// The longest list id.
pub const MAX_LIST_ID_LEN: usize = 64;

/// A position in a feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeedCursor {
    /// A position in a stored ranked list (FOR_YOU, TRENDING): the list's id and how many items were consumed.
    Ranked {
        /// The stored list's id (`[A-Za-z0-9_-]{1,64}`).
        list: String,
        /// How many items of the list were consumed.
        offset: u32,
    },
    /// A position in a newest-first list (FOLLOWING): the last item's publication time and id.
    Keyset {
        /// The last item's publication time, microseconds since the epoch.
        at_micros: i64,
        /// The last item's video id.
        id: Uuid,
    },
}

/// Whether a list id is `[A-Za-z0-9_-]{1,64}`.
pub fn valid_list_id(list: &str) -> bool {
    !list.is_empty()
        && list.len() <= MAX_LIST_ID_LEN
        && list.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Encodes a cursor for the feed `kind` (e.g. "FOR_YOU"). A kind containing
/// `|` or a list id that is not valid yields a cursor [`decode`] rejects.
pub fn encode(kind: &str, c: &FeedCursor) -> String {
    let payload = match c {
        FeedCursor::Ranked { list, offset } => format!("{VERSION}|{kind}|r|{offset}|{list}"),
        FeedCursor::Keyset { at_micros, id } => {
            format!("{VERSION}|{kind}|k|{at_micros}|{}", id.simple())
        }
    };
    URL_SAFE_NO_PAD.encode(payload)
}

/// Decodes a cursor for the feed `kind`; `None` for anything [`encode`] did
/// not produce for this kind.
pub fn decode(kind: &str, s: &str) -> Option<FeedCursor> {
    if s.is_empty() || s.len() > MAX_CURSOR_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let mut parts = text.split('|');
    let (version, k, tag, num, last) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != VERSION || k != kind {
        return None;
    }
    let canonical_int =
        |n: &str| !n.is_empty() && !n.starts_with('+') && (n == "0" || !n.trim_start_matches('-').starts_with('0'));
    if !canonical_int(num) {
        return None;
    }
    match tag {
        "r" => {
            let offset: u32 = num.parse().ok()?;
            valid_list_id(last).then(|| FeedCursor::Ranked { list: last.to_owned(), offset })
        }
        "k" => {
            let at_micros: i64 = num.parse().ok()?;
            if last.len() != 32 {
                return None;
            }
            let id = Uuid::try_parse(last).ok()?;
            Some(FeedCursor::Keyset { at_micros, id })
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let cs = [
            FeedCursor::Ranked { list: "abc_DEF-123".into(), offset: 0 },
            FeedCursor::Ranked { list: "x".repeat(64), offset: u32::MAX },
            FeedCursor::Keyset { at_micros: 1_717_171_717_000_001, id: Uuid::new_v4() },
            FeedCursor::Keyset { at_micros: -5, id: Uuid::nil() },
            FeedCursor::Keyset { at_micros: i64::MIN, id: Uuid::max() },
        ];
        for c in cs {
            let s = encode("FOR_YOU", &c);
            assert!(s.len() <= MAX_CURSOR_LEN);
            assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{s}");
            assert_eq!(decode("FOR_YOU", &s), Some(c));
        }
    }

    #[test]
    fn wrong_kind_rejected() {
        let s = encode("FOR_YOU", &FeedCursor::Ranked { list: "l1".into(), offset: 20 });
        assert_eq!(decode("TRENDING", &s), None);
        assert_eq!(decode("FOR_YOU_", &s), None);
        let s = encode("FOLLOWING", &FeedCursor::Keyset { at_micros: 1, id: Uuid::new_v4() });
        assert_eq!(decode("FOR_YOU", &s), None);
    }

    #[test]
    fn garbage_rejected() {
        let b = |t: &str| URL_SAFE_NO_PAD.encode(t);
        for s in [
            String::new(),
            "!!!".into(),
            "not base64 at all".into(),
            "A".repeat(300),
            b("f1|FOR_YOU|r|10"),
            b("f2|FOR_YOU|r|10|list"),
            b("f1|FOR_YOU|r|10|list|extra"),
            b("f1|FOR_YOU|r|-1|list"),
            b("f1|FOR_YOU|r|+1|list"),
            b("f1|FOR_YOU|r|01|list"),
            b("f1|FOR_YOU|r|99999999999|list"),
            b("f1|FOR_YOU|r|1|bad list"),
            b("f1|FOR_YOU|r|1|"),
            b(&format!("f1|FOR_YOU|r|1|{}", "x".repeat(65))),
            b("f1|FOR_YOU|k|1|not-a-uuid"),
            b("f1|FOR_YOU|k|x|00000000000000000000000000000000"),
            b("f1|FOR_YOU|z|1|list"),
        ] {
            assert_eq!(decode("FOR_YOU", &s), None, "{s}");
        }
        // An invalid list id encodes to something decode rejects.
        let s = encode("FOR_YOU", &FeedCursor::Ranked { list: "no/slash".into(), offset: 1 });
        assert_eq!(decode("FOR_YOU", &s), None);
    }
}
