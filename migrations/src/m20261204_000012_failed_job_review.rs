//! Failed jobs an operator has looked at: `failure_dismissed_at` is set when an admin discards a
//! failed job from the console's list (`discardFailedJob`); `NULL` for every other job. A job an
//! admin retries goes back to `QUEUED` and keeps `NULL`.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GenerationJobs {
    Table,
    FailureDismissedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(GenerationJobs::Table)
                .add_column(timestamp_with_time_zone_null(GenerationJobs::FailureDismissedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(GenerationJobs::Table).drop_column(GenerationJobs::FailureDismissedAt).to_owned(),
        )
        .await
    }
}
