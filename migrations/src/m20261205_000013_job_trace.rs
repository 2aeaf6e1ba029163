//! The trace a job belongs to: `trace_parent` keeps the W3C `traceparent` of the request that
//! created the job (`NULL` when that request was not traced), so the worker that makes the video
//! and the node that applies its result continue the same trace however long the job waits.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GenerationJobs {
    Table,
    TraceParent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(GenerationJobs::Table)
                .add_column(string_len_null(GenerationJobs::TraceParent, 64))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(GenerationJobs::Table).drop_column(GenerationJobs::TraceParent).to_owned())
            .await
    }
}
