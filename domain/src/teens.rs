//! Teen accounts and parental controls: who is a teen, what a linked parent may set, and the
//! maturity label teens are kept from.
//!
//! # Age
//!
//! Sign-up (`AccountService::sign_up`) asks for a date of birth when `Rules::age_checks` is on:
//! under 13 is refused before anything is written (the invite keeps its use); only the year and
//! month are kept ([`app_core::age`]). A member whose month says 13–17 today is a **teen**
//! ([`Deps::is_teen`], by the rules' clock); at 18 the teen rules stop applying by themselves. Only
//! a moderator can correct a date of birth ([`TeenService::correct_birth_date`], audited).
//!
//! # The teen rules (enforced here and in `consent`, `cameos`, `feed`, never in clients)
//!
//! | rule | where |
//! | --- | --- |
//! | a teen's cameo is usable only by members the teen approved **and** who are mutuals, whatever its permission; never `EVERYONE` | `consent::decide`, `Store::usable_cameos`, `CameoService::create`/`update` ([`check_teen_permission`]) |
//! | a teen approves only mutuals (an adult cannot get onto a teen's cameo by being approved alone) | `CameoService::set_approved` |
//! | teens are not shown `MATURE` videos (feeds, `video(id)`) | `feed::FeedService::visible`, `VideoService::video` |
//! | a teen whose parent turned `videosPublic` off is seen only by themselves, their mutuals and their parent | `Store::servable_by_ids`, `VideoService::video` |
//! | member search finds a teen only for themselves, their mutuals and their parent; a teen's cameos are never offered to everyone | `search::SearchService::may_find_member`, `Store::search_public_cameos` |
//! | the parent's `cameoPermission` is the widest a teen's cameos may have; setting it narrows wider ones at once | [`TeenService::set_controls`] |
//!
//! # Parents
//!
//! An adult makes a one-time code ([`TeenService::create_guardian_invite`], 7 days, digest
//! stored); the teen accepts it ([`TeenService::accept_guardian_invite`]), which links them (one
//! parent per teen). The parent then sets the daily feed minutes, quiet hours, the cameo ceiling
//! and whether the teen's videos are public ([`TeenService::set_controls`]) and sees a weekly
//! activity summary with counts only ([`TeenService::activity`]). Unlinking needs both sides (the
//! first asks, the second confirms) or a moderator ([`TeenService::unlink`], audited); what the
//! parent set goes with the link (the defaults apply again; cameos already narrowed stay so).
//!
//! # Maturity
//!
//! [`maturity_of`] labels a new video `MATURE` when a sampled frame scored at least
//! [`MATURE_FRAME_SCORE`] on the NSFW classifier (below the review threshold: such clips are
//! published for adults) or when its prompt or a shot's prompt names mature themes
//! ([`mature_text`]: horror, weapons, alcohol, smoking, gambling…). Moderators may change it
//! ([`TeenService::set_maturity`], audited); every change re-checks cached feed pages.

use std::sync::Arc;

use chrono::Utc;

use super::{Caller, Deps};
use crate::auth::secret_digest;
use crate::values::{new_invite_code, normalise_invite_code};
use app_core::age::{BirthDateError, BirthMonth, MIN_AGE, parse_birth_date};
use app_core::error::{AppError, AppResult};
use app_core::model::{AuditAction, AuditSubject, CameoPermission, Job, Maturity, Role, TeenControls, User, Video};
use app_core::types::{UserId, VideoId};

/// Frame score (NSFW probability) from which a clip is labelled `MATURE`.
pub const MATURE_FRAME_SCORE: f32 = 0.2;
/// How long a parent's code can be used.
pub const GUARDIAN_CODE_DAYS: i64 = 7;
/// Characters in a parent's code.
const GUARDIAN_CODE_LEN: usize = 12;

