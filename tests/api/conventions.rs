//! The conventions mobile clients rely on: refetching by global id (`node`), automatic persisted
//! queries (Apollo APQ) over POST and GET, conditional GET (`ETag`, 304) with `Cache-Control`
//! that lets a CDN hold an anonymous feed page, and negotiated response compression.

use reqwest::header;
use serde_json::{Value, json};

use crate::feeds::{member, published};
use crate::harness::*;

const TRENDING: &str = "query { feed(kind: TRENDING, first: 5) { edges { node { id prompt } } } }";

fn sha256(text: &str) -> String {
    domain::auth::sha256_hex(text.as_bytes())
}

fn persisted(hash: &str) -> Value {
    json!({"persistedQuery": {"version": 1, "sha256Hash": hash}})
}

async fn post(app: &TestApp, body: Value, token: Option<&str>) -> Value {
    let mut r = app.http.post(format!("{}/graphql", app.base)).json(&body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.unwrap().json().await.unwrap()
}

/// `GET /graphql` with `params` (values JSON-encoded where the protocol says so).
async fn get(app: &TestApp, params: &[(&str, String)], headers: &[(header::HeaderName, &str)]) -> reqwest::Response {
    let mut url = reqwest::Url::parse(&format!("{}/graphql", app.base)).unwrap();
    url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    let mut r = app.http.get(url);
    for (k, v) in headers {
        r = r.header(k, *v);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn node_refetches_videos_members_and_nothing_else() {
    let app = app(Engine::Sqlite).start().await;
    let (token, author) = member(&app, "nodal").await;
    let video = published(&app, &author, "a kite over dunes").await;
    let q = "query($id: ID!) { node(id: $id) { __typename id ... on Video { prompt } ... on User { username } } }";
    let v = app.ok(q, json!({"id": video}), None).await;
    assert_eq!(v["node"], json!({"__typename": "Video", "id": video, "prompt": "a kite over dunes"}));
    let u = app.ok(q, json!({"id": author}), Some(&token)).await;
    assert_eq!(u["node"], json!({"__typename": "User", "id": author, "username": "nodal"}));
    // An id nothing has, and one that is not an id.
    let none = app.ok(q, json!({"id": uuid::Uuid::now_v7().to_string()}), None).await;
    assert_eq!(none["node"], Value::Null);
    let r = app.gql(q, json!({"id": "video:1"}), None).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
    // A video removed by a moderator is gone for viewers through node as through video.
    let id = app_core::types::VideoId::parse(&video).unwrap();
    let published = [domain::model::VideoStatus::Published];
    assert!(
        app.running
            .store
            .set_video_status(id, &published, domain::model::VideoStatus::Removed, Some("test"))
            .await
            .unwrap()
    );
    let gone = app.ok(q, json!({"id": video}), None).await;
    let direct = app.ok("query($id: ID!) { video(id: $id) { id } }", json!({"id": video}), None).await;
    assert_eq!(gone["node"], Value::Null);
    assert_eq!(direct["video"], Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn automatic_persisted_queries_over_post_and_get() {
    let app = app(Engine::Sqlite).start().await;
    let (token, author) = member(&app, "apq").await;
    published(&app, &author, "a lighthouse in fog").await;
    let hash = sha256(TRENDING);

    // Unknown hash: the code Apollo clients react to by sending the text.
    let miss = post(&app, json!({"extensions": persisted(&hash)}), Some(&token)).await;
    assert_eq!(code_of(&miss), "PERSISTED_QUERY_NOT_FOUND", "{miss}");
    assert_eq!(miss["errors"][0]["message"], "PersistedQueryNotFound");
    // Text with a hash that is not its own: refused, nothing registered under that hash.
    let forged = post(&app, json!({"query": "{ me { id } }", "extensions": persisted(&hash)}), Some(&token)).await;
    assert_eq!(code_of(&forged), "BAD_USER_INPUT", "{forged}");
    assert!(forged["errors"][0]["message"].as_str().unwrap().contains("does not match"), "{forged}");
    let still = post(&app, json!({"extensions": persisted(&hash)}), Some(&token)).await;
    assert_eq!(code_of(&still), "PERSISTED_QUERY_NOT_FOUND");
    // Registered with its text, then run by the hash alone.
    let reg = post(&app, json!({"query": TRENDING, "extensions": persisted(&hash)}), Some(&token)).await;
    assert!(reg.get("errors").is_none(), "{reg}");
    let hit = post(&app, json!({"extensions": persisted(&hash)}), Some(&token)).await;
    assert_eq!(hit, reg);
    assert_eq!(hit["data"]["feed"]["edges"][0]["node"]["prompt"], "a lighthouse in fog");
    // A feed query sent by hash is a feed query: the second time, the viewer's response cache
    // answers it.
    let again = post(&app, json!({"extensions": persisted(&hash)}), Some(&token)).await;
    assert_eq!(again, hit);
    let m = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    let hits = m
        .lines()
        .find_map(|l| l.strip_prefix("feed_cache_lookups_total{layer=\"response\",result=\"hit\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    assert_eq!(hits, Some(1.0), "{m}");

    // Over GET, by hash: the same page.
    let ext = persisted(&hash).to_string();
    let r = get(&app, &[("extensions", ext.clone())], &[]).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"], hit["data"]);
    // A hash nobody registered, over GET.
    let other = persisted(&sha256("{ me { id } }")).to_string();
    let r: Value = get(&app, &[("extensions", other)], &[]).await.json().await.unwrap();
    assert_eq!(code_of(&r), "PERSISTED_QUERY_NOT_FOUND");

    // GET runs queries only: a mutation, by text or by a registered hash, answers 405.
    let logout = "mutation { logOut(refreshToken: \"x\") }";
    let r = get(&app, &[("query", logout.into())], &[]).await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()[header::ALLOW], "POST");
    let refused: Value = r.json().await.unwrap();
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("only queries"), "{refused}");
    let m_hash = sha256(logout);
    post(&app, json!({"query": logout, "extensions": persisted(&m_hash)}), None).await;
    let r = get(&app, &[("extensions", persisted(&m_hash).to_string())], &[]).await;
    assert_eq!(r.status(), 405, "a mutation's hash over GET");
    // Malformed parameters are refused in words.
    let r = get(&app, &[("query", TRENDING.into()), ("variables", "[1".into())], &[]).await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(code_of(&b), "BAD_USER_INPUT");
    assert_eq!(b["errors"][0]["message"], "variables is not a JSON object");
    app.stop().await;
}

#[tokio::test]
async fn conditional_get_and_cache_headers() {
    let app = app(Engine::Sqlite).start().await;
    let (token, author) = member(&app, "etag").await;
    // Two authors (a ranked page spreads its authors), one of whom deletes their video later.
    let (other_token, other) = member(&app, "etag2").await;
    let doomed = published(&app, &other, "a clip about to be deleted").await;
    published(&app, &author, "rain on a tin roof").await;

    // Anonymous TRENDING: a shared cache may keep it for the feed's page time.
    let r = get(&app, &[("query", TRENDING.into())], &[]).await;
    assert_eq!(r.status(), 200);
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\"") && etag.len() == 68, "{etag}");
    assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=15");
    let vary: Vec<&str> = r.headers().get_all(header::VARY).iter().map(|v| v.to_str().unwrap()).collect();
    let vary = vary.join(", ").to_ascii_lowercase();
    assert!(vary.contains("authorization") && vary.contains("accept-encoding"), "{vary}");
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["data"]["feed"]["edges"].as_array().unwrap().len(), 2, "{first}");
    // Revalidation: unchanged → 304 without a body; a stale tag → the page again.
    let r = get(&app, &[("query", TRENDING.into())], &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = get(&app, &[("query", TRENDING.into())], &[(header::IF_NONE_MATCH, "\"stale\"")]).await;
    assert_eq!(r.status(), 200);
    // Deleting a video on the page changes it at once (removals never wait for the page time), so
    // the old tag no longer matches.
    let deleted = post(
        &app,
        json!({"query": "mutation($id: ID!) { deleteVideo(id: $id) }", "variables": {"id": doomed}}),
        Some(&other_token),
    )
    .await;
    assert_eq!(deleted["data"]["deleteVideo"], true, "{deleted}");
    let r = get(&app, &[("query", TRENDING.into())], &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(r.status(), 200, "the page changed, so its tag must have too");
    assert_ne!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    let page: Value = r.json().await.unwrap();
    let prompts: Vec<&Value> =
        page["data"]["feed"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]["prompt"]).collect();
    assert_eq!(prompts, [&json!("rain on a tin roof")]);
    // A signed-in viewer's page is private and revalidated every time.
    let bearer = format!("Bearer {token}");
    let r = get(&app, &[("query", TRENDING.into())], &[(header::AUTHORIZATION, &bearer)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "private, no-cache");
    let tag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
    let r =
        get(&app, &[("query", TRENDING.into())], &[(header::AUTHORIZATION, &bearer), (header::IF_NONE_MATCH, &tag)])
            .await;
    assert_eq!(r.status(), 304);
    // Not a feed page, or an error: never public.
    let r = get(&app, &[("query", "{ me { id } }".into())], &[]).await;
    assert_eq!(r.headers()[header::CACHE_CONTROL], "private, no-cache");
    let r = get(&app, &[("query", "{ feed(kind: FOR_YOU, first: 500) { edges { cursor } } }".into())], &[]).await;
    assert_eq!(r.headers()[header::CACHE_CONTROL], "private, no-cache");
    app.stop().await;
}

#[tokio::test]
async fn responses_are_compressed_as_the_client_asks() {
    let app = app(Engine::Sqlite).start().await;
    let (_, author) = member(&app, "squeeze").await;
    for i in 0..5 {
        published(&app, &author, &format!("clip number {i} of a long series about tides")).await;
    }
    let body = json!({"query": TRENDING});
    let send = |encoding: Option<&'static str>| {
        let mut r = app.http.post(format!("{}/graphql", app.base)).json(&body);
        if let Some(e) = encoding {
            r = r.header(header::ACCEPT_ENCODING, e);
        }
        r.send()
    };
    let plain = send(None).await.unwrap();
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    let plain = plain.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&plain).is_ok());
    let gz = send(Some("gzip")).await.unwrap();
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    let gz = gz.bytes().await.unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(gz.len() < plain.len(), "{} vs {}", gz.len(), plain.len());
    let br = send(Some("br;q=1.0, gzip;q=0.5")).await.unwrap();
    assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
    assert!(br.bytes().await.unwrap().len() < plain.len());
    // Without asking, or asking for what the server does not speak: as it is.
    let odd = send(Some("compress")).await.unwrap();
    assert!(odd.headers().get(header::CONTENT_ENCODING).is_none(), "{:?}", odd.headers());
    app.stop().await;
}
