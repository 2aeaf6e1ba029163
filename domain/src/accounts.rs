//! Accounts: sign-up by invite, log-in, rotating refresh tokens with reuse detection, mail
//! verification, password reset, roles and bans, and [`AccountService::authenticate`], which turns a
//! bearer token into a [`Caller`] for every request.
//!
//! Invariant: the same rules hold for the API and the command line (`create_admin` goes through
//! here too); every moderator or admin action and its audit-log entry are one unit of work (an
//! action whose entry cannot be written answers `INTERNAL` and does not happen).
//!
//! # Sign-up (`sign_up`)
//!
//! 1. Rate limits before anything else: `redeem-ip` per client address (default 10/min) and
//!    `redeem-all` across addresses (600/min); every attempt counts, valid or not.
//! 2. Inputs parsed ([`crate::values`]: `Email`, `Username`, `parse_display_name`;
//!    `auth::password::check_policy`); the first failure is `BAD_USER_INPUT` with its field.
//! 3. The code is normalised (`normalise_invite_code`: no spaces or dashes, upper case, 8–32 letters
//!    of the alphabet), else `INVITE_INVALID` without a look-up; `Store::redeemable_invite` refuses a
//!    revoked, used-up or expired code, or one whose owner is banned or gone. Every reason gives the
//!    same `INVITE_INVALID`.
//! 4. The password is hashed (argon2id on the blocking pool) before the unit of work, so no lock is
//!    held while hashing.
//! 5. One unit of work: `Tx::sign_up`, the conditional `uses = uses + 1 WHERE uses < max_uses`
//!    (of concurrent redemptions of the last use exactly one wins), the owner re-checked for a ban,
//!    the user (`invited_by` = the code's owner, or the minting admin), the redemption, and the new
//!    member's quota of single-use codes; then the verification token (a digest, valid
//!    `APP_VERIFY_EMAIL_TTL_HOURS`) and the session (a refresh family with its first token). A taken
//!    username or address rolls back (the use is given back) and answers `CONFLICT`.
//! 6. After the commit, the verification mail (a failure is logged, the member can ask again) and an
//!    EdDSA access token whose `sid` is the family id.
//!
//! # Log-in, refresh, log-out, reset
//!
//! - `log_in`: limits per address and per login; an unknown login and a wrong password cost the same
//!   argon2 time (a dummy hash) and give the same `UNAUTHENTICATED`; only after a correct password
//!   does a banned member learn `FORBIDDEN`.
//! - `refresh` → `Store::rotate_refresh`, one transaction: an unknown or expired token is `Invalid`;
//!   a token already used, or of a revoked family, revokes the family (`reuse`) and every access
//!   token of that session stops at its next request (`KeyValue::revoke_sessions`): two parties
//!   hold the session and the server cannot tell which is the thief. Otherwise the token is marked
//!   used (`WHERE used_at IS NULL`; a concurrent rotation loses and revokes) and the next one is
//!   stored with the family's absolute expiry. Other sessions are untouched.
//! - `log_out` revokes the token's family (`logout`) and marks it in kv.
//! - `request_password_reset` answers `true` at once and does the look-up and the mail in a spawned
//!   task, so answer and timing do not reveal who is a member; `reset_password` checks the policy and
//!   looks the token up (`Store::live_one_time`) before hashing, then in one unit of work consumes
//!   the token, replaces the hash, revokes every family (`password_reset`) and marks the address
//!   verified; kv marks the sessions after the commit.
//!
//! # Authentication (`authenticate`)
//!
//! No token is `Caller::Anonymous`; a token that fails `AccessTokens::verify` (EdDSA only, `exp` with
//! 5 s leeway, `iss`, `aud`, `typ = access`) is `Caller::Rejected`; a revoked session
//! (`KeyValue::is_revoked`, and on the in-process engine also `Store::session_revoked`, since memory
//! does not survive a restart) is rejected; the user is loaded on every request, so a ban or a role
//! change applies to the next request with the token already held. Only a database fault makes
//! `authenticate` itself fail.
//!
//! Redis is not needed for sessions to end correctly. While it does not answer, `authenticate` asks
//! the database (`revoked_in_database`, each answer reused for `DB_ANSWER_TTL` = 5 s), and ending a
//! session (`mark_revoked`) succeeds on its database record alone. A Redis that comes back empty has
//! lost every marker: `Services::run_cache_keeper` (every 5 s on each API node) sees the flag key
//! `<prefix>:revocations-kept` gone and marks again every session the database ended within the
//! access-token lifetime (`restore_revocations`). So a token of an ended session can work again for
//! at most 5 s after Redis loses its data, and for at most 5 s on another node during an outage.
//!
//! # Roles and bans
//!
//! `set_role` needs an admin and refuses the admin's own id. `ban_as` is the one ban path (`banUser`
//! and moderation decisions): a reason of 1–500 characters, only a member of lower role, never
//! oneself; `ban_in` sets `banned_at`, revokes every family and writes the audit entry in the
//! caller's unit of work (a moderation decision's, or its own); after the commit `after_ban` marks
//! the sessions in kv and bumps the `visible` feed epoch. A banned member's unused codes stop working (their
//! owner is banned), members they invited are unaffected.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::model::{AuditAction, AuditSubject, Role, SessionRevocation, TokenPurpose, User};
use super::values::{Email, Username, new_invite_code, normalise_invite_code, parse_display_name};
use super::{Caller, Deps, Viewer};
use crate::auth::{password, random_secret, secret_digest};
use app_core::error::{AppError, AppResult};
use app_core::types::{Secret, SessionId, UserId};
use store::{NewInvite, NewUser, Rotation, Tx};

