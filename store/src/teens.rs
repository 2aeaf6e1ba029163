//! Teen accounts: birth months, time zones and own feed limits on `users`, parents' one-time codes
//! (`guardian_invites`, digests only), links (`guardian_links`, one parent per teen), what parents
//! set (`teen_controls`), and videos' maturity labels.
//!
//! Invariant: a code is used at most once (`used_at` set conditionally, with its expiry checked
//! in the same statement); a teen has at most one parent (the link's key is the teen); a change
//! that lowers a teen's cameo permission bumps each changed cameo's consent version, as an owner's
//! own change does.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::{
    cameos, comments, follows, generation_jobs, guardian_invites, guardian_links, likes, teen_controls, users, videos,
    views,
};
use crate::{Store, Tx};
use app_core::age::BirthMonth;
use app_core::error::AppResult;
use app_core::model::{CameoPermission, CameoStatus, GuardianLink, Maturity, TeenControls};
use app_core::types::{UserId, VideoId};

/// A member's activity since a time, in counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityCounts {
    /// Jobs they submitted.
    pub jobs: u64,
    /// Videos they published.
    pub published: u64,
    /// Comments they wrote.
    pub comments: u64,
    /// Likes they gave (still standing).
    pub likes: u64,
    /// Follows they started (still standing).
    pub follows: u64,
    /// Videos they watched.
    pub views: u64,
}

fn link_from(m: guardian_links::Model) -> GuardianLink {
    GuardianLink {
        teen_id: UserId(m.teen_id),
        parent_id: UserId(m.parent_id),
        created_at: m.created_at,
        unlink_requested_by: m.unlink_requested_by.map(UserId),
    }
}

impl Store {
    /// What `user` did since `since`, in counts (six statements).
    pub async fn activity_since(&self, user: UserId, since: DateTime<Utc>) -> AppResult<ActivityCounts> {
        let db = &self.db;
        Ok(ActivityCounts {
            jobs: generation_jobs::Entity::find()
                .filter(generation_jobs::Column::UserId.eq(user.0))
                .filter(generation_jobs::Column::CreatedAt.gte(since))
                .count(db)
                .await?,
            published: videos::Entity::find()
                .filter(videos::Column::AuthorId.eq(user.0))
                .filter(videos::Column::PublishedAt.gte(since))
                .count(db)
                .await?,
            comments: comments::Entity::find()
                .filter(comments::Column::AuthorId.eq(user.0))
                .filter(comments::Column::CreatedAt.gte(since))
                .count(db)
                .await?,
            likes: likes::Entity::find()
                .filter(likes::Column::UserId.eq(user.0))
                .filter(likes::Column::CreatedAt.gte(since))
                .count(db)
                .await?,
            follows: follows::Entity::find()
                .filter(follows::Column::FollowerId.eq(user.0))
                .filter(follows::Column::CreatedAt.gte(since))
                .count(db)
                .await?,
            views: views::Entity::find()
                .filter(views::Column::UserId.eq(user.0))
                .filter(views::Column::ViewedAt.gte(since))
                .count(db)
                .await?,
        })
    }

    /// Sets a member's time zone (an IANA name the caller checked) and own daily feed limit;
    /// `None` leaves a value as it is, `Some(None)` clears it.
    pub async fn set_wellbeing_settings(
        &self,
        user: UserId,
        time_zone: Option<Option<String>>,
        daily_feed_minutes: Option<Option<u32>>,
    ) -> AppResult<()> {
        let mut q = users::Entity::update_many();
        let mut any = false;
        if let Some(tz) = time_zone {
            q = q.col_expr(users::Column::TimeZone, Expr::value(tz));
            any = true;
        }
        if let Some(m) = daily_feed_minutes {
            q = q.col_expr(
                users::Column::DailyFeedMinutes,
                Expr::value(m.map(|m| i32::try_from(m).unwrap_or(i32::MAX))),
            );
            any = true;
        }
        if any {
            q.filter(users::Column::Id.eq(user.0)).exec(&self.db).await?;
        }
        Ok(())
    }

