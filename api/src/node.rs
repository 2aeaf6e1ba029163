//! Refetching by global id: the Relay `Node` interface and `node(id:)`.
//!
//! Every id the service makes is a UUIDv7, unique across tables, so an id alone says what it
//! names: `node` looks for a video, then a member, then a cameo, and answers with what the query
//! that names the type would answer to this caller (a draft only to its author and moderators, a
//! cameo that is not active only to its owner and moderators), or null. A job is not a `Node`:
//! it shares its id with the video it makes (`job(id:)` reads it).

use async_graphql::{Context, ID, Interface, Object, Result};

use crate::accounts::{UserObject, load_user};
use crate::cameos::CameoObject;
use crate::videos::VideoObject;
use crate::{ApiResult, caller, parse_id};
use app_core::types::{CameoId, UserId, VideoId};
use domain::cameos::CameoService;
use domain::videos::VideoService;

/// An object a client can refetch by its id alone (the objects boxed: a video is much larger
/// than the others).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Its global id (a UUID)."))]
pub enum Node {
    /// A video.
    Video(Box<VideoObject>),
    /// A member.
    User(Box<UserObject>),
    /// A cameo.
    Cameo(Box<CameoObject>),
}

/// The `node` query.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The video, member or cameo with this id, as `video`, `user` and `cameo` show it to the
    /// caller; null when the caller may see nothing with this id.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let video = parse_id(&id, "id", VideoId::parse)?;
        let c = caller(ctx)?;
        if let Some(v) = ctx.data::<VideoService>()?.video(&c.caller, video).await.api()? {
            return Ok(Some(Node::Video(Box::new(VideoObject(v)))));
        }
        if let Some(u) = load_user(ctx, UserId(video.0)).await? {
            return Ok(Some(Node::User(Box::new(u))));
        }
        let cameo = ctx.data::<CameoService>()?.cameo(&c.caller, CameoId(video.0)).await.api()?;
        Ok(cameo.map(|k| Node::Cameo(Box::new(CameoObject(k)))))
    }
}
