//! The social graph (follows, blocks), engagement (likes, views) and feed preferences, and the
//! candidate queries the feed ranks.
//!
//! Invariant: every counter (`users.follower_count`/`following_count`, `videos.like_count`/
//! `view_count`/`watch_ms_total`/`comment_count`) changes in the same transaction as the row it
//! counts, and only when that row really changed (an insert that found the row already there, or
//! a delete that found nothing, leaves the counters alone). So counts equal the rows under any
//! interleaving of concurrent requests, on both engines, and reading a count is reading a column.
//!
//! `block` inserts the row and ends the follows both ways with their counters, in one transaction.
//! `record_view` keeps one row per member and video with the longest watch: the first view inserts
//! it and adds 1 to `view_count` and its watch to `watch_ms_total`; a later one is a compare-and-set
//! on the stored watch (retried five times against a concurrent one, then `CONFLICT`) that adds only
//! the difference. The candidate queries (`published_by`, `newest_published`, `most_liked_since`,
//! `published_remixes_of_any`, `published_with_cameos_of`, `published_candidates`) read only the
//! columns ranking needs ([`CandidateRow`]); `servable_by_ids` is the feeds' serve-time check.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, RelationDef,
};
use uuid::Uuid;

use super::Store;
use super::entities::{blocks, cameos, feed_preferences as prefs, follows, likes, users, video_cameos, videos, views};
use super::generation::video_from;
use app_core::age::BirthMonth;
use app_core::error::AppResult;
use app_core::model::{CameoStatus, Video, VideoStatus};
use app_core::types::{UserId, VideoId};

/// A published video as the feed ranks it: the columns ranking reads, nothing else (candidate
/// pools read hundreds to thousands of rows per ranking).
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct CandidateRow {
    /// Video.
    pub id: Uuid,
    /// Author.
    pub author_id: Uuid,
    /// Publication.
    pub published_at: Option<DateTime<Utc>>,
    /// Creation.
    pub created_at: DateTime<Utc>,
    /// Prompt (its topics).
    pub prompt: String,
    /// Counters.
    pub like_count: i64,
    /// Counters.
    pub comment_count: i64,
    /// Counters.
    pub view_count: i64,
    /// Counters.
    pub watch_ms_total: i64,
    /// Length.
    pub duration_ms: i64,
    /// Its published remixes (counted in the same statement).
    pub remix_count: i64,
}

fn candidate_columns(q: sea_orm::Select<videos::Entity>) -> sea_orm::Select<videos::Entity> {
    // A correlated count per row, probing the remix-of index: the pools' remix counts come with
    // the rows instead of from a second statement over every id.
    let remixes = sea_orm::sea_query::Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from_as(videos::Entity, "remix")
        .and_where(Expr::col(("remix", videos::Column::RemixOf)).equals((videos::Entity, videos::Column::Id)))
        .and_where(Expr::col(("remix", videos::Column::Status)).eq(VideoStatus::Published))
        .to_owned();
    q.select_only().expr_as(sea_orm::sea_query::SubQueryStatement::SelectStatement(remixes), "remix_count").columns([
        videos::Column::Id,
        videos::Column::AuthorId,
        videos::Column::PublishedAt,
        videos::Column::CreatedAt,
        videos::Column::Prompt,
        videos::Column::LikeCount,
        videos::Column::CommentCount,
        videos::Column::ViewCount,
        videos::Column::WatchMsTotal,
        videos::Column::DurationMs,
    ])
}

/// One of a member's views as FOR_YOU reads them ([`Store::recent_views`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentView {
    /// The video watched.
    pub video: VideoId,
    /// When it was last watched.
    pub at: DateTime<Utc>,
    /// Its author.
    pub author: UserId,
}

/// What a view changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewChange {
    /// The member's first view of this video.
    First,
    /// A longer watch than before.
    Longer,
    /// Nothing new (a shorter or equal watch).
    Same,
}

async fn bump_user<C: ConnectionTrait>(c: &C, id: Uuid, col: users::Column, by: i64) -> AppResult<()> {
    users::Entity::update_many().col_expr(col, Expr::col(col).add(by)).filter(users::Column::Id.eq(id)).exec(c).await?;
    Ok(())
}

