//! Search: `video_embeddings` holds one row per published video with the sentence encoder's
//! vector of its prompt and caption (`vector`: 384 little-endian `f32`, unit length), the `model`
//! that made it (a row from another model is made again), and `created_at` (when it was written:
//! every API node's in-memory index reads rows from its last look on). Removed with its video.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum VideoEmbeddings {
    Table,
    VideoId,
    Model,
    Vector,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(VideoEmbeddings::Table)
                .col(uuid(VideoEmbeddings::VideoId).primary_key())
                .col(string_len(VideoEmbeddings::Model, 64))
                .col(blob(VideoEmbeddings::Vector))
                .col(timestamp_with_time_zone(VideoEmbeddings::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(VideoEmbeddings::Table, VideoEmbeddings::VideoId)
                        .to(Videos::Table, Videos::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_video_embeddings_created")
                .table(VideoEmbeddings::Table)
                .col(VideoEmbeddings::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(VideoEmbeddings::Table).to_owned()).await
    }
}
