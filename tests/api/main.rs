//! Integration tests through the real HTTP/GraphQL surface, on SQLite and on PostgreSQL,
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code
//! with Redis where the rate limits and revocations should live there.

mod harness;

mod accounts;
mod cameos;
mod feeds;
mod generation;
mod hygiene;
mod invites;
mod moderation;
mod ops;
mod remixes;
mod social;
