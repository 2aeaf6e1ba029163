//! System tests through the real HTTP/GraphQL surface, on SQLite and on PostgreSQL, with Redis
//! where the rate limits, revocations, queue and feed cache should live there.
//!
//! `harness.rs` is the test-app builder: `app(Engine::Sqlite | Engine::Postgres)` gives a fresh
//! SQLite file or a fresh PostgreSQL database per test (`TEST_POSTGRES_URL`), `.redis()` a Redis key
//! prefix of its own (`TEST_REDIS_URL`), mail to a temporary folder, the tiny model and the open_nsfw
//! frame classifier, a watermark key and C2PA CA of the test's own, no in-process workers unless a
//! test asks, and `.tweak(|c| …)` for any configuration; `.start()` runs `backend::app::start` on
//! port 0 and returns a client for HTTP and WebSocket. `on_both_engines!` makes one story into a
//! test per database. `harness::binary` builds and finds the workspace binaries (`backend`,
//! `generator`) that some tests spawn as processes.
//!
//! One file per area: `accounts` (sessions, rotation and reuse, reset, roles, bans, audit),
//! `invites` (quotas, the last-use race, the waitlist, the tree), `generation` (live progress,
//! cancel, restarts, fairness, separate `generator` processes with one SIGKILLed, dead letters),
//! `moderation` (the gate against tampered files, `verifyProvenance` on re-encodes, frame-check
//! cases, reports, appeals, escalation, the policy through `createVideo`), `cameos` (checks of
//! verification uploads, the consent matrix at submit, finish and publish, revocation and races),
//! `remixes`, `social` (counts under concurrent writes, blocks), `feeds` (ranking rules, fan-out
//! and fan-in, statements per page, caches and epochs), `hygiene` (limits, batches, malformed
//! requests), `ops` (health, metrics, the command line, SMTP against a real server, the schema file,
//! a database fault, the web files), `sound`, `storyboard` (shots joined into one video, checked
//! before queueing), `faults` (the production shape as processes under load while each part fails
//! in turn), `teens` (age at sign-up, the teen rules for adults, teens and parents, controls,
//! unlinking, moderators' corrections), `push` (devices, delivery to the loopback APNs, FCM and Web
//! Push of `push_servers`, retries, quiet hours, a crash mid-send, the digest), `ingest` (the
//! clips phones record, broken files). Most feed tests write their published videos with the store's
//! own job and video functions, so a test can have dozens.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

mod harness;

mod accounts;
mod atomic;
mod cameos;
mod conventions;
mod extend;
mod faults;
mod feeds;
mod generation;
mod hygiene;
mod ingest;
mod invites;
mod mirror;
mod moderation;
mod ops;
mod push;
mod push_servers;
mod remixes;
mod search;
mod social;
mod sound;
mod storyboard;
mod teens;
mod traces;
