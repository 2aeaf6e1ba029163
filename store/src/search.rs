//! Search's rows: the vectors of published videos (`video_embeddings`, written by the API nodes'
//! indexer, read by every node's in-memory index) and members by handle and name.
//!
//! Invariant: a vector row exists only for a video that was published when it was written; the
//! index never decides visibility (a removed video's row may stay until its video goes): search
//! results pass `Store::servable_by_ids` and the viewer's blocks like feed pages do.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use crate::entities::{cameos, users, video_embeddings, videos};
use crate::{Match, Store, lower_like};
use app_core::age::BirthMonth;
use app_core::error::AppResult;
use app_core::model::{Cameo, CameoPermission, CameoStatus, User, VideoStatus};
use app_core::types::{UserId, VideoId};

/// A stored vector with its video's text.
#[derive(Debug, Clone)]
pub struct EmbeddingRow {
    /// The video.
    pub video_id: VideoId,
    /// Its prompt and caption, as the index reads them for words.
    pub text: String,
    /// 384 little-endian `f32`.
    pub vector: Vec<u8>,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
}

/// What search reads of a video: its prompt, then its caption on a new line when it has one.
fn search_text(prompt: &str, caption: Option<&str>) -> String {
    match caption.map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => format!("{prompt}\n{c}"),
        None => prompt.to_owned(),
    }
}