/// Words that make a prompt mature (matched as whole words, case-insensitively).
const MATURE_WORDS: &[&str] = &[
    "horror",
    "gore",
    "gory",
    "bloody",
    "blood",
    "corpse",
    "corpses",
    "zombie",
    "zombies",
    "demon",
    "demonic",
    "haunted",
    "slasher",
    "terrifying",
    "creepy",
    "gun",
    "guns",
    "rifle",
    "pistol",
    "shotgun",
    "weapon",
    "weapons",
    "knife",
    "knives",
    "sword",
    "swords",
    "explosion",
    "explosions",
    "bomb",
    "war",
    "battle",
    "fight",
    "fighting",
    "brawl",
    "alcohol",
    "beer",
    "wine",
    "whiskey",
    "vodka",
    "cocktail",
    "cocktails",
    "drunk",
    "bar",
    "nightclub",
    "cigarette",
    "cigarettes",
    "cigar",
    "smoking",
    "vape",
    "vaping",
    "casino",
    "gambling",
    "poker",
    "bikini",
    "lingerie",
    "kiss",
    "kissing",
    "romance",
    "romantic",
];

/// Whether `text` names a mature theme.
pub fn mature_text(text: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric()).any(|w| {
        let w = w.to_lowercase();
        MATURE_WORDS.contains(&w.as_str())
    })
}

/// The label of a new video: from its frame scores and its prompts.
pub fn maturity_of(job: Option<&Job>, frame_scores: &[f32]) -> Maturity {
    let frames = frame_scores.iter().any(|s| *s >= MATURE_FRAME_SCORE);
    let words = job.is_some_and(|j| mature_text(&j.prompt) || j.shots.iter().any(|s| mature_text(&s.prompt)));
    if frames || words { Maturity::Mature } else { Maturity::General }
}

/// The widest permission a teen's cameo may have: the parent's ceiling, else `MUTUALS` (every
/// permission but `EVERYONE`; for a teen each means "approved and mutual").
pub fn teen_cameo_ceiling(controls: &TeenControls) -> CameoPermission {
    controls.cameo_permission.unwrap_or(CameoPermission::Mutuals)
}

fn width(p: CameoPermission) -> u8 {
    match p {
        CameoPermission::OnlyMe => 0,
        CameoPermission::Approved => 1,
        CameoPermission::Mutuals => 2,
        CameoPermission::Everyone => 3,
    }
}

/// `BAD_USER_INPUT` when a teen's cameo would get a permission wider than `ceiling`.
pub fn check_teen_permission(p: CameoPermission, ceiling: CameoPermission) -> AppResult<()> {
    if p == CameoPermission::Everyone {
        return Err(AppError::bad_input("permission", "a teen account's cameo cannot be open to everyone"));
    }
    if width(p) > width(ceiling) {
        return Err(AppError::bad_input(
            "permission",
            format!("your parent allows at most {} for your cameos", permission_words(ceiling)),
        ));
    }
    Ok(())
}

fn permission_words(p: CameoPermission) -> &'static str {
    match p {
        CameoPermission::OnlyMe => "only you",
        CameoPermission::Approved => "members you approve",
        CameoPermission::Mutuals => "mutuals you approve",
        CameoPermission::Everyone => "everyone",
    }
}

/// Reads a typed date of birth; `BAD_USER_INPUT` on `field` in words a person understands.
pub fn birth_date(field: &'static str, raw: &str, today: chrono::NaiveDate) -> AppResult<(BirthMonth, u32)> {
    parse_birth_date(raw, today).map_err(|e| match e {
        BirthDateError::Malformed => AppError::bad_input(field, "enter the date of birth as YYYY-MM-DD"),
        BirthDateError::Implausible => AppError::bad_input(field, "this date of birth is not possible"),
    })
}

/// Reads `HH:MM` (24-hour).
pub(crate) fn clock_time(field: &'static str, raw: &str) -> AppResult<String> {
    let t = chrono::NaiveTime::parse_from_str(raw.trim(), "%H:%M")
        .map_err(|_| AppError::bad_input(field, "enter a time as HH:MM, from 00:00 to 23:59"))?;
    Ok(t.format("%H:%M").to_string())
}

/// What a parent changes (none: left as it is).
#[derive(Debug, Clone, Default)]
pub struct ControlsChange {
    /// Minutes of feed a day (5–1440).
    pub daily_feed_minutes: Option<u32>,
    /// Start of the quiet hours, `HH:MM`.
    pub quiet_start: Option<String>,
    /// End of the quiet hours, `HH:MM`.
    pub quiet_end: Option<String>,
    /// The widest permission the teen's cameos may have.
    pub cameo_permission: Option<CameoPermission>,
    /// Whether the teen's videos are public.
    pub videos_public: Option<bool>,
}

