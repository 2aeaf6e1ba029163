//! Moderation: what the worker's checks found on each video (verdict, frame scores, watermark,
//! manifest), comments, reports aggregated into cases, and notifications to members.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum GenerationJobs {
    Table,
    FrameScores,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
    WatermarkId,
    Verdict,
    VerdictReason,
    FrameScores,
    FrameStripKey,
    ManifestIssuer,
    ManifestValid,
    RemovedAt,
    RemovalReason,
    Status,
    PublishedAt,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    VideoId,
    AuthorId,
    Body,
    Status,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ModerationCases {
    Table,
    Id,
    SubjectKind,
    SubjectVideoId,
    SubjectUserId,
    SubjectCommentId,
    OpenKey,
    Status,
    Source,
    Reasons,
    Scores,
    ReportCount,
    Escalated,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
    ResolvedBy,
    Resolution,
    Note,
    AppealMessage,
    AppealedAt,
    AppealedResolver,
}

#[derive(DeriveIden)]
enum Reports {
    Table,
    Id,
    CaseId,
    ReporterId,
    Reason,
    Details,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    VideoId,
    ActorId,
    Message,
    CreatedAt,
    ReadAt,
}

fn fk_user(from_table: impl IntoIden, from_col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let video_columns = [
            big_integer_null(Videos::WatermarkId),
            string_len(Videos::Verdict, 16).default("PASS").to_owned(),
            text_null(Videos::VerdictReason),
            text_null(Videos::FrameScores),
            string_len_null(Videos::FrameStripKey, 255),
            string_len_null(Videos::ManifestIssuer, 255),
            boolean(Videos::ManifestValid).default(false).to_owned(),
            timestamp_with_time_zone_null(Videos::RemovedAt),
            text_null(Videos::RemovalReason),
        ];
        for mut col in video_columns {
            m.alter_table(Table::alter().table(Videos::Table).add_column(&mut col).to_owned()).await?;
        }
        m.create_index(
            Index::create()
                .name("idx_videos_watermark")
                .table(Videos::Table)
                .col(Videos::WatermarkId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_videos_status_published")
                .table(Videos::Table)
                .col(Videos::Status)
                .col(Videos::PublishedAt)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(GenerationJobs::Table).add_column(text_null(GenerationJobs::FrameScores)).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Comments::Table)
                .col(pk_uuid(Comments::Id))
                .col(uuid(Comments::VideoId))
                .col(uuid(Comments::AuthorId))
                .col(text(Comments::Body))
                .col(string_len(Comments::Status, 16))
                .col(timestamp_with_time_zone(Comments::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Comments::Table, Comments::VideoId)
                        .to(Videos::Table, Videos::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(&mut fk_user(Comments::Table, Comments::AuthorId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_comments_video_created")
                .table(Comments::Table)
                .col(Comments::VideoId)
                .col(Comments::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ModerationCases::Table)
                .col(pk_uuid(ModerationCases::Id))
                .col(string_len(ModerationCases::SubjectKind, 16))
                .col(uuid_null(ModerationCases::SubjectVideoId))
                .col(uuid_null(ModerationCases::SubjectUserId))
                .col(uuid_null(ModerationCases::SubjectCommentId))
                // `kind:id` while the case is open, NULL after: one open case per subject.
                .col(string_len_null(ModerationCases::OpenKey, 64).unique_key())
                .col(string_len(ModerationCases::Status, 16))
                .col(string_len(ModerationCases::Source, 16))
                .col(text(ModerationCases::Reasons))
                .col(text(ModerationCases::Scores))
                .col(integer(ModerationCases::ReportCount).default(0))
                .col(boolean(ModerationCases::Escalated).default(false))
                .col(timestamp_with_time_zone(ModerationCases::CreatedAt))
                .col(timestamp_with_time_zone(ModerationCases::UpdatedAt))
                .col(timestamp_with_time_zone_null(ModerationCases::ResolvedAt))
                .col(uuid_null(ModerationCases::ResolvedBy))
                .col(string_len_null(ModerationCases::Resolution, 16))
                .col(text_null(ModerationCases::Note))
                .col(text_null(ModerationCases::AppealMessage))
                .col(timestamp_with_time_zone_null(ModerationCases::AppealedAt))
                .col(uuid_null(ModerationCases::AppealedResolver))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_cases_status_created")
                .table(ModerationCases::Table)
                .col(ModerationCases::Status)
                .col(ModerationCases::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_cases_subject_video")
                .table(ModerationCases::Table)
                .col(ModerationCases::SubjectVideoId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_cases_subject_user")
                .table(ModerationCases::Table)
                .col(ModerationCases::SubjectUserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Reports::Table)
                .col(pk_uuid(Reports::Id))
                .col(uuid(Reports::CaseId))
                .col(uuid(Reports::ReporterId))
                .col(string_len(Reports::Reason, 32))
                .col(text_null(Reports::Details))
                .col(timestamp_with_time_zone(Reports::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Reports::Table, Reports::CaseId)
                        .to(ModerationCases::Table, ModerationCases::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(&mut fk_user(Reports::Table, Reports::ReporterId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_reports_case_reporter")
                .table(Reports::Table)
                .col(Reports::CaseId)
                .col(Reports::ReporterId)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Notifications::Table)
                .col(pk_uuid(Notifications::Id))
                .col(uuid(Notifications::UserId))
                .col(string_len(Notifications::Kind, 32))
                .col(uuid_null(Notifications::VideoId))
                .col(uuid_null(Notifications::ActorId))
                .col(text(Notifications::Message))
                .col(timestamp_with_time_zone(Notifications::CreatedAt))
                .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                .foreign_key(&mut fk_user(Notifications::Table, Notifications::UserId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notifications_user_created")
                .table(Notifications::Table)
                .col(Notifications::UserId)
                .col(Notifications::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Notifications::Table.into_iden(),
            Reports::Table.into_iden(),
            ModerationCases::Table.into_iden(),
            Comments::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        m.alter_table(Table::alter().table(GenerationJobs::Table).drop_column(GenerationJobs::FrameScores).to_owned())
            .await?;
        m.drop_index(Index::drop().name("idx_videos_status_published").table(Videos::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("idx_videos_watermark").table(Videos::Table).to_owned()).await?;
        for col in [
            Videos::RemovalReason,
            Videos::RemovedAt,
            Videos::ManifestValid,
            Videos::ManifestIssuer,
            Videos::FrameStripKey,
            Videos::FrameScores,
            Videos::VerdictReason,
            Videos::Verdict,
            Videos::WatermarkId,
        ] {
            m.alter_table(Table::alter().table(Videos::Table).drop_column(col).to_owned()).await?;
        }
        Ok(())
    }
}
