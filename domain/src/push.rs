//! Notifications that reach phones and browsers: devices, per-kind settings, quiet hours, the
//! push worker over the outbox, and the weekly email digest for members without a device.
//!
//! The outbox is the `notifications` table (see `store::push`): every notification is written
//! with the event that causes it, in its transaction, and marked `PENDING` when the member has a
//! device. [`PushService::run_worker`] claims due entries under a lease
//! ([`PushSettings::lease`]), and for each device records the delivery (with its idempotency
//! key) before sending it through [`::push::Channels`]. Outcomes:
//!
//! | provider answer | what happens |
//! | --- | --- |
//! | accepted | delivery `DELIVERED`, device's last success set |
//! | dead token (APNs 410, FCM `UNREGISTERED`, Web Push 404/410) | device removed |
//! | 429 / 5xx / network | entry due again after `Retry-After`, else back-off (30 s × 2ⁿ, ≤ 1 h); `FAILED` after [`MAX_ATTEMPTS`] |
//! | refused for good | delivery `REJECTED` |
//!
//! Invariants: a worker that dies mid-send leaves its delivery `SENDING`; the entry's lease
//! expires and the next worker sends it again **with the same key** (APNs `apns-id` and
//! `apns-collapse-id`, FCM collapse keys, Web Push `Topic` and the service worker's `tag`), so a
//! repeat replaces what the device shows instead of adding to it. Quiet hours are applied at
//! delivery, in the member's time zone ([`quiet_until`]): a teen's are the parent's, or
//! 22:00–07:00; anyone may set their own; the entry waits until the window ends. Kinds the member
//! turned off are `SKIPPED`; likes are never pushed one by one: a member with a device gets one
//! `likes.digest` a day ([`PushService::send_likes_digests`]), one without, the weekly email.
//! The worker's time is the rules' clock (`Deps::clock`), so tests move it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{Caller, Deps};
use app_core::error::{AppError, AppResult};
use app_core::model::{Notification, NotificationKind, NotificationSettings, PushDevice, PushPlatform};
use store::push::{DeliveryState, PushState};

/// Tries of one entry before it is `FAILED`.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a provider may hold a push for an offline device.
const PUSH_TTL: Duration = Duration::from_secs(24 * 3600);
/// Entries one worker round takes.
const BATCH: u64 = 32;

/// The worker's timing.
#[derive(Debug, Clone, Copy)]
pub struct PushSettings {
    /// How long a claimed entry is held before another worker may take it over.
    pub lease: Duration,
    /// How often the worker looks for due entries.
    pub poll: Duration,
    /// How often the digest is sent to a member without a device.
    pub digest_every: Duration,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            digest_every: Duration::from_secs(7 * 86400),
        }
    }
}

/// What a member changes in their settings (none: left as it is).
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// Video ready.
    pub video_ready: Option<bool>,
    /// Cameo used.
    pub cameo_used: Option<bool>,
    /// Comments.
    pub comments: Option<bool>,
    /// Remixes.
    pub remixes: Option<bool>,
    /// Follows.
    pub follows: Option<bool>,
    /// Likes in the digest.
    pub likes_digest: Option<bool>,
    /// Moderation decisions.
    pub moderation: Option<bool>,
    /// The weekly email digest.
    pub email_digest: Option<bool>,
    /// Quiet hours start, `HH:MM`.
    pub quiet_start: Option<String>,
    /// Quiet hours end, `HH:MM`.
    pub quiet_end: Option<String>,
    /// Remove the quiet hours.
    pub clear_quiet_hours: bool,
}

/// What the push service is built from.
#[derive(Clone)]
pub struct PushWiring {
    /// The configured channels.
    pub channels: Arc<::push::Channels>,
    /// The worker's timing.
    pub settings: PushSettings,
}

/// Devices, settings, the push worker and the digest.
#[derive(Clone)]
pub struct PushService {
    deps: Arc<Deps>,
    channels: Arc<::push::Channels>,
    settings: PushSettings,
}

