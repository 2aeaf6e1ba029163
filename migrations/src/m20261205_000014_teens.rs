//! Teen accounts and parental controls: `users.birth_month` (`YYYY-MM`, the only part of a date
//! of birth that is kept; `NULL` for members who joined without an age check), `users.time_zone`
//! (IANA name, for daily limits and quiet hours; `NULL` reads as UTC), `users.daily_feed_minutes`
//! (a member's own daily feed limit), `videos.maturity` (`GENERAL` or `MATURE`);
//! `guardian_invites` (a parent's one-time code for their teen, stored as a digest),
//! `guardian_links` (one linked parent per teen; an unlink one side asked for waits for the other) and `teen_controls` (what the parent set; a teen
//! without a row has the defaults).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    BirthMonth,
    TimeZone,
    DailyFeedMinutes,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Maturity,
}

#[derive(DeriveIden)]
enum GuardianInvites {
    Table,
    Id,
    ParentId,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum GuardianLinks {
    Table,
    TeenId,
    ParentId,
    CreatedAt,
    UnlinkRequestedBy,
}

#[derive(DeriveIden)]
enum TeenControls {
    Table,
    TeenId,
    DailyFeedMinutes,
    QuietStart,
    QuietEnd,
    CameoPermission,
    VideosPublic,
    UpdatedAt,
    UpdatedBy,
}

fn user_fk<T: IntoIden + 'static>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, col).to(Users::Table, Users::Id).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        m.alter_table(Table::alter().table(Users::Table).add_column(string_len_null(Users::BirthMonth, 7)).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Users::Table).add_column(string_len_null(Users::TimeZone, 64)).to_owned())
            .await?;
        m.alter_table(Table::alter().table(Users::Table).add_column(integer_null(Users::DailyFeedMinutes)).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Videos::Table)
                .add_column(string_len(Videos::Maturity, 16).default("GENERAL"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(GuardianInvites::Table)
                .col(uuid(GuardianInvites::Id).primary_key())
                .col(uuid(GuardianInvites::ParentId))
                .col(string_len_uniq(GuardianInvites::CodeHash, 64))
                .col(timestamp_with_time_zone(GuardianInvites::CreatedAt))
                .col(timestamp_with_time_zone(GuardianInvites::ExpiresAt))
                .col(timestamp_with_time_zone_null(GuardianInvites::UsedAt))
                .foreign_key(&mut user_fk(GuardianInvites::Table, GuardianInvites::ParentId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_guardian_invites_parent")
                .table(GuardianInvites::Table)
                .col(GuardianInvites::ParentId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(GuardianLinks::Table)
                .col(uuid(GuardianLinks::TeenId).primary_key())
                .col(uuid(GuardianLinks::ParentId))
                .col(timestamp_with_time_zone(GuardianLinks::CreatedAt))
                .col(uuid_null(GuardianLinks::UnlinkRequestedBy))
                .foreign_key(&mut user_fk(GuardianLinks::Table, GuardianLinks::TeenId))
                .foreign_key(&mut user_fk(GuardianLinks::Table, GuardianLinks::ParentId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_guardian_links_parent")
                .table(GuardianLinks::Table)
                .col(GuardianLinks::ParentId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(TeenControls::Table)
                .col(uuid(TeenControls::TeenId).primary_key())
                .col(integer_null(TeenControls::DailyFeedMinutes))
                .col(string_len_null(TeenControls::QuietStart, 5))
                .col(string_len_null(TeenControls::QuietEnd, 5))
                .col(string_len_null(TeenControls::CameoPermission, 16))
                .col(boolean(TeenControls::VideosPublic).default(true))
                .col(timestamp_with_time_zone(TeenControls::UpdatedAt))
                .col(uuid_null(TeenControls::UpdatedBy))
                .foreign_key(&mut user_fk(TeenControls::Table, TeenControls::TeenId))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(TeenControls::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(GuardianLinks::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(GuardianInvites::Table).to_owned()).await?;
        m.alter_table(Table::alter().table(Videos::Table).drop_column(Videos::Maturity).to_owned()).await?;
        m.alter_table(Table::alter().table(Users::Table).drop_column(Users::DailyFeedMinutes).to_owned()).await?;
        m.alter_table(Table::alter().table(Users::Table).drop_column(Users::TimeZone).to_owned()).await?;
        m.alter_table(Table::alter().table(Users::Table).drop_column(Users::BirthMonth).to_owned()).await
    }
}
