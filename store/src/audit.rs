//! The audit log: insert and read only. No function here updates or deletes an entry.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::Store;
use super::entities::audit_log;
use app_core::error::AppResult;
use app_core::model::{AuditAction, AuditEntry, AuditSubject};
use app_core::types::UserId;

impl Store {
    /// Appends an entry.
    pub async fn record_audit(
        &self,
        actor: Option<UserId>,
        action: AuditAction,
        subject: Option<(AuditSubject, String)>,
        note: Option<&str>,
    ) -> AppResult<()> {
        Self::record_audit_in(&self.db, actor, action, subject, note).await
    }

    pub(crate) async fn record_audit_in<C: ConnectionTrait>(
        c: &C,
        actor: Option<UserId>,
        action: AuditAction,
        subject: Option<(AuditSubject, String)>,
        note: Option<&str>,
    ) -> AppResult<()> {
        audit_log::Entity::insert(audit_log::ActiveModel {
            id: Set(Uuid::now_v7()),
            actor_id: Set(actor.map(|a| a.0)),
            action: Set(action),
            subject_type: Set(subject.as_ref().map(|(t, _)| *t)),
            subject_id: Set(subject.map(|(_, id)| id)),
            note: Set(note.map(str::to_owned)),
            created_at: Set(Utc::now()),
        })
        .exec(c)
        .await?;
        Ok(())
    }

    /// Entries, newest first, after the cursor `(created_at, id)`.
    pub async fn audit_entries(&self, after: Option<(DateTime<Utc>, Uuid)>, limit: u64) -> AppResult<Vec<AuditEntry>> {
        let mut q = audit_log::Entity::find();
        if let Some((at, id)) = after {
            q = q.filter(
                audit_log::Column::CreatedAt
                    .lt(at)
                    .or(audit_log::Column::CreatedAt.eq(at).and(audit_log::Column::Id.lt(id))),
            );
        }
        Ok(q.order_by_desc(audit_log::Column::CreatedAt)
            .order_by_desc(audit_log::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| AuditEntry {
                id: m.id,
                actor_id: m.actor_id.map(UserId),
                action: m.action,
                subject_type: m.subject_type,
                subject_id: m.subject_id,
                note: m.note,
                created_at: m.created_at,
            })
            .collect())
    }
}
