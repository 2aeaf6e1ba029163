//! Search: `search(query, kinds)` over published videos (by meaning and by words), members (by
//! handle and name) and cameos anyone may ask to use (by name).
//!
//! Videos. Every API node keeps a `feed::search::SearchIndex` in memory. Its refresher
//! ([`SearchService::run`], every `APP_SEARCH_REFRESH_MS`) first embeds published videos that
//! have no vector yet (prompt and caption through the process's MiniLM encoder, batches of
//! [`EMBED_BATCH`]; `Store::videos_to_embed` / `put_embeddings`, so any node may do it and a
//! repeat only rewrites the same row), then reads the rows written since its last look
//! (`Store::embeddings_since`, from 30 s before the newest it has seen, so a row committed late by
//! another node is not missed) into the index. A new video is searchable on every node within
//! about two refresh periods of its publication (on the node that published it at once: publishing
//! wakes the refresher). A query is embedded once (the encoder's cache
//! answers repeats), the index fuses the best [`feed::search::CANDIDATES`] by meaning and by
//! words, and the hits pass the feed's visibility filter (`FeedService::visible_in_order`:
//! published now, author not banned nor in a block with the viewer, teen rules), so a removal, a
//! ban or a block hides a video from the next search on every node without touching the index.
//!
//! Members: `Store::search_members` (exact handle, then handles that start with the query, then
//! handles and display names that contain it; banned members never), minus the viewer's blocks;
//! a teen is found only by themselves, their mutuals and their linked parent.
//! Cameos: `Store::search_public_cameos` (active, permission `EVERYONE`, owner neither banned,
//! teen, nor in a block with the viewer).
//!
//! Order across kinds: each kind's list gives `1 / (60 + rank)`; an exact handle goes first; ties
//! go video, member, cameo. At most [`MAX_RESULTS`] results a query; pages are offsets into that
//! list, recomputed per page (a page may shift if something is published or removed meanwhile).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::feed::{FeedPage, FeedService};
use super::{Caller, Deps};
use app_core::error::{AppError, AppResult};
use app_core::model::{Cameo, SearchKind, User, Video};
use app_core::types::VideoId;
use feed::search::SearchIndex;

/// The encoder's name on stored vectors (a vector from another is made again).
pub const MODEL: &str = "all-MiniLM-L6-v2-int8";
/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most results one query gives, over all its pages.
pub const MAX_RESULTS: usize = 200;
/// Videos embedded per encoder call by the refresher.
pub const EMBED_BATCH: usize = 64;
/// Stored vectors read per round by the refresher.
const LOAD_BATCH: u64 = 2_000;
/// How far before the newest vector seen the refresher reads again.
const LATE_ROWS: chrono::Duration = chrono::Duration::seconds(30);

/// Settings.
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings {
    /// How often the refresher embeds new videos and reads new vectors.
    pub refresh: Duration,
    /// Searches per member (signed out: per client address).
    pub per_minute: kv::Limit,
}

/// One result.
#[derive(Debug, Clone)]
pub enum SearchHit {
    /// A published video.
    Video(Box<Video>),
    /// A member.
    Member(Box<User>),
    /// A cameo or character.
    Character(Box<Cameo>),
}

/// A page of results with what its videos' fields need.
pub struct SearchPage {
    /// Results and the cursor after each.
    pub items: Vec<(SearchHit, String)>,
    /// Whether more follow.
    pub has_next: bool,
    /// The page's videos as a hydrated feed page (authors, likes, follows, remix counts).
    pub videos: FeedPage,
}

/// The newest stored vector the index has read: when it was written, and its video.
type Mark = (DateTime<Utc>, VideoId);

/// Search (see the module documentation).
#[derive(Clone)]
pub struct SearchService {
    deps: Arc<Deps>,
    feed: FeedService,
    index: Arc<std::sync::RwLock<SearchIndex>>,
    /// The newest stored vector read (its time and video).
    mark: Arc<tokio::sync::Mutex<Option<Mark>>>,
    wake: Arc<Notify>,
    settings: SearchSettings,
}

fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("search:{offset}"))
}

fn decode_cursor(raw: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("search:")?.parse().ok().filter(|n| *n <= MAX_RESULTS)
}

