//! Stitched videos: the caption a job gives the video it makes (`stitchVideos(caption)`);
//! `NULL` for every other job, whose video is captioned when it is published.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GenerationJobs {
    Table,
    Caption,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(GenerationJobs::Table).add_column(text_null(GenerationJobs::Caption)).to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(GenerationJobs::Table).drop_column(GenerationJobs::Caption).to_owned()).await
    }
}
