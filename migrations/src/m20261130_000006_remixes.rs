//! Remix lineage: the video a job remixes, and on each video its source and the root of its chain.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GenerationJobs {
    Table,
    RemixOf,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    RemixOf,
    RootId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(GenerationJobs::Table).add_column(uuid_null(GenerationJobs::RemixOf)).to_owned(),
        )
        .await?;
        // SQLite adds one column per ALTER TABLE.
        m.alter_table(Table::alter().table(Videos::Table).add_column(uuid_null(Videos::RemixOf)).to_owned()).await?;
        m.alter_table(Table::alter().table(Videos::Table).add_column(uuid_null(Videos::RootId)).to_owned()).await?;
        m.create_index(
            Index::create().name("idx_videos_remix_of").table(Videos::Table).col(Videos::RemixOf).to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("idx_videos_root").table(Videos::Table).col(Videos::RootId).to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("idx_videos_root").table(Videos::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("idx_videos_remix_of").table(Videos::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Videos::Table).drop_column(Videos::RootId).to_owned()).await?;
        m.alter_table(Table::alter().table(Videos::Table).drop_column(Videos::RemixOf).to_owned()).await?;
        m.alter_table(Table::alter().table(GenerationJobs::Table).drop_column(GenerationJobs::RemixOf).to_owned()).await
    }
}
