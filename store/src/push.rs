//! Push devices, the push outbox and the weekly digest's bookkeeping.
//!
//! The outbox is `notifications` itself: [`Store::notify`] writes the notification with
//! `push_state = PENDING` (due at once: `push_due_at` is `NULL`) when the member has a device, `NONE` otherwise, in the
//! same statement and so in the same transaction as the event that caused it. The push worker
//! claims a due row by setting `push_lease_until` conditionally ([`Store::claim_push`]: one
//! worker holds it; an expired lease is taken over), then records one `push_deliveries` row per
//! device before sending ([`Store::start_delivery`]): its `key` is created once and sent again
//! unchanged when the delivery is retried, so a send that reached the provider just before a
//! worker died is repeated with the same idempotency key.
//!
//! Invariant: a device token belongs to one member (`token_hash` is unique; registering a token
//! again moves it); a notification is `PENDING` until each of its deliveries is `DELIVERED` or
//! `REJECTED` or its device is gone, or the worker gives up (`FAILED`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, StringLen};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Store;
use crate::entities::{notification_settings, notifications, push_deliveries, push_devices};
use app_core::error::AppResult;
use app_core::model::{Notification, NotificationKind, NotificationSettings, PushDevice, PushPlatform};
use app_core::types::{UserId, VideoId};

/// Where a notification stands in the push outbox (`notifications.push_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::DeriveActiveEnum, sea_orm::EnumIter)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PushState {
    /// To be sent (from `push_due_at` on).
    Pending,
    /// Never to be pushed (the member had no device when it was written, or it predates pushes).
    None,
    /// Sent to every device (or refused for good by a provider).
    Done,
    /// Not sent: the member turned its kind off.
    Skipped,
    /// Given up after the last retry.
    Failed,
}

/// One delivery's state (`push_deliveries.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sea_orm::DeriveActiveEnum, sea_orm::EnumIter)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeliveryState {
    /// Handed to the provider, or about to be, with no answer recorded yet.
    Sending,
    /// The provider accepted it.
    Delivered,
    /// The provider refused it for good.
    Rejected,
}

/// A device with its token, for the push worker.
#[derive(Debug, Clone)]
pub struct DeviceToken {
    /// The device.
    pub device: PushDevice,
    /// Its provider token (for Web Push, the subscription JSON).
    pub token: String,
}

/// A claimed outbox entry.
#[derive(Debug, Clone)]
pub struct ClaimedPush {
    /// The notification.
    pub notification: Notification,
    /// Whom it is for.
    pub user_id: UserId,
    /// Tries so far.
    pub attempts: i32,
}

