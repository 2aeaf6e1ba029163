//! Push devices and notification settings: `registerPushDevice` / `unregisterPushDevice`,
//! `notificationSettings` / `setNotificationSettings`, and `webPushPublicKey` (what a browser
//! subscribes with). Delivery, quiet hours and the digest are in `domain::push`; resolvers only
//! parse and map.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::{ApiResult, caller, services};
use app_core::model::{NotificationSettings as Settings, PushDevice as Device, PushPlatform};
use domain::push::SettingsChange;

/// A phone or browser that receives the member's notifications.
#[derive(SimpleObject)]
pub struct PushDevice {
    /// Id.
    id: ID,
    /// Where it receives.
    platform: PushPlatform,
    /// A readable name ("iPhone or iPad", "Firefox", …).
    label: String,
    /// When it was registered.
    created_at: DateTime<Utc>,
    /// When a notification last reached its provider.
    last_success_at: Option<DateTime<Utc>>,
}

impl From<Device> for PushDevice {
    fn from(d: Device) -> Self {
        PushDevice {
            id: ID(d.id.to_string()),
            platform: d.platform,
            label: d.label,
            created_at: d.created_at,
            last_success_at: d.last_success_at,
        }
    }
}

/// What the member wants pushed to their devices, and when not.
#[derive(SimpleObject)]
pub struct NotificationSettings {
    /// A generated video is ready.
    video_ready: bool,
    /// Someone used the member's cameo.
    cameo_used: bool,
    /// Comments on the member's videos.
    comments: bool,
    /// Remixes of the member's videos.
    remixes: bool,
    /// New followers.
    follows: bool,
    /// Likes, never pushed one by one: counted once a day in a push (`likes.digest`), or in the
    /// weekly email for members without a device.
    likes_digest: bool,
    /// Decisions of moderators about the member's videos, comments and cameos.
    moderation: bool,
    /// The weekly email digest, sent while the member has no device.
    email_digest: bool,
    /// Start of the member's own quiet hours (`HH:MM`, their time zone; null: none). A teen's
    /// parent's quiet hours (22:00–07:00 by default) apply as well.
    quiet_hours_start: Option<String>,
    /// End of the quiet hours.
    quiet_hours_end: Option<String>,
    /// The member's registered devices.
    devices: Vec<PushDevice>,
}

impl From<(Settings, Vec<Device>)> for NotificationSettings {
    fn from((s, d): (Settings, Vec<Device>)) -> Self {
        let (start, end) = s.quiet_hours.unzip();
        NotificationSettings {
            video_ready: s.video_ready,
            cameo_used: s.cameo_used,
            comments: s.comments,
            remixes: s.remixes,
            follows: s.follows,
            likes_digest: s.likes_digest,
            moderation: s.moderation,
            email_digest: s.email_digest,
            quiet_hours_start: start,
            quiet_hours_end: end,
            devices: d.into_iter().map(PushDevice::from).collect(),
        }
    }
}

/// A change to the settings (a field left out stays as it is).
#[derive(InputObject)]
pub struct NotificationSettingsInput {
    /// A generated video is ready.
    video_ready: Option<bool>,
    /// Someone used the member's cameo.
    cameo_used: Option<bool>,
    /// Comments.
    comments: Option<bool>,
    /// Remixes.
    remixes: Option<bool>,
    /// New followers.
    follows: Option<bool>,
    /// Likes in the weekly digest.
    likes_digest: Option<bool>,
    /// Moderation decisions.
    moderation: Option<bool>,
    /// The weekly email digest.
    email_digest: Option<bool>,
    /// Quiet hours start (`HH:MM`); give both or neither.
    quiet_hours_start: Option<String>,
    /// Quiet hours end (`HH:MM`).
    quiet_hours_end: Option<String>,
    /// True: no quiet hours of one's own.
    #[graphql(default)]
    clear_quiet_hours: bool,
}

/// Push queries.
#[derive(Default)]
pub struct PushQuery;

#[Object]
impl PushQuery {
    /// The server's VAPID public key (base64url, uncompressed P-256), the `applicationServerKey`
    /// a browser subscribes with; null when Web Push is not set up.
    async fn web_push_public_key(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        Ok(services(ctx)?.push.web_public_key())
    }

    /// The signed-in member's notification settings and devices.
    async fn notification_settings(&self, ctx: &Context<'_>) -> Result<NotificationSettings> {
        let c = caller(ctx)?;
        Ok(services(ctx)?.push.settings(&c.caller).await.api()?.into())
    }
}

/// Push mutations.
#[derive(Default)]
pub struct PushMutation;

#[Object]
impl PushMutation {
    /// Registers this device for the signed-in member's notifications: for `IOS` the APNs device
    /// token (hex), for `ANDROID` the FCM registration token, for `WEB` the `PushSubscription` as
    /// JSON (`JSON.stringify(subscription)`). A token registered by another member moves to this
    /// one. `BAD_USER_INPUT` when the platform is not set up on this server or the token is
    /// malformed.
    async fn register_push_device(&self, ctx: &Context<'_>, platform: PushPlatform, token: String) -> Result<bool> {
        let c = caller(ctx)?;
        services(ctx)?.push.register(&c.caller, platform, &token).await.api()?;
        Ok(true)
    }

    /// Removes the signed-in member's device with this token (false: they had none).
    async fn unregister_push_device(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        let c = caller(ctx)?;
        services(ctx)?.push.unregister(&c.caller, &token).await.api()
    }

    /// Changes what is pushed and when not.
    async fn set_notification_settings(
        &self,
        ctx: &Context<'_>,
        input: NotificationSettingsInput,
    ) -> Result<NotificationSettings> {
        let c = caller(ctx)?;
        let change = SettingsChange {
            video_ready: input.video_ready,
            cameo_used: input.cameo_used,
            comments: input.comments,
            remixes: input.remixes,
            follows: input.follows,
            likes_digest: input.likes_digest,
            moderation: input.moderation,
            email_digest: input.email_digest,
            quiet_start: input.quiet_hours_start,
            quiet_end: input.quiet_hours_end,
            clear_quiet_hours: input.clear_quiet_hours,
        };
        Ok(services(ctx)?.push.set_settings(&c.caller, change).await.api()?.into())
    }
}