/// A teen's controls as they apply: what the parent set, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveControls {
    /// Minutes of feed a day.
    pub daily_feed_minutes: u32,
    /// Quiet hours, `HH:MM` to `HH:MM` in the teen's time zone.
    pub quiet_hours: (String, String),
    /// The widest permission the teen's cameos may have.
    pub cameo_permission: CameoPermission,
    /// Whether the teen's videos are public.
    pub videos_public: bool,
}

/// Default quiet hours for teens: no notifications between these (the teen's time zone).
pub const DEFAULT_QUIET_HOURS: (&str, &str) = ("22:00", "07:00");

/// A teen's quiet hours as they apply: the parent's, or [`DEFAULT_QUIET_HOURS`].
pub fn quiet_hours_of(c: &TeenControls) -> (String, String) {
    match (&c.quiet_start, &c.quiet_end) {
        (Some(s), Some(e)) => (s.clone(), e.clone()),
        _ => (DEFAULT_QUIET_HOURS.0.to_owned(), DEFAULT_QUIET_HOURS.1.to_owned()),
    }
}

/// A teen's week, in counts only (what their parent sees).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Activity {
    /// Videos they asked for.
    pub videos_created: u64,
    /// Videos they published.
    pub videos_published: u64,
    /// Comments they wrote.
    pub comments: u64,
    /// Likes they gave.
    pub likes: u64,
    /// Members they started following.
    pub follows: u64,
    /// Videos they watched.
    pub videos_watched: u64,
}

/// Teen accounts, parents and maturity.
#[derive(Clone)]
pub struct TeenService {
    deps: Arc<Deps>,
    meter: crate::wellbeing::Meter,
}

impl TeenService {
    /// Over the shared dependencies.
    pub fn new(deps: Arc<Deps>, meter: crate::wellbeing::Meter) -> Self {
        Self { deps, meter }
    }

    /// Whether `user` is a teen account today.
    pub fn is_teen(&self, user: &User) -> bool {
        self.deps.is_teen(user)
    }

    /// Whether the caller may know `user`'s age band (the member, their linked parent, admins).
    pub async fn may_see_age(&self, caller: &Caller, user: &User) -> AppResult<bool> {
        let Some(v) = caller.optional()? else { return Ok(false) };
        if v.user.id == user.id || v.user.role >= Role::Admin {
            return Ok(true);
        }
        Ok(self.deps.store.guardian_link(user.id).await?.is_some_and(|l| l.parent_id == v.user.id))
    }

    /// A one-time code an adult gives their teen to link them (valid for 7 days).
    pub async fn create_guardian_invite(&self, caller: &Caller) -> AppResult<String> {
        let v = caller.require()?;
        if self.deps.is_teen(&v.user) {
            return Err(AppError::Forbidden("a teen account cannot be a parent".into()));
        }
        let code = new_invite_code(GUARDIAN_CODE_LEN);
        let expires = Utc::now() + chrono::Duration::days(GUARDIAN_CODE_DAYS);
        self.deps.store.insert_guardian_invite(v.user.id, &secret_digest(&code), expires).await?;
        tracing::info!(parent = %v.user.id, "guardian code made");
        Ok(code)
    }

    /// The teen accepts their parent's code: they are linked (one parent per teen).
    pub async fn accept_guardian_invite(&self, caller: &Caller, code: &str) -> AppResult<User> {
        let v = caller.require()?;
        if !self.deps.is_teen(&v.user) {
            return Err(AppError::Forbidden("only a teen account can accept a parent's code".into()));
        }
        let invalid =
            || AppError::bad_input("code", "this code is unknown, used or expired; ask your parent for a new one");
        let code = normalise_invite_code(code).ok_or_else(invalid)?;
        let digest = secret_digest(&code);
        let parent_id = self.deps.store.guardian_invite_parent(&digest).await?.ok_or_else(invalid)?;
        if parent_id == v.user.id {
            return Err(invalid());
        }
        let parent = self.deps.store.user(parent_id).await?.ok_or_else(invalid)?;
        if parent.is_banned() || self.deps.is_teen(&parent) {
            return Err(invalid());
        }
        // One unit of work: the code used and the link made, or neither.
        let tx = self.deps.store.begin().await?;
        if !tx.use_guardian_invite(&digest).await? {
            return Err(invalid());
        }
        if !tx.link_guardian(v.user.id, parent_id).await? {
            return Err(AppError::Conflict("your account is linked to a parent already".into()));
        }
        tx.commit().await?;
        tracing::info!(teen = %v.user.id, parent = %parent_id, "parent linked");
        Ok(v.user.clone())
    }

