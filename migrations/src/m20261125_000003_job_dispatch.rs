//! When a job was handed to the queue. Jobs wait in the database until their author has a free
//! running slot, so one member cannot occupy every worker.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GenerationJobs {
    Table,
    DispatchedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(GenerationJobs::Table)
                .add_column(timestamp_with_time_zone_null(GenerationJobs::DispatchedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(GenerationJobs::Table).drop_column(GenerationJobs::DispatchedAt).to_owned())
            .await
    }
}
