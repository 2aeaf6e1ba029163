//! GraphQL hygiene: limits, batches, production hardening, malformed requests — every refusal
//! carries a code from the contract.

use serde_json::{Value, json};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_batches_and_malformed_requests() {
    let app = app(Engine::Sqlite).tweak(|c| c.graphql.max_depth = 6).start().await;
    // Depth.
    let deep = "{ me { invitedBy { invitedBy { invitedBy { invitedBy { invitedBy { invitedBy { id } } } } } } } }";
    let r = app.gql(deep, json!({}), None).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
    // Syntax and unknown fields.
    assert_eq!(app.code("{ me { id ", json!({}), None).await, "BAD_USER_INPUT");
    let r = app.gql("{ myInvitez { code } }", json!({}), None).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT");
    assert!(
        r["errors"][0]["message"].as_str().unwrap().contains("Did you mean"),
        "suggestions are on in development: {r}"
    );
    // Wrong variable types.
    assert_eq!(app.code(LOG_IN, json!({"input": {"login": 5}}), None).await, "BAD_USER_INPUT");

    // Batches: within the cap they run, past it the request is refused.
    let one = json!({"query": "{ me { id } }"});
    let ok: Value = app
        .http
        .post(format!("{}/graphql", app.base))
        .json(&json!([one, one]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok.as_array().unwrap().len(), 2);
    let many: Vec<Value> = (0..11).map(|_| one.clone()).collect();
    let resp = app.http.post(format!("{}/graphql", app.base)).json(&many).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(code_of(&body), "BAD_USER_INPUT");

    // Not JSON at all.
    let resp = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(code_of(&resp.json().await.unwrap()), "BAD_USER_INPUT");
    // Oversized body.
    let huge = json!({"query": format!("{{ me {{ id }} }} #{}", "x".repeat(2 * 1024 * 1024))});
    let resp = app.http.post(format!("{}/graphql", app.base)).json(&huge).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    // A chunked body without a length is cut off at the limit too.
    let chunks = futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let resp = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(code_of(&resp.json().await.unwrap()), "BAD_USER_INPUT");
    // Form and text bodies (what a cross-site form can post) are refused.
    let resp = app
        .http
        .post(format!("{}/graphql", app.base))
        .header("content-type", "text/plain")
        .body(r#"{"query":"{ me { id } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(code_of(&resp.json().await.unwrap()), "BAD_USER_INPUT");
    // No mutations over GET (none by link); queries are fine (tests/api/conventions.rs).
    let resp = app
        .http
        .get(format!("{}/graphql?query=mutation%7BlogOut(refreshToken%3A%22x%22)%7D", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let resp = app.http.get(format!("{}/graphql?query=%7Bme%7Bid%7D%7D", app.base)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complexity_limit() {
    let app = app(Engine::Sqlite).tweak(|c| c.graphql.max_complexity = 10).start().await;
    let q = "{ a: me { id username } b: me { id username } c: me { id username } d: me { id username } }";
    assert_eq!(app.code(q, json!({}), None).await, "BAD_USER_INPUT");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_turns_off_introspection_and_suggestions() {
    let app = app(Engine::Sqlite).tweak(|c| c.server.env = backend::config::AppEnv::Production).start().await;
    let r = app.gql("{ __schema { types { name } } }", json!({}), None).await;
    assert!(r.get("errors").is_some() || r["data"]["__schema"].is_null(), "{r}");
    let r = app.gql("{ myInvitez { code } }", json!({}), None).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT");
    assert!(!r["errors"][0]["message"].as_str().unwrap().contains("Did you mean"), "{r}");
    app.stop().await;

    let dev = app_dev().await;
    let r = dev.gql("{ __schema { queryType { name } } }", json!({}), None).await;
    assert_eq!(r["data"]["__schema"]["queryType"]["name"], "Query");
    dev.stop().await;
}

async fn app_dev() -> TestApp {
    app(Engine::Sqlite).start().await
}
