//! Sound: what a job's sound track should hold, whether a video has one and where its captions
//! are.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GenerationJobs {
    Table,
    AudioMode,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    HasAudio,
    CaptionsKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE. Jobs and videos made before sound keep their
        // silence: a job queued before this migration asks for FULL, a video made before it has none.
        m.alter_table(
            Table::alter()
                .table(GenerationJobs::Table)
                .add_column(string_len(GenerationJobs::AudioMode, 16).default("FULL"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Videos::Table).add_column(boolean(Videos::HasAudio).default(false)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Videos::Table).add_column(string_len_null(Videos::CaptionsKey, 255)).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Videos::Table).drop_column(Videos::CaptionsKey).to_owned()).await?;
        m.alter_table(Table::alter().table(Videos::Table).drop_column(Videos::HasAudio).to_owned()).await?;
        m.alter_table(Table::alter().table(GenerationJobs::Table).drop_column(GenerationJobs::AudioMode).to_owned())
            .await
    }
}