    /// The linked parent's id, to the teen, the parent and moderators.
    pub async fn guardian(&self, caller: &Caller, teen: UserId) -> AppResult<Option<UserId>> {
        let v = caller.require()?;
        let link = self.deps.store.guardian_link(teen).await?;
        Ok(link
            .filter(|l| v.user.id == teen || v.user.id == l.parent_id || v.user.role >= Role::Moderator)
            .map(|l| l.parent_id))
    }

    /// Who asked to unlink, to the teen, the parent and moderators.
    pub async fn unlink_requested_by(&self, caller: &Caller, teen: UserId) -> AppResult<Option<UserId>> {
        let v = caller.require()?;
        let link = self.deps.store.guardian_link(teen).await?;
        Ok(link
            .filter(|l| v.user.id == teen || v.user.id == l.parent_id || v.user.role >= Role::Moderator)
            .and_then(|l| l.unlink_requested_by))
    }

    /// The teens the caller is the parent of.
    pub async fn my_teens(&self, caller: &Caller) -> AppResult<Vec<UserId>> {
        let v = caller.require()?;
        Ok(self.deps.store.guarded_teens(v.user.id).await?.into_iter().map(|l| l.teen_id).collect())
    }

    async fn as_parent(&self, caller: &Caller, teen: UserId) -> AppResult<(UserId, User)> {
        let v = caller.require()?;
        let link = self.deps.store.guardian_link(teen).await?;
        if link.is_none_or(|l| l.parent_id != v.user.id) {
            return Err(AppError::Forbidden("only the teen's linked parent can do this".into()));
        }
        let teen = self.deps.store.user(teen).await?.ok_or(AppError::NotFound("user"))?;
        if !self.deps.is_teen(&teen) {
            return Err(AppError::Conflict("this member is an adult now; parental controls no longer apply".into()));
        }
        Ok((v.user.id, teen))
    }

    /// The parent changes the teen's controls; a narrower cameo ceiling narrows the teen's
    /// cameos at once, and a change of `videosPublic` re-checks every cached feed page.
    pub async fn set_controls(&self, caller: &Caller, teen: UserId, change: ControlsChange) -> AppResult<User> {
        let (parent, teen) = self.as_parent(caller, teen).await?;
        if let Some(m) = change.daily_feed_minutes
            && !(5..=1440).contains(&m)
        {
            return Err(AppError::bad_input("dailyFeedMinutes", "choose between 5 and 1440 minutes a day"));
        }
        let quiet_start = change.quiet_start.as_deref().map(|s| clock_time("quietHoursStart", s)).transpose()?;
        let quiet_end = change.quiet_end.as_deref().map(|s| clock_time("quietHoursEnd", s)).transpose()?;
        if change.cameo_permission == Some(CameoPermission::Everyone) {
            return Err(AppError::bad_input("cameoPermission", "a teen account's cameo cannot be open to everyone"));
        }
        let tx = self.deps.store.begin().await?;
        let before = tx.teen_controls(teen.id).await?;
        let mut after = before.clone();
        if let Some(m) = change.daily_feed_minutes {
            after.daily_feed_minutes = Some(m);
        }
        if quiet_start.is_some() {
            after.quiet_start = quiet_start;
        }
        if quiet_end.is_some() {
            after.quiet_end = quiet_end;
        }
        if let Some(p) = change.cameo_permission {
            after.cameo_permission = Some(p);
        }
        if let Some(p) = change.videos_public {
            after.videos_public = p;
        }
        if after.quiet_start.is_some() != after.quiet_end.is_some() {
            return Err(AppError::bad_input("quietHoursStart", "set both the start and the end of the quiet hours"));
        }
        tx.put_teen_controls(teen.id, &after, parent).await?;
        let ceiling = teen_cameo_ceiling(&after);
        let wider: Vec<CameoPermission> =
            [CameoPermission::Approved, CameoPermission::Mutuals, CameoPermission::Everyone]
                .into_iter()
                .filter(|p| width(*p) > width(ceiling))
                .collect();
        let narrowed = tx.narrow_cameos(teen.id, ceiling, &wider).await?;
        tx.commit().await?;
        tracing::info!(teen = %teen.id, parent = %parent, narrowed, "teen controls changed");
        self.meter.limits_changed(teen.id);
        if before.videos_public != after.videos_public {
            super::feed::content_withdrawn(&self.deps).await;
        }
        Ok(teen)
    }