/// The query trimmed, or why it cannot be searched.
fn clean_query(query: &str) -> AppResult<&str> {
    let q = query.trim();
    if q.is_empty() {
        return Err(AppError::bad_input("query", "type something to search for"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(AppError::bad_input("query", format!("a search may have up to {MAX_QUERY_CHARS} characters")));
    }
    if q.chars().any(char::is_control) {
        return Err(AppError::bad_input("query", "a search is one line of text"));
    }
    Ok(q)
}

impl SearchService {
    /// Wires the service with an empty index (the refresher fills it).
    pub fn new(deps: Arc<Deps>, feed: FeedService, settings: SearchSettings) -> Self {
        let wake = feed.published_signal();
        Self { deps, feed, index: Arc::default(), mark: Arc::default(), wake, settings }
    }

    /// Videos in this node's index.
    pub fn indexed(&self) -> usize {
        self.index.read().map(|i| i.len()).unwrap_or(0)
    }

    /// The refresher: runs [`SearchService::refresh`] every `refresh` or when woken, forever; a
    /// zero `refresh` means this node does not index (it returns at once).
    pub async fn run(self) {
        if self.settings.refresh.is_zero() {
            tracing::info!("search: indexing is off on this node (APP_SEARCH_REFRESH_MS = 0)");
            return;
        }
        loop {
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "search: refresh failed; trying again");
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.refresh) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// Embeds published videos without a vector, then reads new vectors into the index.
    pub async fn refresh(&self) -> AppResult<()> {
        let Some(encoder) = self.deps.meaning.clone() else { return Ok(()) };
        let store = &self.deps.store;
        loop {
            let todo = store.videos_to_embed(MODEL, EMBED_BATCH as u64).await?;
            if todo.is_empty() {
                break;
            }
            let full = todo.len() == EMBED_BATCH;
            let encoder = encoder.clone();
            let rows =
                tokio::task::spawn_blocking(move || -> Result<Vec<(VideoId, Vec<u8>)>, meaning::MeaningError> {
                    let texts: Vec<&str> = todo.iter().map(|(_, t)| t.as_str()).collect();
                    let vectors = encoder.embed_many(&texts)?;
                    Ok(todo.iter().zip(vectors).map(|((id, _), v)| (*id, feed::search::vector_bytes(&v))).collect())
                })
                .await
                .map_err(|e| AppError::internal("search: embedding task", e))?
                .map_err(|e| AppError::internal("search: embedding", e))?;
            store.put_embeddings(MODEL, rows).await?;
            if !full {
                break;
            }
        }
        let mut mark = self.mark.lock().await;
        let since = mark.map(|(at, _)| at - LATE_ROWS);
        let mut after = None;
        loop {
            let rows = store.embeddings_since(MODEL, since, after, LOAD_BATCH).await?;
            let Some(last) = rows.last() else { break };
            after = Some((last.created_at, last.video_id));
            if mark.is_none_or(|(at, id)| (last.created_at, last.video_id.0) > (at, id.0)) {
                *mark = Some((last.created_at, last.video_id));
            }
            let full = rows.len() as u64 == LOAD_BATCH;
            let mut index = self.index.write().map_err(|_| AppError::internal("search", "index lock poisoned"))?;
            for row in &rows {
                if let Some(v) = feed::search::vector_from_bytes(&row.vector) {
                    index.insert(row.video_id.0, &row.text, &v);
                }
            }
            drop(index);
            if !full {
                break;
            }
        }
        Ok(())
    }

    /// A page of results for `query` (see the module documentation). Anyone may search, up to
    /// `per_minute` times a minute per member (signed out: per `client` address).
    pub async fn search(
        &self,
        caller: &Caller,
        client: &str,
        query: &str,
        kinds: Option<&[SearchKind]>,
        first: usize,
        after: Option<&str>,
    ) -> AppResult<SearchPage> {
        let member = caller.optional()?;
        let q = clean_query(query)?;
        let kinds: Vec<SearchKind> = match kinds {
            None => vec![SearchKind::Video, SearchKind::Member, SearchKind::Character],
            Some([]) => return Err(AppError::bad_input("kinds", "name at least one kind, or leave kinds out for all")),
            Some(k) => k.to_vec(),
        };
        let offset = match after {
            None => 0,
            Some(raw) => decode_cursor(raw)
                .ok_or_else(|| AppError::bad_input("after", "after is not a cursor from this search"))?,
        };
        let who = match member {
            Some(v) => format!("user:{}", v.user.id),
            None => format!("ip:{client}"),
        };
        self.deps.kv.hit(self.settings.per_minute, &who).await?;
        let viewer = member.map(|v| v.user.id);
        let blocked: Vec<app_core::types::UserId> = match viewer {
            Some(v) => self.deps.store.block_set(v).await?.into_iter().collect(),
            None => Vec::new(),
        };
        // (score, kind order, hit)
        let mut ranked: Vec<(f32, u8, SearchHit)> = Vec::new();
        let rr = |rank: usize| 1.0 / (60.0 + rank as f32 + 1.0);
        if kinds.contains(&SearchKind::Video) {
            let vector = match self.deps.meaning.clone() {
                Some(encoder) => {
                    let text = q.to_owned();
                    let embedded = tokio::task::spawn_blocking(move || encoder.embed(&text).map_err(|e| e.to_string()))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r);
                    embedded.inspect_err(|error| tracing::error!(%error, "search: query not embedded; words only")).ok()
                }
                None => None,
            };
            let ids: Vec<VideoId> = {
                let index = self.index.read().map_err(|_| AppError::internal("search", "index lock poisoned"))?;
                index.search(q, vector.as_deref(), MAX_RESULTS).into_iter().map(|h| VideoId(h.id)).collect()
            };
            let videos = self.feed.visible_in_order(member, &ids).await?;
            ranked.extend(videos.into_iter().enumerate().map(|(i, v)| (rr(i), 0, SearchHit::Video(Box::new(v)))));
        }
        if kinds.contains(&SearchKind::Member) {
            let handle = q.trim_start_matches('@').to_lowercase();
            let mut members = Vec::new();
            for u in self.deps.store.search_members(q, 50).await? {
                if !blocked.contains(&u.id) && self.may_find_member(viewer, &u).await? {
                    members.push(u);
                }
            }
            ranked.extend(members.into_iter().enumerate().map(|(i, u)| {
                let score = if u.username.to_lowercase() == handle { 1.0 } else { rr(i) };
                (score, 1, SearchHit::Member(Box::new(u)))
            }));
        }
        if kinds.contains(&SearchKind::Character) {
            let cameos = self.deps.store.search_public_cameos(q, self.deps.adult_cutoff(), &blocked, 50).await?;
            ranked.extend(cameos.into_iter().enumerate().map(|(i, c)| (rr(i), 2, SearchHit::Character(Box::new(c)))));
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(MAX_RESULTS);
        let total = ranked.len();
        let items: Vec<(SearchHit, String)> = ranked
            .into_iter()
            .enumerate()
            .skip(offset)
            .take(first)
            .map(|(i, (_, _, hit))| (hit, encode_cursor(i + 1)))
            .collect();
        let has_next = offset + items.len() < total;
        let page_videos: Vec<(Video, String)> = items
            .iter()
            .filter_map(|(h, c)| match h {
                SearchHit::Video(v) => Some(((**v).clone(), c.clone())),
                _ => None,
            })
            .collect();
        let videos = self.feed.hydrated(viewer, page_videos).await?;
        Ok(SearchPage { items, has_next, videos })
    }
}

impl SearchService {
    /// Whether member search may show `member` to `viewer`: anyone, except that a teen is found
    /// only by themselves, their mutuals and their linked parent (the teen rules in `teens.rs`).
    async fn may_find_member(&self, viewer: Option<app_core::types::UserId>, member: &User) -> AppResult<bool> {
        if !self.deps.is_teen(member) {
            return Ok(true);
        }
        let Some(v) = viewer else { return Ok(false) };
        if v == member.id {
            return Ok(true);
        }
        let store = &self.deps.store;
        if store.follows(v, member.id).await? && store.follows(member.id, v).await? {
            return Ok(true);
        }
        Ok(store.guardian_link(member.id).await?.is_some_and(|l| l.parent_id == v))
    }
}

/// The cameo feed's cursors: keyset positions (the last video's publication time and id) in the
/// feeds' cursor format, under their own kind.
const CAMEO_FEED: &str = "CAMEO";

fn encode_cameo_cursor(at: DateTime<Utc>, id: VideoId) -> String {
    feed::cursor::encode(CAMEO_FEED, &feed::cursor::FeedCursor::Keyset { at_micros: at.timestamp_micros(), id: id.0 })
}

fn decode_cameo_cursor(raw: &str) -> Option<(DateTime<Utc>, uuid::Uuid)> {
    match feed::cursor::decode(CAMEO_FEED, raw)? {
        feed::cursor::FeedCursor::Keyset { at_micros, id } => Some((DateTime::from_timestamp_micros(at_micros)?, id)),
        feed::cursor::FeedCursor::Ranked { .. } => None,
    }
}

impl SearchService {
    /// A cameo feed (`videosWithCameo`): published videos in which a cameo of the member with
    /// `handle` appears (a leading `@` and case ignored), newest published first, as the viewer
    /// may see them (the feed's filter). A handle naming nobody, a banned member or one in a
    /// block with the viewer answers `NOT_FOUND`, the same for each.
    pub async fn videos_with_cameo(
        &self,
        caller: &Caller,
        handle: &str,
        first: usize,
        after: Option<&str>,
    ) -> AppResult<FeedPage> {
        let member = caller.optional()?;
        let viewer = member.map(|v| v.user.id);
        let handle = handle.trim().trim_start_matches('@');
        let mut cursor = match after {
            None => None,
            Some(raw) => Some(
                decode_cameo_cursor(raw)
                    .ok_or_else(|| AppError::bad_input("after", "after is not a cursor from this list"))?,
            ),
        };
        let not_found = || AppError::NotFound("member or character with this handle");
        let owner = match self.deps.store.user_by_username(handle).await? {
            Some(u) if u.banned_at.is_none() => u,
            _ => return Err(not_found()),
        };
        if let Some(v) = viewer
            && self.deps.store.block_set(v).await?.contains(&owner.id)
        {
            return Err(not_found());
        }
        let mut items: Vec<(Video, String)> = Vec::new();
        let mut has_next = false;
        // Videos the viewer may not see are skipped; a few reads fill the page.
        for _ in 0..4 {
            let want = (first - items.len() + 1) as u64;
            let rows = self.deps.store.cameo_feed_of(owner.id, cursor, want * 2).await?;
            let exhausted = (rows.len() as u64) < want * 2;
            let ids: Vec<VideoId> = rows.iter().map(|v| v.id).collect();
            if let Some(last) = rows.last() {
                cursor = last.published_at.map(|at| (at, last.id.0));
            }
            let visible = self.feed.visible_in_order(member, &ids).await?;
            for v in visible {
                if items.len() == first {
                    has_next = true;
                    break;
                }
                let at = v.published_at.unwrap_or(v.created_at);
                let c = encode_cameo_cursor(at, v.id);
                items.push((v, c));
            }
            if has_next || exhausted || cursor.is_none() {
                break;
            }
        }
        let mut page = self.feed.hydrated(viewer, items).await?;
        page.has_next = has_next;
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_others() {
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let id = VideoId(uuid::Uuid::now_v7());
        assert_eq!(decode_cameo_cursor(&encode_cameo_cursor(at, id)), Some((at, id.0)));
        assert_eq!(decode_cameo_cursor(&encode_cursor(3)), None);
        assert_eq!(decode_cursor(&encode_cursor(7)), Some(7));
        assert_eq!(decode_cursor("nonsense"), None);
        assert_eq!(decode_cursor(&encode_cursor(MAX_RESULTS + 1)), None);
    }

    #[test]
    fn queries_are_trimmed_and_bounded() {
        assert_eq!(clean_query("  cats ").unwrap(), "cats");
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(MAX_QUERY_CHARS + 1)] {
            assert!(matches!(clean_query(bad), Err(AppError::BadUserInput { .. })), "{bad:?}");
        }
    }
}
