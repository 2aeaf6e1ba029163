//! Cameos, their challenges and approvals, and which videos use them. Consent changes bump
//! `consent_version` in the same statement that makes them, so a use recorded under an older
//! version can tell that consent moved: every `update_cameo` (even one that changes nothing, and
//! only on an `ACTIVE` or `PENDING_REVIEW` cameo), `revoke_cameo`, and an approval or unapproval
//! that really inserted or deleted a row.
//!
//! `insert_cameo` is one transaction: the caller's challenge is used
//! (`WHERE used_at IS NULL AND expires_at > now`), and only when exactly one row changed is the
//! cameo inserted (`PENDING_REVIEW`, the challenge's phrase copied), so a challenge makes at most
//! one cameo.
//! `usable_cameos` answers, ordered by name then id, the `ACTIVE` cameos that are the member's own,
//! `EVERYONE`, `APPROVED` with the member approved, or `MUTUALS` of a mutual, never one whose owner
//! is in a block with the member; a name prefix matches ignoring case on both engines. A use
//! (`video_cameos`) is keyed by the video's id, which is also its job's id, so it is written before
//! the video exists; it stays when a draft is taken down, and goes with the author's deletion.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::Store;
use super::entities::{cameo_approvals as approvals, cameo_challenges as challenges, cameos, users, video_cameos};
use app_core::error::AppResult;
use app_core::model::{Cameo, CameoPermission, CameoStatus, CameoUse};
use app_core::types::{CameoId, ChallengeId, UserId, VideoId};

pub(crate) fn cameo_from(m: cameos::Model) -> AppResult<Cameo> {
    let reference = crate::json::read("cameos", "reference", m.id, &m.reference)?;
    Ok(Cameo {
        id: CameoId(m.id),
        owner_id: UserId(m.owner_id),
        name: m.name,
        permission: m.permission,
        restrictions: m.restrictions,
        status: m.status,
        clip_key: m.clip_key,
        challenge_phrase: m.challenge_phrase,
        consent_version: m.consent_version,
        require_approval: m.require_approval,
        reference,
        clip_duration_ms: m.clip_duration_ms,
        review_note: m.review_note,
        created_at: m.created_at,
        updated_at: m.updated_at,
        revoked_at: m.revoked_at,
    })
}