    /// The teen's controls as they apply now, to the teen, their parent and moderators; none
    /// for an adult.
    pub async fn controls(&self, caller: &Caller, user: &User) -> AppResult<Option<EffectiveControls>> {
        let v = caller.require()?;
        if !self.deps.is_teen(user) {
            return Ok(None);
        }
        let allowed = v.user.id == user.id
            || v.user.role >= Role::Moderator
            || self.deps.store.guardian_link(user.id).await?.is_some_and(|l| l.parent_id == v.user.id);
        if !allowed {
            return Ok(None);
        }
        let c = self.deps.store.teen_controls(user.id).await?;
        Ok(Some(self.effective(&c)))
    }

    /// `c` with the defaults filled in.
    pub fn effective(&self, c: &TeenControls) -> EffectiveControls {
        EffectiveControls {
            daily_feed_minutes: c.daily_feed_minutes.unwrap_or(self.deps.rules.teen_daily_feed_minutes),
            quiet_hours: quiet_hours_of(c),
            cameo_permission: teen_cameo_ceiling(c),
            videos_public: c.videos_public,
        }
    }

    /// The teen's last seven days in counts, to their parent (and moderators).
    pub async fn activity(&self, caller: &Caller, teen: UserId) -> AppResult<Activity> {
        let v = caller.require()?;
        let link = self.deps.store.guardian_link(teen).await?;
        if !(link.is_some_and(|l| l.parent_id == v.user.id) || v.user.role >= Role::Moderator) {
            return Err(AppError::Forbidden("only the teen's linked parent can see this".into()));
        }
        let since = self.deps.clock.now() - chrono::Duration::days(7);
        let a = self.deps.store.activity_since(teen, since).await?;
        Ok(Activity {
            videos_created: a.jobs,
            videos_published: a.published,
            comments: a.comments,
            likes: a.likes,
            follows: a.follows,
            videos_watched: a.views,
        })
    }

    /// Unlinks a parent from a teen. A moderator unlinks at once; otherwise the first side asks
    /// and the other side's call unlinks. True when the link is gone now, false when it waits for
    /// the other side.
    pub async fn unlink(&self, caller: &Caller, teen: UserId, note: Option<&str>) -> AppResult<bool> {
        let v = caller.require()?;
        let link = self.deps.store.guardian_link(teen).await?.ok_or(AppError::NotFound("parent link"))?;
        let side = v.user.id == link.teen_id || v.user.id == link.parent_id;
        let moderator = v.user.role >= Role::Moderator;
        if !side && !moderator {
            return Err(AppError::NotFound("parent link"));
        }
        // One side unlinks when the other asked already (or once the teen is an adult: then
        // either side alone); a moderator who is neither, at once.
        let grown = match self.deps.store.user(teen).await? {
            Some(u) => !self.deps.is_teen(&u),
            None => true,
        };
        let agreed = side && (grown || link.unlink_requested_by.is_some_and(|by| by != v.user.id));
        if side && !agreed {
            self.deps.store.request_unlink(teen, v.user.id).await?;
            return Ok(false);
        }
        let tx = self.deps.store.begin().await?;
        if !tx.unlink_guardian(teen).await? {
            return Err(AppError::NotFound("parent link"));
        }
        let why = match (agreed, grown) {
            (true, true) => "the teen is an adult now",
            (true, false) => "both sides agreed",
            (false, _) => note.unwrap_or("unlinked by a moderator"),
        };
        tx.record_audit(
            Some(v.user.id),
            AuditAction::GuardianUnlink,
            Some((AuditSubject::User, teen.to_string())),
            Some(why),
        )
        .await?;
        tx.commit().await?;
        // The parent's settings went with the link: the defaults apply again.
        self.meter.limits_changed(teen);
        super::feed::content_withdrawn(&self.deps).await;
        Ok(true)
    }

