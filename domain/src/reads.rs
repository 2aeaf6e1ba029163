//! The read side the GraphQL layer needs beyond the services' own operations: batched look-ups
//! for DataLoaders (remix counts, follows, blocks, likes), comment and notification pages, and
//! the moderator-only details of a case.
//!
//! Invariant: the API reaches stored data only through services; these reads apply the same
//! visibility rules as the rest of the domain (blocked members' comments hidden from each other,
//! notifications only to their owner, case reports and frame strips only to moderators).

use std::collections::{HashMap, HashSet};

use app_core::error::AppResult;
use app_core::model::{Comment, Notification, Report, Role, Video};
use app_core::types::{CaseId, CommentId, UserId, VideoId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Caller, Services};

/// A keyset position in a list ordered by creation time, then id.
pub type After = Option<(DateTime<Utc>, Uuid)>;

impl Services {
    /// Published remixes of each video (for the `remixCount` DataLoader).
    pub async fn remix_counts(&self, ids: &[VideoId]) -> AppResult<HashMap<VideoId, i64>> {
        self.deps.store.remix_counts(ids).await
    }

    /// Which of `ids` the viewer follows.
    pub async fn followed_among(&self, viewer: UserId, ids: &[UserId]) -> AppResult<HashSet<UserId>> {
        self.deps.store.followed_among(viewer, ids).await
    }

    /// Which of `ids` the viewer has blocked.
    pub async fn blocked_among(&self, viewer: UserId, ids: &[UserId]) -> AppResult<HashSet<UserId>> {
        self.deps.store.blocked_among(viewer, ids).await
    }

    /// Which of `ids` the viewer likes.
    pub async fn liked_among(&self, viewer: UserId, ids: &[VideoId]) -> AppResult<HashSet<VideoId>> {
        self.deps.store.liked_among(viewer, ids).await
    }

    /// A page of a video's visible comments for the caller: comments by members in a block with
    /// the caller (either way) are left out.
    pub async fn comments_of(
        &self,
        caller: &Caller,
        video: VideoId,
        after: After,
        limit: u64,
    ) -> AppResult<Vec<Comment>> {
        let hidden = match caller.optional()? {
            Some(v) => self.deps.store.block_set(v.user.id).await?,
            None => HashSet::new(),
        };
        self.deps.store.comments_of(video, &hidden, after, limit).await
    }

    /// The comment a moderation case is about (shown with the case to whoever may see the case).
    pub async fn case_comment(&self, id: CommentId) -> AppResult<Option<Comment>> {
        self.deps.store.comment(id).await
    }

    /// The reports gathered into a case, for moderators.
    pub async fn case_reports(&self, caller: &Caller, case: CaseId) -> AppResult<Vec<Report>> {
        caller.require_role(Role::Moderator)?;
        self.deps.store.reports_of(case).await
    }

    /// A video as a moderator sees it (any status), for the details of a case.
    pub async fn case_video(&self, caller: &Caller, id: VideoId) -> AppResult<Option<Video>> {
        caller.require_role(Role::Moderator)?;
        self.deps.store.video(id).await
    }

    /// A page of the caller's notifications, newest first, and how many are unread.
    pub async fn notifications(
        &self,
        caller: &Caller,
        after: After,
        limit: u64,
    ) -> AppResult<(Vec<Notification>, u64)> {
        let v = caller.require()?;
        let list = self.deps.store.notifications(v.user.id, after, limit).await?;
        let unread = self.deps.store.unread_notifications(v.user.id).await?;
        Ok((list, unread))
    }

    /// Marks every notification of the caller read; how many were unread.
    pub async fn mark_notifications_read(&self, caller: &Caller) -> AppResult<u64> {
        let v = caller.require()?;
        self.deps.store.mark_notifications_read(v.user.id).await
    }
}
