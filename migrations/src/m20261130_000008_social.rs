//! The social graph and engagement: follows, blocks, likes, views (with watch time), feed
//! preferences; counters kept on `users` and `videos` (changed in the same transaction as the
//! row they count, so they stay equal to it under concurrent writes); indexes for the feed's
//! candidate pools.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    FollowerCount,
    FollowingCount,
}

#[derive(DeriveIden)]
enum Videos {
    Table,
    Id,
    AuthorId,
    Status,
    PublishedAt,
    LikeCount,
    ViewCount,
    WatchMsTotal,
    CommentCount,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    FolloweeId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Blocks {
    Table,
    BlockerId,
    BlockedId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Likes {
    Table,
    UserId,
    VideoId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Views {
    Table,
    UserId,
    VideoId,
    WatchMs,
    ViewedAt,
}

#[derive(DeriveIden)]
enum FeedPreferences {
    Table,
    UserId,
    Text,
    Weights,
    UpdatedAt,
}

fn user_fk<T: IntoIden + 'static>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, col).to(Users::Table, Users::Id).on_delete(ForeignKeyAction::Cascade).to_owned()
}

fn video_fk<T: IntoIden + 'static>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(table, col).to(Videos::Table, Videos::Id).on_delete(ForeignKeyAction::Cascade).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        m.alter_table(
            Table::alter().table(Users::Table).add_column(big_integer(Users::FollowerCount).default(0)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Users::Table).add_column(big_integer(Users::FollowingCount).default(0)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Videos::Table).add_column(big_integer(Videos::LikeCount).default(0)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Videos::Table).add_column(big_integer(Videos::ViewCount).default(0)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Videos::Table).add_column(big_integer(Videos::WatchMsTotal).default(0)).to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter().table(Videos::Table).add_column(big_integer(Videos::CommentCount).default(0)).to_owned(),
        )
        .await?;
        // Visible comments made before the counter existed (portable SQL: both engines).
        m.get_connection()
            .execute_unprepared("UPDATE videos SET comment_count = (SELECT COUNT(*) FROM comments WHERE comments.video_id = videos.id AND comments.status = 'VISIBLE')")
            .await?;
        m.create_index(
            Index::create()
                .name("idx_videos_author_status_published")
                .table(Videos::Table)
                .col(Videos::AuthorId)
                .col(Videos::Status)
                .col(Videos::PublishedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Follows::Table)
                .col(uuid(Follows::FollowerId))
                .col(uuid(Follows::FolloweeId))
                .col(timestamp_with_time_zone(Follows::CreatedAt))
                .primary_key(Index::create().col(Follows::FollowerId).col(Follows::FolloweeId))
                .foreign_key(&mut user_fk(Follows::Table, Follows::FollowerId))
                .foreign_key(&mut user_fk(Follows::Table, Follows::FolloweeId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_follows_followee")
                .table(Follows::Table)
                .col(Follows::FolloweeId)
                .col(Follows::FollowerId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Blocks::Table)
                .col(uuid(Blocks::BlockerId))
                .col(uuid(Blocks::BlockedId))
                .col(timestamp_with_time_zone(Blocks::CreatedAt))
                .primary_key(Index::create().col(Blocks::BlockerId).col(Blocks::BlockedId))
                .foreign_key(&mut user_fk(Blocks::Table, Blocks::BlockerId))
                .foreign_key(&mut user_fk(Blocks::Table, Blocks::BlockedId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_blocks_blocked").table(Blocks::Table).col(Blocks::BlockedId).to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Likes::Table)
                .col(uuid(Likes::UserId))
                .col(uuid(Likes::VideoId))
                .col(timestamp_with_time_zone(Likes::CreatedAt))
                .primary_key(Index::create().col(Likes::UserId).col(Likes::VideoId))
                .foreign_key(&mut user_fk(Likes::Table, Likes::UserId))
                .foreign_key(&mut video_fk(Likes::Table, Likes::VideoId))
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("idx_likes_video").table(Likes::Table).col(Likes::VideoId).to_owned())
            .await?;
        m.create_index(
            Index::create()
                .name("idx_likes_user_time")
                .table(Likes::Table)
                .col(Likes::UserId)
                .col(Likes::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Views::Table)
                .col(uuid(Views::UserId))
                .col(uuid(Views::VideoId))
                .col(big_integer(Views::WatchMs))
                .col(timestamp_with_time_zone(Views::ViewedAt))
                .primary_key(Index::create().col(Views::UserId).col(Views::VideoId))
                .foreign_key(&mut user_fk(Views::Table, Views::UserId))
                .foreign_key(&mut video_fk(Views::Table, Views::VideoId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_views_user_time")
                .table(Views::Table)
                .col(Views::UserId)
                .col(Views::ViewedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("idx_views_video").table(Views::Table).col(Views::VideoId).to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table(FeedPreferences::Table)
                .col(pk_uuid(FeedPreferences::UserId))
                .col(text(FeedPreferences::Text))
                .col(text(FeedPreferences::Weights))
                .col(timestamp_with_time_zone(FeedPreferences::UpdatedAt))
                .foreign_key(&mut user_fk(FeedPreferences::Table, FeedPreferences::UserId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(FeedPreferences::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Views::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Likes::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Blocks::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Follows::Table).to_owned()).await?;
        m.drop_index(Index::drop().name("idx_videos_author_status_published").table(Videos::Table).to_owned()).await?;
        for c in [Videos::CommentCount, Videos::WatchMsTotal, Videos::ViewCount, Videos::LikeCount] {
            m.alter_table(Table::alter().table(Videos::Table).drop_column(c).to_owned()).await?;
        }
        for c in [Users::FollowingCount, Users::FollowerCount] {
            m.alter_table(Table::alter().table(Users::Table).drop_column(c).to_owned()).await?;
        }
        Ok(())
    }
}
