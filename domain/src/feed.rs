//! Feeds: gathers candidates from the store, lets the `feed` crate rank them, keeps ranked lists
//! and FOLLOWING timelines in the feed cache, and serves pages.
//!
//! Architecture invariant: visibility is decided here at serve time, on every page: a video is
//! served only if it is PUBLISHED now, its author is not banned and not in a block with the viewer
//! now, whatever a cached list or timeline says. Cursors point into immutable ranked lists
//! (FOR_YOU, TRENDING) or are keyset positions (FOLLOWING), so pages never repeat or skip items
//! while new videos arrive.
//!
//! # FOLLOWING
//!
//! Authors with at most `fanout_max_followers` (1000) followers fan out on write: `on_published`
//! adds a `TimelineItem` to each follower's timeline that was built (a Redis script per 500
//! followers); larger authors write nothing and are merged in at read time (fan-in), so publishing
//! costs the same whatever the audience. A failed fan-out is logged; the timeline has the video again
//! once rebuilt. `following` builds an unbuilt timeline on read (the small authors' 1000 newest
//! videos), then in up to four rounds merges the timeline after the cursor with the large authors'
//! videos from the store, newest first by (time, id), drops authors no longer followed or in a block,
//! and applies the serve-time check. The first page is never cached, so a new video shows at once.
//! `on_graph_changed` (follow, unfollow, block, unblock) drops the members' timelines.
//!
//! # FOR_YOU and TRENDING
//!
//! A first page reads the member's pointer to the current ranked list (kept `refresh`, 60 s; a list
//! lives `list_ttl`, 30 min), or ranks afresh. `rank_for_you` gathers five pools (followed authors'
//! newest 300, from per-author pools of each author's newest 50 that the process keeps for 60 s,
//! reading only the authors it lacks; published remixes of the viewer's last 100 likes; videos with
//! an `ACTIVE` cameo of a followed member; the 200 newest and the first 300 of the TRENDING list,
//! shared by every viewer and read once per `FeedSettings::shared_pools`, 5 s by default), the viewer's videos watched within
//! `seen_window`, block set, author affinity (likes and views of the author's videos, +3 for a
//! followed author) and stated preferences, and lets `feed::rank::rank_for_you` score, filter and
//! diversify them; `trending_ids` ranks one global list from the videos of the last 7 days (the 3000
//! newest and the 1000 most liked) with `feed::rank::rank_trending` (one TRENDING ranking at a time
//! per process). The first 500 ids are stored under a new list id; a cursor is (list, offset). An
//! expired list answers `CURSOR_EXPIRED`. `ranked` reads a little more than a page from the offset,
//! keeps what passes the serve-time check, and repeats up to four times.
//!
//! # Serve time, hydration and the page cache
//!
//! `visible` keeps only the ids `Store::servable_by_ids` answers (published, author not banned, not
//! a teen whose parent made their videos private unless the viewer is their mutual or parent; one
//! statement) minus the viewer's block set, and minus `MATURE` videos for a teen viewer (`teens`). `hydrate` loads what the page's fields need with one
//! statement each (authors, the viewer's likes and follows among them, remix counts), skipping the
//! likes and follows when this request read them whole already (`Known`: a fresh FOR_YOU ranking
//! read every followee, and every like when the viewer has fewer than 300; FOLLOWING read every
//! followee). A page ranked afresh costs about a dozen statements and four Redis round trips
//! (epochs, pointer, the new list with its pointer in one pipeline, the page): candidate rows carry
//! their remix counts and the viewer's likes and views come with their authors. The resolver
//! primes its DataLoaders from the hydration, so an uncached page costs a fixed number of statements whatever
//! its size, and a cached one none beyond the sign-in. A page is cached hydrated for `page_ttl` (15 s)
//! under the epochs it was computed with, read with `FeedCache::get_with_epochs` in one round trip:
//! `visible` (bumped by [`content_withdrawn`]: every removal, ban, upheld appeal, take-down or
//! deletion of a published video) and `viewer:<id>` (bumped by [`viewers_changed`]: the member's
//! likes, follows, blocks and preferences). A page is stored with the epochs read before it was
//! computed, so a change made meanwhile makes it stale at once. Counts on a cached page may lag by up
//! to `page_ttl`; removals, bans and the viewer's own actions never do. An epoch that cannot be
//! bumped is logged, not returned. The server caches whole responses of feed-only operations under
//! the same epochs (`backend::http::feed_responses`, via [`epoch_names`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use feed::cache::{FeedCache, TimelineItem};
use feed::cursor::FeedCursor;
use feed::rank::{Candidate, Sources, Viewer as RankViewer, Weights};
use feed::topics::Preferences;
use uuid::Uuid;

use serde::{Deserialize, Serialize};

use super::model::{Maturity, User, Video};
use super::wellbeing::{Decision, Meter};
use super::{Caller, Deps};
use app_core::error::{AppError, AppResult};
use app_core::types::{UserId, VideoId};
use store::social::{CandidateRow, RecentView};

/// Feed settings (a slice of the configuration).
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings {
    /// Authors with at most this many followers fan out on write.
    pub fanout_max_followers: i64,
    /// How long a ranked list stays readable.
    pub list_ttl: Duration,
    /// How long a first page reuses the current ranked list.
    pub refresh: Duration,
    /// Watched videos are not shown again for this long.
    pub seen_window: Duration,
    /// How long a served page is reused (zero: never).
    pub page_ttl: Duration,
    /// Continuous feed time after which `feedItems` offers a take-a-break card.
    pub break_after: Duration,
    /// How long the pools every viewer's FOR_YOU shares (the newest videos, the trending list's
    /// videos, each with its remix count) are reused by this process before they are read again.
    pub shared_pools: Duration,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            fanout_max_followers: 1000,
            list_ttl: Duration::from_secs(1800),
            refresh: Duration::from_secs(60),
            seen_window: Duration::from_secs(72 * 3600),
            page_ttl: Duration::from_secs(15),
            break_after: Duration::from_secs(30 * 60),
            shared_pools: Duration::from_secs(5),
        }
    }
}