/// What a kind of notification is filed under in the settings; `None`: never pushed alone.
pub fn category(kind: NotificationKind, s: &NotificationSettings) -> Option<bool> {
    use NotificationKind as K;
    match kind {
        K::VideoReady => Some(s.video_ready),
        K::CameoUsed => Some(s.cameo_used),
        K::VideoComment => Some(s.comments),
        K::VideoRemixed => Some(s.remixes),
        K::UserFollowed => Some(s.follows),
        K::VideoLiked => None,
        K::LikesDigest => Some(s.likes_digest),
        K::VideoInReview
        | K::VideoApproved
        | K::VideoRemoved
        | K::VideoDeleted
        | K::AppealUpheld
        | K::CommentRemoved
        | K::CameoApproved
        | K::CameoRejected
        | K::JobCancelled => Some(s.moderation),
    }
}

/// The title line of a push.
fn title(kind: NotificationKind) -> &'static str {
    use NotificationKind as K;
    match kind {
        K::VideoReady => "Your video is ready",
        K::CameoUsed => "Your cameo was used",
        K::VideoComment => "New comment",
        K::VideoRemixed => "New remix of your video",
        K::UserFollowed => "New follower",
        K::VideoLiked => "New like",
        K::LikesDigest => "Likes on your videos",
        K::VideoInReview => "Your video is being reviewed",
        K::VideoApproved => "Your video was approved",
        K::VideoRemoved => "Your video was taken down",
        K::VideoDeleted => "Your draft was deleted",
        K::AppealUpheld => "Your appeal was decided",
        K::CommentRemoved => "Your comment was taken down",
        K::CameoApproved => "Your cameo is verified",
        K::CameoRejected => "Your cameo was not accepted",
        K::JobCancelled => "Your video was stopped",
    }
}

/// The web client's path a push opens.
fn path_of(n: &Notification) -> Option<String> {
    match (n.kind, n.video_id) {
        (NotificationKind::VideoReady, _) => Some("/drafts".to_owned()),
        (NotificationKind::CameoApproved | NotificationKind::CameoRejected, _) => Some("/cameos".to_owned()),
        (NotificationKind::LikesDigest, _) => Some("/notifications".to_owned()),
        (_, Some(v)) => Some(format!("/v/{v}")),
        _ => Some("/notifications".to_owned()),
    }
}

fn clock(raw: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(raw, "%H:%M").ok()
}

/// When the quiet hours covering `now` end, in `tz`; none when no window covers it. A window
/// `start`–`end` wraps past midnight when `end` ≤ `start`; of several covering windows the latest
/// end wins. A local time a daylight-saving change skips is read as the first instant after it.
pub fn quiet_until(now: DateTime<Utc>, tz: Tz, windows: &[(NaiveTime, NaiveTime)]) -> Option<DateTime<Utc>> {
    let local = now.with_timezone(&tz);
    let t = local.time();
    let today = local.date_naive();
    let mut until: Option<DateTime<Utc>> = None;
    for &(start, end) in windows {
        if start == end {
            continue;
        }
        let end_day = if start < end {
            (t >= start && t < end).then_some(today)
        } else if t >= start {
            today.succ_opt()
        } else if t < end {
            Some(today)
        } else {
            None
        };
        let Some(day) = end_day else { continue };
        let naive = day.and_time(end);
        let at = match tz.from_local_datetime(&naive) {
            chrono::LocalResult::Single(a) => a.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
            chrono::LocalResult::None => tz
                .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
                .map(|a| a.with_timezone(&Utc))
                .unwrap_or(now + chrono::Duration::hours(1)),
        };
        until = Some(until.map_or(at, |u| u.max(at)));
    }
    until
}

/// Back-off before try `attempts + 1`: 30 s × 2ⁿ, at most an hour, with up to 10 % jitter.
fn backoff(attempts: i32) -> Duration {
    let base = 30u64.saturating_mul(1u64 << attempts.clamp(0, 7));
    let secs = base.min(3600);
    let jitter = rand::random::<f64>() * 0.1;
    Duration::from_secs_f64(secs as f64 * (1.0 + jitter))
}