impl Store {
    /// Up to `limit` published videos with no vector from `model` yet, newest first, with the
    /// text to embed.
    pub async fn videos_to_embed(&self, model: &str, limit: u64) -> AppResult<Vec<(VideoId, String)>> {
        let has_vector = Query::select()
            .expr(Expr::val(1))
            .from(video_embeddings::Entity)
            .and_where(
                Expr::col((video_embeddings::Entity, video_embeddings::Column::VideoId))
                    .equals((videos::Entity, videos::Column::Id)),
            )
            .and_where(Expr::col((video_embeddings::Entity, video_embeddings::Column::Model)).eq(model))
            .to_owned();
        let rows: Vec<(Uuid, String, Option<String>)> = videos::Entity::find()
            .select_only()
            .column(videos::Column::Id)
            .column(videos::Column::Prompt)
            .column(videos::Column::Caption)
            .filter(videos::Column::Status.eq(VideoStatus::Published))
            .filter(Expr::exists(has_vector).not())
            .order_by_desc(videos::Column::PublishedAt)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(id, p, c)| (VideoId(id), search_text(&p, c.as_deref()))).collect())
    }

    /// Stores vectors made by `model` (replacing one from another model), written now.
    pub async fn put_embeddings(&self, model: &str, rows: Vec<(VideoId, Vec<u8>)>) -> AppResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let models = rows.into_iter().map(|(id, vector)| video_embeddings::ActiveModel {
            video_id: Set(id.0),
            model: Set(model.to_owned()),
            vector: Set(vector),
            created_at: Set(now),
        });
        video_embeddings::Entity::insert_many(models)
            .on_conflict(
                OnConflict::column(video_embeddings::Column::VideoId)
                    .update_columns([
                        video_embeddings::Column::Model,
                        video_embeddings::Column::Vector,
                        video_embeddings::Column::CreatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        Ok(())
    }

    /// Up to `limit` vectors of `model` written at or after `since` (all when `None`), oldest first,
    /// with their videos' text; a video no longer published is left out.
    pub async fn embeddings_since(
        &self,
        model: &str,
        since: Option<DateTime<Utc>>,
        after: Option<(DateTime<Utc>, VideoId)>,
        limit: u64,
    ) -> AppResult<Vec<EmbeddingRow>> {
        let mut q = video_embeddings::Entity::find().filter(video_embeddings::Column::Model.eq(model));
        if let Some(at) = since {
            q = q.filter(video_embeddings::Column::CreatedAt.gte(at));
        }
        if let Some((at, id)) = after {
            q = q.filter(
                video_embeddings::Column::CreatedAt
                    .gt(at)
                    .or(video_embeddings::Column::CreatedAt.eq(at).and(video_embeddings::Column::VideoId.gt(id.0))),
            );
        }
        let rows = q
            .order_by_asc(video_embeddings::Column::CreatedAt)
            .order_by_asc(video_embeddings::Column::VideoId)
            .limit(limit)
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let texts: std::collections::HashMap<Uuid, String> = videos::Entity::find()
            .select_only()
            .column(videos::Column::Id)
            .column(videos::Column::Prompt)
            .column(videos::Column::Caption)
            .filter(videos::Column::Id.is_in(rows.iter().map(|r| r.video_id)))
            .filter(videos::Column::Status.eq(VideoStatus::Published))
            .into_tuple::<(Uuid, String, Option<String>)>()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|(id, p, c)| (id, search_text(&p, c.as_deref())))
            .collect();
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                texts.get(&r.video_id).map(|text| EmbeddingRow {
                    video_id: VideoId(r.video_id),
                    text: text.clone(),
                    vector: r.vector,
                    created_at: r.created_at,
                })
            })
            .collect())
    }

    /// Members (not banned) whose handle starts with `text` or whose handle or display name
    /// contains it (any case): an exact handle first, then handles that start with it, then the
    /// rest; most followed first within each; at most `limit`.
    pub async fn search_members(&self, text: &str, limit: u64) -> AppResult<Vec<User>> {
        let text = text.trim().trim_start_matches('@').to_lowercase();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let query = |filter: sea_orm::sea_query::SimpleExpr, n: u64| {
            users::Entity::find()
                .filter(users::Column::BannedAt.is_null())
                .filter(filter)
                .order_by_desc(users::Column::FollowerCount)
                .order_by_asc(users::Column::UsernameKey)
                .limit(n)
                .all(&self.db)
        };
        // Three small reads, so a well-followed "contains" match never pushes out the exact handle.
        let exact = query(users::Column::UsernameKey.eq(text.clone()), 1).await?;
        let prefix = query(lower_like(users::Column::UsernameKey, &text, Match::Prefix), limit).await?;
        let contains = query(
            lower_like(users::Column::UsernameKey, &text, Match::Anywhere).or(lower_like(
                users::Column::DisplayName,
                &text,
                Match::Anywhere,
            )),
            limit,
        )
        .await?;
        let mut users: Vec<User> = Vec::new();
        for m in exact.into_iter().chain(prefix).chain(contains) {
            if !users.iter().any(|u| u.id.0 == m.id) {
                users.push(crate::user_from(m));
            }
        }
        users.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(users)
    }

    /// Cameos anyone may ask to use (active, permission `EVERYONE`) whose name contains `text`
    /// (any case), by owners neither banned, nor teens (when `adult_cutoff` is set), nor in
    /// `blocked`; names that start with it first, then by name; at most `limit`.
    pub async fn search_public_cameos(
        &self,
        text: &str,
        adult_cutoff: Option<BirthMonth>,
        blocked: &[UserId],
        limit: u64,
    ) -> AppResult<Vec<Cameo>> {
        let text = text.trim().trim_start_matches('@').to_lowercase();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let mut owner_out = Expr::col(users::Column::BannedAt).is_not_null();
        if let Some(cutoff) = adult_cutoff {
            owner_out = owner_out.or(Expr::col(users::Column::BirthMonth).gt(cutoff.as_string()));
        }
        let owners_out = Query::select().column(users::Column::Id).from(users::Entity).and_where(owner_out).to_owned();
        let mut q = cameos::Entity::find()
            .filter(cameos::Column::Status.eq(CameoStatus::Active))
            .filter(cameos::Column::Permission.eq(CameoPermission::Everyone))
            .filter(lower_like(cameos::Column::Name, &text, Match::Anywhere))
            .filter(Expr::col(cameos::Column::OwnerId).not_in_subquery(owners_out));
        if !blocked.is_empty() {
            q = q.filter(cameos::Column::OwnerId.is_not_in(blocked.iter().map(|u| u.0)));
        }
        let rows =
            q.order_by_asc(cameos::Column::Name).order_by_asc(cameos::Column::Id).limit(limit).all(&self.db).await?;
        let mut out: Vec<Cameo> = rows.into_iter().map(crate::cameos::cameo_from).collect::<AppResult<_>>()?;
        out.sort_by_key(|c| !c.name.to_lowercase().starts_with(&text));
        Ok(out)
    }

    /// Published videos in which a cameo of `owner` appears, newest published first, after the
    /// keyset `(published_at, id)`; at most `limit`. Visibility beyond `PUBLISHED` is the
    /// caller's filter.
    pub async fn cameo_feed_of(
        &self,
        owner: UserId,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: u64,
    ) -> AppResult<Vec<app_core::model::Video>> {
        let owned = Query::select()
            .column(cameos::Column::Id)
            .from(cameos::Entity)
            .and_where(Expr::col(cameos::Column::OwnerId).eq(owner.0))
            .to_owned();
        let featuring = Query::select()
            .column(crate::entities::video_cameos::Column::VideoId)
            .from(crate::entities::video_cameos::Entity)
            .and_where(Expr::col(crate::entities::video_cameos::Column::CameoId).in_subquery(owned))
            .to_owned();
        let mut q = videos::Entity::find()
            .filter(videos::Column::Status.eq(VideoStatus::Published))
            .filter(Expr::col(videos::Column::Id).in_subquery(featuring));
        if let Some((at, id)) = after {
            q = q.filter(
                videos::Column::PublishedAt
                    .lt(at)
                    .or(videos::Column::PublishedAt.eq(at).and(videos::Column::Id.lt(id))),
            );
        }
        q.order_by_desc(videos::Column::PublishedAt)
            .order_by_desc(videos::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(crate::generation::video_from)
            .collect()
    }
}