/// A member's own wellbeing settings and today's use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wellbeing {
    /// Their own daily feed limit (a teen's parent's limit applies too).
    pub daily_feed_minutes: Option<u32>,
    /// Their time zone (none: UTC).
    pub time_zone: Option<String>,
    /// Minutes of feed today, as this node counted them.
    pub minutes_today: u32,
}

/// Who a page is for: the viewer (none: signed out) and whether they are a teen account.
#[derive(Debug, Clone, Copy)]
struct Audience {
    viewer: Option<UserId>,
    teen: bool,
}

/// The three feeds (one type with the GraphQL `FeedKind`).
pub use app_core::model::FeedKind;

/// A feed's short name in cache keys and cursors.
trait Tag {
    fn tag(self) -> &'static str;
}

impl Tag for FeedKind {
    fn tag(self) -> &'static str {
        match self {
            FeedKind::ForYou => "fy",
            FeedKind::Following => "fo",
            FeedKind::Trending => "tr",
        }
    }
}

/// One page of a feed: the videos with their cursors, whether more follow, and what their
/// fields need (so the resolvers answer without further statements).
#[derive(Serialize, Deserialize)]
pub struct FeedPage {
    /// Videos and the cursor just after each.
    pub items: Vec<(Video, String)>,
    /// Whether another page exists (now).
    pub has_next: bool,
    /// The authors, likes and follows of the viewer, remix counts.
    pub hydration: Hydration,
    /// Whether this page may be reused (false for FOLLOWING's first page).
    pub cacheable: bool,
}

/// What a page's fields need, loaded with one statement each.
#[derive(Default, Serialize, Deserialize)]
pub struct Hydration {
    /// The videos' authors.
    pub authors: Vec<User>,
    /// Which of the videos the viewer likes.
    pub liked: Vec<VideoId>,
    /// Which of the authors the viewer follows.
    pub followed: Vec<UserId>,
    /// Published remixes per video.
    pub remix_counts: Vec<(VideoId, i64)>,
}

/// What this request already read of the viewer, complete, so hydration need not ask the store
/// again: everyone they follow, and every video they like (known when fewer than
/// [`ENGAGEMENT_READ`] came back from the newest likes).
#[derive(Default)]
struct Known {
    followees: Option<HashSet<UserId>>,
    liked: Option<HashSet<VideoId>>,
}

/// A page's items before hydration: each video with its cursor, whether more follow, and what
/// the request knows of the viewer.
struct Served {
    items: Vec<(Video, String)>,
    has_next: bool,
    known: Known,
}

/// A list ranked by this request: its ids, and what the ranking read of the viewer.
struct FreshList {
    ids: Vec<Uuid>,
    known: Known,
}

/// A page as cached, with the epochs it was computed under.
#[derive(Serialize, Deserialize)]
struct CachedPage {
    epochs: Vec<u64>,
    page: FeedPage,
}

/// The epoch every cached page depends on: bumped when a video leaves the feeds (removed,
/// deleted) or its author is banned.
const VISIBLE_EPOCH: &str = "visible";

fn viewer_epoch(u: UserId) -> String {
    format!("viewer:{}", u.0.simple())
}

/// The names of the epochs a page served to `viewer` depends on: anything that bumps one of
/// them makes every page (and every whole response) computed before it stale.
pub fn epoch_names(viewer: UserId) -> [String; 2] {
    [VISIBLE_EPOCH.to_owned(), viewer_epoch(viewer)]
}

/// A video left the feeds, or a member was banned: every cached page is stale at once. A
/// failure is not returned — the change itself has happened — but kept, and the bump made by
/// [`settle_epochs`] once the cache answers (pages cached before it would otherwise be served
/// until they expire).
pub async fn content_withdrawn(deps: &Deps) {
    bump_or_keep(deps, VISIBLE_EPOCH.to_owned()).await;
}

/// Something about these members as viewers changed (their likes, follows, blocks,
/// preferences): their cached pages are stale at once.
pub async fn viewers_changed(deps: &Deps, users: &[UserId]) {
    for u in users {
        bump_or_keep(deps, viewer_epoch(*u)).await;
    }
}

async fn bump_or_keep(deps: &Deps, epoch: String) {
    if let Err(e) = deps.feed_cache.bump_epoch(&epoch).await {
        tracing::warn!(error = %e, %epoch, "feed: cached pages not invalidated; kept for when the cache answers");
        deps.pending_epochs.lock().unwrap_or_else(|e| e.into_inner()).insert(epoch);
    }
}

/// Makes the epoch bumps that failed while the feed cache did not answer (every 5 s with the
/// revocation check, `Services::run_cache_keeper`). Returns how many were made; those that fail
/// again are kept.
pub async fn settle_epochs(deps: &Deps) -> usize {
    let pending: Vec<String> = deps.pending_epochs.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
    let mut made = 0;
    for epoch in pending {
        if deps.feed_cache.bump_epoch(&epoch).await.is_ok() {
            made += 1;
        } else {
            deps.pending_epochs.lock().unwrap_or_else(|e| e.into_inner()).insert(epoch);
        }
    }
    if made > 0 {
        tracing::info!(epochs = made, "feed: cached pages invalidated after the cache came back");
    }
    made
}

