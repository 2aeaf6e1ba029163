//! Accounts: `me`, `user`, sign-up, log-in, sessions, mail tokens, roles and bans.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::{ApiResult, caller, parse_id, services, to_gql};
use app_core::error::AppError;
use app_core::types::{Secret, UserId};
use domain::accounts::{Session, SignUp};
use domain::model::{Role, User};
use domain::{Caller, Services};

/// Batches user look-ups within one request.
pub struct UserLoader(pub Services);

impl Loader<UserId> for UserLoader {
    type Value = User;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[UserId]) -> std::result::Result<HashMap<UserId, User>, Self::Error> {
        let users = self.0.accounts.users(keys).await.map_err(|e| Arc::new(to_gql(e)))?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// Per-request loader handle.
pub type Users = DataLoader<UserLoader, async_graphql::dataloader::HashMapCache>;

/// The member `id` through the request's [`Users`] loader (batched), if they exist.
pub async fn load_user(ctx: &Context<'_>, id: UserId) -> Result<Option<UserObject>> {
    Ok(ctx.data::<Users>()?.load_one(id).await.map_err(|e| (*e).clone())?.map(UserObject))
}

/// The member `id`, who must exist (an author, an owner): `NOT_FOUND` otherwise.
pub async fn existing_user(ctx: &Context<'_>, id: UserId) -> Result<UserObject> {
    load_user(ctx, id).await?.ok_or_else(|| to_gql(AppError::NotFound("user")))
}

fn viewer_is_self_or(ctx: &Context<'_>, user: &User, role: Role) -> bool {
    match caller(ctx).map(|c| &c.caller) {
        Ok(Caller::Member(v)) => v.user.id == user.id || v.user.role >= role,
        _ => false,
    }
}

/// A member as other people see them.
pub struct UserObject(pub User);

#[Object(name = "User")]
impl UserObject {
    /// Id.
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Handle.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Display name (the handle when none is set).
    async fn display_name(&self) -> &str {
        self.0.display_name.as_deref().unwrap_or(&self.0.username)
    }
    /// Their cameos: active ones to everyone; every status to themselves and moderators.
    async fn cameos(&self, ctx: &Context<'_>) -> Result<Vec<super::cameos::CameoObject>> {
        let c = caller(ctx)?;
        let service = ctx.data::<domain::cameos::CameoService>()?;
        Ok(service.cameos_of(&c.caller, self.0.id).await.api()?.into_iter().map(super::cameos::CameoObject).collect())
    }
    /// Members following them.
    async fn follower_count(&self) -> i32 {
        i32::try_from(self.0.follower_count).unwrap_or(i32::MAX)
    }
    /// Members they follow.
    async fn following_count(&self) -> i32 {
        i32::try_from(self.0.following_count).unwrap_or(i32::MAX)
    }
    /// Whether the viewer follows them (false when signed out).
    async fn viewer_follows(&self, ctx: &Context<'_>) -> Result<bool> {
        let loader = ctx.data::<super::social::Followed>()?;
        Ok(loader.load_one(self.0.id).await.map_err(|e| (*e).clone())?.unwrap_or(false))
    }
    /// Whether the viewer has blocked them (false when signed out; a block the other way is
    /// not shown).
    async fn viewer_blocks(&self, ctx: &Context<'_>) -> Result<bool> {
        let loader = ctx.data::<super::social::Blocked>()?;
        Ok(loader.load_one(self.0.id).await.map_err(|e| (*e).clone())?.unwrap_or(false))
    }
    /// Role.
    async fn role(&self) -> Role {
        self.0.role
    }
    /// When they joined.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Email address: only to the member and to admins.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        viewer_is_self_or(ctx, &self.0, Role::Admin).then_some(self.0.email.as_str())
    }
    /// Whether the address is confirmed: only to the member and to admins.
    async fn email_verified(&self, ctx: &Context<'_>) -> Option<bool> {
        viewer_is_self_or(ctx, &self.0, Role::Admin).then_some(self.0.email_verified_at.is_some())
    }
    /// Whether the member is banned: only to the member, moderators and admins.
    async fn banned(&self, ctx: &Context<'_>) -> Option<bool> {
        viewer_is_self_or(ctx, &self.0, Role::Moderator).then_some(self.0.is_banned())
    }
    /// Why they were banned: only to the member, moderators and admins.
    async fn ban_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        if viewer_is_self_or(ctx, &self.0, Role::Moderator) { self.0.ban_reason.as_deref() } else { None }
    }
    /// Whether they have a teen account (13–17): only to the member, their linked parent and
    /// admins (null to anyone else).
    async fn is_teen(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        super::teens::is_teen(ctx, &self.0).await
    }
    /// A teen's controls as they apply now: to the teen, their linked parent and moderators (null
    /// for adults and to anyone else).
    async fn teen_controls(&self, ctx: &Context<'_>) -> Result<Option<super::teens::TeenControls>> {
        super::teens::controls(ctx, &self.0).await
    }
    /// Their own daily feed limit, time zone and today's feed time: only to the member.
    async fn wellbeing(&self, ctx: &Context<'_>) -> Result<Option<super::teens::Wellbeing>> {
        super::teens::wellbeing(ctx, &self.0).await
    }
    /// A teen's linked parent: to the teen, the parent and moderators.
    async fn guardian(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        super::teens::guardian(ctx, &self.0).await
    }
    /// Who asked to unlink this teen from their parent (the other side confirms with
    /// `unlinkGuardian`): to the teen, the parent and moderators.
    async fn guardian_unlink_requested_by(&self, ctx: &Context<'_>) -> Result<Option<ID>> {
        super::teens::unlink_requested_by(ctx, &self.0).await
    }
    /// Who invited them.
    async fn invited_by(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let Some(id) = self.0.invited_by else { return Ok(None) };
        load_user(ctx, id).await
    }
    /// Their published videos, newest first.
    async fn videos(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<async_graphql::connection::Connection<String, super::videos::VideoObject>> {
        let (n, after) = super::videos::page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list =
            ctx.data::<domain::videos::VideoService>()?.published_by(&c.caller, self.0.id, after, n + 1).await.api()?;
        Ok(super::videos::connection(&mut list, n, after.is_some()))
    }
    /// The members they invited (the invite tree): to the member and to admins.
    async fn invitees(&self, ctx: &Context<'_>) -> Result<Vec<UserObject>> {
        let s = services(ctx)?;
        let c = caller(ctx)?;
        Ok(s.invites.invitees(&c.caller, self.0.id).await.api()?.into_iter().map(UserObject).collect())
    }
}

