//! The social graph and engagement: follow, unfollow, block, like, views, feed preferences.
//!
//! Architecture invariant: a block either way makes each member invisible to the other — they
//! cannot follow, like, comment on or use the cameos of each other, and neither appears in the
//! other's feeds or comment lists. Every action is rate-limited per member; repeated actions are
//! idempotent (a second like changes nothing and notifies no one).
//!
//! # What a block hides, and what it does not
//!
//! `block`: not oneself (`BAD_USER_INPUT`), an existing member (a banned one may be blocked: their
//! content may come back on appeal); `Store::block` inserts the row and ends the follows both ways,
//! with their counters, in one transaction; both members' timelines and FOR_YOU pointers are dropped
//! and both epochs bumped. `unblock` lifts only the caller's own block; ended follows stay ended.
//! Hidden, both ways: the other's videos in every feed (at ranking and at serve time), their comments
//! in `Video.comments`, likes, views, comments and remixes of their videos (`NOT_FOUND`, as if absent),
//! following them (`FORBIDDEN`), and their cameos, whatever the permission (see `crate::consent`).
//! Not hidden: profiles (`user(username:)`, `User.videos`), a video by id, videos already published
//! with the blocker's cameo (the owner takes those down), notifications already sent, reports;
//! `Video.commentCount` still counts the hidden comments.
//!
//! # Engagement
//!
//! `follow`, `like` and their inverses change the rows and the counter columns in one transaction
//! (`store::social`), notify only when a row really changed (`user.followed`, `video.liked`), and
//! bump the member's feed epoch. `record_view` keeps one row per member and video with the longest
//! watch (clamped to the video's length; an author's own views do not count); the video then counts
//! as seen for FOR_YOU. `set_feed_preferences` parses a sentence into topic weights
//! (`feed::topics::Preferences::parse`), stores both, and makes the next first page rank afresh.

use std::collections::HashMap;
use std::sync::Arc;

use feed::topics::{PreferenceError, Preferences};

use super::feed::FeedService;
use super::model::{NotificationKind, User, Video, VideoStatus};
use super::{Caller, Deps};
use app_core::error::{AppError, AppResult};
use app_core::types::{UserId, VideoId};
use kv::Limit;

/// Per-member limits of social actions.
#[derive(Debug, Clone, Copy)]
pub struct SocialLimits {
    /// Follows, unfollows, blocks, likes and unlikes.
    pub actions: Limit,
    /// Recorded views.
    pub views: Limit,
}

/// Follows, blocks, likes, views and preferences.
#[derive(Clone)]
pub struct SocialService {
    deps: Arc<Deps>,
    feed: FeedService,
    limits: SocialLimits,
}

fn preference_error(e: PreferenceError) -> AppError {
    AppError::bad_input("text", e.to_string())
}

impl SocialService {
    /// Wires the service.
    pub fn new(deps: Arc<Deps>, feed: FeedService, limits: SocialLimits) -> Self {
        Self { deps, feed, limits }
    }

    /// Another member, as the caller may act on them: exists, not banned, not the caller.
    async fn other(&self, me: UserId, id: UserId, verb: &str) -> AppResult<User> {
        if id == me {
            return Err(AppError::bad_input("userId", format!("you cannot {verb} yourself")));
        }
        self.deps.store.user(id).await?.filter(|u| !u.is_banned()).ok_or(AppError::NotFound("user"))
    }

    /// A published video the caller may see (blocked authors' videos read as absent).
    async fn visible_video(&self, me: UserId, id: VideoId) -> AppResult<Video> {
        let v = self
            .deps
            .store
            .video(id)
            .await?
            .filter(|v| v.status == VideoStatus::Published)
            .ok_or(AppError::NotFound("video"))?;
        if v.author_id != me && self.deps.store.blocked_either(v.author_id, me).await? {
            return Err(AppError::NotFound("video"));
        }
        Ok(v)
    }

