//! Teen accounts and parental controls: a parent's code (`createGuardianInvite`), the teen's
//! acceptance (`acceptGuardianInvite`), the parent's controls (`setTeenControls`), unlinking,
//! the weekly activity summary, and the moderators' corrections (date of birth, maturity label);
//! every member's own wellbeing settings (`setWellbeing`, `User.wellbeing`). The rules are in
//! `domain::teens` and `domain::wellbeing`; resolvers only parse and map.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};

use super::accounts::UserObject;
use super::videos::VideoObject;
use super::{ApiResult, caller, parse_id, services};
use app_core::types::{UserId, VideoId};
use domain::model::{CameoPermission, Maturity};
use domain::teens::{Activity, ControlsChange, EffectiveControls};

/// What a linked parent changes for their teen (a field left out stays as it is).
#[derive(InputObject)]
pub struct TeenControlsInput {
    /// Minutes of feed a day (5–1440); after them `feed` answers `LIMIT_REACHED` until midnight.
    daily_feed_minutes: Option<i32>,
    /// Start of the quiet hours (`HH:MM`, the teen's time zone): no notifications from then.
    quiet_hours_start: Option<String>,
    /// End of the quiet hours (`HH:MM`).
    quiet_hours_end: Option<String>,
    /// The widest permission the teen's cameos may have (never `EVERYONE`); wider cameos are
    /// narrowed at once.
    cameo_permission: Option<CameoPermission>,
    /// Whether the teen's videos are seen beyond their mutuals and their parent.
    videos_public: Option<bool>,
}

/// A teen's controls as they apply now (the defaults filled in).
#[derive(SimpleObject)]
pub struct TeenControls {
    /// Minutes of feed a day.
    daily_feed_minutes: i32,
    /// Start of the quiet hours, `HH:MM`.
    quiet_hours_start: String,
    /// End of the quiet hours, `HH:MM`.
    quiet_hours_end: String,
    /// The widest permission the teen's cameos may have.
    cameo_permission: CameoPermission,
    /// Whether the teen's videos are seen beyond their mutuals and their parent.
    videos_public: bool,
}

impl From<EffectiveControls> for TeenControls {
    fn from(c: EffectiveControls) -> Self {
        TeenControls {
            daily_feed_minutes: i32::try_from(c.daily_feed_minutes).unwrap_or(i32::MAX),
            quiet_hours_start: c.quiet_hours.0,
            quiet_hours_end: c.quiet_hours.1,
            cameo_permission: c.cameo_permission,
            videos_public: c.videos_public,
        }
    }
}

/// A teen's last seven days, in counts only (what their parent sees; never the content).
#[derive(SimpleObject)]
pub struct TeenActivity {
    /// Videos they asked for.
    videos_created: i32,
    /// Videos they published.
    videos_published: i32,
    /// Comments they wrote.
    comments: i32,
    /// Likes they gave.
    likes: i32,
    /// Members they started following.
    follows: i32,
    /// Videos they watched.
    videos_watched: i32,
}

