//! Invites: members' quotas, admin minting, the waitlist, and the invite tree.

use std::sync::Arc;

use chrono::{DateTime, Duration as ChronoDuration, Utc};

use super::model::{AuditAction, AuditSubject, Invite, Role, User};
use super::values::{Email, new_invite_code};
use super::{Caller, Deps};
use app_core::error::{AppError, AppResult};
use app_core::types::{InviteId, UserId};
use store::NewInvite;

/// Most codes one mint may create.
pub const MAX_MINT: i32 = 500;
/// Most uses one code may have.
pub const MAX_USES: i32 = 100_000;

/// A mint request.
pub struct Mint {
    /// How many codes.
    pub count: i32,
    /// Uses per code.
    pub max_uses: i32,
    /// Expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Note for admins.
    pub note: Option<String>,
}

/// Invite rules.
#[derive(Clone)]
pub struct InviteService {
    deps: Arc<Deps>,
}

impl InviteService {
    pub(super) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// The signed-in member's own codes.
    pub async fn mine(&self, caller: &Caller) -> AppResult<Vec<Invite>> {
        let v = caller.require()?;
        self.deps.store.invites_owned_by(v.user.id).await
    }

    /// Admin minting (the caller must be an admin).
    pub async fn mint(&self, caller: &Caller, m: Mint) -> AppResult<Vec<Invite>> {
        let admin = caller.require_role(Role::Admin)?;
        let out = self.mint_as(Some(admin.user.id), m).await?;
        tracing::info!(actor = %admin.user.id, count = out.len(), "invites minted");
        Ok(out)
    }

    /// Minting from the command line (operator; no acting member).
    pub async fn mint_as(&self, creator: Option<UserId>, m: Mint) -> AppResult<Vec<Invite>> {
        if !(1..=MAX_MINT).contains(&m.count) {
            return Err(AppError::bad_input("count", format!("count must be between 1 and {MAX_MINT}")));
        }
        if !(1..=MAX_USES).contains(&m.max_uses) {
            return Err(AppError::bad_input("maxUses", format!("maxUses must be between 1 and {MAX_USES}")));
        }
        if m.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(AppError::bad_input("expiresAt", "expiresAt must be in the future"));
        }
        let note = m.note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
            return Err(AppError::bad_input("note", "note must have at most 500 characters"));
        }
        let len = self.deps.rules.invite_code_length;
        let list = (0..m.count)
            .map(|_| NewInvite {
                code: new_invite_code(len),
                owner_id: None,
                created_by: creator,
                max_uses: m.max_uses,
                expires_at: m.expires_at,
                note: note.clone(),
            })
            .collect();
        // One unit of work: the codes and the audit entry.
        let tx = self.deps.store.begin().await?;
        let out = tx.insert_invites(list).await?;
        let summary = format!(
            "{} code(s), {} use(s) each{}",
            out.len(),
            m.max_uses,
            note.map(|n| format!(": {n}")).unwrap_or_default()
        );
        tx.record_audit(creator, AuditAction::InvitesMint, None, Some(&summary)).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Puts an address on the waitlist. Answers the same whether or not it was there.
    pub async fn join_waitlist(&self, email: &str, client: &str) -> AppResult<bool> {
        self.deps.kv.hit(self.deps.rules.mail_per_ip, client).await?;
        let email = Email::parse(email)?;
        self.deps.store.join_waitlist(email.as_str()).await?;
        Ok(true)
    }

    /// Grants a single-use code (valid 30 days) to an address and mails it (admins only).
    pub async fn grant_waitlist(&self, caller: &Caller, email: &str) -> AppResult<Invite> {
        let admin = caller.require_role(Role::Admin)?;
        let email = Email::parse(email)?;
        // One unit of work: the code, the waitlist entry granted, the audit entry; the mail after.
        let tx = self.deps.store.begin().await?;
        let mut list = tx
            .insert_invites(vec![NewInvite {
                code: new_invite_code(self.deps.rules.invite_code_length),
                owner_id: None,
                created_by: Some(admin.user.id),
                max_uses: 1,
                expires_at: Some(Utc::now() + ChronoDuration::days(30)),
                note: Some(format!("waitlist grant to {}", email.as_str())),
            }])
            .await?;
        let invite = list.pop().ok_or_else(|| AppError::internal("grant", "no invite created"))?;
        tx.mark_waitlist_granted(email.as_str(), invite.id).await?;
        tx.record_audit(
            Some(admin.user.id),
            AuditAction::WaitlistGrant,
            Some((AuditSubject::Invite, invite.id.to_string())),
            Some(email.as_str()),
        )
        .await?;
        tx.commit().await?;
        self.deps.mail.send(self.deps.mail.waitlist_invite(email.as_str(), &invite.code)).await?;
        tracing::info!(actor = %admin.user.id, invite_id = %invite.id, "waitlist granted");
        Ok(invite)
    }

    /// The waitlist, oldest first, with the codes granted (admins only).
    pub async fn waitlist(
        &self,
        caller: &Caller,
        pending_only: bool,
        after: Option<(chrono::DateTime<Utc>, uuid::Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<(super::model::WaitlistEntry, Option<Invite>)>> {
        caller.require_role(Role::Admin)?;
        let entries = self.deps.store.waitlist_entries(pending_only, after, limit).await?;
        let ids: Vec<InviteId> = entries.iter().filter_map(|e| e.invite_id).collect();
        let invites = if ids.is_empty() { Vec::new() } else { self.deps.store.invites_by_ids(&ids).await? };
        Ok(entries
            .into_iter()
            .map(|e| {
                let invite = e.invite_id.and_then(|id| invites.iter().find(|i| i.id == id).cloned());
                (e, invite)
            })
            .collect())
    }

    /// Who redeemed a code.
    pub async fn redeemers(&self, invite: InviteId) -> AppResult<Vec<User>> {
        self.deps.store.redeemers(invite).await
    }

    /// The members someone invited: visible to that member and to admins.
    pub async fn invitees(&self, caller: &Caller, of: UserId) -> AppResult<Vec<User>> {
        let v = caller.require()?;
        if v.user.id != of && v.user.role < Role::Admin {
            return Err(AppError::Forbidden("only admins see another member's invitees".into()));
        }
        self.deps.store.invitees(of).await
    }
}