const VERIFY: TokenPurpose = TokenPurpose::Verify;
const RESET: TokenPurpose = TokenPurpose::Reset;

/// A new sign-up.
pub struct SignUp {
    /// Code as typed.
    pub invite_code: String,
    /// Address as typed.
    pub email: String,
    /// Handle as typed.
    pub username: String,
    /// Password.
    pub password: Secret<String>,
    /// Optional display name.
    pub display_name: Option<String>,
    /// Date of birth as typed, `YYYY-MM-DD` (required when age checks are on; only the year
    /// and month are kept).
    pub birth_date: Option<String>,
}

/// Tokens handed to a client that signed in.
pub struct Session {
    /// Short-lived EdDSA JWT.
    pub access_token: String,
    /// Opaque, single-use refresh token.
    pub refresh_token: String,
    /// The member.
    pub user: User,
}

/// Account rules.
#[derive(Clone)]
pub struct AccountService {
    deps: Arc<Deps>,
    /// The database's answers to "is this session revoked?", asked while Redis does not answer,
    /// kept [`DB_ANSWER_TTL`] so an outage does not put one query per request on the database.
    db_answers: moka::future::Cache<SessionId, bool>,
}

/// How long a revocation answer from the database is reused while Redis does not answer: the
/// most a session ended on another node during an outage can keep working here.
pub const DB_ANSWER_TTL: Duration = Duration::from_secs(5);

impl AccountService {
    pub(super) fn new(deps: Arc<Deps>) -> Self {
        let db_answers = moka::future::Cache::builder().time_to_live(DB_ANSWER_TTL).max_capacity(100_000).build();
        Self { deps, db_answers }
    }

    /// Tells kv that `sessions` ended (their durable record is already in the database). A kv
    /// that does not answer is logged, not reported: while Redis is down every node asks the
    /// database, and [`AccountService::restore_revocations`] puts the markers back once it returns.
    async fn mark_revoked(&self, sessions: &[SessionId]) {
        for s in sessions {
            self.db_answers.insert(*s, true).await;
        }
        if let Err(e) = self.deps.kv.revoke_sessions(sessions, self.access_ttl()).await {
            tracing::warn!(error = %e, sessions = sessions.len(), "revocation not marked in Redis; the database has it");
        }
    }

    /// The durable answer, reused for [`DB_ANSWER_TTL`].
    async fn revoked_in_database(&self, session: SessionId) -> AppResult<bool> {
        if let Some(known) = self.db_answers.get(&session).await {
            return Ok(known);
        }
        let revoked = self.deps.store.session_revoked(session).await?;
        self.db_answers.insert(session, revoked).await;
        Ok(revoked)
    }

