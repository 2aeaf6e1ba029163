//! Persistence: sea-orm entities and repository functions. The only crate that writes SQL.
//!
//! Architecture invariant: every function takes and returns the records of `app_core::model` or
//! plain values; sea-orm types never leave this crate. Multi-row invariants (an invite's use count,
//! refresh-token rotation, one-time tokens, a ban or a password reset revoking every session) are
//! enforced here with conditional updates inside transactions, so they hold under concurrent
//! requests on both engines. Write transactions on SQLite begin `IMMEDIATE`, so concurrent writers
//! queue on the busy timeout instead of failing on a lock upgrade. A domain operation that writes
//! more than one row opens a unit of work ([`Store::begin`] → [`Tx`]) and runs its statements
//! through `Tx`'s methods, which share their SQL with the `Store` methods of the same names (the
//! `*_in` functions, generic over sea-orm's `ConnectionTrait`); see `uow`. Only SHA-256 digests of tokens
//! are stored, never the tokens. [`Store::queries`] counts the statements run (tests measure what a
//! feed page costs with it).
//!
//! Modules: this file (connection, migrations, members, invites, the waitlist, sessions and
//! one-time tokens), `generation` (jobs and videos), `moderation` (verdicts, comments, cases,
//! reports, notifications), `cameos`, `social` (graph, engagement, feed candidates), `audit`,
//! `entities` (one entity per table, no navigated relations), `uow` (units of work).
//!
//! `rotate_refresh` in one transaction: an unknown token or family is `Invalid`; a used token or a
//! revoked family revokes the family (`reuse`) and answers `Reused`; an expired one is `Invalid`;
//! otherwise `used_at` is set conditionally (`WHERE used_at IS NULL`; a concurrent rotation that
//! lost revokes the family) and the next token is inserted with the family's expiry.

pub mod audit;
pub mod cameos;
#[cfg(test)]
mod column_tests;
pub mod entities;
pub mod generation;
mod json;
pub mod moderation;
#[cfg(test)]
mod pool_tests;
pub mod push;
pub mod search;
pub mod social;
pub mod teens;
pub mod uow;

pub use uow::Tx;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use uuid::Uuid;

use app_core::age::BirthMonth;
use app_core::error::{AppError, AppResult};
use app_core::model::{Invite, Role, SessionRevocation, TokenPurpose, User, WaitlistEntry};
use app_core::types::{InviteId, SessionId, UserId};
use entities::*;

/// The database handle.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Statements run through this handle (tests count a page's queries with it).
    queries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The fail point armed for the next transaction (tests only).
    #[cfg(any(test, feature = "fault-injection"))]
    faults: std::sync::Arc<uow::faults::Faults>,
}

/// A member to insert.
pub struct NewUser {
    /// Lower-cased address.
    pub email: String,
    /// Handle.
    pub username: String,
    /// Display name.
    pub display_name: Option<String>,
    /// PHC hash.
    pub password_hash: String,
    /// Role.
    pub role: Role,
    /// Whether the address counts as confirmed already (command-line admins).
    pub email_verified: bool,
    /// Birth year and month (none: no age check).
    pub birth_month: Option<BirthMonth>,
    /// IANA time zone, checked by the caller (none: UTC).
    pub time_zone: Option<String>,
}

/// An invite to insert.
pub struct NewInvite {
    /// Normalised code.
    pub code: String,
    /// Quota owner.
    pub owner_id: Option<UserId>,
    /// Minting admin.
    pub created_by: Option<UserId>,
    /// Uses allowed.
    pub max_uses: i32,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Note.
    pub note: Option<String>,
}

/// What happened to a presented refresh token.
pub enum Rotation {
    /// It was live and is now used; the new token is in force.
    Rotated {
        /// Owner.
        user_id: UserId,
        /// The family (session).
        session: SessionId,
    },
    /// It had been used already (or its family was revoked): the family is revoked now.
    Reused {
        /// The revoked family.
        session: SessionId,
    },
    /// Unknown or expired.
    Invalid,
}

