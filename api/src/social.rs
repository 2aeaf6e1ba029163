//! Feeds and the social graph: `feed`, `follow`, `unfollow`, `block`, `unblock`, `likeVideo`,
//! `unlikeVideo`, `recordView`, `setFeedPreferences`, `feedPreferences`; the per-request loaders
//! behind `User.viewerFollows` and `Video.viewerHasLiked`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::accounts::UserObject;
use super::videos::VideoObject;
use super::{ApiResult, caller, parse_id, services, to_gql};
use app_core::error::AppError;
use app_core::types::{UserId, VideoId};
use domain::Services;
use domain::feed::FeedKind;

/// One topic weight of the viewer's stated preferences.
#[derive(SimpleObject)]
pub struct TopicWeight {
    /// Topic (a word stem or a family such as `animal`, `cook`).
    topic: String,
    /// Positive: more of it; negative: less.
    weight: f64,
}

/// The viewer's stated feed preferences and how they were read.
#[derive(SimpleObject)]
pub struct FeedPreferences {
    /// The sentence as given.
    text: String,
    /// The topic weights it became.
    topics: Vec<TopicWeight>,
    /// A readable summary, e.g. "more: animal, cook; less: prank".
    summary: String,
}

/// A card the feed shows after a long time of scrolling without a pause.
#[derive(SimpleObject)]
pub struct TakeABreak {
    /// What the card says.
    message: String,
    /// Minutes of feed without a pause so far.
    continuous_minutes: i32,
}

/// An item of `feedItems`: a video, or a card for the member.
#[derive(async_graphql::Union)]
pub enum FeedItem {
    /// A video.
    Video(Box<VideoObject>),
    /// A take-a-break card.
    TakeABreak(TakeABreak),
}

/// Primes the request's loaders from a page's hydration (and keeps a page the feed does not
/// reuse out of the whole-response cache): its fields then cost no statement.
pub(crate) async fn prime(ctx: &Context<'_>, page: &domain::feed::FeedPage) -> Result<()> {
    if !page.cacheable
        && let Ok(flag) = ctx.data::<std::sync::Arc<crate::FeedResponseCacheable>>()
    {
        flag.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
    let h = &page.hydration;
    let liked: HashSet<VideoId> = h.liked.iter().copied().collect();
    let followed: HashSet<UserId> = h.followed.iter().copied().collect();
    ctx.data::<super::accounts::Users>()?.feed_many(h.authors.iter().map(|u| (u.id, u.clone()))).await;
    ctx.data::<Followed>()?.feed_many(h.authors.iter().map(|u| (u.id, followed.contains(&u.id)))).await;
    ctx.data::<Liked>()?.feed_many(page.items.iter().map(|(v, _)| (v.id, liked.contains(&v.id)))).await;
    ctx.data::<super::moderation::RemixCounts>()?.feed_many(h.remix_counts.iter().copied()).await;
    Ok(())
}

/// A feed-like page's size: `first`, 20 when absent, 1–50 (`BAD_USER_INPUT` on `first` else).
pub(crate) fn feed_page_size(first: Option<i32>) -> Result<usize> {
    let first = first.unwrap_or(20);
    if !(1..=50).contains(&first) {
        return Err(to_gql(AppError::bad_input("first", "first must be between 1 and 50")));
    }
    Ok(first as usize)
}

/// Batches "does the viewer follow them?" within one request.
pub struct FollowedLoader {
    /// Services.
    pub services: Services,
    /// The viewer (none: anonymous, who follows no one).
    pub viewer: Option<UserId>,
}

impl Loader<UserId> for FollowedLoader {
    type Value = bool;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[UserId]) -> std::result::Result<HashMap<UserId, bool>, Self::Error> {
        let Some(viewer) = self.viewer else { return Ok(keys.iter().map(|k| (*k, false)).collect()) };
        let set = self.services.followed_among(viewer, keys).await.map_err(|e| Arc::new(to_gql(e)))?;
        Ok(keys.iter().map(|k| (*k, set.contains(k))).collect())
    }
}

