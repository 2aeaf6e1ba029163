//! Integration tests through the real HTTP/GraphQL surface, on SQLite and on PostgreSQL,
//! with Redis where the rate limits and revocations should live there.

mod harness;

mod accounts;
mod hygiene;
mod invites;
mod ops;