/// A follow's two counters (`followee.follower_count`, `follower.following_count`), the rows
/// updated in id order: two members following each other at once lock the same two rows in the
/// same order, so neither transaction waits on the other in a cycle (a deadlock on PostgreSQL).
async fn bump_follow_counts<C: ConnectionTrait>(c: &C, follower: Uuid, followee: Uuid, by: i64) -> AppResult<()> {
    let mut both = [(followee, users::Column::FollowerCount), (follower, users::Column::FollowingCount)];
    both.sort_by_key(|(id, _)| *id);
    for (id, col) in both {
        bump_user(c, id, col, by).await?;
    }
    Ok(())
}

async fn bump_video<C: ConnectionTrait>(c: &C, id: Uuid, col: videos::Column, by: i64) -> AppResult<()> {
    videos::Entity::update_many()
        .col_expr(col, Expr::col(col).add(by))
        .filter(videos::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

async fn delete_follow<C: ConnectionTrait>(c: &C, follower: Uuid, followee: Uuid) -> AppResult<bool> {
    let r = follows::Entity::delete_many()
        .filter(follows::Column::FollowerId.eq(follower))
        .filter(follows::Column::FolloweeId.eq(followee))
        .exec(c)
        .await?;
    if r.rows_affected == 1 {
        bump_follow_counts(c, follower, followee, -1).await?;
    }
    Ok(r.rows_affected == 1)
}

/// Published, newest first by publication, after the keyset `(published_at, id)`.
fn published_after(
    mut q: sea_orm::Select<videos::Entity>,
    before: Option<(DateTime<Utc>, Uuid)>,
) -> sea_orm::Select<videos::Entity> {
    q = q.filter(videos::Column::Status.eq(VideoStatus::Published));
    if let Some((at, id)) = before {
        q = q.filter(
            videos::Column::PublishedAt.lt(at).or(videos::Column::PublishedAt.eq(at).and(videos::Column::Id.lt(id))),
        );
    }
    q.order_by_desc(videos::Column::PublishedAt).order_by_desc(videos::Column::Id)
}

/// A notification written with a change, in its transaction (and so its push, see `crate::push`).
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    /// Whom it is for.
    pub user: UserId,
    /// What it is about.
    pub kind: app_core::model::NotificationKind,
    /// The video it is about.
    pub video: Option<VideoId>,
    /// Who caused it.
    pub actor: Option<UserId>,
    /// Its text.
    pub message: &'a str,
}

impl Store {
    /// `follower` follows `followee`; false when they already did.
    pub async fn follow(&self, follower: UserId, followee: UserId, notice: Option<Notice<'_>>) -> AppResult<bool> {
        let txn = self.tx().await?;
        let n = follows::Entity::insert(follows::ActiveModel {
            follower_id: Set(follower.0),
            followee_id: Set(followee.0),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([follows::Column::FollowerId, follows::Column::FolloweeId]).do_nothing().to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if n == 1 {
            bump_follow_counts(&txn, follower.0, followee.0, 1).await?;
            if let Some(n) = notice {
                Store::notify_in(&txn, n.user, n.kind, n.video, n.actor, n.message).await?;
            }
        }
        txn.commit().await?;
        Ok(n == 1)
    }

    /// `follower` stops following `followee`; false when they did not.
    pub async fn unfollow(&self, follower: UserId, followee: UserId) -> AppResult<bool> {
        let txn = self.tx().await?;
        let removed = delete_follow(&txn, follower.0, followee.0).await?;
        txn.commit().await?;
        Ok(removed)
    }

    /// `blocker` blocks `blocked`: follows in both directions end (counts adjusted) in the same
    /// transaction. False when the block existed.
    pub async fn block(&self, blocker: UserId, blocked: UserId) -> AppResult<bool> {
        let txn = self.tx().await?;
        let n = blocks::Entity::insert(blocks::ActiveModel {
            blocker_id: Set(blocker.0),
            blocked_id: Set(blocked.0),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([blocks::Column::BlockerId, blocks::Column::BlockedId]).do_nothing().to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        delete_follow(&txn, blocker.0, blocked.0).await?;
        delete_follow(&txn, blocked.0, blocker.0).await?;
        txn.commit().await?;
        Ok(n == 1)
    }

    /// Lifts a block; false when there was none.
    pub async fn unblock(&self, blocker: UserId, blocked: UserId) -> AppResult<bool> {
        let r = blocks::Entity::delete_many()
            .filter(blocks::Column::BlockerId.eq(blocker.0))
            .filter(blocks::Column::BlockedId.eq(blocked.0))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Whether either member blocked the other.
    pub async fn blocked_either(&self, a: UserId, b: UserId) -> AppResult<bool> {
        let n = blocks::Entity::find()
            .filter(
                Condition::any()
                    .add(blocks::Column::BlockerId.eq(a.0).and(blocks::Column::BlockedId.eq(b.0)))
                    .add(blocks::Column::BlockerId.eq(b.0).and(blocks::Column::BlockedId.eq(a.0))),
            )
            .limit(1)
            .all(&self.db)
            .await?;
        Ok(!n.is_empty())
    }

    /// Everyone in a block with `user`, either direction (one query).
    pub async fn block_set(&self, user: UserId) -> AppResult<HashSet<UserId>> {
        let rows = blocks::Entity::find()
            .filter(
                Condition::any().add(blocks::Column::BlockerId.eq(user.0)).add(blocks::Column::BlockedId.eq(user.0)),
            )
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|b| UserId(if b.blocker_id == user.0 { b.blocked_id } else { b.blocker_id })).collect())
    }

    /// Which of `ids` `blocker` has blocked (one query; blocks the other way are not counted).
    pub async fn blocked_among(&self, blocker: UserId, ids: &[UserId]) -> AppResult<HashSet<UserId>> {
        let rows = blocks::Entity::find()
            .filter(blocks::Column::BlockerId.eq(blocker.0))
            .filter(blocks::Column::BlockedId.is_in(ids.iter().map(|u| u.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|b| UserId(b.blocked_id)).collect())
    }

    /// Whether `a` follows `b`.
    pub async fn follows(&self, a: UserId, b: UserId) -> AppResult<bool> {
        Ok(follows::Entity::find_by_id((a.0, b.0)).one(&self.db).await?.is_some())
    }

    /// Which of `ids` the viewer follows (one query).
    pub async fn followed_among(&self, viewer: UserId, ids: &[UserId]) -> AppResult<HashSet<UserId>> {
        let rows = follows::Entity::find()
            .filter(follows::Column::FollowerId.eq(viewer.0))
            .filter(follows::Column::FolloweeId.is_in(ids.iter().map(|u| u.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|f| UserId(f.followee_id)).collect())
    }

    /// Everyone `user` follows, with their follower counts (one statement: the follows joined
    /// to the followees' rows).
    pub async fn followees(&self, user: UserId) -> AppResult<Vec<(UserId, i64)>> {
        let followee: RelationDef =
            follows::Entity::belongs_to(users::Entity).from(follows::Column::FolloweeId).to(users::Column::Id).into();
        let rows: Vec<(Uuid, i64)> = follows::Entity::find()
            .select_only()
            .column(follows::Column::FolloweeId)
            .column(users::Column::FollowerCount)
            .join(JoinType::InnerJoin, followee)
            .filter(follows::Column::FollowerId.eq(user.0))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(u, n)| (UserId(u), n)).collect())
    }

    /// Everyone following `user` (one query).
    pub async fn followers(&self, user: UserId) -> AppResult<Vec<UserId>> {
        let ids: Vec<Uuid> = follows::Entity::find()
            .select_only()
            .column(follows::Column::FollowerId)
            .filter(follows::Column::FolloweeId.eq(user.0))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    /// `user` likes `video`; false when they already did.
    pub async fn like(&self, user: UserId, video: VideoId, notice: Option<Notice<'_>>) -> AppResult<bool> {
        let txn = self.tx().await?;
        let n = likes::Entity::insert(likes::ActiveModel {
            user_id: Set(user.0),
            video_id: Set(video.0),
            created_at: Set(Utc::now()),
        })
        .on_conflict(OnConflict::columns([likes::Column::UserId, likes::Column::VideoId]).do_nothing().to_owned())
        .exec_without_returning(&txn)
        .await?;
        if n == 1 {
            bump_video(&txn, video.0, videos::Column::LikeCount, 1).await?;
            if let Some(n) = notice {
                Store::notify_in(&txn, n.user, n.kind, n.video, n.actor, n.message).await?;
            }
        }
        txn.commit().await?;
        Ok(n == 1)
    }

    /// `user` takes back a like; false when there was none.
    pub async fn unlike(&self, user: UserId, video: VideoId) -> AppResult<bool> {
        let txn = self.tx().await?;
        let r = likes::Entity::delete_many()
            .filter(likes::Column::UserId.eq(user.0))
            .filter(likes::Column::VideoId.eq(video.0))
            .exec(&txn)
            .await?;
        if r.rows_affected == 1 {
            bump_video(&txn, video.0, videos::Column::LikeCount, -1).await?;
        }
        txn.commit().await?;
        Ok(r.rows_affected == 1)
    }

    /// Which of `ids` the viewer likes (one query).
    pub async fn liked_among(&self, viewer: UserId, ids: &[VideoId]) -> AppResult<HashSet<VideoId>> {
        let rows: Vec<Uuid> = likes::Entity::find()
            .select_only()
            .column(likes::Column::VideoId)
            .filter(likes::Column::UserId.eq(viewer.0))
            .filter(likes::Column::VideoId.is_in(ids.iter().map(|v| v.0)))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(VideoId).collect())
    }

    /// The viewer's most recent likes, newest first, each with the video's author (one
    /// statement: the likes joined to their videos).
    pub async fn recent_likes(&self, user: UserId, limit: u64) -> AppResult<Vec<(VideoId, UserId)>> {
        let video: RelationDef =
            likes::Entity::belongs_to(videos::Entity).from(likes::Column::VideoId).to(videos::Column::Id).into();
        let rows: Vec<(Uuid, Uuid)> = likes::Entity::find()
            .select_only()
            .column(likes::Column::VideoId)
            .column(videos::Column::AuthorId)
            .join(JoinType::InnerJoin, video)
            .filter(likes::Column::UserId.eq(user.0))
            .order_by_desc(likes::Column::CreatedAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(v, a)| (VideoId(v), UserId(a))).collect())
    }

    /// Records that `user` watched `video` for `watch_ms` (already clamped to the video's
    /// length). One row per member and video keeps the longest watch; the video's view count
    /// counts members, and its watch total sums their longest watches.
    pub async fn record_view(&self, user: UserId, video: VideoId, watch_ms: i64) -> AppResult<ViewChange> {
        // A compare-and-set loop: a concurrent view of the same pair retries against the new row.
        for _ in 0..5 {
            let txn = self.tx().await?;
            let now = Utc::now();
            let n = views::Entity::insert(views::ActiveModel {
                user_id: Set(user.0),
                video_id: Set(video.0),
                watch_ms: Set(watch_ms),
                viewed_at: Set(now),
            })
            .on_conflict(OnConflict::columns([views::Column::UserId, views::Column::VideoId]).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await?;
            if n == 1 {
                bump_video(&txn, video.0, videos::Column::ViewCount, 1).await?;
                bump_video(&txn, video.0, videos::Column::WatchMsTotal, watch_ms).await?;
                txn.commit().await?;
                return Ok(ViewChange::First);
            }
            let Some(old) = views::Entity::find_by_id((user.0, video.0)).one(&txn).await? else {
                txn.rollback().await?;
                continue;
            };
            let longer = watch_ms > old.watch_ms;
            let r = views::Entity::update_many()
                .col_expr(views::Column::WatchMs, Expr::value(std::cmp::max(watch_ms, old.watch_ms)))
                .col_expr(views::Column::ViewedAt, Expr::value(now))
                .filter(views::Column::UserId.eq(user.0))
                .filter(views::Column::VideoId.eq(video.0))
                .filter(views::Column::WatchMs.eq(old.watch_ms))
                .exec(&txn)
                .await?;
            if r.rows_affected != 1 {
                txn.rollback().await?;
                continue;
            }
            if longer {
                bump_video(&txn, video.0, videos::Column::WatchMsTotal, watch_ms - old.watch_ms).await?;
            }
            txn.commit().await?;
            return Ok(if longer { ViewChange::Longer } else { ViewChange::Same });
        }
        Err(app_core::error::AppError::Conflict("this view is being recorded by another request; try again".into()))
    }

    /// Videos `user` watched, newest first by their last view (at most `limit`), with when and
    /// the video's author (one statement: the views joined to their videos).
    pub async fn recent_views(&self, user: UserId, limit: u64) -> AppResult<Vec<RecentView>> {
        let video: RelationDef =
            views::Entity::belongs_to(videos::Entity).from(views::Column::VideoId).to(videos::Column::Id).into();
        let rows: Vec<(Uuid, DateTime<Utc>, Uuid)> = views::Entity::find()
            .select_only()
            .column(views::Column::VideoId)
            .column(views::Column::ViewedAt)
            .column(videos::Column::AuthorId)
            .join(JoinType::InnerJoin, video)
            .filter(views::Column::UserId.eq(user.0))
            .order_by_desc(views::Column::ViewedAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(v, at, a)| RecentView { video: VideoId(v), at, author: UserId(a) }).collect())
    }

    /// Stores a member's feed preferences: their sentence and what it was read as (the topic
    /// weights, kept as JSON).
    pub async fn set_feed_preferences<P: serde::Serialize>(
        &self,
        user: UserId,
        text: &str,
        read_as: &P,
    ) -> AppResult<()> {
        prefs::Entity::insert(prefs::ActiveModel {
            user_id: Set(user.0),
            text: Set(text.into()),
            weights: Set(crate::json::write("feed_preferences", "weights", read_as)?),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(prefs::Column::UserId)
                .update_columns([prefs::Column::Text, prefs::Column::Weights, prefs::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// A member's feed preferences: their sentence and what it was read as (an error when the
    /// stored weights do not parse as `P`).
    pub async fn feed_preferences<P: serde::de::DeserializeOwned>(
        &self,
        user: UserId,
    ) -> AppResult<Option<(String, P)>> {
        let Some(p) = prefs::Entity::find_by_id(user.0).one(&self.db).await? else { return Ok(None) };
        let read_as = crate::json::read("feed_preferences", "weights", p.user_id, &p.weights)?;
        Ok(Some((p.text, read_as)))
    }

    /// Published videos of `authors`, newest first by publication, after the keyset position.
    pub async fn published_by(
        &self,
        authors: &[UserId],
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<CandidateRow>> {
        if authors.is_empty() {
            return Ok(Vec::new());
        }
        let q = published_after(
            videos::Entity::find().filter(videos::Column::AuthorId.is_in(authors.iter().map(|u| u.0))),
            before,
        );
        Ok(candidate_columns(q).limit(limit).into_model::<CandidateRow>().all(&self.db).await?)
    }

    /// Each of `authors`' newest `per_author` published videos (a window over the author,
    /// publication index; one statement), newest first within an author.
    pub async fn newest_per_author(&self, authors: &[UserId], per_author: u64) -> AppResult<Vec<CandidateRow>> {
        use sea_orm::sea_query::{Asterisk, Order, Query};
        use sea_orm::{FromQueryResult, QueryTrait};
        if authors.is_empty() || per_author == 0 {
            return Ok(Vec::new());
        }
        let inner = candidate_columns(
            videos::Entity::find()
                .filter(videos::Column::AuthorId.is_in(authors.iter().map(|u| u.0)))
                .filter(videos::Column::Status.eq(VideoStatus::Published)),
        )
        .expr_as(
            Expr::cust("ROW_NUMBER() OVER (PARTITION BY author_id ORDER BY published_at DESC, id DESC)"),
            "pool_rank",
        )
        .into_query();
        let outer = Query::select()
            .column(Asterisk)
            .from_subquery(inner, "per_author")
            .and_where(Expr::col("pool_rank").lte(per_author))
            .order_by("author_id", Order::Asc)
            .order_by("pool_rank", Order::Asc)
            .to_owned();
        let stmt = self.db.get_database_backend().build(&outer);
        Ok(CandidateRow::find_by_statement(stmt).all(&self.db).await?)
    }

    /// The newest published videos overall (optionally only since `since`).
    pub async fn newest_published(&self, since: Option<DateTime<Utc>>, limit: u64) -> AppResult<Vec<CandidateRow>> {
        let mut q = videos::Entity::find();
        if let Some(s) = since {
            q = q.filter(videos::Column::PublishedAt.gte(s));
        }
        Ok(candidate_columns(published_after(q, None)).limit(limit).into_model::<CandidateRow>().all(&self.db).await?)
    }

    /// The most liked published videos since `since`.
    pub async fn most_liked_since(&self, since: DateTime<Utc>, limit: u64) -> AppResult<Vec<CandidateRow>> {
        let q = videos::Entity::find()
            .filter(videos::Column::Status.eq(VideoStatus::Published))
            .filter(videos::Column::PublishedAt.gte(since))
            .order_by_desc(videos::Column::LikeCount)
            .order_by_desc(videos::Column::Id);
        Ok(candidate_columns(q).limit(limit).into_model::<CandidateRow>().all(&self.db).await?)
    }

    /// Published remixes of any of `sources`, newest first.
    pub async fn published_remixes_of_any(&self, sources: &[VideoId], limit: u64) -> AppResult<Vec<CandidateRow>> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        let q = published_after(
            videos::Entity::find().filter(videos::Column::RemixOf.is_in(sources.iter().map(|v| v.0))),
            None,
        );
        Ok(candidate_columns(q).limit(limit).into_model::<CandidateRow>().all(&self.db).await?)
    }

    /// Published videos with an active cameo owned by one of `owners`, newest first (one
    /// statement: the videos whose cameo rows join an active cameo of theirs).
    pub async fn published_with_cameos_of(&self, owners: &[UserId], limit: u64) -> AppResult<Vec<CandidateRow>> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        let sub = sea_orm::sea_query::Query::select()
            .column((video_cameos::Entity, video_cameos::Column::VideoId))
            .from(video_cameos::Entity)
            .inner_join(
                cameos::Entity,
                Expr::col((cameos::Entity, cameos::Column::Id))
                    .equals((video_cameos::Entity, video_cameos::Column::CameoId)),
            )
            .and_where(cameos::Column::OwnerId.is_in(owners.iter().map(|u| u.0)))
            .and_where(cameos::Column::Status.eq(CameoStatus::Active))
            .to_owned();
        let q = published_after(videos::Entity::find().filter(videos::Column::Id.in_subquery(sub)), None);
        Ok(candidate_columns(q).limit(limit).into_model::<CandidateRow>().all(&self.db).await?)
    }

    /// Published videos by id as candidates, in no particular order (one query).
    pub async fn published_candidates(&self, ids: &[VideoId]) -> AppResult<Vec<CandidateRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let q = videos::Entity::find()
            .filter(videos::Column::Id.is_in(ids.iter().map(|v| v.0)))
            .filter(videos::Column::Status.eq(VideoStatus::Published));
        Ok(candidate_columns(q).into_model::<CandidateRow>().all(&self.db).await?)
    }

    /// The videos among `ids` that are published now and whose authors are not banned (one
    /// query; the serve-time check of every feed page).
    ///
    /// `viewer` (none: signed out) and the latest birth month of an adult today (none: age
    /// checks are off).
    /// A teen whose parent made their videos not public is served only to themselves, their
    /// mutuals and their parent.
    pub async fn servable_by_ids(
        &self,
        ids: &[VideoId],
        viewer: Option<UserId>,
        adult_cutoff: Option<BirthMonth>,
    ) -> AppResult<Vec<Video>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // NOT EXISTS, correlated: an anti-join probing the author's key for each of the few rows.
        // (`author_id NOT IN (banned ids)` made PostgreSQL scan every member per page: 2.7 ms
        // of its 4.5 ms per cold FOR_YOU page at 10,000 members.)
        let author_banned = sea_orm::sea_query::Query::select()
            .expr(Expr::val(1))
            .from(users::Entity)
            .and_where(Expr::col((users::Entity, users::Column::Id)).equals((videos::Entity, videos::Column::AuthorId)))
            .and_where(Expr::col((users::Entity, users::Column::BannedAt)).is_not_null())
            .to_owned();
        videos::Entity::find()
            .filter(videos::Column::Id.is_in(ids.iter().map(|v| v.0)))
            .filter(videos::Column::Status.eq(VideoStatus::Published))
            .filter(Expr::exists(author_banned).not())
            .apply_if(adult_cutoff, |q, cutoff| q.filter(Expr::exists(private_teen_author(viewer, cutoff)).not()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(video_from)
            .collect()
    }
}

impl Store {
    /// Those of `ids` whose author is a teen whose parent made their videos not public and whom
    /// `viewer` may not see (see [`private_teen_author`]).
    pub async fn private_teen_videos(
        &self,
        ids: &[VideoId],
        viewer: Option<UserId>,
        adult_cutoff: BirthMonth,
    ) -> AppResult<HashSet<VideoId>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let hidden: Vec<Uuid> = videos::Entity::find()
            .select_only()
            .column(videos::Column::Id)
            .filter(videos::Column::Id.is_in(ids.iter().map(|v| v.0)))
            .filter(Expr::exists(private_teen_author(viewer, adult_cutoff)))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(hidden.into_iter().map(VideoId).collect())
    }
}

/// A correlated subquery over `videos`: its author is a teen (born after `adult_cutoff`) whose
/// parent made their videos not public, and `viewer` is none of the teen, a mutual of the teen, or
/// the teen's parent.
pub(crate) fn private_teen_author(
    viewer: Option<UserId>,
    adult_cutoff: BirthMonth,
) -> sea_orm::sea_query::SelectStatement {
    use crate::entities::{guardian_links, teen_controls};
    use sea_orm::sea_query::Query;
    let mut q = Query::select()
        .expr(Expr::val(1))
        .from(teen_controls::Entity)
        .inner_join(
            users::Entity,
            Expr::col((users::Entity, users::Column::Id))
                .equals((teen_controls::Entity, teen_controls::Column::TeenId)),
        )
        .and_where(
            Expr::col((teen_controls::Entity, teen_controls::Column::TeenId))
                .equals((videos::Entity, videos::Column::AuthorId)),
        )
        .and_where(Expr::col((teen_controls::Entity, teen_controls::Column::VideosPublic)).eq(false))
        .and_where(Expr::col((users::Entity, users::Column::BirthMonth)).gt(adult_cutoff.as_string()))
        .to_owned();
    if let Some(v) = viewer {
        let follows_author = Query::select()
            .expr(Expr::val(1))
            .from(follows::Entity)
            .and_where(Expr::col((follows::Entity, follows::Column::FollowerId)).eq(v.0))
            .and_where(
                Expr::col((follows::Entity, follows::Column::FolloweeId))
                    .equals((videos::Entity, videos::Column::AuthorId)),
            )
            .to_owned();
        let followed_by_author = Query::select()
            .expr(Expr::val(1))
            .from(follows::Entity)
            .and_where(Expr::col((follows::Entity, follows::Column::FolloweeId)).eq(v.0))
            .and_where(
                Expr::col((follows::Entity, follows::Column::FollowerId))
                    .equals((videos::Entity, videos::Column::AuthorId)),
            )
            .to_owned();
        let parent = Query::select()
            .expr(Expr::val(1))
            .from(guardian_links::Entity)
            .and_where(Expr::col((guardian_links::Entity, guardian_links::Column::ParentId)).eq(v.0))
            .and_where(
                Expr::col((guardian_links::Entity, guardian_links::Column::TeenId))
                    .equals((videos::Entity, videos::Column::AuthorId)),
            )
            .to_owned();
        q.and_where(Expr::col((videos::Entity, videos::Column::AuthorId)).ne(v.0))
            .and_where(Expr::exists(follows_author).and(Expr::exists(followed_by_author)).not())
            .and_where(Expr::exists(parent).not());
    }
    q
}
