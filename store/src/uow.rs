//! Units of work: one database transaction that the domain opens with [`Store::begin`], passes
//! to the repository methods of [`Tx`], and ends with [`Tx::commit`]. Dropping a `Tx` without
//! committing rolls everything back, so an error returned with `?` half-way through a domain
//! operation leaves nothing behind.
//!
//! Invariants:
//! - every statement of a unit of work runs on its transaction, never on the pool (on SQLite the
//!   transaction holds the write lock from its first statement, `BEGIN IMMEDIATE`, and a pool
//!   read waiting for a free connection while holding it could wait forever);
//! - the SQL of a repository method is written once, generic over sea-orm's `ConnectionTrait`
//!   (`Store::*_in`), and runs on the pool through `Store` or on the transaction through `Tx`;
//! - no sea-orm type appears here in public: `Tx` is opaque to the domain;
//! - what is not in the database (cache epochs, queue messages, media files, pub/sub updates,
//!   mail) is the caller's to do after `commit`.
//!
//! Fault injection (cargo feature `fault-injection`, for tests): [`Store::fail_after`] arms the
//! next transaction begun on the store, through `begin` or inside a store method, to fail its
//! statement number `n + 1` (the commit counts as a statement), with an error that reaches the
//! caller as `INTERNAL`.

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};

use super::Store;
use app_core::error::AppResult;

/// A transaction as the store's own code sees it: sea-orm's transaction plus, under the
/// `fault-injection` feature, the fail point armed when it began.
pub(crate) struct TxConn {
    txn: DatabaseTransaction,
    #[cfg(any(test, feature = "fault-injection"))]
    fault: Option<faults::FailPoint>,
}

impl TxConn {
    /// Counts one statement; fails it when the armed fail point says so.
    fn check(&self) -> Result<(), DbErr> {
        #[cfg(any(test, feature = "fault-injection"))]
        if let Some(f) = &self.fault {
            return f.tick();
        }
        Ok(())
    }

    /// Commits (counted as a statement by the fail point).
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.check()?;
        self.txn.commit().await
    }

    /// Rolls back.
    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

#[sea_orm::prelude::async_trait::async_trait]
impl ConnectionTrait for TxConn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.check()?;
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.check()?;
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.check()?;
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.check()?;
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// A unit of work: one write transaction, opaque outside `store`. Its repository methods (in
/// the modules beside the `Store` methods they mirror) run on the transaction; `commit` makes
/// their effects visible at once, dropping it discards them.
pub struct Tx {
    pub(crate) conn: TxConn,
}

impl Tx {
    /// Makes every write of the unit visible at once. An error means none of them happened.
    pub async fn commit(self) -> AppResult<()> {
        self.conn.commit().await?;
        Ok(())
    }

    /// Discards every write of the unit (dropping the `Tx` does the same).
    pub async fn rollback(self) -> AppResult<()> {
        self.conn.rollback().await?;
        Ok(())
    }
}

impl Store {
    /// A write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`), so
    /// concurrent writers queue on the busy timeout instead of failing when a read lock cannot
    /// be upgraded; PostgreSQL ignores the option.
    pub(crate) async fn tx(&self) -> Result<TxConn, DbErr> {
        let txn = self
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?;
        Ok(TxConn {
            txn,
            #[cfg(any(test, feature = "fault-injection"))]
            fault: self.faults.take(),
        })
    }

    /// Opens a unit of work (see the module documentation).
    pub async fn begin(&self) -> AppResult<Tx> {
        Ok(Tx { conn: self.tx().await? })
    }
}

#[cfg(any(test, feature = "fault-injection"))]
pub(crate) mod faults {
    //! The fail point: armed on the store, taken by the next transaction that begins.

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use sea_orm::DbErr;

    /// What is armed for the next transaction.
    #[derive(Default)]
    pub(crate) struct Faults {
        armed: Mutex<Option<u32>>,
    }

    impl Faults {
        pub(crate) fn arm(&self, after: u32) {
            if let Ok(mut a) = self.armed.lock() {
                *a = Some(after);
            }
        }

        pub(crate) fn disarm(&self) {
            if let Ok(mut a) = self.armed.lock() {
                *a = None;
            }
        }

        pub(crate) fn pending(&self) -> bool {
            self.armed.lock().map(|a| a.is_some()).unwrap_or(false)
        }

        pub(crate) fn take(&self) -> Option<FailPoint> {
            let after = self.armed.lock().ok()?.take()?;
            Some(FailPoint { after, ran: AtomicU32::new(0) })
        }
    }

    /// Lets `after` statements through, then fails every later one.
    pub(crate) struct FailPoint {
        after: u32,
        ran: AtomicU32,
    }