impl Store {
    /// The cameos whose verification clip is one of `keys` (the sweeper's question).
    pub async fn cameos_by_clip(&self, keys: &[String]) -> AppResult<Vec<Cameo>> {
        cameos::Entity::find()
            .filter(cameos::Column::ClipKey.is_in(keys.iter().cloned()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(cameo_from)
            .collect()
    }
}

fn use_from(m: video_cameos::Model) -> CameoUse {
    CameoUse {
        video_id: VideoId(m.video_id),
        cameo_id: CameoId(m.cameo_id),
        consent_version: m.consent_version,
        owner_approved_at: m.owner_approved_at,
    }
}

/// A verified cameo to record.
pub struct NewCameo {
    /// Owner.
    pub owner: UserId,
    /// Name.
    pub name: String,
    /// Permission.
    pub permission: CameoPermission,
    /// Restrictions.
    pub restrictions: Option<String>,
    /// Media key of the clip.
    pub clip_key: String,
    /// The challenge it answered.
    pub challenge: ChallengeId,
    /// Likeness features.
    pub reference: Vec<f32>,
    /// Clip length.
    pub clip_duration_ms: i64,
}

/// A change of a cameo's settings.
pub struct CameoChange {
    /// New permission.
    pub permission: Option<CameoPermission>,
    /// New restrictions (`Some(None)` clears them).
    pub restrictions: Option<Option<String>>,
    /// New approval requirement.
    pub require_approval: Option<bool>,
}

impl Store {
    /// Issues a challenge phrase for a member.
    pub async fn insert_challenge(
        &self,
        user: UserId,
        phrase: &str,
        expires_at: DateTime<Utc>,
    ) -> AppResult<(ChallengeId, DateTime<Utc>)> {
        let id = Uuid::now_v7();
        challenges::Entity::insert(challenges::ActiveModel {
            id: Set(id),
            user_id: Set(user.0),
            phrase: Set(phrase.into()),
            expires_at: Set(expires_at),
            used_at: Set(None),
            created_at: Set(Utc::now()),
        })
        .exec(&self.db)
        .await?;
        Ok((ChallengeId(id), expires_at))
    }

    /// A member's unused, unexpired challenge: its phrase.
    pub async fn live_challenge(&self, id: ChallengeId, user: UserId) -> AppResult<Option<String>> {
        Ok(challenges::Entity::find_by_id(id.0)
            .filter(challenges::Column::UserId.eq(user.0))
            .filter(challenges::Column::UsedAt.is_null())
            .filter(challenges::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await?
            .map(|c| c.phrase))
    }

    /// Uses a challenge and records the cameo, in one transaction; `None` when the challenge
    /// was used, expired or not the member's (a second upload with one challenge loses).
    pub async fn insert_cameo(&self, c: NewCameo) -> AppResult<Option<Cameo>> {
        let txn = self.tx().await?;
        let out = Self::insert_cameo_in(&txn, c).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub(crate) async fn insert_cameo_in<C: ConnectionTrait>(conn: &C, c: NewCameo) -> AppResult<Option<Cameo>> {
        let now = Utc::now();
        let Some(challenge) = challenges::Entity::find_by_id(c.challenge.0)
            .filter(challenges::Column::UserId.eq(c.owner.0))
            .one(conn)
            .await?
        else {
            return Ok(None);
        };
        let used = challenges::Entity::update_many()
            .col_expr(challenges::Column::UsedAt, Expr::value(now))
            .filter(challenges::Column::Id.eq(c.challenge.0))
            .filter(challenges::Column::UsedAt.is_null())
            .filter(challenges::Column::ExpiresAt.gt(now))
            .exec(conn)
            .await?;
        if used.rows_affected != 1 {
            return Ok(None);
        }
        let m = cameos::Entity::insert(cameos::ActiveModel {
            id: Set(Uuid::now_v7()),
            owner_id: Set(c.owner.0),
            name: Set(c.name),
            permission: Set(c.permission),
            restrictions: Set(c.restrictions),
            status: Set(CameoStatus::PendingReview),
            clip_key: Set(c.clip_key),
            challenge_phrase: Set(challenge.phrase),
            consent_version: Set(1),
            require_approval: Set(false),
            reference: Set(crate::json::write("cameos", "reference", &c.reference)?),
            clip_duration_ms: Set(c.clip_duration_ms),
            review_note: Set(None),
            reviewed_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            revoked_at: Set(None),
        })
        .exec_with_returning(conn)
        .await?;
        cameo_from(m).map(Some)
    }

    /// One cameo.
    pub async fn cameo(&self, id: CameoId) -> AppResult<Option<Cameo>> {
        Self::cameo_in(&self.db, id).await
    }

    pub(crate) async fn cameo_in<C: ConnectionTrait>(c: &C, id: CameoId) -> AppResult<Option<Cameo>> {
        cameos::Entity::find_by_id(id.0).one(c).await?.map(cameo_from).transpose()
    }

    /// Several cameos.
    pub async fn cameos(&self, ids: &[CameoId]) -> AppResult<Vec<Cameo>> {
        cameos::Entity::find()
            .filter(cameos::Column::Id.is_in(ids.iter().map(|c| c.0)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(cameo_from)
            .collect()
    }

    /// A member's cameos, newest first.
    pub async fn cameos_of(&self, owner: UserId) -> AppResult<Vec<Cameo>> {
        cameos::Entity::find()
            .filter(cameos::Column::OwnerId.eq(owner.0))
            .order_by_desc(cameos::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(cameo_from)
            .collect()
    }

    /// Active cameos a member may use now (own, approved for them, or open to everyone), by
    /// name, after the cursor `(name, id)`, optionally filtered by a name prefix.
    pub async fn usable_cameos(
        &self,
        user: UserId,
        query: Option<&str>,
        after: Option<(String, Uuid)>,
        limit: u64,
        adult_cutoff: Option<app_core::age::BirthMonth>,
    ) -> AppResult<Vec<Cameo>> {
        let approved: Vec<Uuid> = approvals::Entity::find()
            .select_only()
            .column(approvals::Column::CameoId)
            .filter(approvals::Column::UserId.eq(user.0))
            .into_tuple()
            .all(&self.db)
            .await?;
        // Mutuals: members the user follows who follow them back.
        let followers: std::collections::HashSet<UserId> = self.followers(user).await?.into_iter().collect();
        let mutuals: Vec<Uuid> = self
            .followees(user)
            .await?
            .into_iter()
            .map(|(u, _)| u)
            .filter(|u| followers.contains(u))
            .map(|u| u.0)
            .collect();
        let blocked: Vec<Uuid> = self.block_set(user).await?.into_iter().map(|u| u.0).collect();
        let mut q = cameos::Entity::find().filter(cameos::Column::Status.eq(CameoStatus::Active)).filter(
            cameos::Column::OwnerId
                .eq(user.0)
                .or(cameos::Column::Permission.eq(CameoPermission::Everyone))
                .or(cameos::Column::Permission
                    .eq(CameoPermission::Approved)
                    .and(cameos::Column::Id.is_in(approved.clone())))
                .or(cameos::Column::Permission
                    .eq(CameoPermission::Mutuals)
                    .and(cameos::Column::OwnerId.is_in(mutuals.clone()))),
        );
        // A teen's cameo: only for members the teen approved who are also mutuals, whatever its
        // permission says (`domain::consent::decide`).
        if let Some(cutoff) = adult_cutoff {
            let teens = sea_orm::sea_query::Query::select()
                .column(users::Column::Id)
                .from(users::Entity)
                .and_where(Expr::col(users::Column::BirthMonth).gt(cutoff.as_string()))
                .to_owned();
            q = q.filter(
                cameos::Column::OwnerId
                    .eq(user.0)
                    .or(Expr::col(cameos::Column::OwnerId).not_in_subquery(teens))
                    .or(cameos::Column::Id.is_in(approved).and(cameos::Column::OwnerId.is_in(mutuals))),
            );
        }
        if !blocked.is_empty() {
            q = q.filter(cameos::Column::OwnerId.is_not_in(blocked));
        }
        if let Some(prefix) = query.map(str::trim).filter(|p| !p.is_empty()) {
            q = q.filter(crate::lower_like(cameos::Column::Name, prefix, crate::Match::Prefix));
        }
        if let Some((name, id)) = after {
            q = q.filter(
                cameos::Column::Name.gt(name.clone()).or(cameos::Column::Name.eq(name).and(cameos::Column::Id.gt(id))),
            );
        }
        q.order_by_asc(cameos::Column::Name)
            .order_by_asc(cameos::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(cameo_from)
            .collect()
    }

    /// A moderator's decision on a pending cameo; false when it was not pending.
    pub async fn review_cameo(&self, id: CameoId, approve: bool, by: UserId, note: Option<&str>) -> AppResult<bool> {
        Self::review_cameo_in(&self.db, id, approve, by, note).await
    }

    pub(crate) async fn review_cameo_in<C: ConnectionTrait>(
        c: &C,
        id: CameoId,
        approve: bool,
        by: UserId,
        note: Option<&str>,
    ) -> AppResult<bool> {
        let status = if approve { CameoStatus::Active } else { CameoStatus::Rejected };
        let r = cameos::Entity::update_many()
            .col_expr(cameos::Column::Status, Expr::value(status))
            .col_expr(cameos::Column::ReviewedBy, Expr::value(by.0))
            .col_expr(cameos::Column::ReviewNote, Expr::value(note.map(str::to_owned)))
            .col_expr(cameos::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(cameos::Column::Id.eq(id.0))
            .filter(cameos::Column::Status.eq(CameoStatus::PendingReview))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Changes a live cameo's settings and bumps its consent version.
    pub async fn update_cameo(&self, id: CameoId, change: CameoChange) -> AppResult<bool> {
        let mut q = cameos::Entity::update_many()
            .col_expr(cameos::Column::ConsentVersion, Expr::col(cameos::Column::ConsentVersion).add(1))
            .col_expr(cameos::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(p) = change.permission {
            q = q.col_expr(cameos::Column::Permission, Expr::value(p));
        }
        if let Some(r) = change.restrictions {
            q = q.col_expr(cameos::Column::Restrictions, Expr::value(r));
        }
        if let Some(a) = change.require_approval {
            q = q.col_expr(cameos::Column::RequireApproval, Expr::value(a));
        }
        let r = q
            .filter(cameos::Column::Id.eq(id.0))
            .filter(cameos::Column::Status.is_in([CameoStatus::Active, CameoStatus::PendingReview]))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Approves a member for a cameo (idempotent); bumps the consent version when it changed,
    /// in the same transaction.
    pub async fn approve_cameo_user(&self, id: CameoId, user: UserId) -> AppResult<()> {
        let txn = self.tx().await?;
        let inserted = approvals::Entity::insert(approvals::ActiveModel {
            cameo_id: Set(id.0),
            user_id: Set(user.0),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([approvals::Column::CameoId, approvals::Column::UserId]).do_nothing().to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 1 {
            Self::bump_consent_in(&txn, id).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Withdraws a member's approval (idempotent); bumps the consent version when it changed,
    /// in the same transaction.
    pub async fn unapprove_cameo_user(&self, id: CameoId, user: UserId) -> AppResult<()> {
        let txn = self.tx().await?;
        let r = approvals::Entity::delete_many()
            .filter(approvals::Column::CameoId.eq(id.0))
            .filter(approvals::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        if r.rows_affected > 0 {
            Self::bump_consent_in(&txn, id).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    async fn bump_consent_in<C: ConnectionTrait>(c: &C, id: CameoId) -> AppResult<()> {
        cameos::Entity::update_many()
            .col_expr(cameos::Column::ConsentVersion, Expr::col(cameos::Column::ConsentVersion).add(1))
            .col_expr(cameos::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(cameos::Column::Id.eq(id.0))
            .exec(c)
            .await?;
        Ok(())
    }

    /// Whether a member is approved for a cameo.
    pub async fn is_cameo_approved(&self, id: CameoId, user: UserId) -> AppResult<bool> {
        Ok(approvals::Entity::find_by_id((id.0, user.0)).one(&self.db).await?.is_some())
    }

    /// The members approved for a cameo.
    pub async fn cameo_approved_users(&self, id: CameoId) -> AppResult<Vec<UserId>> {
        let ids: Vec<Uuid> = approvals::Entity::find()
            .select_only()
            .column(approvals::Column::UserId)
            .filter(approvals::Column::CameoId.eq(id.0))
            .order_by_asc(approvals::Column::CreatedAt)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    /// Revokes a cameo (from any status but revoked); bumps its consent version.
    pub async fn revoke_cameo(&self, id: CameoId) -> AppResult<bool> {
        Self::revoke_cameo_in(&self.db, id).await
    }

    pub(crate) async fn revoke_cameo_in<C: ConnectionTrait>(c: &C, id: CameoId) -> AppResult<bool> {
        let now = Utc::now();
        let r = cameos::Entity::update_many()
            .col_expr(cameos::Column::Status, Expr::value(CameoStatus::Revoked))
            .col_expr(cameos::Column::RevokedAt, Expr::value(now))
            .col_expr(cameos::Column::ConsentVersion, Expr::col(cameos::Column::ConsentVersion).add(1))
            .col_expr(cameos::Column::UpdatedAt, Expr::value(now))
            .filter(cameos::Column::Id.eq(id.0))
            .filter(cameos::Column::Status.ne(CameoStatus::Revoked))
            .exec(c)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Records the cameos of a job (whose video will take its id) with their consent versions.
    pub async fn record_cameo_uses(&self, video: VideoId, uses: &[(CameoId, i64)]) -> AppResult<()> {
        Self::record_cameo_uses_in(&self.db, video, uses).await
    }

    pub(crate) async fn record_cameo_uses_in<C: ConnectionTrait>(
        c: &C,
        video: VideoId,
        uses: &[(CameoId, i64)],
    ) -> AppResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        video_cameos::Entity::insert_many(uses.iter().map(|(cameo, version)| video_cameos::ActiveModel {
            video_id: Set(video.0),
            cameo_id: Set(cameo.0),
            consent_version: Set(*version),
            owner_approved_at: Set(None),
            created_at: Set(now),
        }))
        .exec(c)
        .await?;
        Ok(())
    }

    /// The cameos a video (or job) uses.
    pub async fn cameo_uses_of(&self, video: VideoId) -> AppResult<Vec<CameoUse>> {
        Self::cameo_uses_of_in(&self.db, video).await
    }

    pub(crate) async fn cameo_uses_of_in<C: ConnectionTrait>(c: &C, video: VideoId) -> AppResult<Vec<CameoUse>> {
        Ok(video_cameos::Entity::find()
            .filter(video_cameos::Column::VideoId.eq(video.0))
            .all(c)
            .await?
            .into_iter()
            .map(use_from)
            .collect())
    }

    /// Every video (or job) that uses a cameo, newest first, after the cursor `(created_at, id)`.
    pub async fn uses_of_cameo(
        &self,
        cameo: CameoId,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<(CameoUse, DateTime<Utc>)>> {
        Self::uses_of_cameo_in(&self.db, cameo, after, limit).await
    }

    pub(crate) async fn uses_of_cameo_in<C: ConnectionTrait>(
        c: &C,
        cameo: CameoId,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<(CameoUse, DateTime<Utc>)>> {
        let mut q = video_cameos::Entity::find().filter(video_cameos::Column::CameoId.eq(cameo.0));
        if let Some((at, id)) = after {
            q = q.filter(
                video_cameos::Column::CreatedAt
                    .lt(at)
                    .or(video_cameos::Column::CreatedAt.eq(at).and(video_cameos::Column::VideoId.lt(id))),
            );
        }
        Ok(q.order_by_desc(video_cameos::Column::CreatedAt)
            .order_by_desc(video_cameos::Column::VideoId)
            .limit(limit)
            .all(c)
            .await?
            .into_iter()
            .map(|m| {
                let at = m.created_at;
                (use_from(m), at)
            })
            .collect())
    }

    /// The owner approves one use of a cameo that requires it.
    pub async fn approve_cameo_use(&self, cameo: CameoId, video: VideoId) -> AppResult<bool> {
        let r = video_cameos::Entity::update_many()
            .col_expr(video_cameos::Column::OwnerApprovedAt, Expr::value(Utc::now()))
            .filter(video_cameos::Column::CameoId.eq(cameo.0))
            .filter(video_cameos::Column::VideoId.eq(video.0))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Forgets the cameo uses of a deleted video.
    pub async fn forget_cameo_uses(&self, video: VideoId) -> AppResult<()> {
        Self::forget_cameo_uses_in(&self.db, video).await
    }

    pub(crate) async fn forget_cameo_uses_in<C: ConnectionTrait>(c: &C, video: VideoId) -> AppResult<()> {
        video_cameos::Entity::delete_many().filter(video_cameos::Column::VideoId.eq(video.0)).exec(c).await?;
        Ok(())
    }

    /// Deletes a video row (a draft taken down with its cameo); its media are the caller's to delete.
    pub async fn delete_video(&self, id: VideoId) -> AppResult<bool> {
        Self::delete_video_in(&self.db, id).await
    }

    pub(crate) async fn delete_video_in<C: ConnectionTrait>(c: &C, id: VideoId) -> AppResult<bool> {
        let r = super::entities::videos::Entity::delete_by_id(id.0).exec(c).await?;
        Ok(r.rows_affected == 1)
    }
}