/// A readable name for a device.
fn label(platform: PushPlatform, token: &str) -> String {
    match platform {
        PushPlatform::Ios => "iPhone or iPad".to_owned(),
        PushPlatform::Android => "Android".to_owned(),
        PushPlatform::Web => {
            let endpoint = serde_json::from_str::<serde_json::Value>(token)
                .ok()
                .and_then(|v| v.get("endpoint").and_then(|e| e.as_str()).map(str::to_owned))
                .unwrap_or_default();
            let host = endpoint.split("://").nth(1).and_then(|r| r.split(['/', ':']).next()).unwrap_or("");
            if host.ends_with("mozilla.com") {
                "Firefox".to_owned()
            } else if host.ends_with("push.apple.com") {
                "Safari".to_owned()
            } else if host.ends_with("googleapis.com") {
                "Chrome".to_owned()
            } else if host.ends_with("notify.windows.com") {
                "Edge".to_owned()
            } else {
                "Browser".to_owned()
            }
        }
    }
}

fn duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1))
}

impl PushService {
    /// The service over `channels`.
    pub fn new(deps: Arc<Deps>, channels: Arc<::push::Channels>, settings: PushSettings) -> Self {
        Self { deps, channels, settings }
    }

    /// Each platform's channel: on, or off and why.
    pub fn channels(&self) -> Vec<(PushPlatform, Result<(), String>)> {
        self.channels.describe()
    }

    /// The VAPID public key browsers subscribe with; none when Web Push is off.
    pub fn web_public_key(&self) -> Option<String> {
        self.channels.web_public_key()
    }

    /// Registers the caller's device (moving the token from whoever had it).
    pub async fn register(&self, caller: &Caller, platform: PushPlatform, token: &str) -> AppResult<PushDevice> {
        let v = caller.require()?;
        let token = token.trim();
        if token.is_empty() || token.len() > 4096 {
            return Err(AppError::bad_input("token", "the device token is empty or too long"));
        }
        if !self.channels.is_on(platform) {
            return Err(AppError::bad_input(
                "platform",
                format!("push notifications to {} are not set up on this server", platform_words(platform)),
            ));
        }
        self.channels.check_token(platform, token).map_err(|m| AppError::bad_input("token", m))?;
        let device = self.deps.store.register_push_device(v.user.id, platform, token, &label(platform, token)).await?;
        tracing::info!(user = %v.user.id, platform = platform.as_str(), "push device registered");
        Ok(device)
    }

    /// Removes the caller's device with `token`; false when they had none.
    pub async fn unregister(&self, caller: &Caller, token: &str) -> AppResult<bool> {
        let v = caller.require()?;
        self.deps.store.unregister_push_device(v.user.id, token.trim()).await
    }

    /// The caller's settings and devices.
    pub async fn settings(&self, caller: &Caller) -> AppResult<(NotificationSettings, Vec<PushDevice>)> {
        let v = caller.require()?;
        let s = self.deps.store.notification_settings(v.user.id).await?;
        let d = self.deps.store.push_devices(v.user.id).await?;
        Ok((s, d))
    }

    /// Changes the caller's settings.
    pub async fn set_settings(
        &self,
        caller: &Caller,
        change: SettingsChange,
    ) -> AppResult<(NotificationSettings, Vec<PushDevice>)> {
        let v = caller.require()?;
        let mut s = self.deps.store.notification_settings(v.user.id).await?;
        let set = |slot: &mut bool, value: Option<bool>| {
            if let Some(x) = value {
                *slot = x;
            }
        };
        set(&mut s.video_ready, change.video_ready);
        set(&mut s.cameo_used, change.cameo_used);
        set(&mut s.comments, change.comments);
        set(&mut s.remixes, change.remixes);
        set(&mut s.follows, change.follows);
        set(&mut s.likes_digest, change.likes_digest);
        set(&mut s.moderation, change.moderation);
        set(&mut s.email_digest, change.email_digest);
        match (change.clear_quiet_hours, change.quiet_start, change.quiet_end) {
            (true, None, None) => s.quiet_hours = None,
            (true, _, _) => {
                return Err(AppError::bad_input("clearQuietHours", "clear the quiet hours or set them, not both"));
            }
            (false, Some(a), Some(b)) => {
                let a = crate::teens::clock_time("quietHoursStart", &a)?;
                let b = crate::teens::clock_time("quietHoursEnd", &b)?;
                if a == b {
                    return Err(AppError::bad_input(
                        "quietHoursEnd",
                        "quiet hours must end at another time than they start",
                    ));
                }
                s.quiet_hours = Some((a, b));
            }
            (false, None, None) => {}
            (false, _, _) => {
                return Err(AppError::bad_input(
                    "quietHoursStart",
                    "set both the start and the end of the quiet hours",
                ));
            }
        }
        self.deps.store.set_notification_settings(v.user.id, &s).await?;
        let d = self.deps.store.push_devices(v.user.id).await?;
        Ok((s, d))
    }