    /// The caller follows `id`; returns `id` as it is now.
    pub async fn follow(&self, caller: &Caller, id: UserId) -> AppResult<User> {
        let v = caller.require()?;
        let me = v.user.id;
        self.other(me, id, "follow").await?;
        if self.deps.store.blocked_either(me, id).await? {
            return Err(AppError::Forbidden("you cannot follow this member".into()));
        }
        self.deps.kv.hit(self.limits.actions, &me.to_string()).await?;
        // The notice (and so its push) is written with the follow, in its transaction.
        let message = format!("@{} followed you", v.user.username);
        let notice = store::social::Notice {
            user: id,
            kind: NotificationKind::UserFollowed,
            video: None,
            actor: Some(me),
            message: &message,
        };
        if self.deps.store.follow(me, id, Some(notice)).await? {
            self.feed.on_graph_changed(&[me]).await?;
        }
        self.deps.store.user(id).await?.ok_or(AppError::NotFound("user"))
    }

    /// The caller stops following `id`; returns `id` as it is now.
    pub async fn unfollow(&self, caller: &Caller, id: UserId) -> AppResult<User> {
        let v = caller.require()?;
        let me = v.user.id;
        if id == me {
            return Err(AppError::bad_input("userId", "you cannot unfollow yourself"));
        }
        self.deps.kv.hit(self.limits.actions, &me.to_string()).await?;
        if self.deps.store.unfollow(me, id).await? {
            self.feed.on_graph_changed(&[me]).await?;
        }
        self.deps.store.user(id).await?.ok_or(AppError::NotFound("user"))
    }

    /// The caller blocks `id`: follows both ways end, and each disappears from the other's
    /// feeds, comments and cameo choices at once.
    pub async fn block(&self, caller: &Caller, id: UserId) -> AppResult<bool> {
        let v = caller.require()?;
        let me = v.user.id;
        if id == me {
            return Err(AppError::bad_input("userId", "you cannot block yourself"));
        }
        // Banned members can be blocked too (their content may come back on appeal).
        self.deps.store.user(id).await?.ok_or(AppError::NotFound("user"))?;
        self.deps.kv.hit(self.limits.actions, &me.to_string()).await?;
        self.deps.store.block(me, id).await?;
        self.feed.on_graph_changed(&[me, id]).await?;
        Ok(true)
    }

    /// The caller lifts their block of `id` (a block `id` made stays).
    pub async fn unblock(&self, caller: &Caller, id: UserId) -> AppResult<bool> {
        let v = caller.require()?;
        self.deps.kv.hit(self.limits.actions, &v.user.id.to_string()).await?;
        let lifted = self.deps.store.unblock(v.user.id, id).await?;
        if lifted {
            self.feed.on_graph_changed(&[v.user.id, id]).await?;
        }
        Ok(lifted)
    }

    /// The caller likes a published video (idempotent); returns it as it is now.
    pub async fn like(&self, caller: &Caller, id: VideoId) -> AppResult<Video> {
        let v = caller.require()?;
        let me = v.user.id;
        let video = self.visible_video(me, id).await?;
        self.deps.kv.hit(self.limits.actions, &me.to_string()).await?;
        // The author's notice is written with the like, in its transaction.
        let message = format!("@{} liked your video", v.user.username);
        let notice = (video.author_id != me).then_some(store::social::Notice {
            user: video.author_id,
            kind: NotificationKind::VideoLiked,
            video: Some(id),
            actor: Some(me),
            message: &message,
        });
        if self.deps.store.like(me, id, notice).await? {
            super::feed::viewers_changed(&self.deps, &[me]).await;
        }
        self.deps.store.video(id).await?.ok_or(AppError::NotFound("video"))
    }

