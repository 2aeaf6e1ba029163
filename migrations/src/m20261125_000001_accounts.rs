//! Accounts, invites, refresh-token families, one-time mail tokens and the waitlist.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Username,
    UsernameKey,
    DisplayName,
    PasswordHash,
    Role,
    EmailVerifiedAt,
    BannedAt,
    BanReason,
    InvitedBy,
    InviteId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Invites {
    Table,
    Id,
    Code,
    OwnerId,
    CreatedBy,
    MaxUses,
    Uses,
    ExpiresAt,
    RevokedAt,
    Note,
    CreatedAt,
}

#[derive(DeriveIden)]
enum InviteRedemptions {
    Table,
    Id,
    InviteId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum RefreshFamilies {
    Table,
    Id,
    UserId,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    RevokedReason,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum OneTimeTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum Waitlist {
    Table,
    Id,
    Email,
    CreatedAt,
    GrantedAt,
    InviteId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(pk_uuid(Users::Id))
                .col(string_len_uniq(Users::Email, 254))
                .col(string_len(Users::Username, 32))
                .col(string_len_uniq(Users::UsernameKey, 32))
                .col(string_len_null(Users::DisplayName, 64))
                .col(string_len(Users::PasswordHash, 255))
                .col(string_len(Users::Role, 16).default("USER"))
                .col(timestamp_with_time_zone_null(Users::EmailVerifiedAt))
                .col(timestamp_with_time_zone_null(Users::BannedAt))
                .col(text_null(Users::BanReason))
                .col(uuid_null(Users::InvitedBy))
                .col(uuid_null(Users::InviteId))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::InvitedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_users_invited_by").table(Users::Table).col(Users::InvitedBy).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Invites::Table)
                .col(pk_uuid(Invites::Id))
                .col(string_len_uniq(Invites::Code, 32))
                .col(uuid_null(Invites::OwnerId))
                .col(uuid_null(Invites::CreatedBy))
                .col(integer(Invites::MaxUses))
                .col(integer(Invites::Uses).default(0))
                .col(timestamp_with_time_zone_null(Invites::ExpiresAt))
                .col(timestamp_with_time_zone_null(Invites::RevokedAt))
                .col(text_null(Invites::Note))
                .col(timestamp_with_time_zone(Invites::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Invites::Table, Invites::OwnerId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Invites::Table, Invites::CreatedBy)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("idx_invites_owner").table(Invites::Table).col(Invites::OwnerId).to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(InviteRedemptions::Table)
                .col(pk_uuid(InviteRedemptions::Id))
                .col(uuid(InviteRedemptions::InviteId))
                .col(uuid_uniq(InviteRedemptions::UserId))
                .col(timestamp_with_time_zone(InviteRedemptions::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(InviteRedemptions::Table, InviteRedemptions::InviteId)
                        .to(Invites::Table, Invites::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(InviteRedemptions::Table, InviteRedemptions::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_invite_redemptions_invite")
                .table(InviteRedemptions::Table)
                .col(InviteRedemptions::InviteId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshFamilies::Table)
                .col(pk_uuid(RefreshFamilies::Id))
                .col(uuid(RefreshFamilies::UserId))
                .col(timestamp_with_time_zone(RefreshFamilies::CreatedAt))
                .col(timestamp_with_time_zone(RefreshFamilies::ExpiresAt))
                .col(timestamp_with_time_zone_null(RefreshFamilies::RevokedAt))
                .col(string_len_null(RefreshFamilies::RevokedReason, 32))
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshFamilies::Table, RefreshFamilies::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refresh_families_user")
                .table(RefreshFamilies::Table)
                .col(RefreshFamilies::UserId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(pk_uuid(RefreshTokens::Id))
                .col(uuid(RefreshTokens::FamilyId))
                .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RefreshTokens::Table, RefreshTokens::FamilyId)
                        .to(RefreshFamilies::Table, RefreshFamilies::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_refresh_tokens_family")
                .table(RefreshTokens::Table)
                .col(RefreshTokens::FamilyId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OneTimeTokens::Table)
                .col(pk_uuid(OneTimeTokens::Id))
                .col(uuid(OneTimeTokens::UserId))
                .col(string_len(OneTimeTokens::Purpose, 16))
                .col(string_len_uniq(OneTimeTokens::TokenHash, 64))
                .col(timestamp_with_time_zone(OneTimeTokens::CreatedAt))
                .col(timestamp_with_time_zone(OneTimeTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(OneTimeTokens::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(OneTimeTokens::Table, OneTimeTokens::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Waitlist::Table)
                .col(pk_uuid(Waitlist::Id))
                .col(string_len_uniq(Waitlist::Email, 254))
                .col(timestamp_with_time_zone(Waitlist::CreatedAt))
                .col(timestamp_with_time_zone_null(Waitlist::GrantedAt))
                .col(uuid_null(Waitlist::InviteId))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Waitlist::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(OneTimeTokens::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(RefreshTokens::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(RefreshFamilies::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(InviteRedemptions::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Invites::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Users::Table).to_owned()).await?;
        Ok(())
    }
}
