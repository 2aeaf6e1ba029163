//! `search` through the real server: videos by meaning and by words (the MiniLM encoder, the
//! stored vectors, every node's in-memory index), members by handle and name, cameos anyone may
//! use by name; what the viewer may not see never shows (removed, banned, blocked); anonymous
//! search; bad input in words; pages. On the embedded default and on PostgreSQL + Redis (two
//! API nodes sharing the database: a video published through one is found on the other, and a
//! removal on one hides it on the other at once).

use serde_json::json;

use crate::cameos::active_cameo;
use crate::feeds::{member, published};
use crate::harness::*;

const SEARCH: &str = "query($q: String!, $k: [SearchKind!], $n: Int, $a: String) {
  search(query: $q, kinds: $k, first: $n, after: $a) {
    edges { cursor node { __typename
      ... on Video { id prompt author { username } viewerHasLiked }
      ... on User { id username }
      ... on Cameo { id name } } }
    pageInfo { hasNextPage endCursor } } }";

/// (typename, id) of every result of one page.
async fn results(app: &TestApp, q: &str, kinds: Option<&[&str]>, token: Option<&str>) -> Vec<(String, String)> {
    let d = app.ok(SEARCH, json!({"q": q, "k": kinds, "n": 20}), token).await;
    d["search"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["__typename"].as_str().unwrap().to_owned(), e["node"]["id"].as_str().unwrap().to_owned()))
        .collect()
}

fn video_ids(r: &[(String, String)]) -> Vec<String> {
    r.iter().filter(|(t, _)| t == "Video").map(|(_, id)| id.clone()).collect()
}

async fn corpus(app: &TestApp, author: &str) -> Vec<String> {
    let prompts = [
        "a ginger cat chasing a laser dot across the kitchen floor",
        "a golden retriever catching a frisbee in the park",
        "a chef plating fresh pasta with basil",
        "an astronaut floating outside the space station",
        "a humpback whale breaching near a fishing boat",
        "neon signs reflected in wet streets of a city at night",
        "a haunted house with flickering lights at midnight",
        "a jazz trio playing in a smoky club",
        "a skateboarder landing a kickflip down stairs",
        "a zorbing race down a grassy hill",
    ];
    let mut ids = Vec::new();
    for p in prompts {
        ids.push(published(app, author, p).await);
    }
    ids
}