    /// After Redis lost its data (restarted empty, or first start): marks again every session
    /// the database ended within the access-token lifetime, so tokens of sessions ended before
    /// the loss stay refused. Does nothing while the markers are known to be there (a flag key
    /// set after each restore; it vanishes with the data). Returns how many were marked.
    pub async fn restore_revocations(&self) -> AppResult<usize> {
        if !self.deps.kv.revocations_lost().await? {
            return Ok(0);
        }
        let window = self.access_ttl() + Duration::from_secs(60);
        let since = chrono::Utc::now() - chrono::Duration::from_std(window).unwrap_or_default();
        let ended = self.deps.store.sessions_revoked_since(since).await?;
        self.deps.kv.revoke_sessions(&ended, self.access_ttl()).await?;
        self.deps.kv.revocations_restored().await?;
        if !ended.is_empty() {
            tracing::info!(sessions = ended.len(), "revocations marked again after Redis lost its data");
        }
        Ok(ended.len())
    }

    fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.deps.tokens.ttl_secs().unsigned_abs())
    }

    /// Resolves a bearer token into a caller. Never fails on a bad token: it reports it.
    pub async fn authenticate(&self, bearer: Option<&str>) -> AppResult<Caller> {
        let Some(token) = bearer else { return Ok(Caller::Anonymous) };
        let Some(claims) = self.deps.tokens.verify(token) else {
            return Ok(Caller::Rejected("the access token is invalid or expired"));
        };
        // In-process revocations do not survive a restart, and Redis may not answer: the
        // database has the durable record.
        let revoked = match self.deps.kv.is_revoked(claims.session_id).await {
            Ok(true) => true,
            Ok(false) if self.deps.kv.is_redis() => false,
            Ok(false) => self.deps.store.session_revoked(claims.session_id).await?,
            Err(e) => {
                tracing::warn!(error = %e, "revocation check failed; asking the database");
                self.revoked_in_database(claims.session_id).await?
            }
        };
        if revoked {
            return Ok(Caller::Rejected("this session has ended"));
        }
        match self.deps.store.user(claims.user_id).await? {
            None => Ok(Caller::Rejected("the access token is invalid or expired")),
            Some(u) if u.is_banned() => Ok(Caller::Rejected("this account is suspended")),
            Some(user) => Ok(Caller::Member(Viewer { user, session: claims.session_id })),
        }
    }

    async fn start_session(&self, user: User) -> AppResult<Session> {
        let refresh = random_secret();
        let expires = Utc::now() + self.deps.rules.refresh_ttl;
        let session = self.deps.store.create_session(user.id, secret_digest(&refresh), expires).await?;
        let access = self.deps.tokens.issue(user.id, session)?;
        Ok(Session { access_token: access, refresh_token: refresh, user })
    }

    /// Redeems an invite and creates the member; signs them in.
    pub async fn sign_up(&self, input: SignUp, client: &str) -> AppResult<Session> {
        let rules = &self.deps.rules;
        self.deps.kv.hit(rules.redeem_per_ip, client).await?;
        self.deps.kv.hit(rules.redeem_global, "all").await?;
        let email = Email::parse(&input.email)?;
        let username = Username::parse(&input.username)?;
        let display_name = parse_display_name(input.display_name.as_deref())?;
        password::check_policy(input.password.expose(), "password")?;
        // Age before anything else is read or written: an under-13 leaves no trace, and the
        // invite keeps its use.
        let birth_month = match (rules.age_checks, input.birth_date.as_deref().map(str::trim)) {
            (false, _) => None,
            (true, None | Some("")) => {
                return Err(AppError::bad_input("birthDate", "enter your date of birth (YYYY-MM-DD)"));
            }
            (true, Some(raw)) => {
                let (month, age) = crate::teens::birth_date("birthDate", raw, self.deps.today())?;
                if age < app_core::age::MIN_AGE {
                    tracing::info!("sign-up refused: under the minimum age");
                    return Err(AppError::bad_input("birthDate", "you must be at least 13 years old to join"));
                }
                Some(month)
            }
        };
        let code = normalise_invite_code(&input.invite_code).ok_or(AppError::InviteInvalid)?;
        let invite = self.deps.store.redeemable_invite(&code).await?.ok_or(AppError::InviteInvalid)?;
        let hash = self.deps.hasher.hash(input.password).await?;
        let quota = (0..rules.invite_quota)
            .map(|_| NewInvite {
                code: new_invite_code(rules.invite_code_length),
                owner_id: None,
                created_by: None,
                max_uses: 1,
                expires_at: None,
                note: None,
            })
            .collect();
        let new = NewUser {
            email: email.as_str().into(),
            username: username.as_str().into(),
            display_name,
            password_hash: hash,
            role: Role::User,
            email_verified: false,
            birth_month,
            time_zone: None,
        };
        // One unit of work: the invite's use, the member, their codes, the verification token and
        // the first session. The mail goes out after the commit.
        let tx = self.deps.store.begin().await?;
        let user = tx.sign_up(&invite, new, quota).await?.map_err(AppError::from)?;
        let verify = random_secret();
        tx.insert_one_time(user.id, VERIFY, secret_digest(&verify), Utc::now() + rules.verify_ttl).await?;
        let refresh = random_secret();
        let session = tx.create_session(user.id, secret_digest(&refresh), Utc::now() + rules.refresh_ttl).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user.id, invite_id = %invite.id, "member signed up");
        if let Err(e) = self.deps.mail.send(self.deps.mail.verification(&user.email, &user.username, &verify)).await {
            tracing::error!(user_id = %user.id, error = %e, cause = ?e, "verification mail not sent");
        }
        let access = self.deps.tokens.issue(user.id, session)?;
        Ok(Session { access_token: access, refresh_token: refresh, user })
    }

    async fn send_verification(&self, user: &User) {
        let token = random_secret();
        let expires = Utc::now() + self.deps.rules.verify_ttl;
        let result = async {
            self.deps.store.insert_one_time(user.id, VERIFY, secret_digest(&token), expires).await?;
            self.deps.mail.send(self.deps.mail.verification(&user.email, &user.username, &token)).await
        }
        .await;
        if let Err(e) = result {
            tracing::error!(user_id = %user.id, error = %e, cause = ?e, "verification mail not sent");
        }
    }

    /// Sends a fresh verification mail to the signed-in member.
    pub async fn resend_verification(&self, caller: &Caller, client: &str) -> AppResult<bool> {
        let v = caller.require()?;
        self.deps.kv.hit(self.deps.rules.mail_per_ip, client).await?;
        if v.user.email_verified_at.is_some() {
            return Ok(false);
        }
        self.send_verification(&v.user).await;
        Ok(true)
    }

    /// Signs in with email or username. Unknown login and wrong password answer alike, after
    /// the same amount of hashing work.
    pub async fn log_in(&self, login: &str, password: Secret<String>, client: &str) -> AppResult<Session> {
        let rules = &self.deps.rules;
        self.deps.kv.hit(rules.login_per_ip, client).await?;
        let login = login.trim();
        if login.is_empty() || login.len() > 254 || password.expose().len() > 4 * password::MAX_LEN {
            return Err(AppError::bad_input("login", "enter your email or username and password"));
        }
        let found = if login.contains('@') {
            self.deps.store.credentials_by_email(&login.to_lowercase()).await?
        } else {
            self.deps.store.credentials_by_username(login).await?
        };
        // Per account (email and username count together), before any hashing work.
        let account_key = found.as_ref().map(|(u, _)| u.id.to_string()).unwrap_or_else(|| login.to_lowercase());
        self.deps.kv.hit(rules.login_per_account, &account_key).await?;
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), Some(h)),
            None => (None, None),
        };
        let ok = self.deps.hasher.verify(password, hash).await?;
        let Some(user) = user.filter(|_| ok) else {
            return Err(AppError::Unauthenticated("wrong login or password"));
        };
        if user.is_banned() {
            return Err(AppError::Forbidden("this account is suspended".into()));
        }
        self.start_session(user).await
    }

    /// Rotates a refresh token. Presenting one that was already used revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> AppResult<Session> {
        let next = random_secret();
        match self.deps.store.rotate_refresh(&secret_digest(refresh_token.trim()), secret_digest(&next)).await? {
            Rotation::Invalid => Err(AppError::Unauthenticated("the refresh token is invalid or expired")),
            Rotation::Reused { session } => {
                self.mark_revoked(&[session]).await;
                tracing::warn!(session = %session, "refresh token reused; session family revoked");
                Err(AppError::Unauthenticated("this refresh token was already used; the session has been ended"))
            }
            Rotation::Rotated { user_id, session } => {
                let user = self
                    .deps
                    .store
                    .user(user_id)
                    .await?
                    .ok_or(AppError::Unauthenticated("the refresh token is invalid or expired"))?;
                if user.is_banned() {
                    self.mark_revoked(&[session]).await;
                    return Err(AppError::Unauthenticated("this account is suspended"));
                }
                let access = self.deps.tokens.issue(user.id, session)?;
                Ok(Session { access_token: access, refresh_token: next, user })
            }
        }
    }

    /// Ends the session a refresh token belongs to (its access tokens stop at once).
    pub async fn log_out(&self, refresh_token: &str) -> AppResult<bool> {
        match self.deps.store.revoke_session_of(&secret_digest(refresh_token.trim()), SessionRevocation::Logout).await?
        {
            Some(s) => {
                self.mark_revoked(&[s]).await;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Confirms an address with a single-use, expiring token.
    pub async fn verify_email(&self, token: &str) -> AppResult<User> {
        // One unit of work: the token used and the address confirmed.
        let tx = self.deps.store.begin().await?;
        let id = tx
            .consume_one_time(VERIFY, &secret_digest(token.trim()))
            .await?
            .ok_or_else(|| AppError::bad_input("token", "this verification link is invalid, used or expired"))?;
        tx.set_email_verified(id).await?;
        let user = tx.user(id).await?.ok_or(AppError::NotFound("user"))?;
        tx.commit().await?;
        Ok(user)
    }

    /// Mails a reset link if the address belongs to a member. Always answers the same, and in
    /// the same time: the look-up and the mail happen after the answer.
    pub async fn request_password_reset(&self, email: &str, client: &str) -> AppResult<bool> {
        self.deps.kv.hit(self.deps.rules.mail_per_ip, client).await?;
        let email = Email::parse(email)?;
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.send_reset(&email).await {
                tracing::error!(error = %e, cause = ?e, "password reset mail not sent");
            }
        });
        Ok(true)
    }

    async fn send_reset(&self, email: &Email) -> AppResult<()> {
        let Some((user, _)) = self.deps.store.credentials_by_email(email.as_str()).await? else { return Ok(()) };
        if user.is_banned() {
            return Ok(());
        }
        let token = random_secret();
        let ttl = self.deps.rules.reset_ttl;
        self.deps.store.insert_one_time(user.id, RESET, secret_digest(&token), Utc::now() + ttl).await?;
        self.deps.mail.send(self.deps.mail.password_reset(&user.email, &token, ttl.as_secs() / 60)).await
    }

    /// Sets a new password with a reset token, and ends every session of the member.
    pub async fn reset_password(&self, token: &str, new_password: Secret<String>) -> AppResult<bool> {
        password::check_policy(new_password.expose(), "newPassword")?;
        let digest = secret_digest(token.trim());
        let invalid = || AppError::bad_input("token", "this reset link is invalid, used or expired");
        // A cheap look first: hashing is the expensive part, and must not run inside the unit of
        // work (on SQLite it holds the write lock).
        self.deps.store.live_one_time(RESET, &digest).await?.ok_or_else(invalid)?;
        let hash = self.deps.hasher.hash(new_password).await?;
        // One unit of work: the token used, the new hash, every session revoked, the address
        // confirmed (following the mailed link proves it). The revocations reach kv after it.
        let tx = self.deps.store.begin().await?;
        let id = tx.consume_one_time(RESET, &digest).await?.ok_or_else(invalid)?;
        let ended = tx.set_password_and_revoke_sessions(id, hash).await?;
        tx.set_email_verified(id).await?;
        tx.commit().await?;
        self.mark_revoked(&ended).await;
        tracing::info!(user_id = %id, sessions_ended = ended.len(), "password reset");
        Ok(true)
    }

    /// One member by id.
    pub async fn user(&self, id: UserId) -> AppResult<Option<User>> {
        self.deps.store.user(id).await
    }

    /// Members by id (data loader).
    pub async fn users(&self, ids: &[UserId]) -> AppResult<Vec<User>> {
        self.deps.store.users(ids).await
    }

    /// One member by handle.
    pub async fn user_by_username(&self, username: &str) -> AppResult<Option<User>> {
        self.deps.store.user_by_username(username.trim()).await
    }

    /// Changes a member's role (admins only, not their own).
    pub async fn set_role(&self, caller: &Caller, target: UserId, role: Role) -> AppResult<User> {
        let admin = caller.require_role(Role::Admin)?;
        if admin.user.id == target {
            return Err(AppError::Forbidden("you cannot change your own role".into()));
        }
        // One unit of work: the role and its audit entry.
        let tx = self.deps.store.begin().await?;
        let user = tx.set_role(target, role).await?.ok_or(AppError::NotFound("user"))?;
        tx.record_audit(
            Some(admin.user.id),
            AuditAction::UserSetRole,
            Some((AuditSubject::User, target.to_string())),
            Some(role.as_str()),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(actor = %admin.user.id, target = %target, role = role.as_str(), "role changed");
        Ok(user)
    }

    /// Bans a member (moderators and admins; only members of a lower role). Their tokens stop
    /// working at once and their unused invite codes with them.
    pub async fn ban(&self, caller: &Caller, target: UserId, reason: &str) -> AppResult<User> {
        let actor = caller.require_role(Role::Moderator)?;
        self.ban_as(actor, target, reason).await
    }

    /// Bans `target` on behalf of `actor` (a moderator or admin whose role was checked): the one
    /// ban path, shared by `banUser` and moderation decisions.
    pub async fn ban_as(&self, actor: &Viewer, target: UserId, reason: &str) -> AppResult<User> {
        let tx = self.deps.store.begin().await?;
        let (user, ended) = self.ban_in(&tx, actor, target, reason).await?;
        tx.commit().await?;
        self.after_ban(&ended).await?;
        tracing::info!(actor = %actor.user.id, target = %target, sessions_ended = ended.len(), "member banned");
        Ok(user)
    }

    /// The checks and writes of a ban (the ban with its sessions revoked, its audit entry) in the
    /// caller's unit of work; the sessions it ended, for [`AccountService::after_ban`].
    pub(crate) async fn ban_in(
        &self,
        tx: &Tx,
        actor: &Viewer,
        target: UserId,
        reason: &str,
    ) -> AppResult<(User, Vec<SessionId>)> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(AppError::bad_input("reason", "give a reason of 1 to 500 characters"));
        }
        let target_user = tx.user(target).await?.ok_or(AppError::NotFound("user"))?;
        if target_user.id == actor.user.id {
            return Err(AppError::Forbidden("you cannot ban yourself".into()));
        }
        if target_user.role >= actor.user.role {
            return Err(AppError::Forbidden("you can only ban members of a lower role".into()));
        }
        let (user, ended) = tx.ban(target, reason).await?;
        tx.record_audit(
            Some(actor.user.id),
            AuditAction::UserBan,
            Some((AuditSubject::User, target.to_string())),
            Some(reason),
        )
        .await?;
        Ok((user.ok_or(AppError::NotFound("user"))?, ended))
    }

    /// Once a ban committed: its access tokens stop at once, and the member's videos leave the
    /// feeds.
    pub(crate) async fn after_ban(&self, ended: &[SessionId]) -> AppResult<()> {
        self.mark_revoked(ended).await;
        super::feed::content_withdrawn(&self.deps).await;
        Ok(())
    }

    /// Creates an admin from the command line (no invite; address counts as confirmed).
    pub async fn create_admin(&self, email: &str, username: &str, password: Secret<String>) -> AppResult<User> {
        let email = Email::parse(email)?;
        let username = Username::parse(username)?;
        password::check_policy(password.expose(), "password")?;
        let hash = self.deps.hasher.hash(password).await?;
        let new = NewUser {
            email: email.as_str().into(),
            username: username.as_str().into(),
            display_name: None,
            password_hash: hash,
            role: Role::Admin,
            email_verified: true,
            birth_month: None,
            time_zone: None,
        };
        // One unit of work: the admin and the audit entry.
        let tx = self.deps.store.begin().await?;
        let user = tx.create_user(new).await?.map_err(AppError::from)?;
        tx.record_audit(None, AuditAction::UserCreateAdmin, Some((AuditSubject::User, user.id.to_string())), None)
            .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Members whose handle, display name or email contains `text`, newest first (moderators
    /// and admins: the console's member search).
    pub async fn search(
        &self,
        caller: &Caller,
        text: &str,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<User>> {
        caller.require_role(Role::Moderator)?;
        if text.chars().count() > 200 {
            return Err(AppError::bad_input("query", "search for at most 200 characters"));
        }
        self.deps.store.search_users(text, after, limit).await
    }

    /// The audit log, newest first (admins only).
    pub async fn audit_log(
        &self,
        caller: &Caller,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<super::model::AuditEntry>> {
        caller.require_role(Role::Admin)?;
        self.deps.store.audit_entries(after, limit).await
    }
}
