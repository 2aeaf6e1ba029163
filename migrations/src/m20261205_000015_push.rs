//! Notifications that leave the app: `notifications.push_state` (the outbox: `PENDING` rows are
//! sent by the push worker, `NONE` were never to be pushed — the member had no device when it was
//! written —, `DONE`, `SKIPPED` by the member's settings, `FAILED` after the last retry),
//! `push_due_at` (when the worker may try next: quiet hours and back-off move it), `push_lease_until`
//! (the worker holding it; an expired lease is taken over) and `push_attempts`; `push_devices`
//! (one row per device token, unique by the token's digest, owned by one member);
//! `push_deliveries` (one per notification and device: its idempotency key, sent again unchanged
//! when a delivery is retried, and whether the provider accepted it); `notification_settings`
//! (per kind, quiet hours, the weekly email digest; a member without a row has the defaults) with
//! `digest_sent_at` (the last email digest) and `likes_digest_sent_at` (the last likes push).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    PushState,
    PushDueAt,
    PushLeaseUntil,
    PushAttempts,
}

#[derive(DeriveIden)]
enum PushDevices {
    Table,
    Id,
    UserId,
    Platform,
    Token,
    TokenHash,
    Label,
    CreatedAt,
    LastSuccessAt,
}

#[derive(DeriveIden)]
enum PushDeliveries {
    Table,
    NotificationId,
    DeviceId,
    Key,
    State,
    Attempts,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum NotificationSettings {
    Table,
    UserId,
    VideoReady,
    CameoUsed,
    Comments,
    Remixes,
    Follows,
    LikesDigest,
    Moderation,
    EmailDigest,
    QuietStart,
    QuietEnd,
    DigestSentAt,
    LikesDigestSentAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Rows written before this migration are not pushed. SQLite adds one column per ALTER.
        m.alter_table(
            Table::alter()
                .table(Notifications::Table)
                .add_column(string_len(Notifications::PushState, 16).default("NONE"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Notifications::Table)
                .add_column(timestamp_with_time_zone_null(Notifications::PushDueAt))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Notifications::Table)
                .add_column(timestamp_with_time_zone_null(Notifications::PushLeaseUntil))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Notifications::Table)
                .add_column(integer(Notifications::PushAttempts).default(0))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notifications_push_due")
                .table(Notifications::Table)
                .col(Notifications::PushState)
                .col(Notifications::PushDueAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PushDevices::Table)
                .col(uuid(PushDevices::Id).primary_key())
                .col(uuid(PushDevices::UserId))
                .col(string_len(PushDevices::Platform, 16))
                .col(text(PushDevices::Token))
                .col(string_len_uniq(PushDevices::TokenHash, 64))
                .col(string_len(PushDevices::Label, 64))
                .col(timestamp_with_time_zone(PushDevices::CreatedAt))
                .col(timestamp_with_time_zone_null(PushDevices::LastSuccessAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(PushDevices::Table, PushDevices::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_push_devices_user").table(PushDevices::Table).col(PushDevices::UserId).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(PushDeliveries::Table)
                .col(uuid(PushDeliveries::NotificationId))
                .col(uuid(PushDeliveries::DeviceId))
                .col(uuid(PushDeliveries::Key))
                .col(string_len(PushDeliveries::State, 16))
                .col(integer(PushDeliveries::Attempts).default(0))
                .col(timestamp_with_time_zone(PushDeliveries::UpdatedAt))
                .primary_key(Index::create().col(PushDeliveries::NotificationId).col(PushDeliveries::DeviceId))
                .foreign_key(
                    ForeignKey::create()
                        .from(PushDeliveries::Table, PushDeliveries::NotificationId)
                        .to(Notifications::Table, Notifications::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(PushDeliveries::Table, PushDeliveries::DeviceId)
                        .to(PushDevices::Table, PushDevices::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NotificationSettings::Table)
                .col(uuid(NotificationSettings::UserId).primary_key())
                .col(boolean(NotificationSettings::VideoReady).default(true))
                .col(boolean(NotificationSettings::CameoUsed).default(true))
                .col(boolean(NotificationSettings::Comments).default(true))
                .col(boolean(NotificationSettings::Remixes).default(true))
                .col(boolean(NotificationSettings::Follows).default(true))
                .col(boolean(NotificationSettings::LikesDigest).default(true))
                .col(boolean(NotificationSettings::Moderation).default(true))
                .col(boolean(NotificationSettings::EmailDigest).default(true))
                .col(string_len_null(NotificationSettings::QuietStart, 5))
                .col(string_len_null(NotificationSettings::QuietEnd, 5))
                .col(timestamp_with_time_zone_null(NotificationSettings::DigestSentAt))
                .col(timestamp_with_time_zone_null(NotificationSettings::LikesDigestSentAt))
                .col(timestamp_with_time_zone(NotificationSettings::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(NotificationSettings::Table, NotificationSettings::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(NotificationSettings::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(PushDeliveries::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(PushDevices::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("idx_notifications_push_due").table(Notifications::Table).to_owned()).await?;
        for col in [
            Notifications::PushAttempts,
            Notifications::PushLeaseUntil,
            Notifications::PushDueAt,
            Notifications::PushState,
        ] {
            m.alter_table(Table::alter().table(Notifications::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
