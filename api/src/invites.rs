//! Invites: `myInvites`, `mintInvites`, the waitlist.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::accounts::UserObject;
use super::{ApiResult, PublicUrl, caller, services};
use domain::invites::Mint;
use domain::model::Invite;

/// An invite code.
pub struct InviteObject(pub Invite);

#[Object(name = "Invite")]
impl InviteObject {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The code (case-insensitive when typed).
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// A sign-up link carrying the code.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(format!("{}/join?code={}", ctx.data::<PublicUrl>()?.0, self.0.code))
    }
    /// Redemptions left.
    async fn uses_left(&self) -> i32 {
        self.0.uses_left()
    }
    /// Redemptions allowed.
    async fn max_uses(&self) -> i32 {
        self.0.max_uses
    }
    /// Expiry, if any.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The admin's note.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Members who joined with it.
    async fn redeemed_by(&self, ctx: &Context<'_>) -> Result<Vec<UserObject>> {
        Ok(services(ctx)?.invites.redeemers(self.0.id).await.api()?.into_iter().map(UserObject).collect())
    }
}

/// An address on the waitlist.
pub struct WaitlistEntryObject(pub domain::model::WaitlistEntry, pub Option<Invite>);

#[Object(name = "WaitlistEntry")]
impl WaitlistEntryObject {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The address.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// When it joined the waitlist.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When an admin granted it a code; null while it waits.
    async fn granted_at(&self) -> Option<DateTime<Utc>> {
        self.0.granted_at
    }
    /// The code it was granted.
    async fn invite(&self) -> Option<InviteObject> {
        self.1.clone().map(InviteObject)
    }
}

/// Invite queries.
#[derive(Default)]
pub struct InvitesQuery;

#[Object]
impl InvitesQuery {
    /// The waitlist, oldest first; only the addresses still waiting with `pending: true` (admin).
    async fn waitlist(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] pending: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<async_graphql::connection::Connection<String, WaitlistEntryObject>> {
        use async_graphql::connection::{Connection, Edge};
        let (n, after) = super::videos::page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list = services(ctx)?.invites.waitlist(&c.caller, pending, after, n + 1).await.api()?;
        let has_next = list.len() as u64 > n;
        list.truncate(n as usize);
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(
            list.into_iter()
                .map(|(e, i)| Edge::new(super::videos::encode_cursor(e.created_at, e.id), WaitlistEntryObject(e, i))),
        );
        Ok(conn)
    }

    /// The signed-in member's own codes.
    async fn my_invites(&self, ctx: &Context<'_>) -> Result<Vec<InviteObject>> {
        let c = caller(ctx)?;
        Ok(services(ctx)?.invites.mine(&c.caller).await.api()?.into_iter().map(InviteObject).collect())
    }
}

/// Invite mutations.
#[derive(Default)]
pub struct InvitesMutation;

#[Object]
impl InvitesMutation {
    /// Puts an address on the waitlist; always true.
    async fn join_waitlist(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        let c = caller(ctx)?;
        services(ctx)?.invites.join_waitlist(&email, &c.client).await.api()
    }

    /// Mints codes (admin).
    async fn mint_invites(
        &self,
        ctx: &Context<'_>,
        count: i32,
        #[graphql(default = 1)] max_uses: i32,
        expires_at: Option<DateTime<Utc>>,
        note: Option<String>,
    ) -> Result<Vec<InviteObject>> {
        let c = caller(ctx)?;
        let list = services(ctx)?.invites.mint(&c.caller, Mint { count, max_uses, expires_at, note }).await.api()?;
        Ok(list.into_iter().map(InviteObject).collect())
    }

    /// Grants a waitlisted address a single-use code and mails it (admin).
    async fn grant_waitlist(&self, ctx: &Context<'_>, email: String) -> Result<InviteObject> {
        let c = caller(ctx)?;
        Ok(InviteObject(services(ctx)?.invites.grant_waitlist(&c.caller, &email).await.api()?))
    }
}