fn token_hash(platform: PushPlatform, token: &str) -> String {
    let mut h = Sha256::new();
    h.update(platform.as_str().as_bytes());
    h.update(b"\0");
    h.update(token.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn device_from(m: push_devices::Model) -> DeviceToken {
    DeviceToken {
        device: PushDevice {
            id: m.id,
            user_id: UserId(m.user_id),
            platform: m.platform,
            label: m.label,
            created_at: m.created_at,
            last_success_at: m.last_success_at,
        },
        token: m.token,
    }
}

pub(crate) fn notification_from(m: &notifications::Model) -> Notification {
    Notification {
        id: m.id,
        kind: m.kind,
        video_id: m.video_id.map(VideoId),
        actor_id: m.actor_id.map(UserId),
        message: m.message.clone(),
        created_at: m.created_at,
        read_at: m.read_at,
    }
}

/// The settings row of `user` holding `s`, with no digest sent yet.
fn settings_row(user: UserId, s: &NotificationSettings, now: DateTime<Utc>) -> notification_settings::ActiveModel {
    let (start, end) = s.quiet_hours.clone().unzip();
    notification_settings::ActiveModel {
        user_id: Set(user.0),
        video_ready: Set(s.video_ready),
        cameo_used: Set(s.cameo_used),
        comments: Set(s.comments),
        remixes: Set(s.remixes),
        follows: Set(s.follows),
        likes_digest: Set(s.likes_digest),
        moderation: Set(s.moderation),
        email_digest: Set(s.email_digest),
        quiet_start: Set(start),
        quiet_end: Set(end),
        digest_sent_at: Set(None),
        likes_digest_sent_at: Set(None),
        updated_at: Set(now),
    }
}

/// The two periodic summaries: the weekly email for members without a push device, the daily
/// likes push for members with one. Each has its switch and its last-sent column.
#[derive(Debug, Clone, Copy)]
enum Summary {
    Email,
    Likes,
}

impl Summary {
    fn switch(self) -> notification_settings::Column {
        match self {
            Summary::Email => notification_settings::Column::EmailDigest,
            Summary::Likes => notification_settings::Column::LikesDigest,
        }
    }

    fn sent_at(self) -> notification_settings::Column {
        match self {
            Summary::Email => notification_settings::Column::DigestSentAt,
            Summary::Likes => notification_settings::Column::LikesDigestSentAt,
        }
    }

    fn sent_at_of(self, m: &notification_settings::Model) -> Option<DateTime<Utc>> {
        match self {
            Summary::Email => m.digest_sent_at,
            Summary::Likes => m.likes_digest_sent_at,
        }
    }
}

impl Store {
    /// Writes a notification, queued for push when the member has a device (one statement).
    pub(crate) async fn insert_notification<C: ConnectionTrait>(
        c: &C,
        user: UserId,
        kind: NotificationKind,
        video: Option<VideoId>,
        actor: Option<UserId>,
        message: &str,
    ) -> AppResult<()> {
        use sea_orm::ActiveEnum;
        let now = Utc::now();
        let has_device = Query::select()
            .expr(Expr::val(1))
            .from(push_devices::Entity)
            .and_where(Expr::col((push_devices::Entity, push_devices::Column::UserId)).eq(user.0))
            .to_owned();
        let state =
            Expr::case(Expr::exists(has_device), PushState::Pending.to_value()).finally(PushState::None.to_value());
        let insert = Query::insert()
            .into_table(notifications::Entity)
            .columns([
                notifications::Column::Id,
                notifications::Column::UserId,
                notifications::Column::Kind,
                notifications::Column::VideoId,
                notifications::Column::ActorId,
                notifications::Column::Message,
                notifications::Column::CreatedAt,
                notifications::Column::PushState,
                notifications::Column::PushAttempts,
            ])
            .values([
                Expr::val(Uuid::now_v7()),
                Expr::val(user.0),
                Expr::val(kind.to_value()),
                Expr::val(video.map(|v| v.0)),
                Expr::val(actor.map(|a| a.0)),
                Expr::val(message),
                Expr::val(now),
                state.into(),
                Expr::val(0),
            ])
            .map_err(|e| app_core::error::AppError::internal("notification insert", e))?
            .to_owned();
        c.execute_raw(c.get_database_backend().build(&insert)).await?;
        Ok(())
    }

    /// Registers `token` for `user` (moving it from whoever had it). Answers the device.
    pub async fn register_push_device(
        &self,
        user: UserId,
        platform: PushPlatform,
        token: &str,
        label: &str,
    ) -> AppResult<PushDevice> {
        let hash = token_hash(platform, token);
        let now = Utc::now();
        push_devices::Entity::insert(push_devices::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.0),
            platform: Set(platform),
            token: Set(token.to_owned()),
            token_hash: Set(hash.clone()),
            label: Set(label.to_owned()),
            created_at: Set(now),
            last_success_at: Set(None),
        })
        .on_conflict(
            OnConflict::column(push_devices::Column::TokenHash)
                .update_columns([
                    push_devices::Column::UserId,
                    push_devices::Column::Label,
                    push_devices::Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        let m = push_devices::Entity::find()
            .filter(push_devices::Column::TokenHash.eq(hash))
            .one(&self.db)
            .await?
            .ok_or(app_core::error::AppError::NotFound("device"))?;
        Ok(device_from(m).device)
    }

    /// Removes `user`'s device with `token`; false when they had none.
    pub async fn unregister_push_device(&self, user: UserId, token: &str) -> AppResult<bool> {
        let hashes: Vec<String> = [PushPlatform::Ios, PushPlatform::Android, PushPlatform::Web]
            .iter()
            .map(|p| token_hash(*p, token))
            .collect();
        let r = push_devices::Entity::delete_many()
            .filter(push_devices::Column::UserId.eq(user.0))
            .filter(push_devices::Column::TokenHash.is_in(hashes))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// A member's devices, oldest first.
    pub async fn push_devices(&self, user: UserId) -> AppResult<Vec<PushDevice>> {
        Ok(self.push_device_tokens(user).await?.into_iter().map(|d| d.device).collect())
    }

    /// A member's devices with their tokens (the push worker's view).
    pub async fn push_device_tokens(&self, user: UserId) -> AppResult<Vec<DeviceToken>> {
        Ok(push_devices::Entity::find()
            .filter(push_devices::Column::UserId.eq(user.0))
            .order_by_asc(push_devices::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(device_from)
            .collect())
    }

    /// Removes a device its provider called dead.
    pub async fn remove_push_device(&self, device: Uuid) -> AppResult<()> {
        push_devices::Entity::delete_by_id(device).exec(&self.db).await?;
        Ok(())
    }

    /// A member's notification settings (the defaults without a row).
    pub async fn notification_settings(&self, user: UserId) -> AppResult<NotificationSettings> {
        Ok(notification_settings::Entity::find_by_id(user.0)
            .one(&self.db)
            .await?
            .map(|m| NotificationSettings {
                video_ready: m.video_ready,
                cameo_used: m.cameo_used,
                comments: m.comments,
                remixes: m.remixes,
                follows: m.follows,
                likes_digest: m.likes_digest,
                moderation: m.moderation,
                email_digest: m.email_digest,
                quiet_hours: m.quiet_start.zip(m.quiet_end),
            })
            .unwrap_or_default())
    }

    /// Stores a member's notification settings (one statement).
    pub async fn set_notification_settings(&self, user: UserId, s: &NotificationSettings) -> AppResult<()> {
        use notification_settings::Column as C;
        notification_settings::Entity::insert(settings_row(user, s, Utc::now()))
            .on_conflict(
                OnConflict::column(C::UserId)
                    .update_columns([
                        C::VideoReady,
                        C::CameoUsed,
                        C::Comments,
                        C::Remixes,
                        C::Follows,
                        C::LikesDigest,
                        C::Moderation,
                        C::EmailDigest,
                        C::QuietStart,
                        C::QuietEnd,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Turns the weekly email digest off (the unsubscribe link; two statements).
    pub async fn unsubscribe_digest(&self, user: UserId) -> AppResult<()> {
        let mut s = self.notification_settings(user).await?;
        s.email_digest = false;
        self.set_notification_settings(user, &s).await
    }

    /// Up to `limit` outbox entries due at `now` and not held by a live lease, oldest first.
    /// `now` is the worker's clock (tests move it); a new entry is due whatever it shows.
    pub async fn due_pushes(&self, now: DateTime<Utc>, limit: u64) -> AppResult<Vec<Uuid>> {
        Ok(notifications::Entity::find()
            .select_only()
            .column(notifications::Column::Id)
            .filter(notifications::Column::PushState.eq(PushState::Pending))
            .filter(notifications::Column::PushDueAt.is_null().or(notifications::Column::PushDueAt.lte(now)))
            .filter(notifications::Column::PushLeaseUntil.is_null().or(notifications::Column::PushLeaseUntil.lt(now)))
            .order_by_asc(notifications::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?)
    }

    /// Takes the outbox entry `id` until `until` if it is still due and free; None when another
    /// worker holds it or it is no longer pending.
    pub async fn claim_push(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> AppResult<Option<ClaimedPush>> {
        let r = notifications::Entity::update_many()
            .col_expr(notifications::Column::PushLeaseUntil, Expr::value(until))
            .filter(notifications::Column::Id.eq(id))
            .filter(notifications::Column::PushState.eq(PushState::Pending))
            .filter(notifications::Column::PushDueAt.is_null().or(notifications::Column::PushDueAt.lte(now)))
            .filter(notifications::Column::PushLeaseUntil.is_null().or(notifications::Column::PushLeaseUntil.lt(now)))
            .exec(&self.db)
            .await?;
        if r.rows_affected != 1 {
            return Ok(None);
        }
        Ok(notifications::Entity::find_by_id(id).one(&self.db).await?.map(|m| ClaimedPush {
            notification: notification_from(&m),
            user_id: UserId(m.user_id),
            attempts: m.push_attempts,
        }))
    }

    /// Ends an outbox entry (`DONE`, `SKIPPED` or `FAILED`).
    pub async fn finish_push(&self, id: Uuid, state: PushState) -> AppResult<()> {
        notifications::Entity::update_many()
            .col_expr(notifications::Column::PushState, Expr::value(state))
            .col_expr(notifications::Column::PushLeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(notifications::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Puts an outbox entry back, due at `due`; `retried` counts a failed try.
    pub async fn defer_push(&self, id: Uuid, due: DateTime<Utc>, retried: bool) -> AppResult<()> {
        let mut q = notifications::Entity::update_many()
            .col_expr(notifications::Column::PushDueAt, Expr::value(due))
            .col_expr(notifications::Column::PushLeaseUntil, Expr::value(Option::<DateTime<Utc>>::None));
        if retried {
            q = q.col_expr(notifications::Column::PushAttempts, Expr::col(notifications::Column::PushAttempts).add(1));
        }
        q.filter(notifications::Column::Id.eq(id)).exec(&self.db).await?;
        Ok(())
    }

    /// The delivery of `notification` to `device`: created (state `SENDING`, a new key) on the
    /// first try, read back on a retry. Answers its key and state (two statements).
    pub async fn start_delivery(&self, notification: Uuid, device: Uuid) -> AppResult<(Uuid, DeliveryState)> {
        push_deliveries::Entity::insert(push_deliveries::ActiveModel {
            notification_id: Set(notification),
            device_id: Set(device),
            key: Set(Uuid::new_v4()),
            state: Set(DeliveryState::Sending),
            attempts: Set(0),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([push_deliveries::Column::NotificationId, push_deliveries::Column::DeviceId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        let m = push_deliveries::Entity::find_by_id((notification, device))
            .one(&self.db)
            .await?
            .ok_or(app_core::error::AppError::NotFound("delivery"))?;
        Ok((m.key, m.state))
    }

    /// Records the provider's answer to one delivery (and the device's last success).
    pub async fn end_delivery(&self, notification: Uuid, device: Uuid, state: DeliveryState) -> AppResult<()> {
        let now = Utc::now();
        push_deliveries::Entity::update_many()
            .col_expr(push_deliveries::Column::State, Expr::value(state))
            .col_expr(push_deliveries::Column::Attempts, Expr::col(push_deliveries::Column::Attempts).add(1))
            .col_expr(push_deliveries::Column::UpdatedAt, Expr::value(now))
            .filter(push_deliveries::Column::NotificationId.eq(notification))
            .filter(push_deliveries::Column::DeviceId.eq(device))
            .exec(&self.db)
            .await?;
        if state == DeliveryState::Delivered {
            push_devices::Entity::update_many()
                .col_expr(push_devices::Column::LastSuccessAt, Expr::value(Some(now)))
                .filter(push_devices::Column::Id.eq(device))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Members whose digest is due at `now`: the digest on, no push device, not banned, and
    /// joined and last digested at least `every` ago. At most `limit`, by id. Whether anything
    /// happened to them is read by the caller ([`Store::notifications_since`]).
    pub async fn digests_due(&self, now: DateTime<Utc>, every: chrono::Duration, limit: u64) -> AppResult<Vec<UserId>> {
        self.summaries_due(Summary::Email, now - every, limit).await
    }

    /// Marks `user`'s digest sent at `now` unless another node did after `cutoff`. Answers the
    /// previous digest's time (`Some(None)`: their first) when this caller is to send it, `None`
    /// when not. Three statements.
    pub async fn claim_digest(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> AppResult<Option<Option<DateTime<Utc>>>> {
        self.claim_summary(Summary::Email, user, now, cutoff).await
    }

    /// Members with a push device and the likes digest on whose last likes push is older than
    /// `every` (or who never had one). At most `limit`, by id.
    pub async fn likes_digests_due(
        &self,
        now: DateTime<Utc>,
        every: chrono::Duration,
        limit: u64,
    ) -> AppResult<Vec<UserId>> {
        self.summaries_due(Summary::Likes, now - every, limit).await
    }

    /// Marks `user`'s likes digest sent at `now` unless another node did after `cutoff`; the
    /// previous one's time when this caller is to send it (`Some(None)`: the first), `None` when
    /// not. Three statements.
    pub async fn claim_likes_digest(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> AppResult<Option<Option<DateTime<Utc>>>> {
        self.claim_summary(Summary::Likes, user, now, cutoff).await
    }

    /// Members due a `summary`: not banned, its switch not off, not sent after `cutoff`; for the
    /// email, members without a device who joined before `cutoff`; for likes, members with one.
    async fn summaries_due(&self, summary: Summary, cutoff: DateTime<Utc>, limit: u64) -> AppResult<Vec<UserId>> {
        use crate::entities::users;
        let has_device = Query::select()
            .expr(Expr::val(1))
            .from(push_devices::Entity)
            .and_where(
                Expr::col((push_devices::Entity, push_devices::Column::UserId))
                    .equals((users::Entity, users::Column::Id)),
            )
            .to_owned();
        let settings_say = |cond: sea_orm::sea_query::SimpleExpr| {
            Query::select()
                .expr(Expr::val(1))
                .from(notification_settings::Entity)
                .and_where(
                    Expr::col((notification_settings::Entity, notification_settings::Column::UserId))
                        .equals((users::Entity, users::Column::Id)),
                )
                .and_where(cond)
                .to_owned()
        };
        let off = settings_say(Expr::col((notification_settings::Entity, summary.switch())).eq(false));
        let sent = settings_say(Expr::col((notification_settings::Entity, summary.sent_at())).gt(cutoff));
        let mut q = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::BannedAt.is_null())
            .filter(Expr::exists(off).not())
            .filter(Expr::exists(sent).not());
        q = match summary {
            Summary::Email => q.filter(users::Column::CreatedAt.lte(cutoff)).filter(Expr::exists(has_device).not()),
            Summary::Likes => q.filter(Expr::exists(has_device)),
        };
        let ids: Vec<Uuid> = q.order_by_asc(users::Column::Id).limit(limit).into_tuple().all(&self.db).await?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    /// Marks `summary` sent to `user` at `now` unless it was sent after `cutoff` (by another
    /// node) or is switched off: the previous sending's time when this caller is to send it.
    async fn claim_summary(
        &self,
        summary: Summary,
        user: UserId,
        now: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> AppResult<Option<Option<DateTime<Utc>>>> {
        notification_settings::Entity::insert(settings_row(user, &NotificationSettings::default(), now))
            .on_conflict(OnConflict::column(notification_settings::Column::UserId).do_nothing().to_owned())
            .exec_without_returning(&self.db)
            .await?;
        let previous =
            notification_settings::Entity::find_by_id(user.0).one(&self.db).await?.and_then(|m| summary.sent_at_of(&m));
        let r = notification_settings::Entity::update_many()
            .col_expr(summary.sent_at(), Expr::value(Some(now)))
            .filter(notification_settings::Column::UserId.eq(user.0))
            .filter(summary.switch().eq(true))
            .filter(summary.sent_at().is_null().or(summary.sent_at().lte(cutoff)))
            .exec(&self.db)
            .await?;
        Ok((r.rows_affected == 1).then_some(previous))
    }

    /// How many of `user`'s notifications of `kind` were written after `since`.
    pub async fn count_notifications_since(
        &self,
        user: UserId,
        kind: NotificationKind,
        since: DateTime<Utc>,
    ) -> AppResult<u64> {
        use sea_orm::PaginatorTrait;
        Ok(notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(user.0))
            .filter(notifications::Column::Kind.eq(kind))
            .filter(notifications::Column::CreatedAt.gt(since))
            .count(&self.db)
            .await?)
    }

    /// `user`'s notifications written after `since`, newest first, at most `limit`.
    pub async fn notifications_since(
        &self,
        user: UserId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> AppResult<Vec<Notification>> {
        Ok(notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(user.0))
            .filter(notifications::Column::CreatedAt.gt(since))
            .order_by_desc(notifications::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?
            .iter()
            .map(notification_from)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Duration;

    use super::*;
    use crate::column_tests::{member, sqlite};

    async fn state_of(store: &Store, user: UserId) -> Vec<PushState> {
        notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(user.0))
            .order_by_asc(notifications::Column::Id)
            .all(&store.db)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.push_state)
            .collect()
    }

    #[tokio::test]
    async fn the_outbox_entry_is_written_with_the_notification() {
        let store = sqlite().await;
        let ann = member(&store, "ann").await;
        store.notify(ann.id, NotificationKind::UserFollowed, None, None, "before a device").await.unwrap();
        store.register_push_device(ann.id, PushPlatform::Ios, "ab12", "iPhone or iPad").await.unwrap();
        store.notify(ann.id, NotificationKind::UserFollowed, None, None, "with a device").await.unwrap();
        assert_eq!(state_of(&store, ann.id).await, [PushState::None, PushState::Pending]);
        // In a unit of work that rolls back, neither the notification nor its entry stays.
        let tx = store.begin().await.unwrap();
        tx.notify(ann.id, NotificationKind::VideoLiked, None, None, "rolled back").await.unwrap();
        drop(tx);
        assert_eq!(state_of(&store, ann.id).await.len(), 2);
    }

    #[tokio::test]
    async fn one_worker_holds_an_entry_until_its_lease_ends() {
        let store = sqlite().await;
        let ann = member(&store, "ann").await;
        let device = store.register_push_device(ann.id, PushPlatform::Web, "{}", "Browser").await.unwrap();
        store.notify(ann.id, NotificationKind::UserFollowed, None, None, "hi").await.unwrap();
        let now = Utc::now();
        let due = store.due_pushes(now, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        let id = due[0];
        let first = store.claim_push(id, now, now + Duration::seconds(60)).await.unwrap();
        assert!(first.is_some());
        assert!(store.claim_push(id, now, now + Duration::seconds(60)).await.unwrap().is_none(), "held");
        assert!(store.due_pushes(now, 10).await.unwrap().is_empty());
        // The delivery's key is made once and read back on a retry.
        let (key, state) = store.start_delivery(id, device.id).await.unwrap();
        assert_eq!(state, DeliveryState::Sending);
        // The worker dies here; a minute later another takes the entry over with the same key.
        let later = now + Duration::seconds(61);
        let again = store.claim_push(id, later, later + Duration::seconds(60)).await.unwrap().unwrap();
        assert_eq!(again.attempts, 0);
        assert_eq!(store.start_delivery(id, device.id).await.unwrap(), (key, DeliveryState::Sending));
        store.end_delivery(id, device.id, DeliveryState::Delivered).await.unwrap();
        assert_eq!(store.start_delivery(id, device.id).await.unwrap(), (key, DeliveryState::Delivered));
        assert!(store.push_devices(ann.id).await.unwrap()[0].last_success_at.is_some());
        // Deferred: not due before its time; a retry counts.
        store.defer_push(id, later + Duration::seconds(30), true).await.unwrap();
        assert!(store.due_pushes(later, 10).await.unwrap().is_empty());
        let c = store.claim_push(id, later + Duration::seconds(31), later + Duration::seconds(90)).await.unwrap();
        assert_eq!(c.unwrap().attempts, 1);
        store.finish_push(id, PushState::Done).await.unwrap();
        assert!(store.due_pushes(later + Duration::days(1), 10).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_token_belongs_to_one_member() {
        let store = sqlite().await;
        let ann = member(&store, "ann").await;
        let bob = member(&store, "bob").await;
        store.register_push_device(ann.id, PushPlatform::Android, "tok", "Android").await.unwrap();
        store.register_push_device(ann.id, PushPlatform::Android, "tok", "Android").await.unwrap();
        assert_eq!(store.push_devices(ann.id).await.unwrap().len(), 1);
        store.register_push_device(bob.id, PushPlatform::Android, "tok", "Android").await.unwrap();
        assert!(store.push_devices(ann.id).await.unwrap().is_empty());
        assert!(!store.unregister_push_device(ann.id, "tok").await.unwrap(), "not ann's any more");
        assert!(store.unregister_push_device(bob.id, "tok").await.unwrap());
    }

    #[tokio::test]
    async fn digests_go_to_members_without_a_device_once_a_period() {
        let store = sqlite().await;
        let ann = member(&store, "ann").await;
        let bob = member(&store, "bob").await;
        let cy = member(&store, "cy").await;
        store.register_push_device(bob.id, PushPlatform::Ios, "ff", "iPhone or iPad").await.unwrap();
        let mut off = store.notification_settings(cy.id).await.unwrap();
        off.email_digest = false;
        store.set_notification_settings(cy.id, &off).await.unwrap();
        let week = Duration::days(7);
        // Members who joined within the period wait for it.
        assert!(store.digests_due(Utc::now(), week, 10).await.unwrap().is_empty());
        let now = Utc::now() + week + Duration::hours(1);
        assert_eq!(store.digests_due(now, week, 10).await.unwrap(), [ann.id], "bob has a device, cy turned it off");
        assert_eq!(store.claim_digest(ann.id, now, now - week).await.unwrap(), Some(None), "ann's first");
        assert_eq!(store.claim_digest(ann.id, now, now - week).await.unwrap(), None, "another node sent it");
        assert!(store.digests_due(now, week, 10).await.unwrap().is_empty());
        let next = now + week;
        assert_eq!(store.digests_due(next, week, 10).await.unwrap(), [ann.id]);
        assert_eq!(store.claim_digest(ann.id, next, next - week).await.unwrap(), Some(Some(now)));
    }
}