/// Per-request loader handle.
pub type Followed = DataLoader<FollowedLoader, HashMapCache>;

/// Batches "has the viewer blocked them?" within one request.
pub struct BlockedLoader {
    /// Services.
    pub services: Services,
    /// The viewer (none: anonymous, who blocks no one).
    pub viewer: Option<UserId>,
}

impl Loader<UserId> for BlockedLoader {
    type Value = bool;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[UserId]) -> std::result::Result<HashMap<UserId, bool>, Self::Error> {
        let Some(viewer) = self.viewer else { return Ok(keys.iter().map(|k| (*k, false)).collect()) };
        let set = self.services.blocked_among(viewer, keys).await.map_err(|e| Arc::new(to_gql(e)))?;
        Ok(keys.iter().map(|k| (*k, set.contains(k))).collect())
    }
}

/// Per-request loader handle.
pub type Blocked = DataLoader<BlockedLoader, HashMapCache>;

/// Batches "has the viewer liked it?" within one request.
pub struct LikedLoader {
    /// Services.
    pub services: Services,
    /// The viewer.
    pub viewer: Option<UserId>,
}

impl Loader<VideoId> for LikedLoader {
    type Value = bool;
    type Error = Arc<async_graphql::Error>;

    async fn load(&self, keys: &[VideoId]) -> std::result::Result<HashMap<VideoId, bool>, Self::Error> {
        let Some(viewer) = self.viewer else { return Ok(keys.iter().map(|k| (*k, false)).collect()) };
        let set = self.services.liked_among(viewer, keys).await.map_err(|e| Arc::new(to_gql(e)))?;
        Ok(keys.iter().map(|k| (*k, set.contains(k))).collect())
    }
}

/// Per-request loader handle.
pub type Liked = DataLoader<LikedLoader, HashMapCache>;

fn preferences_object(text: String, p: &feed::topics::Preferences) -> FeedPreferences {
    FeedPreferences {
        text,
        topics: p.weights.iter().map(|(t, w)| TopicWeight { topic: t.clone(), weight: f64::from(*w) }).collect(),
        summary: p.describe(),
    }
}

/// Feed queries.
#[derive(Default)]
pub struct SocialQuery;