    impl FailPoint {
        pub(crate) fn tick(&self) -> Result<(), DbErr> {
            let n = self.ran.fetch_add(1, Ordering::SeqCst) + 1;
            if n > self.after {
                return Err(DbErr::Custom(format!("injected fault: statement {n} of this unit of work")));
            }
            Ok(())
        }
    }
}

#[cfg(any(test, feature = "fault-injection"))]
impl Store {
    /// Arms the next transaction begun on this store (by [`Store::begin`] or inside a store
    /// method) to run `n` statements, then fail the next one and every one after it; the commit
    /// counts as a statement. Tests only.
    pub fn fail_after(&self, n: u32) {
        self.faults.arm(n);
    }

    /// Disarms a fail point no transaction took yet.
    pub fn disarm(&self) {
        self.faults.disarm();
    }

    /// Whether a fail point is armed and no transaction took it yet.
    pub fn fault_pending(&self) -> bool {
        self.faults.pending()
    }

    /// Every row of every table (but the migrations'), as text, sorted: equal snapshots mean the
    /// database did not change. Read outside any unit of work (the fail point does not apply).
    /// Tests only.
    pub async fn snapshot(&self) -> AppResult<Vec<String>> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let db = &self.db;
        let backend = db.get_database_backend();
        let texts = |sql: String| async move {
            db.query_all_raw(Statement::from_string(backend, sql))
                .await?
                .into_iter()
                .map(|r| r.try_get::<String>("", "t"))
                .collect::<Result<Vec<String>, _>>()
        };
        let tables = texts(match backend {
            DbBackend::Sqlite => "SELECT name AS t FROM sqlite_master WHERE type = 'table' \
                                  AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
                .into(),
            _ => "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables \
                  WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                  AND table_name <> 'seaql_migrations'"
                .into(),
        })
        .await?;
        let mut out = Vec::new();
        for table in tables {
            let columns = texts(match backend {
                DbBackend::Sqlite => format!("SELECT name AS t FROM pragma_table_info('{table}')"),
                _ => format!(
                    "SELECT CAST(column_name AS TEXT) AS t FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = '{table}'"
                ),
            })
            .await?;
            let row = columns
                .iter()
                .map(|c| match backend {
                    // quote(): blobs (ids) as hex literals, NULL as NULL.
                    DbBackend::Sqlite => format!("quote(\"{c}\")"),
                    _ => format!("COALESCE(CAST(\"{c}\" AS TEXT), '∅')"),
                })
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let mut rows = texts(format!("SELECT {row} AS t FROM \"{table}\"")).await?;
            rows.sort();
            out.push(format!("{table}: {}", rows.join("\n")));
        }
        out.sort();
        Ok(out)
    }
}

/// The repository methods of a unit of work: the same statements as the `Store` methods of the
/// same names (see there), run on the transaction.
mod repository {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    use super::Tx;
    use crate::cameos::NewCameo;
    use crate::generation::{NewJob, NewVideo};
    use crate::moderation::Resolution;
    use crate::{NewInvite, NewUser, SignUpRefusal, Store};
    use app_core::error::AppResult;
    use app_core::model::{
        AuditAction, AuditSubject, Cameo, CameoUse, CaseSource, Comment, Invite, Job, JobErrorCode, JobStatus,
        ModerationCase, NotificationKind, Role, Subject, TokenPurpose, User, Verdict, Video, VideoStatus,
    };
    use app_core::types::{CameoId, CaseId, CommentId, InviteId, JobId, SessionId, UserId, VideoId};

    impl Tx {
        // ---- members, sessions, one-time tokens ----

        /// One member by id.
        pub async fn user(&self, id: UserId) -> AppResult<Option<User>> {
            Store::user_in(&self.conn, id).await
        }

        /// Inserts a member without an invite; on a refusal the unit must be dropped.
        pub async fn create_user(&self, u: NewUser) -> AppResult<Result<User, SignUpRefusal>> {
            Store::create_user_in(&self.conn, u).await
        }

        /// Takes one use of the invite, creates the member with their quota; on a refusal the
        /// unit must be dropped (the invite's use may have been taken).
        pub async fn sign_up(
            &self,
            invite: &Invite,
            u: NewUser,
            quota: Vec<NewInvite>,
        ) -> AppResult<Result<User, SignUpRefusal>> {
            Store::sign_up_in(&self.conn, invite, u, quota).await
        }

        /// Marks the address confirmed.
        pub async fn set_email_verified(&self, id: UserId) -> AppResult<()> {
            Store::set_email_verified_in(&self.conn, id).await
        }

        /// Replaces the password hash and revokes every session.
        pub async fn set_password_and_revoke_sessions(&self, id: UserId, hash: String) -> AppResult<Vec<SessionId>> {
            Store::set_password_and_revoke_sessions_in(&self.conn, id, hash).await
        }

