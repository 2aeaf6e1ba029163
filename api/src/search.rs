//! `search`: videos, members and cameos for a line of text (`domain::search`).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, Result, Union};

use super::accounts::UserObject;
use super::cameos::CameoObject;
use super::videos::VideoObject;
use super::{ApiResult, caller, services};
use app_core::model::SearchKind;
use domain::search::SearchHit;

/// One search result: a video, a member or a cameo (a person's or a character).
#[derive(Union)]
pub enum SearchResult {
    /// A published video.
    Video(Box<VideoObject>),
    /// A member.
    User(Box<UserObject>),
    /// A cameo or character anyone may ask to use.
    Cameo(Box<CameoObject>),
}

/// Search.
#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Published videos by the meaning and the words of their prompts and captions, members by
    /// handle and name, cameos and characters anyone may ask to use by name; all kinds when
    /// `kinds` is left out. Open to anyone; what the viewer may not see (removed, banned,
    /// blocked, a teen's private videos) is never returned. At most 200 results a query.
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        kinds: Option<Vec<SearchKind>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, SearchResult>> {
        let first = super::social::feed_page_size(first)?;
        let c = caller(ctx)?;
        let page = services(ctx)?
            .search
            .search(&c.caller, &c.client, &query, kinds.as_deref(), first, after.as_deref())
            .await
            .api()?;
        super::social::prime(ctx, &page.videos).await?;
        let mut conn = Connection::new(after.is_some(), page.has_next);
        conn.edges.extend(page.items.into_iter().map(|(hit, cursor)| {
            let node = match hit {
                SearchHit::Video(v) => SearchResult::Video(Box::new(VideoObject(*v))),
                SearchHit::Member(u) => SearchResult::User(Box::new(UserObject(*u))),
                SearchHit::Character(c) => SearchResult::Cameo(Box::new(CameoObject(*c))),
            };
            Edge::new(cursor, node)
        }));
        Ok(conn)
    }

    /// The cameo feed: published videos in which a cameo of the member (or, later, the
    /// character) with `handle` appears, newest first; what the viewer may not see is left out.
    /// A handle naming nobody (or someone banned, or in a block with the viewer): `NOT_FOUND`.
    async fn videos_with_cameo(
        &self,
        ctx: &Context<'_>,
        handle: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, VideoObject>> {
        let first = super::social::feed_page_size(first)?;
        let c = caller(ctx)?;
        let page = services(ctx)?.search.videos_with_cameo(&c.caller, &handle, first, after.as_deref()).await.api()?;
        super::social::prime(ctx, &page).await?;
        let mut conn = Connection::new(after.is_some(), page.has_next);
        conn.edges.extend(page.items.into_iter().map(|(v, cursor)| Edge::new(cursor, VideoObject(v))));
        Ok(conn)
    }
}
