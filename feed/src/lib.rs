//! Feed ranking for the short-video app: which videos a viewer sees next,
//! and in what order.
//!
//! The crate decides order; it never decides visibility rules beyond what it
//! is given: the backend passes blocked authors and seen videos and
//! re-checks status (removed, private, moderated) at serve time. It does not
//! depend on the backend and performs no database access.
//!
//! Modules:
//!
//! - [`topics`]: topics of prompts and viewer preferences in plain words
//!   ("more cooking and animals, fewer pranks"), sharing one stemmer and
//!   family lexicon so that both sides match.
//! - [`rank`]: candidate scoring (engagement, completion, recency, affinity,
//!   preferences, source bonuses), FOR_YOU and TRENDING ranking, and the
//!   author-diversity re-rank.
//! - [`cursor`]: opaque, versioned, URL-safe pagination cursors.
//! - [`cache`]: the shared feed state (FOLLOWING timelines, ranked-list
//!   snapshots, cached values, epochs) in-process or in Redis, with the same
//!   semantics on both engines.

#![warn(missing_docs)]

pub mod cache;
pub mod cursor;
pub mod rank;
pub mod search;
pub mod topics;

pub use cache::{CacheError, FeedCache, TIMELINE_CAP, TimelineItem};
pub use cursor::FeedCursor;
pub use rank::{Candidate, Scored, Sources, Viewer, Weights};
pub use topics::{PreferenceError, Preferences};
