//! The audit log (admins): every moderator and admin action, newest first.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::accounts::UserObject;
use super::videos::{encode_cursor, page_args};
use super::{ApiResult, caller, services};
use domain::model::AuditEntry;

/// One recorded action.
pub struct AuditEntryObject(pub AuditEntry);

#[Object(name = "AuditEntry")]
impl AuditEntryObject {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who acted; null for the operator's command line.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(id) = self.0.actor_id else { return Ok(None) };
        super::accounts::load_user(ctx, id).await
    }
    /// What was done, e.g. `user.ban`, `user.set_role`, `invites.mint`, `waitlist.grant`.
    async fn action(&self) -> &str {
        self.0.action.as_str()
    }
    /// What it was done to, as `type:id` (null when nothing in particular).
    async fn subject(&self) -> Option<String> {
        match (&self.0.subject_type, &self.0.subject_id) {
            (Some(t), Some(id)) => Some(format!("{}:{id}", t.as_str())),
            _ => None,
        }
    }
    /// The note, reason or detail given.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// When.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Audit queries.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, newest first (admin).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditEntryObject>> {
        let (n, after) = page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list = services(ctx)?.accounts.audit_log(&c.caller, after, n + 1).await.api()?;
        let has_next = list.len() as u64 > n;
        list.truncate(n as usize);
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(list.into_iter().map(|e| Edge::new(encode_cursor(e.created_at, e.id), AuditEntryObject(e))));
        Ok(conn)
    }
}