/// Tokens for a signed-in client.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Short-lived access token (`Authorization: Bearer …`).
    access_token: String,
    /// Single-use refresh token for `refreshSession`.
    refresh_token: String,
    /// Seconds until the access token expires.
    expires_in: i64,
    /// The member.
    user: UserObject,
}

fn payload(ctx: &Context<'_>, s: Session) -> Result<AuthPayload> {
    let ttl = services(ctx)?.deps.tokens().ttl_secs();
    Ok(AuthPayload {
        access_token: s.access_token,
        refresh_token: s.refresh_token,
        expires_in: ttl,
        user: UserObject(s.user),
    })
}

/// Sign-up with an invite code.
#[derive(InputObject)]
pub struct SignUpInput {
    /// The invite code (any case; spaces and dashes ignored).
    invite_code: String,
    /// Email address.
    email: String,
    /// Handle: 3–30 letters, digits, `_` or `.`.
    username: String,
    /// 8–128 characters, not a common password.
    password: String,
    /// Optional display name.
    display_name: Option<String>,
    /// Date of birth, `YYYY-MM-DD` (required unless the deployment turns age checks off). Under
    /// 13 cannot join; 13 to 17 get a teen account. Only the year and month are kept.
    birth_date: Option<String>,
}

/// Log-in with email or username.
#[derive(InputObject)]
pub struct LogInInput {
    /// Email or username.
    login: String,
    /// Password.
    password: String,
}

