//! The GraphQL service of the short-video app: accounts, invites and (in later parts) videos,
//! cameos, the feed and moderation, over actix-web and async-graphql.
//!
//! Layers: `api` (GraphQL) and `http` (routes) → `domain` (rules) → `store` (SQL). `kv` holds
//! rate limits and revocations (memory or Redis), `mail` sends mail, `auth` handles secrets.

pub mod app;
pub mod config;
pub mod http;