    /// The quiet-hour windows that apply to `user`: their own, and for a teen the parent's (or
    /// the default).
    async fn quiet_windows(
        &self,
        user: &app_core::model::User,
        own: &NotificationSettings,
    ) -> AppResult<Vec<(NaiveTime, NaiveTime)>> {
        let mut w = Vec::new();
        if let Some((a, b)) = &own.quiet_hours
            && let (Some(a), Some(b)) = (clock(a), clock(b))
        {
            w.push((a, b));
        }
        if self.deps.is_teen(user) {
            let (a, b) = crate::teens::quiet_hours_of(&self.deps.store.teen_controls(user.id).await?);
            if let (Some(a), Some(b)) = (clock(&a), clock(&b)) {
                w.push((a, b));
            }
        }
        Ok(w)
    }

    /// Sends what is due: one round of the worker (answers how many entries it handled).
    pub async fn deliver_due(&self) -> AppResult<usize> {
        let now = self.deps.clock.now();
        let due = self.deps.store.due_pushes(now, BATCH).await?;
        let mut handled = 0;
        for id in due {
            let now = self.deps.clock.now();
            let Some(claim) = self.deps.store.claim_push(id, now, now + duration(self.settings.lease)).await? else {
                continue;
            };
            self.deliver(claim).await?;
            handled += 1;
        }
        Ok(handled)
    }

    async fn deliver(&self, claim: store::push::ClaimedPush) -> AppResult<()> {
        let store = &self.deps.store;
        let n = &claim.notification;
        let Some(user) = store.user(claim.user_id).await? else {
            return store.finish_push(n.id, PushState::Skipped).await;
        };
        let settings = store.notification_settings(user.id).await?;
        if user.is_banned() || category(n.kind, &settings) != Some(true) {
            return store.finish_push(n.id, PushState::Skipped).await;
        }
        let now = self.deps.clock.now();
        let tz = crate::wellbeing::time_zone(user.time_zone.as_deref());
        if let Some(until) = quiet_until(now, tz, &self.quiet_windows(&user, &settings).await?) {
            tracing::debug!(notification = %n.id, until = %until, "push held for quiet hours");
            return store.defer_push(n.id, until, false).await;
        }
        let mut retry: Option<Option<Duration>> = None;
        for d in store.push_device_tokens(user.id).await? {
            if !self.channels.is_on(d.device.platform) {
                continue;
            }
            let (key, state) = store.start_delivery(n.id, d.device.id).await?;
            if state != DeliveryState::Sending {
                continue;
            }
            let msg = ::push::Message {
                key: key.to_string(),
                kind: n.kind.as_str().to_owned(),
                title: title(n.kind).to_owned(),
                body: n.message.clone(),
                path: path_of(n),
                ttl: PUSH_TTL,
            };
            let outcome = self.channels.send(d.device.platform, &d.token, &msg).await;
            self.deps.telemetry.push_sent(d.device.platform.as_str(), outcome_name(&outcome));
            match outcome {
                ::push::Outcome::Delivered => store.end_delivery(n.id, d.device.id, DeliveryState::Delivered).await?,
                ::push::Outcome::Gone { reason } => {
                    tracing::info!(device = %d.device.id, %reason, "push token is dead; device removed");
                    store.remove_push_device(d.device.id).await?;
                }
                ::push::Outcome::Rejected { reason } => {
                    tracing::warn!(device = %d.device.id, %reason, "push refused by the provider");
                    store.end_delivery(n.id, d.device.id, DeliveryState::Rejected).await?;
                }
                ::push::Outcome::Retry { after, reason } => {
                    tracing::info!(device = %d.device.id, %reason, "push to be retried");
                    let longest = match (retry.flatten(), after) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                    retry = Some(longest);
                }
            }
        }
        match retry {
            None => store.finish_push(n.id, PushState::Done).await,
            Some(_) if claim.attempts + 1 >= MAX_ATTEMPTS => {
                tracing::warn!(notification = %n.id, "push given up after the last retry");
                store.finish_push(n.id, PushState::Failed).await
            }
            Some(after) => {
                let wait = after.unwrap_or_else(|| backoff(claim.attempts));
                store.defer_push(n.id, self.deps.clock.now() + duration(wait), true).await
            }
        }
    }