    /// The caller takes back a like (idempotent); returns the video as it is now.
    pub async fn unlike(&self, caller: &Caller, id: VideoId) -> AppResult<Video> {
        let v = caller.require()?;
        let me = v.user.id;
        // A like can be taken back from any video that still exists (even one taken down).
        let video = self.deps.store.video(id).await?.ok_or(AppError::NotFound("video"))?;
        if video.status != VideoStatus::Published
            && video.author_id != me
            && !self.deps.store.liked_among(me, &[id]).await?.contains(&id)
        {
            return Err(AppError::NotFound("video"));
        }
        self.deps.kv.hit(self.limits.actions, &me.to_string()).await?;
        if self.deps.store.unlike(me, id).await? {
            super::feed::viewers_changed(&self.deps, &[me]).await;
        }
        self.deps.store.video(id).await?.ok_or(AppError::NotFound("video"))
    }

    /// Records that the caller watched a published video for `watch_ms` (clamped to its
    /// length). The video then counts as seen for FOR_YOU.
    pub async fn record_view(&self, caller: &Caller, id: VideoId, watch_ms: i64) -> AppResult<bool> {
        let v = caller.require()?;
        if watch_ms < 0 {
            return Err(AppError::bad_input("watchMs", "watchMs must be zero or more"));
        }
        let video = self.visible_video(v.user.id, id).await?;
        self.deps.kv.hit(self.limits.views, &v.user.id.to_string()).await?;
        // An author watching their own video is not a view.
        if video.author_id != v.user.id {
            self.deps.store.record_view(v.user.id, id, watch_ms.min(video.duration_ms.max(0))).await?;
        }
        Ok(true)
    }

    /// The caller steers FOR_YOU with a sentence ("more cooking and animals, fewer pranks"),
    /// which becomes topic weights; the next first page is ranked with them.
    pub async fn set_feed_preferences(&self, caller: &Caller, text: &str) -> AppResult<Preferences> {
        let v = caller.require()?;
        if text.chars().count() > feed::topics::MAX_PREFERENCE_CHARS {
            return Err(preference_error(PreferenceError::TooLong));
        }
        let placed = self.place_by_meaning(text).await;
        let prefs = Preferences::parse_placed(text, &placed).map_err(preference_error)?;
        self.deps.kv.hit(self.limits.actions, &v.user.id.to_string()).await?;
        self.deps.store.set_feed_preferences(v.user.id, text.trim(), &prefs).await?;
        self.feed.on_preferences_changed(v.user.id).await?;
        Ok(prefs)
    }

    /// Families for the sentence's words that no family lists, by meaning
    /// (`feed::topics::place_by_similarity`); none without the encoder. An encoder failure is
    /// logged and the words are read as they are.
    async fn place_by_meaning(&self, text: &str) -> HashMap<String, &'static str> {
        let words = feed::topics::unplaced_words(text);
        let Some(encoder) = self.deps.meaning.clone() else { return HashMap::new() };
        if words.is_empty() {
            return HashMap::new();
        }
        let placed = tokio::task::spawn_blocking(move || -> Result<HashMap<String, &'static str>, String> {
            let families = feed::topics::family_sentences();
            let sentences: Vec<&str> = families.iter().map(|(_, s)| s.as_str()).collect();
            let family_vectors = encoder.embed_many(&sentences).map_err(|e| e.to_string())?;
            let mut out = HashMap::new();
            for word in words {
                let v = encoder.embed(&feed::topics::word_sentence(&word)).map_err(|e| e.to_string())?;
                let sims: Vec<(&'static str, f32)> = families
                    .iter()
                    .zip(&family_vectors)
                    .map(|((f, _), fv)| (*f, meaning::similarity(&v, fv)))
                    .collect();
                if let Some(family) = feed::topics::place_by_similarity(&sims) {
                    out.insert(word, family);
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        placed.unwrap_or_else(|error| {
            tracing::error!(%error, "feed preferences by meaning failed; words only");
            HashMap::new()
        })
    }

    /// The caller's stated preferences: their sentence and what it was read as.
    pub async fn feed_preferences(&self, caller: &Caller) -> AppResult<Option<(String, Preferences)>> {
        let v = caller.require()?;
        self.deps.store.feed_preferences(v.user.id).await
    }
}