/// Candidate pool sizes for one FOR_YOU ranking.
const FOLLOWED_POOL: u64 = 300;
const TRENDING_POOL: usize = 300;
const REMIX_POOL: u64 = 100;
const CAMEO_POOL: u64 = 100;
const FRESH_POOL: u64 = 200;
/// Items kept in one ranked list.
const LIST_LEN: usize = 500;
/// The trending window and its pools.
const TRENDING_DAYS: i64 = 7;
const TRENDING_NEWEST: u64 = 3000;
const TRENDING_LIKED: u64 = 1000;
/// Videos whose topics this process keeps (a prompt never changes).
const TOPICS_KEPT: u64 = 200_000;
/// Each author's newest published videos kept by this process for FOR_YOU's followed pool (the
/// pool takes the newest [`FOLLOWED_POOL`] over all followed authors' kept videos).
const AUTHOR_POOL: u64 = 50;
/// The viewer's newest likes and views whose authors count towards affinity.
const ENGAGEMENT_READ: u64 = 300;
/// The liked videos whose remixes are a pool.
const REMIX_SOURCES: usize = 100;
/// The viewer's newest views read for what they saw within `seen_window`.
const SEEN_READ: u64 = 5000;
/// How long an author's kept videos are reused before they are read again. A publication on this
/// process drops its author's at once; one on another process reaches FOR_YOU rankings within
/// this time (the default `refresh`, for which a FOR_YOU list is reused anyway). Removals need
/// nothing: serve time checks every item.
const AUTHOR_POOL_TTL: Duration = Duration::from_secs(60);
/// Candidates the author pools hold at most (an author with no videos counts one).
const AUTHOR_POOLS_KEPT: u64 = 400_000;

/// The candidates every viewer's FOR_YOU shares, as read at `read_at`.
struct SharedPools {
    read_at: std::time::Instant,
    fresh: Vec<Candidate>,
    trending: Vec<Candidate>,
}

/// Feeds and their caches.
#[derive(Clone)]
pub struct FeedService {
    deps: Arc<Deps>,
    cache: FeedCache,
    settings: FeedSettings,
    weights: Arc<Weights>,
    /// One TRENDING ranking at a time in this process: requests arriving while it runs wait
    /// for it and read its list instead of ranking the same pool again.
    trending_flight: Arc<tokio::sync::Mutex<()>>,
    /// The shared pools, read by one request per [`FeedSettings::shared_pools`] while the others wait.
    shared: Arc<tokio::sync::Mutex<Option<Arc<SharedPools>>>>,
    /// Topics by video.
    topics: moka::sync::Cache<Uuid, Arc<[String]>>,
    /// Each author's newest published videos as candidates (with remix counts), newest first.
    author_pools: moka::sync::Cache<Uuid, Arc<[Candidate]>>,
    /// Feed time per member: daily limits and take-a-break cards (`wellbeing`).
    meter: Meter,
    /// Signalled when this process publishes a video (search indexes it at once).
    published: Arc<tokio::sync::Notify>,
}

fn page_key(kind: FeedKind, viewer: Option<UserId>, after: Option<&str>, first: usize) -> String {
    let who = viewer.map(|v| v.0.simple().to_string()).unwrap_or_else(|| "anon".into());
    format!("{}:page:{who}:{first}:{}", kind.tag(), after.unwrap_or("-"))
}

/// The feed cache (Redis) did not answer: `UNAVAILABLE`, the cause logged.
pub fn cache_err(e: feed::cache::CacheError) -> AppError {
    tracing::warn!(error = %e, "feed cache unavailable");
    AppError::Unavailable { what: "the feed", retry_after_secs: 5 }
}

/// A row as the ranker reads it, with its topics from `topics` (computed once per video).
fn candidate(v: &CandidateRow, sources: Sources, topics: &moka::sync::Cache<Uuid, Arc<[String]>>) -> Candidate {
    Candidate {
        id: v.id,
        author: v.author_id,
        published_at: v.published_at.unwrap_or(v.created_at),
        likes: v.like_count,
        comments: v.comment_count,
        views: v.view_count,
        remixes: v.remix_count,
        watch_ms_total: v.watch_ms_total,
        duration_ms: v.duration_ms,
        topics: topics.get_with(v.id, || feed::topics::topics_of(&v.prompt).into()),
        sources,
    }
}

fn new_list_id() -> String {
    Uuid::new_v4().simple().to_string()
}

