//! Storyboards: a job's shots (JSON, `[{"prompt", "seconds", "transition"}]`; `NULL` for a video
//! of one shot, as every job made before this migration is).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GenerationJobs {
    Table,
    Shots,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(GenerationJobs::Table).add_column(text_null(GenerationJobs::Shots)).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(GenerationJobs::Table).drop_column(GenerationJobs::Shots).to_owned()).await
    }
}
