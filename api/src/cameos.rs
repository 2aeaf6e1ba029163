//! Cameos over GraphQL: verification (`startCameoVerification`, `createCameo` with the clip as
//! a multipart upload, `reviewCameo`), settings and approvals, `usableCameos`, appearances,
//! removal and revocation.

use std::io::Read;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Upload};
use base64::Engine;
use chrono::{DateTime, Utc};

use super::accounts::{UserObject, Users};
use super::videos::{VideoObject, encode_cursor, page_args};
use super::{ApiResult, caller, parse_id, to_gql};
use crate::links::MediaLinks;
use app_core::error::AppError;
use app_core::types::{CameoId, ChallengeId, UserId, VideoId};
use domain::cameos::{CameoService, CreateCameo};
use domain::model::{Cameo, CameoPermission, CameoStatus, Role};

/// A verification challenge: say the phrase and do the action on camera, within 10 minutes.
#[derive(SimpleObject)]
#[graphql(name = "CameoChallenge")]
pub struct ChallengeObject {
    /// Id (pass it to `createCameo`).
    id: ID,
    /// What to say and do in the clip.
    phrase: String,
    /// When it stops being accepted.
    expires_at: DateTime<Utc>,
}

/// A new cameo.
#[derive(InputObject)]
pub struct CreateCameoInput {
    /// The challenge the clip answers.
    challenge_id: ID,
    /// Display name (1–80 characters).
    name: String,
    /// The recorded clip: H.264 MP4, 2–30 s, sides 240–4096 px.
    clip: Upload,
    /// Who may use it.
    #[graphql(default_with = "CameoPermission::OnlyMe")]
    permission: CameoPermission,
    /// What it may not be used for, in the owner's words ("no political content, never shirtless").
    restrictions: Option<String>,
}

/// A member's verified likeness.
pub struct CameoObject(pub Cameo);

impl CameoObject {
    fn privileged(&self, ctx: &Context<'_>) -> bool {
        caller(ctx)
            .ok()
            .and_then(|c| c.caller.require().ok())
            .is_some_and(|v| v.user.id == self.0.owner_id || v.user.role >= Role::Moderator)
    }
}

#[Object(name = "Cameo")]
impl CameoObject {
    /// Id.
    pub async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Whose likeness.
    async fn owner(&self, ctx: &Context<'_>) -> Result<UserObject> {
        super::accounts::existing_user(ctx, self.0.owner_id).await
    }
    /// What it depicts: `PERSON`, a member's own likeness (characters are not built yet).
    async fn kind(&self) -> app_core::model::CameoKind {
        app_core::model::CameoKind::Person
    }
    /// The handle that names it in a prompt (`@handle`) and in `videosWithCameo`: a person's
    /// cameo goes by its owner's username (`@ann` names Ann's newest cameo the writer may use).
    async fn handle(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(super::accounts::existing_user(ctx, self.0.owner_id).await?.0.username)
    }
    /// Who may use it.
    async fn permission(&self) -> CameoPermission {
        self.0.permission
    }
    /// What it may not be used for (enforced by the prompt policy).
    async fn restrictions(&self) -> Option<&str> {
        self.0.restrictions.as_deref()
    }
    /// Where it stands.
    async fn status(&self) -> CameoStatus {
        self.0.status
    }
    /// Each video using it waits for the owner's approval before it can publish.
    async fn require_approval(&self) -> bool {
        self.0.require_approval
    }
    /// Changes with every change of consent.
    async fn consent_version(&self) -> i64 {
        self.0.consent_version
    }
    /// Members the owner approved (owner only).
    async fn approved_users(&self, ctx: &Context<'_>) -> Result<Vec<UserObject>> {
        let c = caller(ctx)?;
        let ids = ctx.data::<CameoService>()?.approved_users(&c.caller, &self.0).await.api()?;
        let users = ctx.data::<Users>()?.load_many(ids.clone()).await.map_err(|e| (*e).clone())?;
        Ok(ids.iter().filter_map(|id| users.get(id).cloned().map(UserObject)).collect())
    }
    /// Every video with it, others' drafts included, newest first (owner only).
    async fn appearances(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, VideoObject>> {
        let (n, after) = page_args(first, after)?;
        let c = caller(ctx)?;
        let mut list = ctx.data::<CameoService>()?.appearances(&c.caller, &self.0, after, n + 1).await.api()?;
        let has_next = list.len() as u64 > n;
        list.truncate(n as usize);
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(list.into_iter().map(|(v, at)| Edge::new(encode_cursor(at, v.id), VideoObject(v))));
        Ok(conn)
    }
    /// The verification clip (owner and moderators); null 30 days after the cameo was rejected or
    /// revoked, when the clip is deleted.
    async fn clip_url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        // A rejected or revoked cameo's clip is deleted after 30 days (the sweeper).
        if !self.privileged(ctx) || !self.0.clip_kept(chrono::Utc::now()) {
            return Ok(None);
        }
        Ok(Some(ctx.data::<MediaLinks>()?.url(&self.0.clip_key).await.api()?))
    }
    /// The challenge the clip answers (owner and moderators).
    async fn challenge_phrase(&self, ctx: &Context<'_>) -> Option<&str> {
        self.privileged(ctx).then_some(self.0.challenge_phrase.as_str())
    }
    /// The moderator's note on the verification (owner and moderators).
    async fn review_note(&self, ctx: &Context<'_>) -> Option<&str> {
        if self.privileged(ctx) { self.0.review_note.as_deref() } else { None }
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

fn name_cursor(c: &Cameo) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}|{}", c.id, c.name))
}

