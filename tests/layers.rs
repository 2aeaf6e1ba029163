//! The layers as facts: each crate's direct dependencies (its `Cargo.toml`) say which layer it
//! is in, so the compiler refuses an arrow in the wrong direction. This test keeps those
//! manifests honest: a new dependency that breaks the layering fails here, with the rule named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::collections::BTreeSet;
use std::path::Path;

/// Dependencies of `dir/Cargo.toml`: (name, optional) for `[dependencies]` (not dev or build).
fn deps(dir: &str) -> Vec<(String, bool)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: toml::Table = toml::from_str(&text).unwrap();
    let Some(table) = doc.get("dependencies").and_then(|d| d.as_table()) else { return vec![] };
    table
        .iter()
        .map(|(name, spec)| {
            let optional = spec.get("optional").and_then(toml::Value::as_bool).unwrap_or(false);
            (name.clone(), optional)
        })
        .collect()
}

fn required(dir: &str) -> BTreeSet<String> {
    deps(dir).into_iter().filter(|(_, o)| !o).map(|(n, _)| n).collect()
}

const SQL: &[&str] = &["sea-orm", "sea-orm-migration", "sqlx", "rusqlite", "migrations", "store"];
const CACHE: &[&str] = &["redis"];
const HTTP: &[&str] = &["actix-web", "actix-cors", "async-graphql-actix-web", "backend"];
const GRAPHQL: &[&str] = &["async-graphql", "async-graphql-actix-web", "api"];

fn refuse(dir: &str, what: &str, forbidden: &[&str]) {
    let found: Vec<String> = required(dir).into_iter().filter(|d| forbidden.contains(&d.as_str())).collect();
    assert!(found.is_empty(), "{dir} must not depend on {what}, but its Cargo.toml lists {found:?}");
}

#[test]
fn the_kernel_depends_on_no_io_crate() {
    for (what, list) in [("SQL", SQL), ("Redis", CACHE), ("HTTP", HTTP), ("GraphQL", GRAPHQL)] {
        refuse("core", what, list);
    }
    // Its database and GraphQL mappings are optional features, off for the domain.
    let optional: BTreeSet<String> = deps("core").into_iter().filter(|(_, o)| *o).map(|(n, _)| n).collect();
    assert!(optional.iter().all(|d| d == "sea-orm" || d == "async-graphql"), "core's optional deps: {optional:?}");
}

#[test]
fn the_domain_depends_on_no_sql_cache_http_or_graphql_crate() {
    refuse("domain", "SQL (only through store)", &["sea-orm", "sea-orm-migration", "sqlx", "rusqlite", "migrations"]);
    refuse("domain", "Redis (only through kv, jobs and feed)", CACHE);
    refuse("domain", "HTTP", HTTP);
    refuse("domain", "GraphQL", GRAPHQL);
    let core = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../domain/Cargo.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&core).unwrap();
    let features =
        doc["dependencies"]["app-core"].get("features").and_then(|f| f.as_array()).cloned().unwrap_or_default();
    assert!(features.is_empty(), "the domain uses app-core without its db/graphql features: {features:?}");
}

#[test]
fn the_api_reaches_data_only_through_the_domain() {
    refuse("api", "SQL or the store", SQL);
    refuse("api", "Redis", CACHE);
    refuse("api", "HTTP", HTTP);
}

#[test]
fn adapters_stay_in_their_lane() {
    for dir in ["store", "kv", "mail", "push"] {
        refuse(dir, "HTTP", HTTP);
        refuse(dir, "GraphQL", GRAPHQL);
        refuse(dir, "the domain", &["domain"]);
    }
    refuse("store", "Redis", CACHE);
    refuse("kv", "SQL", SQL);
    refuse("mail", "SQL", SQL);
    refuse("mail", "Redis", CACHE);
    refuse("push", "SQL", SQL);
    refuse("push", "Redis", CACHE);
}

#[test]
fn the_shared_crates_know_nothing_of_the_service() {
    for dir in
        ["jobs", "media", "meaning", "moderation", "feed", "generator", "config", "audio", "reconnect", "telemetry"]
    {
        refuse(dir, "the service's layers", &["backend", "api", "domain", "store", "kv", "mail"]);
        refuse(dir, "SQL", &["sea-orm", "sea-orm-migration", "migrations"]);
        refuse(dir, "HTTP", HTTP);
        refuse(dir, "GraphQL", GRAPHQL);
    }
}

#[test]
fn the_encoder_crate_holds_the_model_only() {
    // Texts in, vectors out: no other workspace crate, no database, no network.
    refuse("meaning", "workspace crates", &["app-core", "jobs", "media", "moderation", "feed", "generator", "config"]);
    refuse("meaning", "Redis", CACHE);
}

#[test]
fn the_sound_crate_owns_samples_only() {
    // No codec, container or runtime: Opus and the MP4 belong to `media`, ONNX to `generator`.
    refuse("audio", "workspace crates", &["app-core", "jobs", "media", "moderation", "feed", "generator", "config"]);
    refuse("audio", "codecs and ONNX", &["opus", "mp4", "muxide", "openh264", "ort"]);
}