    /// Runs the push worker for as long as the process lives (a failed round is logged and tried
    /// again at the next poll).
    pub async fn run_worker(self) {
        let mut tick = tokio::time::interval(self.settings.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match self.deliver_due().await {
                    Ok(n) if n as u64 >= BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "push round failed; trying again");
                        break;
                    }
                }
            }
        }
    }

    /// Sends the weekly digests that are due (answers how many went out). A member with nothing
    /// new since their last digest (or since joining) is marked done for the period, unmailed.
    pub async fn send_digests(&self) -> AppResult<usize> {
        const ROUND: u64 = 200;
        let store = &self.deps.store;
        let every = duration(self.settings.digest_every);
        let mut sent = 0;
        loop {
            let now = self.deps.clock.now();
            let due = store.digests_due(now, every, ROUND).await?;
            for &user_id in &due {
                let Some(previous) = store.claim_digest(user_id, now, now - every).await? else { continue };
                let Some(user) = store.user(user_id).await? else { continue };
                let settings = store.notification_settings(user_id).await?;
                let since = previous.unwrap_or(user.created_at);
                let items = store.notifications_since(user_id, since, 200).await?;
                let Some(mail) = digest_mail(&self.deps, &user, &settings, &items)? else { continue };
                if let Err(e) = self.deps.mail.send(mail).await {
                    tracing::warn!(error = %e, user = %user_id, "digest mail not sent");
                    continue;
                }
                sent += 1;
            }
            if (due.len() as u64) < ROUND {
                return Ok(sent);
            }
        }
    }

    /// Pushes each member with a device, once a day, how many likes their videos got since the
    /// last such push (likes are never pushed one by one): a `likes.digest` notification, sent
    /// through the outbox like any other (quiet hours and the `likesDigest` setting apply).
    /// Answers how many were written.
    pub async fn send_likes_digests(&self) -> AppResult<usize> {
        const ROUND: u64 = 200;
        let store = &self.deps.store;
        let day = chrono::Duration::days(1);
        let mut written = 0;
        loop {
            let now = self.deps.clock.now();
            let due = store.likes_digests_due(now, day, ROUND).await?;
            for &user in &due {
                let Some(previous) = store.claim_likes_digest(user, now, now - day).await? else { continue };
                let since = previous.unwrap_or(now - day);
                let likes = store.count_notifications_since(user, NotificationKind::VideoLiked, since).await?;
                if likes == 0 {
                    continue;
                }
                let message = if likes == 1 {
                    "1 new like on your videos".to_owned()
                } else {
                    format!("{likes} new likes on your videos")
                };
                store.notify(user, NotificationKind::LikesDigest, None, None, &message).await?;
                written += 1;
            }
            if (due.len() as u64) < ROUND {
                return Ok(written);
            }
        }
    }

    /// Sends digests every `check` for as long as the process lives.
    pub async fn run_digests(self, check: Duration) {
        let mut tick = tokio::time::interval(check);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.send_digests().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(digests = n, "weekly digests sent"),
                Err(e) => tracing::warn!(error = %e, "digest round failed; trying again later"),
            }
            match self.send_likes_digests().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(digests = n, "likes digests written"),
                Err(e) => tracing::warn!(error = %e, "likes digest round failed; trying again later"),
            }
        }
    }

    /// Turns the digest off for the member an unsubscribe link names (no sign-in). Answers the
    /// member's username.
    pub async fn unsubscribe(&self, token: &str) -> AppResult<String> {
        let user = self
            .deps
            .tokens
            .verify_unsubscribe(token.trim())
            .ok_or_else(|| AppError::bad_input("token", "this unsubscribe link is invalid or expired"))?;
        let Some(u) = self.deps.store.user(user).await? else {
            return Err(AppError::bad_input("token", "this unsubscribe link is invalid or expired"));
        };
        self.deps.store.unsubscribe_digest(user).await?;
        tracing::info!(user = %user, "weekly digest unsubscribed by link");
        Ok(u.username)
    }
}

fn platform_words(p: PushPlatform) -> &'static str {
    match p {
        PushPlatform::Ios => "iPhones and iPads",
        PushPlatform::Android => "Android phones",
        PushPlatform::Web => "browsers",
    }
}