/// Video ids a search on another node answers.
async fn on_node(base: &str, q: &str, token: &str) -> Vec<String> {
    let vars = json!({"q": q, "k": ["VIDEO"], "n": 20});
    let r = gql_at(&reqwest::Client::new(), base, SEARCH, vars, Some(token), &[]).await;
    r["data"]["search"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn scenario(engine: Engine) {
    let two_nodes = matches!(engine, Engine::Postgres);
    let mut builder = app(engine).tweak(|c| c.feed.search_refresh = std::time::Duration::from_millis(200));
    if two_nodes {
        builder = builder.redis();
    }
    let app = builder.start().await;
    let (author, author_id) = member(&app, "maker").await;
    let (viewer, _) = member(&app, "viewer").await;
    let ids = corpus(&app, &author_id).await;
    let search = &app.running.services.search;
    // Publishing woke this node's refresher; one more round here makes sure it is done.
    search.refresh().await.unwrap();
    assert_eq!(search.indexed(), ids.len());
    let _ = author;

    // By meaning: no word of the query is in the prompt.
    let r = results(&app, "felines playing", Some(&["VIDEO"]), Some(&viewer)).await;
    assert_eq!(video_ids(&r).first(), Some(&ids[0]), "{r:?}");
    let r = results(&app, "outer space", Some(&["VIDEO"]), Some(&viewer)).await;
    assert_eq!(video_ids(&r).first(), Some(&ids[3]), "{r:?}");
    let r = results(&app, "something spooky", Some(&["VIDEO"]), None).await;
    assert_eq!(video_ids(&r).first(), Some(&ids[6]), "anonymous: {r:?}");
    // By words: a rare word the encoder does not know well still finds its video.
    let r = results(&app, "zorbing", Some(&["VIDEO"]), Some(&viewer)).await;
    assert_eq!(video_ids(&r).first(), Some(&ids[9]), "{r:?}");
    // Nothing close: nothing, not noise.
    assert!(results(&app, "quarterly tax return form", Some(&["VIDEO"]), Some(&viewer)).await.is_empty());

    // Members by handle and name; an exact handle first.
    let (_, maker2) = member(&app, "makerbot").await;
    let r = results(&app, "maker", Some(&["MEMBER"]), Some(&viewer)).await;
    assert_eq!(r.first(), Some(&("User".to_owned(), author_id.clone())), "{r:?}");
    assert!(r.contains(&("User".to_owned(), maker2.clone())), "{r:?}");
    let r = results(&app, "@MakerBot", Some(&["MEMBER"]), Some(&viewer)).await;
    assert_eq!(r.first().map(|x| &x.1), Some(&maker2), "{r:?}");
    // All kinds: the exact handle leads, videos follow.
    let r = results(&app, "maker", None, Some(&viewer)).await;
    assert_eq!(r.first().map(|x| &x.1), Some(&author_id), "{r:?}");

    // A new video is found by the refresher on its own, without being asked.
    let late = published(&app, &author_id, "a hot air balloon festival at dawn").await;
    let mut found = false;
    for _ in 0..50 {
        if video_ids(&results(&app, "balloons in the sky", Some(&["VIDEO"]), Some(&viewer)).await).contains(&late) {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(found, "a published video never became searchable");
    // A second API node over the same database finds it with its own index.
    let other = if two_nodes { Some(backend::app::start(&app.config).await.unwrap()) } else { None };
    let other_base = other.as_ref().map(|o| format!("http://{}", o.addr));
    if let Some(base) = &other_base {
        let mut seen = false;
        for _ in 0..100 {
            if on_node(base, "balloons in the sky", &viewer).await.contains(&late) {
                seen = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(seen, "the other node never indexed the video");
        assert!(on_node(base, "a cat chasing a laser", &viewer).await.contains(&ids[0]));
    }

    // A removal hides it at once; a block hides the author and their videos from the blocker.
    let admin = app.create_admin("boss").await;
    app.ok("mutation($v: ID!) { report(videoId: $v, reason: SPAM) }", json!({"v": ids[0]}), Some(&viewer)).await;
    let case =
        app.ok("query($v: ID!) { video(id: $v) { moderationCase { id } } }", json!({"v": ids[0]}), Some(&admin)).await;
    app.ok(
        "mutation($c: ID!) { resolveCase(id: $c, action: REMOVE, note: \"spam\") { id } }",
        json!({"c": case["video"]["moderationCase"]["id"]}),
        Some(&admin),
    )
    .await;
    assert!(!video_ids(&results(&app, "a cat chasing a laser", Some(&["VIDEO"]), None).await).contains(&ids[0]));
    if let Some(base) = &other_base {
        assert!(
            !on_node(base, "a cat chasing a laser", &viewer).await.contains(&ids[0]),
            "removed, yet found on the other node"
        );
    }
    let (blocker, _) = member(&app, "blocker").await;
    app.ok("mutation($u: ID!) { block(userId: $u) }", json!({"u": author_id}), Some(&blocker)).await;
    let r = results(&app, "maker", None, Some(&blocker)).await;
    assert!(r.iter().all(|(_, id)| id != &author_id && !ids.contains(id)), "{r:?}");
    assert!(!results(&app, "maker", None, Some(&viewer)).await.is_empty());

    // Pages: cursors go on where the last page ended, with no repeats.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..20 {
        let d = app.ok(SEARCH, json!({"q": "a video", "k": ["VIDEO"], "n": 1, "a": after}), Some(&viewer)).await;
        let s = &d["search"];
        seen.extend(s["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().to_owned()));
        if !s["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = Some(s["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "{seen:?}");
    assert!(seen.len() >= 2, "{seen:?}");

    // Bad input, in words, with the field named.
    for (vars, field) in [
        (json!({"q": "   "}), "query"),
        (json!({"q": "x".repeat(201)}), "query"),
        (json!({"q": "cats", "k": []}), "kinds"),
        (json!({"q": "cats", "n": 0}), "first"),
        (json!({"q": "cats", "a": "not-a-cursor"}), "after"),
    ] {
        let r = app.gql(SEARCH, vars.clone(), Some(&viewer)).await;
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{vars}: {r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field, "{r}");
    }
}

#[tokio::test]
async fn search_finds_by_meaning_and_words_and_hides_what_it_must_embedded() {
    scenario(Engine::Sqlite).await;
}

#[tokio::test]
async fn search_finds_by_meaning_and_words_and_hides_what_it_must_on_postgres() {
    scenario(Engine::Postgres).await;
}

/// Cameos anyone may ask to use are found by name; one limited to its owner is not.
#[tokio::test]
async fn public_cameos_are_found_by_name() {
    let app = app(Engine::Sqlite).start().await;
    let moder = app.create_admin("reviewer").await;
    let (ann, _) = member(&app, "ann").await;
    let open = active_cameo(&app, &ann, "Captain Waffles", "EVERYONE", &moder).await;
    let _private = active_cameo(&app, &ann, "Captain Secret", "ONLY_ME", &moder).await;
    let (bob, _) = member(&app, "bob").await;
    let r = results(&app, "captain", Some(&["CHARACTER"]), Some(&bob)).await;
    assert_eq!(r, vec![("Cameo".to_owned(), open)]);
}

/// Searching is limited per member, and per address when signed out; each has its own count.
#[tokio::test]
async fn searches_are_rate_limited() {
    let app = app(Engine::Sqlite).tweak(|c| c.limits.searches_per_minute = 3).start().await;
    let (viewer, _) = member(&app, "seeker").await;
    for _ in 0..3 {
        results(&app, "cats", None, None).await;
    }
    let r = app.gql(SEARCH, json!({"q": "cats"}), None).await;
    assert_eq!(code_of(&r), "RATE_LIMITED", "{r}");
    assert!(r["errors"][0]["extensions"]["retryAfterSeconds"].as_u64().is_some(), "{r}");
    // A member has a count of their own.
    for _ in 0..3 {
        results(&app, "cats", None, Some(&viewer)).await;
    }
    assert_eq!(code_of(&app.gql(SEARCH, json!({"q": "cats"}), Some(&viewer)).await), "RATE_LIMITED");
}