fn parse_name_cursor(s: &str) -> Option<(String, uuid::Uuid)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, name) = text.split_once('|')?;
    Some((name.to_owned(), uuid::Uuid::parse_str(id).ok()?))
}

/// Cameo queries.
#[derive(Default)]
pub struct CameosQuery;

#[Object]
impl CameosQuery {
    /// A cameo: active ones to anyone; others to the owner and moderators.
    async fn cameo(&self, ctx: &Context<'_>, id: ID) -> Result<Option<CameoObject>> {
        let id = parse_id(&id, "id", CameoId::parse)?;
        let c = caller(ctx)?;
        Ok(ctx.data::<CameoService>()?.cameo(&c.caller, id).await.api()?.map(CameoObject))
    }

    /// Cameos the caller may use now, by name (optionally those whose name starts with `query`).
    async fn usable_cameos(
        &self,
        ctx: &Context<'_>,
        query: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, CameoObject>> {
        let n = first.unwrap_or(20);
        if !(1..=100).contains(&n) {
            return Err(to_gql(AppError::bad_input("first", "first must be between 1 and 100")));
        }
        let n = n as u64;
        let cursor = match &after {
            None => None,
            Some(a) => Some(
                parse_name_cursor(a)
                    .ok_or_else(|| to_gql(AppError::bad_input("after", "after is not a cursor from this list")))?,
            ),
        };
        let c = caller(ctx)?;
        let mut list = ctx.data::<CameoService>()?.usable(&c.caller, query.as_deref(), cursor, n + 1).await.api()?;
        let has_next = list.len() as u64 > n;
        list.truncate(n as usize);
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(list.into_iter().map(|k| Edge::new(name_cursor(&k), CameoObject(k))));
        Ok(conn)
    }
}

/// Cameo mutations.
#[derive(Default)]
pub struct CameosMutation;

#[Object]
impl CameosMutation {
    /// Issues a single-use challenge (10 minutes) to record for a new cameo.
    async fn start_cameo_verification(&self, ctx: &Context<'_>) -> Result<ChallengeObject> {
        let c = caller(ctx)?;
        let (id, phrase, expires_at) = ctx.data::<CameoService>()?.start_verification(&c.caller).await.api()?;
        Ok(ChallengeObject { id: ID(id.to_string()), phrase, expires_at })
    }