    /// A moderator corrects a member's date of birth (audited). A date under 13 is refused: ban
    /// the account instead.
    pub async fn correct_birth_date(
        &self,
        caller: &Caller,
        user: UserId,
        raw: &str,
        note: Option<&str>,
    ) -> AppResult<User> {
        let v = caller.require_role(Role::Moderator)?;
        let (month, age) = birth_date("birthDate", raw, self.deps.today())?;
        if age < MIN_AGE {
            return Err(AppError::bad_input("birthDate", "this member would be under 13; ban the account instead"));
        }
        let tx = self.deps.store.begin().await?;
        let before = tx.user(user).await?.ok_or(AppError::NotFound("user"))?;
        tx.set_birth_month(user, Some(month)).await?;
        let from = before.birth_month.map(BirthMonth::as_string).unwrap_or_else(|| "none".into());
        let what = format!("{from} -> {}{}", month.as_string(), note.map(|n| format!(": {n}")).unwrap_or_default());
        tx.record_audit(
            Some(v.user.id),
            AuditAction::UserSetBirthDate,
            Some((AuditSubject::User, user.to_string())),
            Some(&what),
        )
        .await?;
        let after = tx.user(user).await?.ok_or(AppError::NotFound("user"))?;
        tx.commit().await?;
        // Age decides what a member's feeds show, and who sees their videos.
        super::feed::viewers_changed(&self.deps, &[user]).await;
        super::feed::content_withdrawn(&self.deps).await;
        self.meter.limits_changed(user);
        Ok(after)
    }

    /// A moderator changes a video's maturity label (audited); cached feed pages are re-checked.
    pub async fn set_maturity(
        &self,
        caller: &Caller,
        video: VideoId,
        m: Maturity,
        note: Option<&str>,
    ) -> AppResult<Video> {
        let v = caller.require_role(Role::Moderator)?;
        let tx = self.deps.store.begin().await?;
        if !tx.set_maturity(video, m).await? {
            return Err(AppError::NotFound("video"));
        }
        let what = format!("{}{}", m.as_str(), note.map(|n| format!(": {n}")).unwrap_or_default());
        tx.record_audit(
            Some(v.user.id),
            AuditAction::VideoSetMaturity,
            Some((AuditSubject::Video, video.to_string())),
            Some(&what),
        )
        .await?;
        tx.commit().await?;
        super::feed::content_withdrawn(&self.deps).await;
        self.deps.store.video(video).await?.ok_or(AppError::NotFound("video"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mature_words_are_whole_words() {
        assert!(mature_text("A haunted house at midnight"));
        assert!(mature_text("two friends drink BEER on a porch"));
        assert!(!mature_text("a birthday party in the park"));
        assert!(!mature_text("a barn full of hay"), "bar inside barn is not the word bar");
        assert!(!mature_text("a warm day"), "war inside warm");
    }

    #[test]
    fn frames_or_words_make_it_mature() {
        assert_eq!(maturity_of(None, &[0.05, 0.1]), Maturity::General);
        assert_eq!(maturity_of(None, &[0.05, 0.25]), Maturity::Mature);
    }

    #[test]
    fn a_teen_cameo_is_never_open_to_everyone() {
        let default = TeenControls::default();
        assert_eq!(teen_cameo_ceiling(&default), CameoPermission::Mutuals);
        assert!(check_teen_permission(CameoPermission::Everyone, CameoPermission::Mutuals).is_err());
        assert!(check_teen_permission(CameoPermission::Mutuals, CameoPermission::Mutuals).is_ok());
        assert!(check_teen_permission(CameoPermission::Mutuals, CameoPermission::Approved).is_err());
        assert!(check_teen_permission(CameoPermission::OnlyMe, CameoPermission::OnlyMe).is_ok());
    }

    #[test]
    fn quiet_hours_read_as_clock_times() {
        assert_eq!(clock_time("q", " 7:05 ").unwrap(), "07:05");
        assert!(clock_time("q", "24:00").is_err());
        assert!(clock_time("q", "evening").is_err());
    }
}