        /// Puts a failed, undiscarded job back to `QUEUED` as if new; `false` when it is not one.
        pub async fn retry_failed_job(&self, id: JobId) -> AppResult<bool> {
            Store::retry_failed_job_in(&self.conn, id).await
        }

        /// Takes a failed job off the failed-jobs list; `false` when it is not one.
        pub async fn discard_failed_job(&self, id: JobId) -> AppResult<bool> {
            Store::discard_failed_job_in(&self.conn, id).await
        }

        /// Changes a member's role.
        pub async fn set_role(&self, id: UserId, role: Role) -> AppResult<Option<User>> {
            Store::set_role_in(&self.conn, id, role).await
        }

        /// Bans a member and revokes every session; the sessions ended.
        pub async fn ban(&self, id: UserId, reason: &str) -> AppResult<(Option<User>, Vec<SessionId>)> {
            Store::ban_in(&self.conn, id, reason).await
        }

        /// Starts a session with its first refresh token.
        pub async fn create_session(
            &self,
            user: UserId,
            token_hash: String,
            expires_at: DateTime<Utc>,
        ) -> AppResult<SessionId> {
            Store::create_session_in(&self.conn, user, token_hash, expires_at).await
        }

        /// Stores a one-time token; earlier unused tokens of that purpose lapse.
        pub async fn insert_one_time(
            &self,
            user: UserId,
            purpose: TokenPurpose,
            hash: String,
            expires_at: DateTime<Utc>,
        ) -> AppResult<()> {
            Store::insert_one_time_in(&self.conn, user, purpose, hash, expires_at).await
        }

        /// Consumes a one-time token: succeeds once, before expiry, for the right purpose.
        pub async fn consume_one_time(&self, purpose: TokenPurpose, hash: &str) -> AppResult<Option<UserId>> {
            Store::consume_one_time_in(&self.conn, purpose, hash).await
        }

        // ---- invites, waitlist, audit ----

        /// Inserts invites.
        pub async fn insert_invites(&self, list: Vec<NewInvite>) -> AppResult<Vec<Invite>> {
            Store::insert_invites_in(&self.conn, list).await
        }

        /// Records that `email` was granted `invite` (adding it to the list if absent).
        pub async fn mark_waitlist_granted(&self, email: &str, invite: InviteId) -> AppResult<()> {
            Store::mark_waitlist_granted_in(&self.conn, email, invite).await
        }

        /// Appends an audit entry.
        pub async fn record_audit(
            &self,
            actor: Option<UserId>,
            action: AuditAction,
            subject: Option<(AuditSubject, String)>,
            note: Option<&str>,
        ) -> AppResult<()> {
            Store::record_audit_in(&self.conn, actor, action, subject, note).await
        }

        // ---- jobs and videos ----

        /// Inserts a queued job.
        pub async fn insert_job(&self, j: NewJob) -> AppResult<Job> {
            Store::insert_job_in(&self.conn, j).await
        }

        /// One job.
        pub async fn job(&self, id: JobId) -> AppResult<Option<Job>> {
            Store::job_in(&self.conn, id).await
        }

        /// Finishes a live job with its video, once (`None`: it had ended; nothing written).
        pub async fn complete_job(&self, id: JobId, v: NewVideo) -> AppResult<Option<Video>> {
            Store::complete_job_in(&self.conn, id, v).await
        }

        /// Ends a live job; false when it had already ended.
        pub async fn end_job(
            &self,
            id: JobId,
            status: JobStatus,
            code: Option<JobErrorCode>,
            message: Option<&str>,
        ) -> AppResult<bool> {
            Store::end_job_in(&self.conn, id, status, code, message).await
        }

        /// One video.
        pub async fn video(&self, id: VideoId) -> AppResult<Option<Video>> {
            Store::video_in(&self.conn, id).await
        }

        /// Deletes a video row.
        pub async fn delete_video(&self, id: VideoId) -> AppResult<bool> {
            Store::delete_video_in(&self.conn, id).await
        }

        /// `DRAFT` → `PUBLISHED`, once.
        pub async fn publish_video(&self, id: VideoId, caption: Option<&str>) -> AppResult<bool> {
            Store::publish_video_in(&self.conn, id, caption).await
        }

        /// `IN_REVIEW` → `DRAFT` with verdict `APPROVED`.
        pub async fn approve_held_video(&self, id: VideoId) -> AppResult<bool> {
            Store::approve_held_video_in(&self.conn, id).await
        }

        /// Sets a video's verdict.
        pub async fn set_verdict(&self, id: VideoId, verdict: Verdict) -> AppResult<()> {
            Store::set_verdict_in(&self.conn, id, verdict).await
        }