/// A `dailyFeedMinutes` argument: a negative number is refused like any out of range (the
/// domain checks the range).
fn daily_minutes(m: Option<i32>) -> Result<Option<u32>> {
    m.map(|m| {
        u32::try_from(m).map_err(|_| {
            super::to_gql(app_core::error::AppError::bad_input(
                "dailyFeedMinutes",
                "choose between 5 and 1440 minutes a day",
            ))
        })
    })
    .transpose()
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<Activity> for TeenActivity {
    fn from(a: Activity) -> Self {
        TeenActivity {
            videos_created: count(a.videos_created),
            videos_published: count(a.videos_published),
            comments: count(a.comments),
            likes: count(a.likes),
            follows: count(a.follows),
            videos_watched: count(a.videos_watched),
        }
    }
}

/// A member's own limit and time zone (a field left out stays as it is).
#[derive(InputObject)]
pub struct WellbeingInput {
    /// Minutes of feed a day (5–1440); after them `feed` answers `LIMIT_REACHED` until midnight.
    daily_feed_minutes: Option<i32>,
    /// True: no daily limit of one's own.
    #[graphql(default)]
    clear_daily_limit: bool,
    /// Time zone, an IANA name such as `Europe/Paris` (days and quiet hours follow it).
    time_zone: Option<String>,
}

/// A member's own wellbeing settings and today's feed time.
#[derive(SimpleObject)]
pub struct Wellbeing {
    /// Their own daily feed limit in minutes (null: none; a teen's parent's limit applies too).
    daily_feed_minutes: Option<i32>,
    /// Their time zone (null: UTC).
    time_zone: Option<String>,
    /// About how many minutes of feed today.
    minutes_today: i32,
}

/// Queries of parents.
#[derive(Default)]
pub struct TeensQuery;

#[Object]
impl TeensQuery {
    /// The teens the signed-in member is the linked parent of.
    async fn my_teens(&self, ctx: &Context<'_>) -> Result<Vec<UserObject>> {
        let c = caller(ctx)?;
        let s = services(ctx)?;
        let ids = s.teens.my_teens(&c.caller).await.api()?;
        Ok(s.accounts.users(&ids).await.api()?.into_iter().map(UserObject).collect())
    }

    /// A teen's last seven days in counts (their linked parent, moderators).
    async fn teen_activity(&self, ctx: &Context<'_>, teen_id: ID) -> Result<TeenActivity> {
        let id = parse_id(&teen_id, "teenId", UserId::parse)?;
        let c = caller(ctx)?;
        Ok(services(ctx)?.teens.activity(&c.caller, id).await.api()?.into())
    }
}

/// Mutations of teens, parents and moderators.
#[derive(Default)]
pub struct TeensMutation;

#[Object]
impl TeensMutation {
    /// The signed-in member sets their own daily feed limit and time zone; returns them.
    async fn set_wellbeing(&self, ctx: &Context<'_>, input: WellbeingInput) -> Result<UserObject> {
        let c = caller(ctx)?;
        let minutes = daily_minutes(input.daily_feed_minutes)?;
        let user = services(ctx)?
            .feed
            .set_wellbeing(&c.caller, minutes, input.clear_daily_limit, input.time_zone.as_deref())
            .await
            .api()?;
        Ok(UserObject(user))
    }

    /// An adult member makes a one-time code (valid 7 days) their teen accepts to link them.
    async fn create_guardian_invite(&self, ctx: &Context<'_>) -> Result<String> {
        let c = caller(ctx)?;
        services(ctx)?.teens.create_guardian_invite(&c.caller).await.api()
    }

    /// The teen accepts their parent's code: the parent is linked (one per teen).
    async fn accept_guardian_invite(&self, ctx: &Context<'_>, code: String) -> Result<UserObject> {
        let c = caller(ctx)?;
        Ok(UserObject(services(ctx)?.teens.accept_guardian_invite(&c.caller, &code).await.api()?))
    }

    /// The linked parent sets their teen's controls; returns the teen.
    async fn set_teen_controls(&self, ctx: &Context<'_>, teen_id: ID, input: TeenControlsInput) -> Result<UserObject> {
        let id = parse_id(&teen_id, "teenId", UserId::parse)?;
        let c = caller(ctx)?;
        let minutes = daily_minutes(input.daily_feed_minutes)?;
        let change = ControlsChange {
            daily_feed_minutes: minutes,
            quiet_start: input.quiet_hours_start,
            quiet_end: input.quiet_hours_end,
            cameo_permission: input.cameo_permission,
            videos_public: input.videos_public,
        };
        Ok(UserObject(services(ctx)?.teens.set_controls(&c.caller, id, change).await.api()?))
    }

    /// Unlinks a parent from a teen. The teen or the parent asks first and the other confirms
    /// (false until then); a moderator unlinks at once (audited). True when the link is gone.
    async fn unlink_guardian(&self, ctx: &Context<'_>, teen_id: ID, note: Option<String>) -> Result<bool> {
        let id = parse_id(&teen_id, "teenId", UserId::parse)?;
        let c = caller(ctx)?;
        services(ctx)?.teens.unlink(&c.caller, id, note.as_deref()).await.api()
    }

    /// A moderator corrects a member's date of birth (`YYYY-MM-DD`; audited).
    async fn correct_birth_date(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        birth_date: String,
        note: Option<String>,
    ) -> Result<UserObject> {
        let id = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        Ok(UserObject(
            services(ctx)?.teens.correct_birth_date(&c.caller, id, &birth_date, note.as_deref()).await.api()?,
        ))
    }

    /// A moderator changes a video's maturity label (audited); teens stop or start seeing it.
    async fn set_video_maturity(
        &self,
        ctx: &Context<'_>,
        video_id: ID,
        maturity: Maturity,
        note: Option<String>,
    ) -> Result<VideoObject> {
        let id = parse_id(&video_id, "videoId", VideoId::parse)?;
        let c = caller(ctx)?;
        Ok(VideoObject(services(ctx)?.teens.set_maturity(&c.caller, id, maturity, note.as_deref()).await.api()?))
    }
}

/// The `User` fields of age and parents (resolved through `UserObject`).
pub(crate) async fn is_teen(ctx: &Context<'_>, user: &domain::model::User) -> Result<Option<bool>> {
    let c = caller(ctx)?;
    let s = services(ctx)?;
    Ok(s.teens.may_see_age(&c.caller, user).await.api()?.then(|| s.teens.is_teen(user)))
}

/// A teen's controls, to the teen, their parent and moderators.
pub(crate) async fn controls(ctx: &Context<'_>, user: &domain::model::User) -> Result<Option<TeenControls>> {
    let c = caller(ctx)?;
    if !matches!(c.caller, domain::Caller::Member(_)) {
        return Ok(None);
    }
    Ok(services(ctx)?.teens.controls(&c.caller, user).await.api()?.map(TeenControls::from))
}

/// A teen's linked parent, to the teen, the parent and moderators.
pub(crate) async fn guardian(ctx: &Context<'_>, user: &domain::model::User) -> Result<Option<UserObject>> {
    let c = caller(ctx)?;
    if !matches!(c.caller, domain::Caller::Member(_)) {
        return Ok(None);
    }
    let Some(id) = services(ctx)?.teens.guardian(&c.caller, user.id).await.api()? else { return Ok(None) };
    super::accounts::load_user(ctx, id).await
}

/// Who asked to unlink a teen from their parent, waiting for the other side.
pub(crate) async fn unlink_requested_by(ctx: &Context<'_>, user: &domain::model::User) -> Result<Option<ID>> {
    let c = caller(ctx)?;
    if !matches!(c.caller, domain::Caller::Member(_)) {
        return Ok(None);
    }
    Ok(services(ctx)?.teens.unlink_requested_by(&c.caller, user.id).await.api()?.map(|id| ID(id.to_string())))
}

/// A member's own wellbeing settings, to the member.
pub(crate) async fn wellbeing(ctx: &Context<'_>, user: &domain::model::User) -> Result<Option<Wellbeing>> {
    let c = caller(ctx)?;
    let w = services(ctx)?.feed.wellbeing(&c.caller, user.id).await.api()?;
    Ok(w.map(|w| Wellbeing {
        daily_feed_minutes: w.daily_feed_minutes.map(|m| i32::try_from(m).unwrap_or(i32::MAX)),
        time_zone: w.time_zone,
        minutes_today: i32::try_from(w.minutes_today).unwrap_or(i32::MAX),
    }))
}