fn outcome_name(o: &::push::Outcome) -> &'static str {
    match o {
        ::push::Outcome::Delivered => "delivered",
        ::push::Outcome::Gone { .. } => "gone",
        ::push::Outcome::Retry { .. } => "retry",
        ::push::Outcome::Rejected { .. } => "rejected",
    }
}

/// The weekly digest for `user`: counts by kind and the newest lines; none when nothing counts.
fn digest_mail(
    deps: &Deps,
    user: &app_core::model::User,
    settings: &NotificationSettings,
    items: &[Notification],
) -> AppResult<Option<mail::Mail>> {
    let counted: Vec<&Notification> =
        items.iter().filter(|n| n.kind != NotificationKind::VideoLiked || settings.likes_digest).collect();
    if counted.is_empty() {
        return Ok(None);
    }
    let likes = counted.iter().filter(|n| n.kind == NotificationKind::VideoLiked).count();
    let follows = counted.iter().filter(|n| n.kind == NotificationKind::UserFollowed).count();
    let comments = counted.iter().filter(|n| n.kind == NotificationKind::VideoComment).count();
    let mut summary = Vec::new();
    for (n, one, many) in
        [(likes, "like", "likes"), (follows, "new follower", "new followers"), (comments, "comment", "comments")]
    {
        if n > 0 {
            summary.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    let lines: Vec<String> = counted
        .iter()
        .filter(|n| n.kind != NotificationKind::VideoLiked)
        .take(10)
        .map(|n| format!("- {}", n.message))
        .collect();
    let token = deps.tokens.issue_unsubscribe(user.id)?;
    Ok(Some(deps.mail.weekly_digest(&user.email, &user.username, &summary, &lines, &token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveTime {
        clock(s).unwrap()
    }

    #[test]
    fn quiet_hours_wrap_midnight_and_follow_the_time_zone() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let night = [(t("22:00"), t("07:00"))];
        // 23:30 in New York (04:30 UTC next day): quiet until 07:00 New York (12:00 UTC).
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 4, 30, 0).unwrap();
        assert_eq!(quiet_until(now, ny, &night), Some(Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()));
        // 06:59 New York: still quiet, same end.
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 11, 59, 0).unwrap();
        assert_eq!(quiet_until(now, ny, &night), Some(Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()));
        // 07:00 and 21:59: not quiet.
        assert_eq!(quiet_until(Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap(), ny, &night), None);
        assert_eq!(quiet_until(Utc.with_ymd_and_hms(2026, 12, 7, 2, 59, 0).unwrap(), ny, &night), None);
        // A daytime window and the latest end of two.
        let two = [(t("13:00"), t("14:00")), (t("12:00"), t("15:30"))];
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 13, 10, 0).unwrap();
        assert_eq!(quiet_until(now, Tz::UTC, &two), Some(Utc.with_ymd_and_hms(2026, 12, 6, 15, 30, 0).unwrap()));
        assert_eq!(quiet_until(now, Tz::UTC, &[(t("09:00"), t("09:00"))]), None);
    }

    #[test]
    fn kinds_map_to_settings() {
        let mut s = NotificationSettings::default();
        assert_eq!(category(NotificationKind::VideoReady, &s), Some(true));
        s.follows = false;
        assert_eq!(category(NotificationKind::UserFollowed, &s), Some(false));
        assert_eq!(category(NotificationKind::VideoLiked, &s), None);
        assert_eq!(category(NotificationKind::LikesDigest, &s), Some(true));
        s.moderation = false;
        assert_eq!(category(NotificationKind::VideoRemoved, &s), Some(false));
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert!(backoff(0) >= Duration::from_secs(30) && backoff(0) <= Duration::from_secs(33));
        assert!(backoff(3) >= Duration::from_secs(240));
        assert!(backoff(20) <= Duration::from_secs(3960));
    }

    #[test]
    fn devices_get_readable_names() {
        let sub = r#"{"endpoint":"https://updates.push.services.mozilla.com/wpush/v2/x","keys":{}}"#;
        assert_eq!(label(PushPlatform::Web, sub), "Firefox");
        assert_eq!(label(PushPlatform::Ios, "ab"), "iPhone or iPad");
    }
}