/// Why a sign-up transaction refused.
pub enum SignUpRefusal {
    /// The invite cannot be redeemed.
    InviteInvalid,
    /// Email or username is taken.
    Taken(&'static str),
}

/// How [`lower_like`] matches.
#[derive(Clone, Copy)]
pub(crate) enum Match {
    /// The column starts with the text.
    Prefix,
    /// The column contains the text.
    Anywhere,
}

/// `LOWER(col) LIKE …` for `text` (lower-cased, its `\`, `%` and `_` escaped): case-insensitive on
/// both engines (SQLite's LIKE is, PostgreSQL's is not).
pub(crate) fn lower_like(
    col: impl sea_orm::sea_query::IntoColumnRef,
    text: &str,
    how: Match,
) -> sea_orm::sea_query::SimpleExpr {
    let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let pattern = match how {
        Match::Prefix => format!("{escaped}%"),
        Match::Anywhere => format!("%{escaped}%"),
    };
    Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(col)))
        .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\'))
}

fn user_from(m: users::Model) -> User {
    User {
        id: UserId(m.id),
        email: m.email,
        username: m.username,
        display_name: m.display_name,
        role: m.role,
        email_verified_at: m.email_verified_at,
        banned_at: m.banned_at,
        ban_reason: m.ban_reason,
        invited_by: m.invited_by.map(UserId),
        created_at: m.created_at,
        follower_count: m.follower_count,
        following_count: m.following_count,
        birth_month: m.birth_month.as_deref().and_then(BirthMonth::parse),
        time_zone: m.time_zone,
        daily_feed_minutes: m.daily_feed_minutes.and_then(|n| u32::try_from(n).ok()),
    }
}

fn invite_from(m: invites::Model) -> Invite {
    Invite {
        id: InviteId(m.id),
        code: m.code,
        owner_id: m.owner_id.map(UserId),
        created_by: m.created_by.map(UserId),
        max_uses: m.max_uses,
        uses: m.uses,
        expires_at: m.expires_at,
        revoked_at: m.revoked_at,
        note: m.note,
        created_at: m.created_at,
    }
}

fn taken_field(e: &DbErr) -> Option<&'static str> {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(msg)) => {
            if msg.contains("username") {
                Some("username")
            } else if msg.contains("email") {
                Some("email")
            } else {
                Some("value")
            }
        }
        _ => None,
    }
}

impl Store {
    /// Connects and tunes SQLite (WAL journal; sqlx's default 5 s busy timeout applies).
    /// Migrations are run separately by `migrate`.
    pub async fn connect(url: &str, max_connections: u32) -> AppResult<Self> {
        let mut opt = ConnectOptions::new(url.to_owned());
        opt.max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let mut db = Database::connect(opt).await?;
        if url.starts_with("sqlite:") {
            db.execute_unprepared("PRAGMA journal_mode=WAL;").await?;
            db.execute_unprepared("PRAGMA synchronous=NORMAL;").await?;
        }
        let queries = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = queries.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        Ok(Self {
            db,
            queries,
            #[cfg(any(test, feature = "fault-injection"))]
            faults: std::sync::Arc::default(),
        })
    }

    /// How many statements this handle has run so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> AppResult<()> {
        use migrations::MigratorTrait;
        migrations::Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Rolls back the last `steps` migrations.
    pub async fn migrate_down(&self, steps: u32) -> AppResult<()> {
        use migrations::MigratorTrait;
        migrations::Migrator::down(&self.db, Some(steps)).await?;
        Ok(())
    }

    /// Round-trips to the database.
    pub async fn ping(&self) -> AppResult<()> {
        self.db.ping().await?;
        Ok(())
    }

    // ---- users ----

    /// One member by id.
    pub async fn user(&self, id: UserId) -> AppResult<Option<User>> {
        Self::user_in(&self.db, id).await
    }

    pub(crate) async fn user_in<C: ConnectionTrait>(c: &C, id: UserId) -> AppResult<Option<User>> {
        Ok(users::Entity::find_by_id(id.0).one(c).await?.map(user_from))
    }

    /// Members by id, in no particular order (for data loaders).
    pub async fn users(&self, ids: &[UserId]) -> AppResult<Vec<User>> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        Ok(users::Entity::find()
            .filter(users::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(user_from)
            .collect())
    }

    /// One member by username (any case).
    pub async fn user_by_username(&self, username: &str) -> AppResult<Option<User>> {
        Ok(users::Entity::find()
            .filter(users::Column::UsernameKey.eq(username.to_lowercase()))
            .one(&self.db)
            .await?
            .map(user_from))
    }