#[Object]
impl SocialQuery {
    /// A page of a feed. FOR_YOU and FOLLOWING need sign-in; TRENDING is open. Cursors are
    /// opaque and stable: FOR_YOU and TRENDING pages come from a ranked list kept for 30 minutes
    /// (`CURSOR_EXPIRED` after that: load from the top), FOLLOWING pages are keyset positions.
    async fn feed(
        &self,
        ctx: &Context<'_>,
        kind: FeedKind,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, VideoObject>> {
        let first = feed_page_size(first)?;
        let c = caller(ctx)?;
        let page = services(ctx)?.feed.page(&c.caller, kind, first, after.as_deref()).await.api()?;
        prime(ctx, &page).await?;
        let mut conn = Connection::new(after.is_some(), page.has_next);
        conn.edges.extend(page.items.into_iter().map(|(v, cursor)| Edge::new(cursor, VideoObject(v))));
        Ok(conn)
    }

    /// `feed` with what wellbeing adds: after `APP_FEED_BREAK_MINUTES` of feed without a pause,
    /// a `TakeABreak` card goes before the page's videos (its cursor is the `after` it follows,
    /// empty on a first page; page on with `pageInfo.endCursor`). A daily limit used up answers
    /// `LIMIT_REACHED` with `extensions.resetsAt`, as `feed` does.
    async fn feed_items(
        &self,
        ctx: &Context<'_>,
        kind: FeedKind,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, FeedItem>> {
        let first = feed_page_size(first)?;
        let c = caller(ctx)?;
        let (pause, page) = services(ctx)?.feed.items(&c.caller, kind, first, after.as_deref()).await.api()?;
        prime(ctx, &page).await?;
        let mut conn = Connection::new(after.is_some(), page.has_next);
        if let Some(minutes) = pause {
            let card = TakeABreak {
                continuous_minutes: i32::try_from(minutes).unwrap_or(i32::MAX),
                message: format!(
                    "You have been scrolling for {minutes} minutes. Time for a break? Stretch, drink some water, look outside."
                ),
            };
            conn.edges.push(Edge::new(after.clone().unwrap_or_default(), FeedItem::TakeABreak(card)));
        }
        conn.edges.extend(
            page.items.into_iter().map(|(v, cursor)| Edge::new(cursor, FeedItem::Video(Box::new(VideoObject(v))))),
        );
        Ok(conn)
    }

    /// The viewer's stated feed preferences (null until they set some).
    async fn feed_preferences(&self, ctx: &Context<'_>) -> Result<Option<FeedPreferences>> {
        let c = caller(ctx)?;
        Ok(services(ctx)?.social.feed_preferences(&c.caller).await.api()?.map(|(t, p)| preferences_object(t, &p)))
    }
}

/// Social mutations.
#[derive(Default)]
pub struct SocialMutation;

#[Object]
impl SocialMutation {
    /// Follows a member (idempotent); returns them with their counts now.
    async fn follow(&self, ctx: &Context<'_>, user_id: ID) -> Result<UserObject> {
        let id = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        Ok(UserObject(services(ctx)?.social.follow(&c.caller, id).await.api()?))
    }

    /// Stops following a member (idempotent); returns them with their counts now.
    async fn unfollow(&self, ctx: &Context<'_>, user_id: ID) -> Result<UserObject> {
        let id = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        Ok(UserObject(services(ctx)?.social.unfollow(&c.caller, id).await.api()?))
    }

    /// Blocks a member: follows both ways end; each disappears from the other's feeds,
    /// comments and cameo choices.
    async fn block(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let id = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        services(ctx)?.social.block(&c.caller, id).await.api()
    }

    /// Lifts the viewer's block of a member; false when there was none.
    async fn unblock(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let id = parse_id(&user_id, "userId", UserId::parse)?;
        let c = caller(ctx)?;
        services(ctx)?.social.unblock(&c.caller, id).await.api()
    }

    /// Likes a published video (idempotent).
    async fn like_video(&self, ctx: &Context<'_>, id: ID) -> Result<VideoObject> {
        let id = parse_id(&id, "id", VideoId::parse)?;
        let c = caller(ctx)?;
        Ok(VideoObject(services(ctx)?.social.like(&c.caller, id).await.api()?))
    }

    /// Takes back a like (idempotent).
    async fn unlike_video(&self, ctx: &Context<'_>, id: ID) -> Result<VideoObject> {
        let id = parse_id(&id, "id", VideoId::parse)?;
        let c = caller(ctx)?;
        Ok(VideoObject(services(ctx)?.social.unlike(&c.caller, id).await.api()?))
    }

    /// Records a watch of `watchMs` milliseconds (clamped to the video's length; the longest
    /// watch per member counts). Watched videos are not shown again in FOR_YOU for a while.
    async fn record_view(&self, ctx: &Context<'_>, video_id: ID, watch_ms: i32) -> Result<bool> {
        let id = parse_id(&video_id, "videoId", VideoId::parse)?;
        let c = caller(ctx)?;
        services(ctx)?.social.record_view(&c.caller, id, i64::from(watch_ms)).await.api()
    }

    /// Steers FOR_YOU with a sentence such as "more cooking and animals, fewer pranks".
    async fn set_feed_preferences(&self, ctx: &Context<'_>, text: String) -> Result<bool> {
        let c = caller(ctx)?;
        services(ctx)?.social.set_feed_preferences(&c.caller, &text).await.api()?;
        Ok(true)
    }
}