    /// Submits the recorded clip (multipart upload); after automatic checks the cameo waits in
    /// `PENDING_REVIEW` for a moderator.
    async fn create_cameo(&self, ctx: &Context<'_>, input: CreateCameoInput) -> Result<CameoObject> {
        let challenge = parse_id(&input.challenge_id, "challengeId", ChallengeId::parse)?;
        let value = input
            .clip
            .value(ctx)
            .map_err(|e| to_gql(AppError::bad_input("clip", format!("the upload could not be read: {e}"))))?;
        let mut clip = Vec::new();
        value
            .into_read()
            .read_to_end(&mut clip)
            .map_err(|e| to_gql(AppError::bad_input("clip", format!("the upload could not be read: {e}"))))?;
        let c = caller(ctx)?;
        let cameo = ctx
            .data::<CameoService>()?
            .create(
                &c.caller,
                CreateCameo {
                    challenge,
                    name: input.name,
                    clip,
                    permission: input.permission,
                    restrictions: input.restrictions,
                },
            )
            .await
            .api()?;
        Ok(CameoObject(cameo))
    }

    /// The owner changes the permission, the restrictions (empty text clears them) or the
    /// per-video approval requirement; each change makes a new consent version.
    async fn update_cameo(
        &self,
        ctx: &Context<'_>,
        id: ID,
        permission: Option<CameoPermission>,
        restrictions: Option<String>,
        require_approval: Option<bool>,
    ) -> Result<CameoObject> {
        let id = parse_id(&id, "id", CameoId::parse)?;
        let c = caller(ctx)?;
        let restrictions = restrictions.map(|r| Some(r).filter(|t| !t.trim().is_empty()));
        let cameo = ctx
            .data::<CameoService>()?
            .update(&c.caller, id, permission, restrictions, require_approval)
            .await
            .api()?;
        Ok(CameoObject(cameo))
    }

    /// The owner lets a member use the cameo (with permission `APPROVED`).
    async fn approve_cameo_user(&self, ctx: &Context<'_>, cameo_id: ID, user_id: ID) -> Result<CameoObject> {
        let id = parse_id(&cameo_id, "cameoId", CameoId::parse)?;
        let user = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        Ok(CameoObject(ctx.data::<CameoService>()?.set_approved(&c.caller, id, user, true).await.api()?))
    }

    /// The owner withdraws a member's approval.
    async fn unapprove_cameo_user(&self, ctx: &Context<'_>, cameo_id: ID, user_id: ID) -> Result<CameoObject> {
        let id = parse_id(&cameo_id, "cameoId", CameoId::parse)?;
        let user = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        Ok(CameoObject(ctx.data::<CameoService>()?.set_approved(&c.caller, id, user, false).await.api()?))
    }

    /// The owner withdraws the cameo: every video with it comes down and live jobs stop.
    async fn revoke_cameo(&self, ctx: &Context<'_>, id: ID) -> Result<CameoObject> {
        let id = parse_id(&id, "id", CameoId::parse)?;
        let c = caller(ctx)?;
        Ok(CameoObject(ctx.data::<CameoService>()?.revoke(&c.caller, id).await.api()?))
    }

    /// The owner takes one video with their cameo down (a draft is deleted, a published video removed).
    async fn remove_cameo_appearance(&self, ctx: &Context<'_>, cameo_id: ID, video_id: ID) -> Result<bool> {
        let id = parse_id(&cameo_id, "cameoId", CameoId::parse)?;
        let video = parse_id(&video_id, "videoId", VideoId::parse)?;
        let c = caller(ctx)?;
        ctx.data::<CameoService>()?.remove_appearance(&c.caller, id, video).await.api()
    }

    /// The owner approves one video's use of a cameo that requires approval before publishing.
    async fn approve_cameo_appearance(&self, ctx: &Context<'_>, cameo_id: ID, video_id: ID) -> Result<bool> {
        let id = parse_id(&cameo_id, "cameoId", CameoId::parse)?;
        let video = parse_id(&video_id, "videoId", VideoId::parse)?;
        let c = caller(ctx)?;
        ctx.data::<CameoService>()?.approve_appearance(&c.caller, id, video).await.api()
    }

    /// A moderator decides a verification: the clip must show the owner doing the challenge.
    async fn review_cameo(
        &self,
        ctx: &Context<'_>,
        id: ID,
        approve: bool,
        note: Option<String>,
    ) -> Result<CameoObject> {
        let id = parse_id(&id, "id", CameoId::parse)?;
        let c = caller(ctx)?;
        Ok(CameoObject(ctx.data::<CameoService>()?.review(&c.caller, id, approve, note.as_deref()).await.api()?))
    }
}