    /// One member by email with their password hash.
    pub async fn credentials_by_email(&self, email: &str) -> AppResult<Option<(User, String)>> {
        Ok(users::Entity::find().filter(users::Column::Email.eq(email)).one(&self.db).await?.map(|m| {
            let h = m.password_hash.clone();
            (user_from(m), h)
        }))
    }

    /// One member by username with their password hash.
    pub async fn credentials_by_username(&self, username: &str) -> AppResult<Option<(User, String)>> {
        Ok(users::Entity::find()
            .filter(users::Column::UsernameKey.eq(username.to_lowercase()))
            .one(&self.db)
            .await?
            .map(|m| {
                let h = m.password_hash.clone();
                (user_from(m), h)
            }))
    }

    /// The members `inviter` brought in, oldest first.
    pub async fn invitees(&self, inviter: UserId) -> AppResult<Vec<User>> {
        Ok(users::Entity::find()
            .filter(users::Column::InvitedBy.eq(inviter.0))
            .order_by_asc(users::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(user_from)
            .collect())
    }

    fn user_row(
        u: &NewUser,
        id: Uuid,
        invited_by: Option<Uuid>,
        invite_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> users::ActiveModel {
        users::ActiveModel {
            id: Set(id),
            email: Set(u.email.clone()),
            username: Set(u.username.clone()),
            username_key: Set(u.username.to_lowercase()),
            display_name: Set(u.display_name.clone()),
            password_hash: Set(u.password_hash.clone()),
            role: Set(u.role),
            email_verified_at: Set(if u.email_verified { Some(now) } else { None }),
            banned_at: Set(None),
            ban_reason: Set(None),
            invited_by: Set(invited_by),
            invite_id: Set(invite_id),
            created_at: Set(now),
            follower_count: Set(0),
            following_count: Set(0),
            birth_month: Set(u.birth_month.map(BirthMonth::as_string)),
            time_zone: Set(u.time_zone.clone()),
            daily_feed_minutes: Set(None),
        }
    }

    fn invite_row(i: &NewInvite, now: DateTime<Utc>) -> invites::ActiveModel {
        invites::ActiveModel {
            id: Set(Uuid::now_v7()),
            code: Set(i.code.clone()),
            owner_id: Set(i.owner_id.map(|u| u.0)),
            created_by: Set(i.created_by.map(|u| u.0)),
            max_uses: Set(i.max_uses),
            uses: Set(0),
            expires_at: Set(i.expires_at),
            revoked_at: Set(None),
            note: Set(i.note.clone()),
            created_at: Set(now),
        }
    }

    /// Inserts a member without an invite (first admin from the command line).
    pub async fn create_user(&self, u: NewUser) -> AppResult<Result<User, SignUpRefusal>> {
        Self::create_user_in(&self.db, u).await
    }

    pub(crate) async fn create_user_in<C: ConnectionTrait>(
        c: &C,
        u: NewUser,
    ) -> AppResult<Result<User, SignUpRefusal>> {
        let now = Utc::now();
        let row = Self::user_row(&u, Uuid::now_v7(), None, None, now);
        match users::Entity::insert(row).exec_with_returning(c).await {
            Ok(m) => Ok(Ok(user_from(m))),
            Err(e) => match taken_field(&e) {
                Some(f) => Ok(Err(SignUpRefusal::Taken(f))),
                None => Err(e.into()),
            },
        }
    }

    /// Looks up a redeemable invite by its normalised code; `None` if it cannot be used now
    /// (unknown, used up, expired, revoked, or owned by a banned member).
    pub async fn redeemable_invite(&self, code: &str) -> AppResult<Option<Invite>> {
        let Some(inv) = invites::Entity::find().filter(invites::Column::Code.eq(code)).one(&self.db).await? else {
            return Ok(None);
        };
        let inv = invite_from(inv);
        let now = Utc::now();
        if inv.revoked_at.is_some() || inv.uses >= inv.max_uses || inv.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        if let Some(owner) = inv.owner_id {
            match self.user(owner).await? {
                Some(o) if !o.is_banned() => {}
                _ => return Ok(None),
            }
        }
        Ok(Some(inv))
    }

    /// In one transaction: takes one use of the invite (only if it is still redeemable),
    /// creates the member, records the redemption and the invite tree, and gives the member
    /// their own quota of codes.
    pub async fn sign_up(
        &self,
        invite: &Invite,
        u: NewUser,
        quota: Vec<NewInvite>,
    ) -> AppResult<Result<User, SignUpRefusal>> {
        let txn = self.tx().await?;
        let out = Self::sign_up_in(&txn, invite, u, quota).await?;
        if out.is_ok() {
            txn.commit().await?;
        } else {
            txn.rollback().await?;
        }
        Ok(out)
    }

    /// The statements of `sign_up`; on a refusal the caller must roll back (the invite's use
    /// may have been taken already).
    pub(crate) async fn sign_up_in<C: ConnectionTrait>(
        c: &C,
        invite: &Invite,
        u: NewUser,
        quota: Vec<NewInvite>,
    ) -> AppResult<Result<User, SignUpRefusal>> {
        let now = Utc::now();
        let mut take = invites::Entity::update_many()
            .col_expr(invites::Column::Uses, Expr::col(invites::Column::Uses).add(1))
            .filter(invites::Column::Id.eq(invite.id.0))
            .filter(Expr::col(invites::Column::Uses).lt(Expr::col(invites::Column::MaxUses)))
            .filter(invites::Column::RevokedAt.is_null());
        if invite.expires_at.is_some() {
            take = take.filter(invites::Column::ExpiresAt.gt(now));
        }
        let taken = take.exec(c).await?;
        if taken.rows_affected != 1 {
            return Ok(Err(SignUpRefusal::InviteInvalid));
        }
        // The owner may have been banned between the read and now.
        if let Some(owner) = invite.owner_id {
            let banned = users::Entity::find_by_id(owner.0).one(c).await?.is_none_or(|o| o.banned_at.is_some());
            if banned {
                return Ok(Err(SignUpRefusal::InviteInvalid));
            }
        }
        let inviter = invite.owner_id.or(invite.created_by).map(|u| u.0);
        let id = Uuid::now_v7();
        let user = match users::Entity::insert(Self::user_row(&u, id, inviter, Some(invite.id.0), now))
            .exec_with_returning(c)
            .await
        {
            Ok(m) => user_from(m),
            Err(e) => {
                return match taken_field(&e) {
                    Some(f) => Ok(Err(SignUpRefusal::Taken(f))),
                    None => Err(e.into()),
                };
            }
        };
        invite_redemptions::Entity::insert(invite_redemptions::ActiveModel {
            id: Set(Uuid::now_v7()),
            invite_id: Set(invite.id.0),
            user_id: Set(id),
            created_at: Set(now),
        })
        .exec(c)
        .await?;
        if !quota.is_empty() {
            let rows: Vec<_> = quota
                .iter()
                .map(|q| Self::invite_row(&NewInvite { owner_id: Some(user.id), ..clone_invite(q) }, now))
                .collect();
            invites::Entity::insert_many(rows).exec(c).await?;
        }
        Ok(Ok(user))
    }

    /// Marks the address confirmed.
    pub async fn set_email_verified(&self, id: UserId) -> AppResult<()> {
        Self::set_email_verified_in(&self.db, id).await
    }

    pub(crate) async fn set_email_verified_in<C: ConnectionTrait>(c: &C, id: UserId) -> AppResult<()> {
        users::Entity::update_many()
            .col_expr(users::Column::EmailVerifiedAt, Expr::value(Utc::now()))
            .filter(users::Column::Id.eq(id.0))
            .filter(users::Column::EmailVerifiedAt.is_null())
            .exec(c)
            .await?;
        Ok(())
    }

    /// Replaces the password hash and revokes every session, in one transaction.
    pub async fn set_password_and_revoke_sessions(&self, id: UserId, hash: String) -> AppResult<Vec<SessionId>> {
        let txn = self.tx().await?;
        let out = Self::set_password_and_revoke_sessions_in(&txn, id, hash).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub(crate) async fn set_password_and_revoke_sessions_in<C: ConnectionTrait>(
        c: &C,
        id: UserId,
        hash: String,
    ) -> AppResult<Vec<SessionId>> {
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(hash))
            .filter(users::Column::Id.eq(id.0))
            .exec(c)
            .await?;
        let revoked = Self::revoke_user_families(c, id, SessionRevocation::PasswordReset).await?;
        Ok(revoked)
    }

    /// Changes a member's role.
    pub async fn set_role(&self, id: UserId, role: Role) -> AppResult<Option<User>> {
        Self::set_role_in(&self.db, id, role).await
    }

    pub(crate) async fn set_role_in<C: ConnectionTrait>(c: &C, id: UserId, role: Role) -> AppResult<Option<User>> {
        users::Entity::update_many()
            .col_expr(users::Column::Role, Expr::value(role))
            .filter(users::Column::Id.eq(id.0))
            .exec(c)
            .await?;
        Self::user_in(c, id).await
    }

    /// Bans a member and revokes every session, in one transaction.
    pub async fn ban(&self, id: UserId, reason: &str) -> AppResult<(Option<User>, Vec<SessionId>)> {
        let txn = self.tx().await?;
        let out = Self::ban_in(&txn, id, reason).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub(crate) async fn ban_in<C: ConnectionTrait>(
        c: &C,
        id: UserId,
        reason: &str,
    ) -> AppResult<(Option<User>, Vec<SessionId>)> {
        users::Entity::update_many()
            .col_expr(users::Column::BannedAt, Expr::value(Utc::now()))
            .col_expr(users::Column::BanReason, Expr::value(reason))
            .filter(users::Column::Id.eq(id.0))
            .exec(c)
            .await?;
        let revoked = Self::revoke_user_families(c, id, SessionRevocation::Banned).await?;
        Ok((Self::user_in(c, id).await?, revoked))
    }

    // ---- invites ----

    /// Inserts invites (admin mint, waitlist grant).
    pub async fn insert_invites(&self, list: Vec<NewInvite>) -> AppResult<Vec<Invite>> {
        let txn = self.tx().await?;
        let out = Self::insert_invites_in(&txn, list).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub(crate) async fn insert_invites_in<C: ConnectionTrait>(c: &C, list: Vec<NewInvite>) -> AppResult<Vec<Invite>> {
        let now = Utc::now();
        let mut out = Vec::with_capacity(list.len());
        for i in &list {
            let m = invites::Entity::insert(Self::invite_row(i, now)).exec_with_returning(c).await?;
            out.push(invite_from(m));
        }
        Ok(out)
    }

    /// A member's own codes, oldest first.
    pub async fn invites_owned_by(&self, owner: UserId) -> AppResult<Vec<Invite>> {
        Ok(invites::Entity::find()
            .filter(invites::Column::OwnerId.eq(owner.0))
            .order_by_asc(invites::Column::CreatedAt)
            .order_by_asc(invites::Column::Code)
            .all(&self.db)
            .await?
            .into_iter()
            .map(invite_from)
            .collect())
    }

    /// The members who redeemed `invite`.
    pub async fn redeemers(&self, invite: InviteId) -> AppResult<Vec<User>> {
        let ids: Vec<Uuid> = invite_redemptions::Entity::find()
            .filter(invite_redemptions::Column::InviteId.eq(invite.0))
            .order_by_asc(invite_redemptions::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| r.user_id)
            .collect();
        let mut users = self.users(&ids.iter().copied().map(UserId).collect::<Vec<_>>()).await?;
        users.sort_by_key(|u| ids.iter().position(|i| *i == u.id.0));
        Ok(users)
    }

    // ---- waitlist ----

    /// Adds an address to the waitlist (no-op when present).
    pub async fn join_waitlist(&self, email: &str) -> AppResult<()> {
        Self::join_waitlist_in(&self.db, email).await
    }

    pub(crate) async fn join_waitlist_in<C: ConnectionTrait>(c: &C, email: &str) -> AppResult<()> {
        let exists = waitlist::Entity::find().filter(waitlist::Column::Email.eq(email)).one(c).await?.is_some();
        if exists {
            return Ok(());
        }
        let row = waitlist::ActiveModel {
            id: Set(Uuid::now_v7()),
            email: Set(email.into()),
            created_at: Set(Utc::now()),
            granted_at: Set(None),
            invite_id: Set(None),
        };
        // A concurrent join of the same address is no error (and must not abort a transaction).
        waitlist::Entity::insert(row)
            .on_conflict(sea_orm::sea_query::OnConflict::column(waitlist::Column::Email).do_nothing().to_owned())
            .exec_without_returning(c)
            .await?;
        Ok(())
    }

    /// Records that `email` was granted `invite` (adding it to the list if absent), in one
    /// transaction.
    pub async fn mark_waitlist_granted(&self, email: &str, invite: InviteId) -> AppResult<()> {
        let txn = self.tx().await?;
        Self::mark_waitlist_granted_in(&txn, email, invite).await?;
        txn.commit().await?;
        Ok(())
    }

    pub(crate) async fn mark_waitlist_granted_in<C: ConnectionTrait>(
        c: &C,
        email: &str,
        invite: InviteId,
    ) -> AppResult<()> {
        Self::join_waitlist_in(c, email).await?;
        waitlist::Entity::update_many()
            .col_expr(waitlist::Column::GrantedAt, Expr::value(Utc::now()))
            .col_expr(waitlist::Column::InviteId, Expr::value(invite.0))
            .filter(waitlist::Column::Email.eq(email))
            .exec(c)
            .await?;
        Ok(())
    }

    /// Whether `email` is on the waitlist, and whether it was granted.
    pub async fn waitlist_entry(&self, email: &str) -> AppResult<Option<bool>> {
        Ok(waitlist::Entity::find()
            .filter(waitlist::Column::Email.eq(email))
            .one(&self.db)
            .await?
            .map(|w| w.granted_at.is_some()))
    }

    /// The waitlist, oldest first (a queue), optionally only the addresses not yet granted.
    pub async fn waitlist_entries(
        &self,
        pending_only: bool,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<WaitlistEntry>> {
        let mut q = waitlist::Entity::find();
        if pending_only {
            q = q.filter(waitlist::Column::GrantedAt.is_null());
        }
        if let Some((at, id)) = after {
            q = q.filter(
                waitlist::Column::CreatedAt
                    .gt(at)
                    .or(waitlist::Column::CreatedAt.eq(at).and(waitlist::Column::Id.gt(id))),
            );
        }
        Ok(q.order_by_asc(waitlist::Column::CreatedAt)
            .order_by_asc(waitlist::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| WaitlistEntry {
                id: m.id,
                email: m.email,
                created_at: m.created_at,
                granted_at: m.granted_at,
                invite_id: m.invite_id.map(InviteId),
            })
            .collect())
    }

    /// Invites by id, in no particular order.
    pub async fn invites_by_ids(&self, ids: &[InviteId]) -> AppResult<Vec<Invite>> {
        let ids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        Ok(invites::Entity::find()
            .filter(invites::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(invite_from)
            .collect())
    }

    /// Members whose handle, display name or email contains `text` (any case), newest first;
    /// everyone when `text` is empty.
    pub async fn search_users(
        &self,
        text: &str,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<User>> {
        let mut q = users::Entity::find();
        let text = text.trim();
        if !text.is_empty() {
            // Handles are stored lower-cased in `username_key`, addresses as given.
            let like = |col: users::Column| lower_like(col, text, Match::Anywhere);
            q = q.filter(
                like(users::Column::UsernameKey).or(like(users::Column::Email)).or(like(users::Column::DisplayName)),
            );
        }
        if let Some((at, id)) = after {
            q = q.filter(
                users::Column::CreatedAt.lt(at).or(users::Column::CreatedAt.eq(at).and(users::Column::Id.lt(id))),
            );
        }
        Ok(q.order_by_desc(users::Column::CreatedAt)
            .order_by_desc(users::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(user_from)
            .collect())
    }

    // ---- sessions (refresh-token families) ----

    /// Starts a session with its first refresh token.
    pub async fn create_session(
        &self,
        user: UserId,
        token_hash: String,
        expires_at: DateTime<Utc>,
    ) -> AppResult<SessionId> {
        let txn = self.tx().await?;
        let out = Self::create_session_in(&txn, user, token_hash, expires_at).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub(crate) async fn create_session_in<C: ConnectionTrait>(
        c: &C,
        user: UserId,
        token_hash: String,
        expires_at: DateTime<Utc>,
    ) -> AppResult<SessionId> {
        let now = Utc::now();
        let fid = Uuid::now_v7();
        refresh_families::Entity::insert(refresh_families::ActiveModel {
            id: Set(fid),
            user_id: Set(user.0),
            created_at: Set(now),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            revoked_reason: Set(None),
        })
        .exec(c)
        .await?;
        refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            family_id: Set(fid),
            token_hash: Set(token_hash),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
        })
        .exec(c)
        .await?;
        Ok(SessionId(fid))
    }

    /// Rotates a refresh token: marks the presented one used and stores `next_hash` in the same
    /// family, atomically. A token already used, or of a revoked family, revokes the family.
    pub async fn rotate_refresh(&self, presented_hash: &str, next_hash: String) -> AppResult<Rotation> {
        let now = Utc::now();
        let txn = self.tx().await?;
        let Some(tok) = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(presented_hash))
            .one(&txn)
            .await?
        else {
            txn.rollback().await?;
            return Ok(Rotation::Invalid);
        };
        let Some(fam) = refresh_families::Entity::find_by_id(tok.family_id).one(&txn).await? else {
            txn.rollback().await?;
            return Ok(Rotation::Invalid);
        };
        let session = SessionId(fam.id);
        if tok.used_at.is_some() || fam.revoked_at.is_some() {
            if fam.revoked_at.is_none() {
                Self::revoke_family_in(&txn, fam.id, SessionRevocation::Reuse).await?;
            }
            txn.commit().await?;
            return Ok(Rotation::Reused { session });
        }
        if tok.expires_at <= now || fam.expires_at <= now {
            txn.rollback().await?;
            return Ok(Rotation::Invalid);
        }
        // Conditional update: of two concurrent rotations of one token, exactly one wins; the
        // other sees zero rows and is treated as reuse.
        let res = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::UsedAt, Expr::value(now))
            .filter(refresh_tokens::Column::Id.eq(tok.id))
            .filter(refresh_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            Self::revoke_family_in(&txn, fam.id, SessionRevocation::Reuse).await?;
            txn.commit().await?;
            return Ok(Rotation::Reused { session });
        }
        refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            family_id: Set(fam.id),
            token_hash: Set(next_hash),
            created_at: Set(now),
            expires_at: Set(fam.expires_at),
            used_at: Set(None),
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(Rotation::Rotated { user_id: UserId(fam.user_id), session })
    }

    /// Revokes the session a refresh token belongs to; returns it when the token was known.
    pub async fn revoke_session_of(&self, token_hash: &str, reason: SessionRevocation) -> AppResult<Option<SessionId>> {
        let Some(tok) = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(token_hash))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Self::revoke_family_in(&self.db, tok.family_id, reason).await?;
        Ok(Some(SessionId(tok.family_id)))
    }

    /// Whether a session has been revoked (or does not exist).
    pub async fn session_revoked(&self, session: SessionId) -> AppResult<bool> {
        Ok(refresh_families::Entity::find_by_id(session.0).one(&self.db).await?.is_none_or(|f| f.revoked_at.is_some()))
    }

    /// Sessions ended at or after `since` (to mark them again in a cache that lost them).
    pub async fn sessions_revoked_since(&self, since: DateTime<Utc>) -> AppResult<Vec<SessionId>> {
        let ids: Vec<Uuid> = refresh_families::Entity::find()
            .select_only()
            .column(refresh_families::Column::Id)
            .filter(refresh_families::Column::RevokedAt.gte(since))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(ids.into_iter().map(SessionId).collect())
    }

    async fn revoke_family_in<C: ConnectionTrait>(c: &C, family: Uuid, reason: SessionRevocation) -> AppResult<()> {
        refresh_families::Entity::update_many()
            .col_expr(refresh_families::Column::RevokedAt, Expr::value(Utc::now()))
            .col_expr(refresh_families::Column::RevokedReason, Expr::value(reason))
            .filter(refresh_families::Column::Id.eq(family))
            .filter(refresh_families::Column::RevokedAt.is_null())
            .exec(c)
            .await?;
        Ok(())
    }

    async fn revoke_user_families<C: ConnectionTrait>(
        c: &C,
        user: UserId,
        reason: SessionRevocation,
    ) -> AppResult<Vec<SessionId>> {
        let live: Vec<SessionId> = refresh_families::Entity::find()
            .filter(refresh_families::Column::UserId.eq(user.0))
            .filter(refresh_families::Column::RevokedAt.is_null())
            .all(c)
            .await?
            .into_iter()
            .map(|f| SessionId(f.id))
            .collect();
        refresh_families::Entity::update_many()
            .col_expr(refresh_families::Column::RevokedAt, Expr::value(Utc::now()))
            .col_expr(refresh_families::Column::RevokedReason, Expr::value(reason))
            .filter(refresh_families::Column::UserId.eq(user.0))
            .filter(refresh_families::Column::RevokedAt.is_null())
            .exec(c)
            .await?;
        Ok(live)
    }

    // ---- one-time mail tokens ----

    /// Stores a one-time token (verify / reset); earlier unused tokens of that purpose lapse.
    pub async fn insert_one_time(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        hash: String,
        expires_at: DateTime<Utc>,
    ) -> AppResult<()> {
        let txn = self.tx().await?;
        Self::insert_one_time_in(&txn, user, purpose, hash, expires_at).await?;
        txn.commit().await?;
        Ok(())
    }

    pub(crate) async fn insert_one_time_in<C: ConnectionTrait>(
        c: &C,
        user: UserId,
        purpose: TokenPurpose,
        hash: String,
        expires_at: DateTime<Utc>,
    ) -> AppResult<()> {
        let now = Utc::now();
        one_time_tokens::Entity::update_many()
            .col_expr(one_time_tokens::Column::UsedAt, Expr::value(now))
            .filter(one_time_tokens::Column::UserId.eq(user.0))
            .filter(one_time_tokens::Column::Purpose.eq(purpose))
            .filter(one_time_tokens::Column::UsedAt.is_null())
            .exec(c)
            .await?;
        one_time_tokens::Entity::insert(one_time_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.0),
            purpose: Set(purpose),
            token_hash: Set(hash),
            created_at: Set(now),
            expires_at: Set(expires_at),
            used_at: Set(None),
        })
        .exec(c)
        .await?;
        Ok(())
    }

    /// The member a one-time token would consume for, without consuming it (a cheap check
    /// before expensive work; `consume_one_time` decides).
    pub async fn live_one_time(&self, purpose: TokenPurpose, hash: &str) -> AppResult<Option<UserId>> {
        Ok(one_time_tokens::Entity::find()
            .filter(one_time_tokens::Column::TokenHash.eq(hash))
            .filter(one_time_tokens::Column::Purpose.eq(purpose))
            .filter(one_time_tokens::Column::UsedAt.is_null())
            .filter(one_time_tokens::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await?
            .map(|t| UserId(t.user_id)))
    }

    /// Consumes a one-time token: succeeds once, before expiry, for the right purpose.
    pub async fn consume_one_time(&self, purpose: TokenPurpose, hash: &str) -> AppResult<Option<UserId>> {
        Self::consume_one_time_in(&self.db, purpose, hash).await
    }

    pub(crate) async fn consume_one_time_in<C: ConnectionTrait>(
        c: &C,
        purpose: TokenPurpose,
        hash: &str,
    ) -> AppResult<Option<UserId>> {
        let now = Utc::now();
        let Some(tok) = one_time_tokens::Entity::find()
            .filter(one_time_tokens::Column::TokenHash.eq(hash))
            .filter(one_time_tokens::Column::Purpose.eq(purpose))
            .one(c)
            .await?
        else {
            return Ok(None);
        };
        if tok.used_at.is_some() || tok.expires_at <= now {
            return Ok(None);
        }
        let res = one_time_tokens::Entity::update_many()
            .col_expr(one_time_tokens::Column::UsedAt, Expr::value(now))
            .filter(one_time_tokens::Column::Id.eq(tok.id))
            .filter(one_time_tokens::Column::UsedAt.is_null())
            .exec(c)
            .await?;
        Ok((res.rows_affected == 1).then_some(UserId(tok.user_id)))
    }
}

fn clone_invite(i: &NewInvite) -> NewInvite {
    NewInvite {
        code: i.code.clone(),
        owner_id: i.owner_id,
        created_by: i.created_by,
        max_uses: i.max_uses,
        expires_at: i.expires_at,
        note: i.note.clone(),
    }
}

/// Maps a refusal to the client error.
impl From<SignUpRefusal> for AppError {
    fn from(r: SignUpRefusal) -> Self {
        match r {
            SignUpRefusal::InviteInvalid => AppError::InviteInvalid,
            SignUpRefusal::Taken(field) => AppError::Conflict(format!("this {field} is already taken")),
        }
    }
}