/// Account queries.
#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// The signed-in member; null when not signed in.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        Ok(caller(ctx)?.caller.optional().api()?.map(|v| UserObject(v.user.clone())))
    }

    /// A member by handle.
    async fn user(&self, ctx: &Context<'_>, username: String) -> Result<Option<UserObject>> {
        Ok(services(ctx)?.accounts.user_by_username(&username).await.api()?.map(UserObject))
    }

    /// Members whose handle, display name or email contains `query` (any case), newest first;
    /// all members without a query (moderators and admins).
    async fn users(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<async_graphql::connection::Connection<String, UserObject>> {
        use async_graphql::connection::{Connection, Edge};
        let (n, after) = super::videos::page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list = services(ctx)?
            .accounts
            .search(&c.caller, query.as_deref().unwrap_or_default(), after, n + 1)
            .await
            .api()?;
        let has_next = list.len() as u64 > n;
        list.truncate(n as usize);
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(
            list.into_iter().map(|u| Edge::new(super::videos::encode_cursor(u.created_at, u.id), UserObject(u))),
        );
        Ok(conn)
    }
}

/// Account mutations.
#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    /// Creates an account with an invite code and signs in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> Result<AuthPayload> {
        let c = caller(ctx)?;
        let s = services(ctx)?
            .accounts
            .sign_up(
                SignUp {
                    invite_code: input.invite_code,
                    email: input.email,
                    username: input.username,
                    password: Secret::new(input.password),
                    display_name: input.display_name,
                    birth_date: input.birth_date,
                },
                &c.client,
            )
            .await
            .api()?;
        payload(ctx, s)
    }

    /// Signs in with email or username and password.
    async fn log_in(&self, ctx: &Context<'_>, input: LogInInput) -> Result<AuthPayload> {
        let c = caller(ctx)?;
        let s = services(ctx)?.accounts.log_in(&input.login, Secret::new(input.password), &c.client).await.api()?;
        payload(ctx, s)
    }

    /// Trades a refresh token for a new pair. A token works once; using it twice ends the session.
    async fn refresh_session(&self, ctx: &Context<'_>, refresh_token: String) -> Result<AuthPayload> {
        let s = services(ctx)?.accounts.refresh(&refresh_token).await.api()?;
        payload(ctx, s)
    }

    /// Ends the session of this refresh token; false when the token was unknown.
    async fn log_out(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        services(ctx)?.accounts.log_out(&refresh_token).await.api()
    }

    /// Confirms an email address with the mailed token.
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> Result<UserObject> {
        Ok(UserObject(services(ctx)?.accounts.verify_email(&token).await.api()?))
    }

    /// Mails a new verification link to the signed-in member; false when already confirmed.
    async fn resend_verification_email(&self, ctx: &Context<'_>) -> Result<bool> {
        let c = caller(ctx)?;
        services(ctx)?.accounts.resend_verification(&c.caller, &c.client).await.api()
    }

    /// Mails a reset link when the address belongs to a member; always true.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let c = caller(ctx)?;
        services(ctx)?.accounts.request_password_reset(&email, &c.client).await.api()
    }

    /// Sets a new password with the mailed token; signs out every session.
    async fn reset_password(&self, ctx: &Context<'_>, token: String, new_password: String) -> Result<bool> {
        services(ctx)?.accounts.reset_password(&token, Secret::new(new_password)).await.api()
    }

    /// Changes a member's role (admin).
    async fn set_role(&self, ctx: &Context<'_>, user_id: ID, role: Role) -> Result<UserObject> {
        let id = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        Ok(UserObject(services(ctx)?.accounts.set_role(&c.caller, id, role).await.api()?))
    }

    /// Bans a member (moderator or admin): their sessions end at once.
    async fn ban_user(&self, ctx: &Context<'_>, user_id: ID, reason: String) -> Result<UserObject> {
        let id = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        Ok(UserObject(services(ctx)?.accounts.ban(&c.caller, id, &reason).await.api()?))
    }
}
