//! Generation jobs and the videos they make.

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
    Id,
    UserId,
    Status,
    Prompt,
    Seed,
    DurationSeconds,
    AspectRatio,
    Step,
    TotalSteps,
    Attempts,
    Worker,
    ErrorCode,
    ErrorMessage,
    VideoId,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
    AuthorId,
    JobId,
    Status,
    Prompt,
    Caption,
    Seed,
    AspectRatio,
    VideoKey,
    ThumbnailKey,
    Width,
    Height,
    DurationMs,
    FrameCount,
    Fps,
    ModelName,
    ModelVersion,
    ExecutionProvider,
    StageMillis,
    RemixAllowed,
    CreatedAt,
    PublishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(GenerationJobs::Table)
                .col(pk_uuid(GenerationJobs::Id))
                .col(uuid(GenerationJobs::UserId))
                .col(string_len(GenerationJobs::Status, 16))
                .col(text(GenerationJobs::Prompt))
                .col(big_integer(GenerationJobs::Seed))
                .col(integer(GenerationJobs::DurationSeconds))
                .col(string_len(GenerationJobs::AspectRatio, 16))
                .col(integer(GenerationJobs::Step).default(0))
                .col(integer(GenerationJobs::TotalSteps).default(0))
                .col(integer(GenerationJobs::Attempts).default(0))
                .col(string_len_null(GenerationJobs::Worker, 128))
                .col(string_len_null(GenerationJobs::ErrorCode, 32))
                .col(text_null(GenerationJobs::ErrorMessage))
                .col(uuid_null(GenerationJobs::VideoId))
                .col(timestamp_with_time_zone(GenerationJobs::CreatedAt))
                .col(timestamp_with_time_zone_null(GenerationJobs::StartedAt))
                .col(timestamp_with_time_zone_null(GenerationJobs::FinishedAt))
                .col(timestamp_with_time_zone(GenerationJobs::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(GenerationJobs::Table, GenerationJobs::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_jobs_user_created")
                .table(GenerationJobs::Table)
                .col(GenerationJobs::UserId)
                .col(GenerationJobs::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_jobs_status_created")
                .table(GenerationJobs::Table)
                .col(GenerationJobs::Status)
                .col(GenerationJobs::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Videos::Table)
                .col(pk_uuid(Videos::Id))
                .col(uuid(Videos::AuthorId))
                .col(uuid_uniq(Videos::JobId))
                .col(string_len(Videos::Status, 16))
                .col(text(Videos::Prompt))
                .col(text_null(Videos::Caption))
                .col(big_integer(Videos::Seed))
                .col(string_len(Videos::AspectRatio, 16))
                .col(string_len(Videos::VideoKey, 255))
                .col(string_len(Videos::ThumbnailKey, 255))
                .col(integer(Videos::Width))
                .col(integer(Videos::Height))
                .col(big_integer(Videos::DurationMs))
                .col(integer(Videos::FrameCount))
                .col(integer(Videos::Fps))
                .col(string_len(Videos::ModelName, 128))
                .col(string_len(Videos::ModelVersion, 64))
                .col(string_len(Videos::ExecutionProvider, 16))
                .col(text(Videos::StageMillis))
                .col(boolean(Videos::RemixAllowed).default(true))
                .col(timestamp_with_time_zone(Videos::CreatedAt))
                .col(timestamp_with_time_zone_null(Videos::PublishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Videos::Table, Videos::AuthorId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_videos_author_created")
                .table(Videos::Table)
                .col(Videos::AuthorId)
                .col(Videos::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Videos::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(GenerationJobs::Table).to_owned()).await?;
        Ok(())
    }
}