        /// Moves a video from one of `from` to `to`; false when it was in none of `from`.
        pub async fn set_video_status(
            &self,
            id: VideoId,
            from: &[VideoStatus],
            to: VideoStatus,
            reason: Option<&str>,
        ) -> AppResult<bool> {
            Store::set_video_status_in(&self.conn, id, from, to, reason).await
        }

        // ---- cameos ----

        /// Uses a challenge and records the cameo (`None`: the challenge could not be used).
        pub async fn insert_cameo(&self, c: NewCameo) -> AppResult<Option<Cameo>> {
            Store::insert_cameo_in(&self.conn, c).await
        }

        /// One cameo.
        pub async fn cameo(&self, id: CameoId) -> AppResult<Option<Cameo>> {
            Store::cameo_in(&self.conn, id).await
        }

        /// A moderator's decision on a pending cameo; false when it was not pending.
        pub async fn review_cameo(
            &self,
            id: CameoId,
            approve: bool,
            by: UserId,
            note: Option<&str>,
        ) -> AppResult<bool> {
            Store::review_cameo_in(&self.conn, id, approve, by, note).await
        }

        /// Revokes a cameo; false when it was revoked already.
        pub async fn revoke_cameo(&self, id: CameoId) -> AppResult<bool> {
            Store::revoke_cameo_in(&self.conn, id).await
        }

        /// Records the cameos of a job with their consent versions.
        pub async fn record_cameo_uses(&self, video: VideoId, uses: &[(CameoId, i64)]) -> AppResult<()> {
            Store::record_cameo_uses_in(&self.conn, video, uses).await
        }

        /// The cameos a video (or job) uses.
        pub async fn cameo_uses_of(&self, video: VideoId) -> AppResult<Vec<CameoUse>> {
            Store::cameo_uses_of_in(&self.conn, video).await
        }

        /// Every video (or job) that uses a cameo, newest first, after the cursor.
        pub async fn uses_of_cameo(
            &self,
            cameo: CameoId,
            after: Option<(DateTime<Utc>, Uuid)>,
            limit: u64,
        ) -> AppResult<Vec<(CameoUse, DateTime<Utc>)>> {
            Store::uses_of_cameo_in(&self.conn, cameo, after, limit).await
        }

        /// Forgets the cameo uses of a deleted video.
        pub async fn forget_cameo_uses(&self, video: VideoId) -> AppResult<()> {
            Store::forget_cameo_uses_in(&self.conn, video).await
        }

        // ---- comments, cases, notifications ----

        /// Adds a comment (and counts it).
        pub async fn insert_comment(&self, video: VideoId, author: UserId, body: &str) -> AppResult<Comment> {
            Store::insert_comment_in(&self.conn, video, author, body).await
        }

        /// One comment.
        pub async fn comment(&self, id: CommentId) -> AppResult<Option<Comment>> {
            Store::comment_in(&self.conn, id).await
        }

        /// Hides or restores a comment (and its count).
        pub async fn set_comment_removed(&self, id: CommentId, removed: bool) -> AppResult<bool> {
            Store::set_comment_removed_in(&self.conn, id, removed).await
        }

        /// Opens (or joins) the open case about `subject`.
        pub async fn open_case(
            &self,
            subject: Subject,
            source: CaseSource,
            reasons: &[String],
            scores: &[f32],
        ) -> AppResult<CaseId> {
            crate::moderation::open_case(&self.conn, subject, source, reasons, scores).await
        }

        /// The newest case about a subject, whatever its status.
        pub async fn latest_case_about(&self, subject: Subject) -> AppResult<Option<ModerationCase>> {
            Store::latest_case_about_in(&self.conn, subject).await
        }

        /// One case.
        pub async fn case(&self, id: CaseId) -> AppResult<Option<ModerationCase>> {
            Store::case_in(&self.conn, id).await
        }

        /// Records a decision on a case; false when the case had moved on.
        pub async fn resolve_case(&self, id: CaseId, r: Resolution<'_>) -> AppResult<bool> {
            Store::resolve_case_in(&self.conn, id, r).await
        }

        /// `RESOLVED` → `APPEALED`, once.
        pub async fn appeal_case(&self, id: CaseId, message: &str, resolver: UserId) -> AppResult<bool> {
            Store::appeal_case_in(&self.conn, id, message, resolver).await
        }

        /// Tells a member something.
        pub async fn notify(
            &self,
            user: UserId,
            kind: NotificationKind,
            video: Option<VideoId>,
            actor: Option<UserId>,
            message: &str,
        ) -> AppResult<()> {
            Store::notify_in(&self.conn, user, kind, video, actor, message).await
        }
    }
}

#[cfg(test)]
mod tests;
