//! Cameos: verification challenges, the cameos themselves (with a consent version that changes
//! whenever their consent does), the members an owner approved, and which videos use which cameo
//! under which consent version.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ModerationCases {
    Table,
    SubjectCameoId,
}

#[derive(DeriveIden)]
enum CameoChallenges {
    Table,
    Id,
    UserId,
    Phrase,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Cameos {
    Table,
    Id,
    OwnerId,
    Name,
    Permission,
    Restrictions,
    Status,
    ClipKey,
    ChallengePhrase,
    ConsentVersion,
    RequireApproval,
    Reference,
    ClipDurationMs,
    ReviewNote,
    ReviewedBy,
    CreatedAt,
    UpdatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum CameoApprovals {
    Table,
    CameoId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum VideoCameos {
    Table,
    VideoId,
    CameoId,
    ConsentVersion,
    OwnerApprovedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CameoChallenges::Table)
                .col(pk_uuid(CameoChallenges::Id))
                .col(uuid(CameoChallenges::UserId))
                .col(text(CameoChallenges::Phrase))
                .col(timestamp_with_time_zone(CameoChallenges::ExpiresAt))
                .col(timestamp_with_time_zone_null(CameoChallenges::UsedAt))
                .col(timestamp_with_time_zone(CameoChallenges::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(CameoChallenges::Table, CameoChallenges::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Cameos::Table)
                .col(pk_uuid(Cameos::Id))
                .col(uuid(Cameos::OwnerId))
                .col(string_len(Cameos::Name, 80))
                .col(string_len(Cameos::Permission, 16))
                .col(text_null(Cameos::Restrictions))
                .col(string_len(Cameos::Status, 16))
                .col(string_len(Cameos::ClipKey, 255))
                .col(text(Cameos::ChallengePhrase))
                .col(big_integer(Cameos::ConsentVersion).default(1))
                .col(boolean(Cameos::RequireApproval).default(false))
                .col(text(Cameos::Reference))
                .col(big_integer(Cameos::ClipDurationMs))
                .col(text_null(Cameos::ReviewNote))
                .col(uuid_null(Cameos::ReviewedBy))
                .col(timestamp_with_time_zone(Cameos::CreatedAt))
                .col(timestamp_with_time_zone(Cameos::UpdatedAt))
                .col(timestamp_with_time_zone_null(Cameos::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Cameos::Table, Cameos::OwnerId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("idx_cameos_owner").table(Cameos::Table).col(Cameos::OwnerId).to_owned())
            .await?;
        m.create_index(
            Index::create()
                .name("idx_cameos_status_permission")
                .table(Cameos::Table)
                .col(Cameos::Status)
                .col(Cameos::Permission)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CameoApprovals::Table)
                .col(uuid(CameoApprovals::CameoId))
                .col(uuid(CameoApprovals::UserId))
                .col(timestamp_with_time_zone(CameoApprovals::CreatedAt))
                .primary_key(Index::create().col(CameoApprovals::CameoId).col(CameoApprovals::UserId))
                .foreign_key(
                    ForeignKey::create()
                        .from(CameoApprovals::Table, CameoApprovals::CameoId)
                        .to(Cameos::Table, Cameos::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(CameoApprovals::Table, CameoApprovals::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_cameo_approvals_user")
                .table(CameoApprovals::Table)
                .col(CameoApprovals::UserId)
                .to_owned(),
        )
        .await?;
        // `video_id` is also the job's id (a job's video takes its id), so a job's cameos are
        // recorded when it is created, before its video exists.
        m.create_table(
            Table::create()
                .table(VideoCameos::Table)
                .col(uuid(VideoCameos::VideoId))
                .col(uuid(VideoCameos::CameoId))
                .col(big_integer(VideoCameos::ConsentVersion))
                .col(timestamp_with_time_zone_null(VideoCameos::OwnerApprovedAt))
                .col(timestamp_with_time_zone(VideoCameos::CreatedAt))
                .primary_key(Index::create().col(VideoCameos::VideoId).col(VideoCameos::CameoId))
                .foreign_key(
                    ForeignKey::create()
                        .from(VideoCameos::Table, VideoCameos::CameoId)
                        .to(Cameos::Table, Cameos::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_video_cameos_cameo")
                .table(VideoCameos::Table)
                .col(VideoCameos::CameoId)
                .col(VideoCameos::CreatedAt)
                .to_owned(),
        )
        .await?;
        // Cameo verifications are reviewed as moderation cases.
        m.alter_table(
            Table::alter()
                .table(ModerationCases::Table)
                .add_column(uuid_null(ModerationCases::SubjectCameoId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(ModerationCases::Table).drop_column(ModerationCases::SubjectCameoId).to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(VideoCameos::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(CameoApprovals::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Cameos::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(CameoChallenges::Table).to_owned()).await
    }
}
