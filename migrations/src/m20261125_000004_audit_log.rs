//! The append-only audit log of moderator and admin actions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    ActorId,
    Action,
    SubjectType,
    SubjectId,
    Note,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(pk_uuid(AuditLog::Id))
                .col(uuid_null(AuditLog::ActorId))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len_null(AuditLog::SubjectType, 32))
                .col(string_len_null(AuditLog::SubjectId, 64))
                .col(text_null(AuditLog::Note))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_created")
                .table(AuditLog::Table)
                .col(AuditLog::CreatedAt)
                .col(AuditLog::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditLog::Table).to_owned()).await
    }
}