    /// Records a parent's code (its digest) until `expires_at`.
    pub async fn insert_guardian_invite(
        &self,
        parent: UserId,
        code_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> AppResult<()> {
        guardian_invites::Entity::insert(guardian_invites::ActiveModel {
            id: Set(Uuid::now_v7()),
            parent_id: Set(parent.0),
            code_hash: Set(code_hash.to_owned()),
            created_at: Set(Utc::now()),
            expires_at: Set(expires_at),
            used_at: Set(None),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// The parent whose unused, unexpired code has this digest, without using it.
    pub async fn guardian_invite_parent(&self, code_hash: &str) -> AppResult<Option<UserId>> {
        Ok(guardian_invites::Entity::find()
            .filter(guardian_invites::Column::CodeHash.eq(code_hash))
            .filter(guardian_invites::Column::UsedAt.is_null())
            .filter(guardian_invites::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await?
            .map(|m| UserId(m.parent_id)))
    }

    pub(crate) async fn use_guardian_invite_in<C: ConnectionTrait>(c: &C, code_hash: &str) -> AppResult<bool> {
        let now = Utc::now();
        let r = guardian_invites::Entity::update_many()
            .col_expr(guardian_invites::Column::UsedAt, Expr::value(Some(now)))
            .filter(guardian_invites::Column::CodeHash.eq(code_hash))
            .filter(guardian_invites::Column::UsedAt.is_null())
            .filter(guardian_invites::Column::ExpiresAt.gt(now))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    pub(crate) async fn link_guardian_in<C: ConnectionTrait>(c: &C, teen: UserId, parent: UserId) -> AppResult<bool> {
        let inserted = guardian_links::Entity::insert(guardian_links::ActiveModel {
            teen_id: Set(teen.0),
            parent_id: Set(parent.0),
            created_at: Set(Utc::now()),
            unlink_requested_by: Set(None),
        })
        .on_conflict(OnConflict::column(guardian_links::Column::TeenId).do_nothing().to_owned())
        .exec_without_returning(c)
        .await?;
        Ok(inserted == 1)
    }

    /// The teen's parent link, if any.
    pub async fn guardian_link(&self, teen: UserId) -> AppResult<Option<GuardianLink>> {
        Self::guardian_link_in(&self.db, teen).await
    }

    pub(crate) async fn guardian_link_in<C: ConnectionTrait>(c: &C, teen: UserId) -> AppResult<Option<GuardianLink>> {
        Ok(guardian_links::Entity::find_by_id(teen.0).one(c).await?.map(link_from))
    }

    /// The teens a parent is linked to.
    pub async fn guarded_teens(&self, parent: UserId) -> AppResult<Vec<GuardianLink>> {
        Ok(guardian_links::Entity::find()
            .filter(guardian_links::Column::ParentId.eq(parent.0))
            .all(&self.db)
            .await?
            .into_iter()
            .map(link_from)
            .collect())
    }

    /// Records that `by` asked to unlink (waiting for the other side); false when no link.
    pub async fn request_unlink(&self, teen: UserId, by: UserId) -> AppResult<bool> {
        let r = guardian_links::Entity::update_many()
            .col_expr(guardian_links::Column::UnlinkRequestedBy, Expr::value(Some(by.0)))
            .filter(guardian_links::Column::TeenId.eq(teen.0))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Removes the link and what the parent set (the teen has the defaults again).
    pub(crate) async fn unlink_in<C: ConnectionTrait>(c: &C, teen: UserId) -> AppResult<bool> {
        let r = guardian_links::Entity::delete_many().filter(guardian_links::Column::TeenId.eq(teen.0)).exec(c).await?;
        teen_controls::Entity::delete_many().filter(teen_controls::Column::TeenId.eq(teen.0)).exec(c).await?;
        Ok(r.rows_affected == 1)
    }

    /// What the teen's parent set (the defaults when nothing).
    pub async fn teen_controls(&self, teen: UserId) -> AppResult<TeenControls> {
        Self::teen_controls_in(&self.db, teen).await
    }

    pub(crate) async fn teen_controls_in<C: ConnectionTrait>(c: &C, teen: UserId) -> AppResult<TeenControls> {
        Ok(teen_controls::Entity::find_by_id(teen.0)
            .one(c)
            .await?
            .map(|m| TeenControls {
                daily_feed_minutes: m.daily_feed_minutes.and_then(|m| u32::try_from(m).ok()),
                quiet_start: m.quiet_start,
                quiet_end: m.quiet_end,
                cameo_permission: m.cameo_permission,
                videos_public: m.videos_public,
            })
            .unwrap_or_default())
    }

    pub(crate) async fn put_teen_controls_in<C: ConnectionTrait>(
        c: &C,
        teen: UserId,
        t: &TeenControls,
        by: UserId,
    ) -> AppResult<()> {
        teen_controls::Entity::insert(teen_controls::ActiveModel {
            teen_id: Set(teen.0),
            daily_feed_minutes: Set(t.daily_feed_minutes.map(|m| i32::try_from(m).unwrap_or(i32::MAX))),
            quiet_start: Set(t.quiet_start.clone()),
            quiet_end: Set(t.quiet_end.clone()),
            cameo_permission: Set(t.cameo_permission),
            videos_public: Set(t.videos_public),
            updated_at: Set(Utc::now()),
            updated_by: Set(Some(by.0)),
        })
        .on_conflict(
            OnConflict::column(teen_controls::Column::TeenId)
                .update_columns([
                    teen_controls::Column::DailyFeedMinutes,
                    teen_controls::Column::QuietStart,
                    teen_controls::Column::QuietEnd,
                    teen_controls::Column::CameoPermission,
                    teen_controls::Column::VideosPublic,
                    teen_controls::Column::UpdatedAt,
                    teen_controls::Column::UpdatedBy,
                ])
                .to_owned(),
        )
        .exec_without_returning(c)
        .await?;
        Ok(())
    }

    pub(crate) async fn narrow_cameos_in<C: ConnectionTrait>(
        c: &C,
        owner: UserId,
        to: CameoPermission,
        wider: &[CameoPermission],
    ) -> AppResult<u64> {
        if wider.is_empty() {
            return Ok(0);
        }
        let r = cameos::Entity::update_many()
            .col_expr(cameos::Column::Permission, Expr::value(to))
            .col_expr(cameos::Column::ConsentVersion, Expr::col(cameos::Column::ConsentVersion).add(1))
            .col_expr(cameos::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(cameos::Column::OwnerId.eq(owner.0))
            .filter(cameos::Column::Status.is_in([CameoStatus::Active, CameoStatus::PendingReview]))
            .filter(cameos::Column::Permission.is_in(wider.iter().copied()))
            .exec(c)
            .await?;
        Ok(r.rows_affected)
    }

    pub(crate) async fn set_birth_month_in<C: ConnectionTrait>(
        c: &C,
        user: UserId,
        month: Option<BirthMonth>,
    ) -> AppResult<bool> {
        let r = users::Entity::update_many()
            .col_expr(users::Column::BirthMonth, Expr::value(month.map(BirthMonth::as_string)))
            .filter(users::Column::Id.eq(user.0))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    pub(crate) async fn set_maturity_in<C: ConnectionTrait>(c: &C, video: VideoId, m: Maturity) -> AppResult<bool> {
        let r = videos::Entity::update_many()
            .col_expr(videos::Column::Maturity, Expr::value(m))
            .filter(videos::Column::Id.eq(video.0))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }
}

impl Tx {
    /// Uses a parent's code: false when it is unknown, used or expired.
    pub async fn use_guardian_invite(&self, code_hash: &str) -> AppResult<bool> {
        Store::use_guardian_invite_in(&self.conn, code_hash).await
    }

    /// Links a parent to a teen: false when the teen has a parent already.
    pub async fn link_guardian(&self, teen: UserId, parent: UserId) -> AppResult<bool> {
        Store::link_guardian_in(&self.conn, teen, parent).await
    }

    /// Removes the teen's parent link and what the parent set: false when there was no link.
    pub async fn unlink_guardian(&self, teen: UserId) -> AppResult<bool> {
        Store::unlink_in(&self.conn, teen).await
    }

    /// What the teen's parent set (the defaults when nothing).
    pub async fn teen_controls(&self, teen: UserId) -> AppResult<TeenControls> {
        Store::teen_controls_in(&self.conn, teen).await
    }

    /// Writes what the parent set.
    pub async fn put_teen_controls(&self, teen: UserId, t: &TeenControls, by: UserId) -> AppResult<()> {
        Store::put_teen_controls_in(&self.conn, teen, t, by).await
    }

    /// Lowers to `to` the permission of the owner's cameos that have one of `wider`; how many.
    pub async fn narrow_cameos(&self, owner: UserId, to: CameoPermission, wider: &[CameoPermission]) -> AppResult<u64> {
        Store::narrow_cameos_in(&self.conn, owner, to, wider).await
    }

    /// Sets (or clears) a member's birth month; false when no such member.
    pub async fn set_birth_month(&self, user: UserId, month: Option<BirthMonth>) -> AppResult<bool> {
        Store::set_birth_month_in(&self.conn, user, month).await
    }

    /// Sets a video's maturity label; false when no such video.
    pub async fn set_maturity(&self, video: VideoId, m: Maturity) -> AppResult<bool> {
        Store::set_maturity_in(&self.conn, video, m).await
    }
}