impl FeedService {
    /// Wires the service over the shared dependencies and the feed cache.
    pub fn new(deps: Arc<Deps>, settings: FeedSettings) -> Self {
        let cache = deps.feed_cache.clone();
        let meter = Meter::new(deps.clone(), settings.break_after);
        Self {
            meter,
            deps,
            cache,
            settings,
            weights: Arc::new(Weights::default()),
            trending_flight: Arc::new(tokio::sync::Mutex::new(())),
            shared: Arc::default(),
            topics: moka::sync::Cache::new(TOPICS_KEPT),
            author_pools: moka::sync::Cache::builder()
                .max_capacity(AUTHOR_POOLS_KEPT)
                .weigher(|_, pool: &Arc<[Candidate]>| u32::try_from(pool.len()).unwrap_or(u32::MAX).saturating_add(1))
                .time_to_live(AUTHOR_POOL_TTL)
                .build(),
            published: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Signalled each time this process publishes a video.
    pub(crate) fn published_signal(&self) -> Arc<tokio::sync::Notify> {
        self.published.clone()
    }

    /// The cache (benchmarks clear it for cold runs).
    pub fn cache(&self) -> &FeedCache {
        &self.cache
    }

    /// The feed-time meter (the server asks it before answering from its response cache).
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Counts a signed-in member's feed request: `LIMIT_REACHED` when their daily limit is used
    /// up; the minutes of continuous use when a take-a-break card is due and `show_break`.
    async fn metered(&self, caller: &Caller, show_break: bool) -> AppResult<Option<u32>> {
        let Some(v) = caller.optional()? else { return Ok(None) };
        match self.meter.tick(v.user.id, Some(&v.user), show_break).await? {
            Decision::Go => Ok(None),
            Decision::TakeABreak { minutes } => Ok(Some(minutes)),
            Decision::LimitReached { resets_at, minutes } => Err(AppError::LimitReached {
                message: format!("you have used today's {minutes} minutes of feed; it opens again at midnight"),
                resets_at,
            }),
        }
    }

    /// [`FeedService::page`] for `feedItems`: the page, and the minutes of continuous use when a
    /// take-a-break card goes before it.
    pub async fn items(
        &self,
        caller: &Caller,
        kind: FeedKind,
        first: usize,
        after: Option<&str>,
    ) -> AppResult<(Option<u32>, FeedPage)> {
        let pause = self.metered(caller, true).await?;
        Ok((pause, self.serve(caller, kind, first, after).await?))
    }

    /// The member's own daily feed limit, time zone and minutes used today (to the member).
    pub async fn wellbeing(&self, caller: &Caller, user: UserId) -> AppResult<Option<Wellbeing>> {
        let Some(v) = caller.optional()? else { return Ok(None) };
        if v.user.id != user {
            return Ok(None);
        }
        // Read again: `setWellbeing` answers with the member as they are after it.
        let Some(u) = self.deps.store.user(user).await? else { return Ok(None) };
        let (time_zone, daily_feed_minutes) = (u.time_zone, u.daily_feed_minutes);
        let minutes_today = self.meter.minutes_today(user).await?;
        Ok(Some(Wellbeing { daily_feed_minutes, time_zone, minutes_today }))
    }

    /// The member sets their own daily feed limit (5–1440 minutes; `clear`: none) and time zone
    /// (an IANA name such as `Europe/Paris`).
    pub async fn set_wellbeing(
        &self,
        caller: &Caller,
        daily_feed_minutes: Option<u32>,
        clear: bool,
        time_zone: Option<&str>,
    ) -> AppResult<User> {
        let v = caller.require()?;
        if let Some(m) = daily_feed_minutes
            && !(5..=1440).contains(&m)
        {
            return Err(AppError::bad_input("dailyFeedMinutes", "choose between 5 and 1440 minutes a day"));
        }
        let tz = match time_zone.map(str::trim) {
            Some(name) => {
                if name.parse::<chrono_tz::Tz>().is_err() {
                    return Err(AppError::bad_input(
                        "timeZone",
                        "not a time zone; use a name such as Europe/Paris or America/New_York",
                    ));
                }
                Some(Some(name.to_owned()))
            }
            None => None,
        };
        let limit = if clear { Some(None) } else { daily_feed_minutes.map(Some) };
        self.deps.store.set_wellbeing_settings(v.user.id, tz, limit).await?;
        self.meter.limits_changed(v.user.id);
        Ok(v.user.clone())
    }

    /// How long pages (and whole feed responses, cached by the server) are kept; zero: not at all.
    pub fn page_ttl(&self) -> Duration {
        self.settings.page_ttl
    }

    /// A page of `kind` for the caller. FOR_YOU and FOLLOWING need a signed-in member;
    /// TRENDING is open to anyone. A member whose daily limit is used up gets `LIMIT_REACHED`.
    pub async fn page(
        &self,
        caller: &Caller,
        kind: FeedKind,
        first: usize,
        after: Option<&str>,
    ) -> AppResult<FeedPage> {
        self.metered(caller, false).await?;
        self.serve(caller, kind, first, after).await
    }

    async fn serve(&self, caller: &Caller, kind: FeedKind, first: usize, after: Option<&str>) -> AppResult<FeedPage> {
        let member = match kind {
            FeedKind::Trending => caller.optional()?,
            _ => Some(caller.require()?),
        };
        let viewer = member.map(|v| v.user.id);
        let aud = Audience { viewer, teen: member.is_some_and(|v| self.deps.is_teen(&v.user)) };
        let cursor = match after {
            None => None,
            Some(raw) => Some(
                feed::cursor::decode(kind.tag(), raw)
                    .ok_or_else(|| AppError::bad_input("after", "after is not a cursor from this feed"))?,
            ),
        };
        // A page served recently to the same viewer, still valid under the current epochs. The
        // first page of FOLLOWING is never cached: a followed author's new video shows at once.
        // (FOR_YOU and TRENDING first pages come from a ranked list that is itself kept for
        // `refresh`, and later pages of every feed are fixed by their cursors.)
        let following_top = kind == FeedKind::Following && after.is_none();
        let caching = !self.settings.page_ttl.is_zero() && !following_top;
        let key = page_key(kind, viewer, after, first);
        let epoch_names: Vec<String> =
            std::iter::once(VISIBLE_EPOCH.to_owned()).chain(viewer.map(viewer_epoch)).collect();
        let names: Vec<&str> = epoch_names.iter().map(String::as_str).collect();
        let mut epochs = Vec::new();
        if caching {
            let (cached, now) = self.cache.get_with_epochs(&key, &names).await.map_err(cache_err)?;
            if let Some(bytes) = cached
                && let Ok(c) = serde_json::from_slice::<CachedPage>(&bytes)
                && c.epochs == now
            {
                self.deps.telemetry.feed_cache_lookup("page", true);
                return Ok(c.page);
            }
            self.deps.telemetry.feed_cache_lookup("page", false);
            epochs = now;
        }
        let Served { items, has_next, known } = match (kind, viewer) {
            (FeedKind::Following, Some(v)) => self.following(v, aud.teen, first, cursor).await?,
            (FeedKind::ForYou, Some(_)) | (FeedKind::Trending, _) => self.ranked(kind, aud, first, cursor).await?,
            _ => return Err(AppError::Unauthenticated("sign in first")),
        };
        let hydration = self.hydrate(viewer, &items, &known).await?;
        let page = FeedPage { items, has_next, hydration, cacheable: caching };
        if caching {
            // Stored with the epochs read before the page was computed: a change made meanwhile
            // bumped them, so this copy is never served stale.
            let c = CachedPage { epochs, page };
            match serde_json::to_vec(&c) {
                Ok(bytes) => self.cache.set(&key, &bytes, self.settings.page_ttl).await.map_err(cache_err)?,
                Err(e) => tracing::error!(error = %e, "feed: page not cached"),
            }
            return Ok(c.page);
        }
        Ok(page)
    }

    /// Loads what the page's fields need: four statements whatever the page's size, fewer when
    /// this request read the viewer's followees or likes whole already (`known`).
    async fn hydrate(&self, viewer: Option<UserId>, items: &[(Video, String)], known: &Known) -> AppResult<Hydration> {
        if items.is_empty() {
            return Ok(Hydration::default());
        }
        let store = &self.deps.store;
        let ids: Vec<VideoId> = items.iter().map(|(v, _)| v.id).collect();
        let mut author_ids: Vec<UserId> = items.iter().map(|(v, _)| v.author_id).collect();
        author_ids.sort();
        author_ids.dedup();
        let authors = store.users(&author_ids).await?;
        let (liked, followed) = match viewer {
            Some(v) => (
                match &known.liked {
                    Some(all) => ids.iter().filter(|id| all.contains(id)).copied().collect(),
                    None => store.liked_among(v, &ids).await?.into_iter().collect(),
                },
                match &known.followees {
                    Some(all) => author_ids.iter().filter(|a| all.contains(a)).copied().collect(),
                    None => store.followed_among(v, &author_ids).await?.into_iter().collect(),
                },
            ),
            None => (Vec::new(), Vec::new()),
        };
        let counts = store.remix_counts(&ids).await?;
        let remix_counts = ids.iter().map(|id| (*id, counts.get(id).copied().unwrap_or(0))).collect();
        Ok(Hydration { authors, liked, followed, remix_counts })
    }

    /// FOR_YOU or TRENDING: a page of a stored ranked list.
    async fn ranked(
        &self,
        kind: FeedKind,
        aud: Audience,
        first: usize,
        cursor: Option<FeedCursor>,
    ) -> AppResult<Served> {
        let from = match cursor {
            Some(FeedCursor::Ranked { list, offset }) => Some((list, offset as usize)),
            Some(FeedCursor::Keyset { .. }) => {
                return Err(AppError::bad_input("after", "after is not a cursor from this feed"));
            }
            None => None,
        };
        let viewer = aud.viewer;
        let blocked = match viewer {
            Some(v) => self.deps.store.block_set(v).await?,
            None => HashSet::new(),
        };
        // A list ranked by this request is read from memory rather than from the cache it was
        // just written to.
        let (list, mut offset, fresh) = match from {
            Some((list, offset)) => (list, offset, None),
            None => {
                let (list, fresh) = self.current_list(kind, viewer, &blocked).await?;
                (list, 0, fresh)
            }
        };
        let (fresh, known) = match fresh {
            Some(f) => (Some(f.ids), f.known),
            None => (None, Known::default()),
        };
        let key = list_key(kind, viewer, &list);
        let range = |offset: usize, n: usize| {
            let key = &key;
            let fresh = fresh.as_deref();
            async move {
                match fresh {
                    Some(ids) => Ok(ids.iter().skip(offset).take(n).copied().collect()),
                    None => {
                        self.cache.list_range(key, offset, n).await.map_err(cache_err)?.ok_or(AppError::CursorExpired)
                    }
                }
            }
        };
        let mut items = Vec::with_capacity(first);
        // Stays true if the reads run out before the page fills (the list may go on).
        let mut has_next = true;
        // Read a little more than a page: items removed or blocked since the ranking are skipped.
        // Up to four reads fill a page; while it is still empty reading goes on (the list is
        // bounded), so a page never ends without a cursor to continue from.
        let mut round = 0;
        while round < 4 || items.is_empty() {
            round += 1;
            let want = first - items.len() + 1;
            let chunk = want + want / 2 + 2;
            let ids = range(offset, chunk).await?;
            if ids.is_empty() {
                has_next = false;
                break;
            }
            let videos = self.visible(&ids.iter().map(|i| VideoId(*i)).collect::<Vec<_>>(), &blocked, aud).await?;
            let mut consumed = 0;
            for id in &ids {
                if items.len() == first {
                    break;
                }
                consumed += 1;
                if let Some(v) = videos.get(id) {
                    let c = feed::cursor::encode(
                        kind.tag(),
                        &FeedCursor::Ranked {
                            list: list.clone(),
                            offset: u32::try_from(offset + consumed).unwrap_or(u32::MAX),
                        },
                    );
                    items.push((v.clone(), c));
                }
            }
            offset += consumed;
            if items.len() == first {
                // More follow if the list goes on (an item left over in this chunk, or a next one).
                has_next = consumed < ids.len() || !range(offset, 1).await?.is_empty();
                break;
            }
            if ids.len() < chunk {
                has_next = false;
                break;
            }
        }
        Ok(Served { items, has_next, known })
    }

    /// Those of `ids` the member (or an anonymous visitor) may see now, in the order given: the
    /// same filter as a feed page (published, author not banned nor in a block, teen rules).
    pub(crate) async fn visible_in_order(
        &self,
        member: Option<&super::Viewer>,
        ids: &[VideoId],
    ) -> AppResult<Vec<Video>> {
        let viewer = member.map(|v| v.user.id);
        let aud = Audience { viewer, teen: member.is_some_and(|v| self.deps.is_teen(&v.user)) };
        let blocked = match viewer {
            Some(v) => self.deps.store.block_set(v).await?,
            None => HashSet::new(),
        };
        let mut found = self.visible(ids, &blocked, aud).await?;
        Ok(ids.iter().filter_map(|id| found.remove(&id.0)).collect())
    }

    /// `items` as a page with what their fields need, loaded as for a feed page.
    pub(crate) async fn hydrated(&self, viewer: Option<UserId>, items: Vec<(Video, String)>) -> AppResult<FeedPage> {
        let hydration = self.hydrate(viewer, &items, &Known::default()).await?;
        Ok(FeedPage { items, has_next: false, hydration, cacheable: false })
    }

    /// The videos among `ids` that are published now, by authors neither banned nor in a
    /// block with the viewer, by id (one query).
    async fn visible(
        &self,
        ids: &[VideoId],
        blocked: &HashSet<UserId>,
        aud: Audience,
    ) -> AppResult<HashMap<Uuid, Video>> {
        Ok(self
            .deps
            .store
            .servable_by_ids(ids, aud.viewer, self.deps.adult_cutoff())
            .await?
            .into_iter()
            .filter(|v| !blocked.contains(&v.author_id))
            .filter(|v| !(aud.teen && v.maturity == Maturity::Mature))
            .map(|v| (v.id.0, v))
            .collect())
    }

    /// The id of the list a first page reads: the current one while it is fresh, else a new ranking
    /// (then with its ids). `blocked` is the viewer's block set.
    async fn current_list(
        &self,
        kind: FeedKind,
        viewer: Option<UserId>,
        blocked: &HashSet<UserId>,
    ) -> AppResult<(String, Option<FreshList>)> {
        let pointer = pointer_key(kind, viewer);
        if let Some(id) = self.live_list(kind, viewer, &pointer).await? {
            return Ok((id, None));
        }
        let _flight = match kind {
            FeedKind::Trending => {
                let guard = self.trending_flight.lock().await;
                // Ranked by the request this one waited for?
                if let Some(id) = self.live_list(kind, viewer, &pointer).await? {
                    return Ok((id, None));
                }
                Some(guard)
            }
            _ => None,
        };
        let (ids, known) = match (kind, viewer) {
            (FeedKind::ForYou, Some(v)) => self.rank_for_you(v, blocked).await?,
            _ => (self.trending_ids().await?, Known::default()),
        };
        let id = new_list_id();
        self.cache
            .put_list_and_pointer(
                (&list_key(kind, viewer, &id), &ids, self.settings.list_ttl),
                (&pointer, &id, self.settings.refresh),
            )
            .await
            .map_err(cache_err)?;
        Ok((id, Some(FreshList { ids, known })))
    }

    /// The list the pointer names, if both are still there.
    async fn live_list(&self, kind: FeedKind, viewer: Option<UserId>, pointer: &str) -> AppResult<Option<String>> {
        if let Some(raw) = self.cache.get(pointer).await.map_err(cache_err)?
            && let Ok(id) = String::from_utf8(raw)
            && self.cache.list_len(&list_key(kind, viewer, &id)).await.map_err(cache_err)?.is_some()
        {
            return Ok(Some(id));
        }
        Ok(None)
    }

    /// The global trending ranking (shared by everyone; a viewer's blocks apply at serve time).
    async fn trending_ids(&self) -> AppResult<Vec<Uuid>> {
        let now = Utc::now();
        let since = now - chrono::Duration::days(TRENDING_DAYS);
        let mut pool = self.deps.store.newest_published(Some(since), TRENDING_NEWEST).await?;
        pool.extend(self.deps.store.most_liked_since(since, TRENDING_LIKED).await?);
        let cands = pool.iter().map(|v| candidate(v, Sources::TRENDING, &self.topics)).collect();
        Ok(feed::rank::rank_trending(cands, now, LIST_LEN).into_iter().map(|s| s.id).collect())
    }

    /// The trending list as it stands (ranking it when there is none): the trending pool of FOR_YOU.
    async fn trending_pool(&self) -> AppResult<Vec<Uuid>> {
        // Boxed: FOR_YOU's ranking reaches the trending list through `current_list` too.
        let (list, fresh) = Box::pin(self.current_list(FeedKind::Trending, None, &HashSet::new())).await?;
        if let Some(FreshList { mut ids, .. }) = fresh {
            ids.truncate(TRENDING_POOL);
            return Ok(ids);
        }
        Ok(self
            .cache
            .list_range(&list_key(FeedKind::Trending, None, &list), 0, TRENDING_POOL)
            .await
            .map_err(cache_err)?
            .unwrap_or_default())
    }

    /// The pools every viewer's FOR_YOU shares, read again once older than [`FeedSettings::shared_pools`]
    /// (by one request; the others wait for it and reuse what it read).
    async fn shared_pools(&self) -> AppResult<Arc<SharedPools>> {
        let mut slot = self.shared.lock().await;
        if let Some(p) = slot.as_ref()
            && p.read_at.elapsed() < self.settings.shared_pools
        {
            return Ok(p.clone());
        }
        let store = &self.deps.store;
        let read_at = std::time::Instant::now();
        let fresh = store.newest_published(None, FRESH_POOL).await?;
        let trending: Vec<VideoId> = self.trending_pool().await?.into_iter().map(VideoId).collect();
        let trending = store.published_candidates(&trending).await?;
        let make = |rows: &[CandidateRow], source: Sources| -> Vec<Candidate> {
            rows.iter().map(|v| candidate(v, source, &self.topics)).collect()
        };
        let pools = Arc::new(SharedPools {
            read_at,
            fresh: make(&fresh, Sources::FRESH),
            trending: make(&trending, Sources::TRENDING),
        });
        *slot = Some(pools.clone());
        Ok(pools)
    }

    /// A fresh FOR_YOU ranking for `viewer`: the viewer's own pools (followed authors, remixes of
    /// what they liked, cameos of whom they follow) read now, the shared ones from
    /// [`FeedService::shared_pools`].
    async fn rank_for_you(&self, viewer: UserId, blocked: &HashSet<UserId>) -> AppResult<(Vec<Uuid>, Known)> {
        let store = &self.deps.store;
        let now = Utc::now();
        let followees: Vec<UserId> = store.followees(viewer).await?.into_iter().map(|(u, _)| u).collect();
        // The viewer's history, each read once with the videos' authors: the newest likes (the
        // remix pool's sources and author affinity) and views (what was seen within
        // `seen_window`, and author affinity).
        let liked = store.recent_likes(viewer, ENGAGEMENT_READ).await?;
        let viewed = store.recent_views(viewer, SEEN_READ).await?;
        let followed = self.followed_pool(&followees).await?;
        let remix_sources: Vec<VideoId> = liked.iter().take(REMIX_SOURCES).map(|(v, _)| *v).collect();
        let pools: Vec<(Vec<CandidateRow>, Sources)> = vec![
            (store.published_remixes_of_any(&remix_sources, REMIX_POOL).await?, Sources::REMIX_OF_LIKED),
            (store.published_with_cameos_of(&followees, CAMEO_POOL).await?, Sources::CAMEO_NETWORK),
        ];
        let shared = self.shared_pools().await?;
        let own: usize = pools.iter().map(|(videos, _)| videos.len()).sum();
        let mut cands = Vec::with_capacity(followed.len() + own + shared.fresh.len() + shared.trending.len());
        cands.extend(followed);
        for (videos, source) in &pools {
            cands.extend(videos.iter().map(|v| candidate(v, *source, &self.topics)));
        }
        cands.extend(shared.fresh.iter().cloned());
        cands.extend(shared.trending.iter().cloned());
        let seen_since =
            now - chrono::Duration::from_std(self.settings.seen_window).unwrap_or(chrono::Duration::hours(72));
        let seen: HashSet<Uuid> = viewed.iter().take_while(|w| w.at >= seen_since).map(|w| w.video.0).collect();
        let blocked: HashSet<Uuid> = blocked.iter().map(|u| u.0).collect();
        let mut affinity = affinity(&liked, &viewed);
        for f in &followees {
            *affinity.entry(f.0).or_default() += 3.0;
        }
        let preferences = store.feed_preferences::<Preferences>(viewer).await?.map(|(_, p)| p).unwrap_or_default();
        let v = RankViewer { id: viewer.0, now, affinity, preferences, seen, blocked };
        let ids = feed::rank::rank_for_you(cands, &v, &self.weights, LIST_LEN).into_iter().map(|s| s.id).collect();
        let known = Known {
            liked: (liked.len() < ENGAGEMENT_READ as usize).then(|| liked.iter().map(|(v, _)| *v).collect()),
            followees: Some(followees.into_iter().collect()),
        };
        Ok((ids, known))
    }

    /// FOR_YOU's followed pool: the newest [`FOLLOWED_POOL`] of the followed authors' kept
    /// videos ([`AUTHOR_POOL`] each), reading only the authors this process does not keep (one
    /// statement for their videos, one for their remix counts).
    async fn followed_pool(&self, followees: &[UserId]) -> AppResult<Vec<Candidate>> {
        let mut pools: Vec<Arc<[Candidate]>> = Vec::with_capacity(followees.len());
        let mut missing = Vec::new();
        for f in followees {
            match self.author_pools.get(&f.0) {
                Some(pool) => pools.push(pool),
                None => missing.push(*f),
            }
        }
        if !missing.is_empty() {
            let store = &self.deps.store;
            let rows = store.newest_per_author(&missing, AUTHOR_POOL).await?;
            let mut by_author: HashMap<Uuid, Vec<Candidate>> = missing.iter().map(|u| (u.0, Vec::new())).collect();
            for v in &rows {
                by_author.entry(v.author_id).or_default().push(candidate(v, Sources::FOLLOWED, &self.topics));
            }
            for (author, videos) in by_author {
                let pool: Arc<[Candidate]> = videos.into();
                self.author_pools.insert(author, pool.clone());
                pools.push(pool);
            }
        }
        let mut newest: Vec<&Candidate> = pools.iter().flat_map(|p| p.iter()).collect();
        let keep = FOLLOWED_POOL as usize;
        if newest.len() > keep {
            newest.select_nth_unstable_by(keep - 1, |a, b| (b.published_at, b.id).cmp(&(a.published_at, a.id)));
            newest.truncate(keep);
        }
        Ok(newest.into_iter().cloned().collect())
    }

    /// FOLLOWING: newest first by publication; small authors' videos come from the member's
    /// timeline (fanned out on write), large authors' from the store (fanned in on read).
    async fn following(
        &self,
        viewer: UserId,
        teen: bool,
        first: usize,
        cursor: Option<FeedCursor>,
    ) -> AppResult<Served> {
        let aud = Audience { viewer: Some(viewer), teen };
        let mut before = match cursor {
            None => None,
            Some(FeedCursor::Keyset { at_micros, id }) => Some((at_micros, id)),
            Some(FeedCursor::Ranked { .. }) => {
                return Err(AppError::bad_input("after", "after is not a cursor from this feed"));
            }
        };
        let store = &self.deps.store;
        let followees = store.followees(viewer).await?;
        let followed: HashSet<UserId> = followees.iter().map(|(u, _)| *u).collect();
        let large: Vec<UserId> =
            followees.iter().filter(|(_, n)| *n > self.settings.fanout_max_followers).map(|(u, _)| *u).collect();
        if !self.cache.timeline_built(viewer.0).await.map_err(cache_err)? {
            let small: Vec<UserId> =
                followees.iter().filter(|(_, n)| *n <= self.settings.fanout_max_followers).map(|(u, _)| *u).collect();
            let recent = store.published_by(&small, None, feed::cache::TIMELINE_CAP as u64).await?;
            let items: Vec<TimelineItem> = recent.iter().filter_map(timeline_item).collect();
            self.cache.build_timeline(viewer.0, &items).await.map_err(cache_err)?;
        }
        let blocked = store.block_set(viewer).await?;
        let mut items: Vec<(Video, String)> = Vec::with_capacity(first);
        // Stays true if the rounds run out before the page fills (more items may follow).
        let mut has_next = true;
        for _ in 0..4 {
            let want = first - items.len() + 1;
            let mut merged = self.cache.timeline_page(viewer.0, before, want).await.map_err(cache_err)?;
            let at = before.and_then(|(t, id)| chrono::DateTime::from_timestamp_micros(t).map(|d| (d, id)));
            merged.extend(store.published_by(&large, at, want as u64).await?.iter().filter_map(timeline_item));
            merged.sort_by_key(|i| std::cmp::Reverse((i.at_micros, i.video)));
            merged.dedup_by_key(|i| i.video);
            merged.retain(|i| followed.contains(&UserId(i.author)) && !blocked.contains(&UserId(i.author)));
            merged.truncate(want);
            let exhausted = merged.len() < want;
            let ids: Vec<VideoId> = merged.iter().map(|i| VideoId(i.video)).collect();
            let videos = self.visible(&ids, &blocked, aud).await?;
            let mut full = false;
            for it in &merged {
                if items.len() == first {
                    // An item beyond the page exists.
                    full = true;
                    break;
                }
                before = Some((it.at_micros, it.video));
                if let Some(v) = videos.get(&it.video) {
                    items.push((
                        v.clone(),
                        feed::cursor::encode(
                            FeedKind::Following.tag(),
                            &FeedCursor::Keyset { at_micros: it.at_micros, id: it.video },
                        ),
                    ));
                }
            }
            if full {
                break;
            }
            if exhausted {
                has_next = false;
                break;
            }
        }
        Ok(Served { items, has_next, known: Known { followees: Some(followed), liked: None } })
    }

    /// A video was published: push it into the timelines of its author's followers when the
    /// author is small enough (large authors are merged in at read time).
    pub async fn on_published(&self, video: &Video) -> AppResult<()> {
        let Some(published_at) = video.published_at else { return Ok(()) };
        self.published.notify_one();
        // The author's kept videos lack this one; FOR_YOU rankings by this process read them again.
        self.author_pools.invalidate(&video.author_id.0);
        let item =
            TimelineItem { at_micros: published_at.timestamp_micros(), video: video.id.0, author: video.author_id.0 };
        let Some(author) = self.deps.store.user(video.author_id).await? else { return Ok(()) };
        if author.follower_count > self.settings.fanout_max_followers {
            return Ok(());
        }
        let followers: Vec<Uuid> = self.deps.store.followers(video.author_id).await?.into_iter().map(|u| u.0).collect();
        self.cache.fan_out(&followers, item).await.map_err(cache_err)
    }

    /// The follow graph around `users` changed: their timelines and FOR_YOU lists are rebuilt
    /// on their next read.
    pub async fn on_graph_changed(&self, users: &[UserId]) -> AppResult<()> {
        for u in users {
            self.cache.drop_timeline(u.0).await.map_err(cache_err)?;
            self.cache.delete(&pointer_key(FeedKind::ForYou, Some(*u))).await.map_err(cache_err)?;
        }
        // Their cached pages show whom they follow and whom they block.
        viewers_changed(&self.deps, users).await;
        Ok(())
    }

    /// The member's stated preferences changed: their next first page is ranked afresh.
    pub async fn on_preferences_changed(&self, user: UserId) -> AppResult<()> {
        self.cache.delete(&pointer_key(FeedKind::ForYou, Some(user))).await.map_err(cache_err)?;
        viewers_changed(&self.deps, &[user]).await;
        Ok(())
    }
}

/// A published video's place in timelines (none before publication).
/// How much the viewer engaged with each author: +2 per like among `liked`, +1 per view among
/// the newest [`ENGAGEMENT_READ`] of `viewed` (both carry the videos' authors).
fn affinity(liked: &[(VideoId, UserId)], viewed: &[RecentView]) -> HashMap<Uuid, f32> {
    let watched = viewed.get(..ENGAGEMENT_READ as usize).unwrap_or(viewed);
    let mut out: HashMap<Uuid, f32> = HashMap::new();
    let weighted = liked.iter().map(|(_, a)| (a, 2.0)).chain(watched.iter().map(|w| (&w.author, 1.0)));
    for (author, w) in weighted {
        *out.entry(author.0).or_default() += w;
    }
    out
}

fn timeline_item(v: &CandidateRow) -> Option<TimelineItem> {
    Some(TimelineItem { at_micros: v.published_at?.timestamp_micros(), video: v.id, author: v.author_id })
}

fn pointer_key(kind: FeedKind, viewer: Option<UserId>) -> String {
    match viewer {
        Some(v) if kind == FeedKind::ForYou => format!("{}:cur:{}", kind.tag(), v.0.simple()),
        _ => format!("{}:cur", kind.tag()),
    }
}

fn list_key(kind: FeedKind, viewer: Option<UserId>, list: &str) -> String {
    match viewer {
        Some(v) if kind == FeedKind::ForYou => format!("{}:list:{}:{list}", kind.tag(), v.0.simple()),
        _ => format!("{}:list:{list}", kind.tag()),
    }
}
