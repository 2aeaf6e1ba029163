//! Two API nodes over one PostgreSQL and one Redis, each answering a repeated feed query from its
//! own memory (`reconnect::changes::Mirror`): a change made through one node is seen on the other by the
//! time the request that made it has answered — a removal, a like, a block, a log-out. (A ranked
//! page shows one video per author, so each video here has its own.)

use serde_json::{Value, json};

use crate::feeds::published;
use crate::harness::*;

const PAGE: &str = "query { feed(kind: TRENDING, first: 10) { edges { node { id viewerHasLiked } } } }";

struct Node {
    base: String,
    http: reqwest::Client,
}

impl Node {
    async fn feed(&self, token: &str) -> Value {
        self.http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({"query": PAGE}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The ids on the viewer's page, in order (panics on errors).
    async fn ids(&self, token: &str) -> Vec<String> {
        let r = self.feed(token).await;
        assert!(r.get("errors").is_none(), "{r}");
        r["data"]["feed"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn memory_hits(&self) -> f64 {
        let m = self.http.get(format!("{}/metrics", self.base)).send().await.unwrap().text().await.unwrap();
        m.lines()
            .find_map(|l| l.strip_prefix("feed_cache_lookups_total{layer=\"memory\",result=\"hit\"} "))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// Asks twice and checks that the second answer came from this node's memory; returns it.
    async fn warm(&self, token: &str) -> Vec<String> {
        let first = self.ids(token).await;
        let before = self.memory_hits().await;
        let second = self.ids(token).await;
        assert_eq!(second, first);
        assert_eq!(self.memory_hits().await, before + 1.0, "the repeated page came from this node's memory");
        second
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_through_one_node_is_seen_at_once_on_the_other() {
    let a = app(Engine::Postgres).redis().start().await;
    let running_b = backend::app::start(&a.config).await.unwrap();
    let b = Node { base: format!("http://{}", running_b.addr), http: reqwest::Client::new() };
    let code = a.mint(4, 1).await;
    let (viewer, viewer_refresh, _) = a.sign_up(&code[0], "viewer").await;
    let (author_token, _, author) = a.sign_up(&code[1], "author").await;
    let (_, _, keeper) = a.sign_up(&code[2], "keeper").await;
    let (_, _, other) = a.sign_up(&code[3], "other").await;
    let doomed = published(&a, &author, "a kite over the dunes").await;
    let kept = published(&a, &keeper, "sand ripples at noon").await;
    let others = published(&a, &other, "bread rising in a warm kitchen").await;

    // A removal through A: B's next answer lacks it, although B held the page in memory.
    let page = b.warm(&viewer).await;
    assert!(page.contains(&doomed) && page.contains(&kept) && page.contains(&others), "{page:?}");
    let d = a.ok("mutation($id: ID!) { deleteVideo(id: $id) }", json!({"id": doomed}), Some(&author_token)).await;
    assert_eq!(d["deleteVideo"], true);
    let page = b.ids(&viewer).await;
    assert!(!page.contains(&doomed) && page.contains(&kept), "{page:?}");

    // The viewer's own like through A shows on B's next page.
    b.warm(&viewer).await;
    a.ok("mutation($id: ID!) { likeVideo(id: $id) { id } }", json!({"id": kept}), Some(&viewer)).await;
    let r = b.feed(&viewer).await;
    let liked: Vec<&Value> = r["data"]["feed"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["id"] == kept.as_str())
        .map(|e| &e["node"]["viewerHasLiked"])
        .collect();
    assert_eq!(liked, [&json!(true)], "{r}");

    // A block through A: the blocked member's videos are gone from B's next page.
    b.warm(&viewer).await;
    a.ok("mutation($id: ID!) { block(userId: $id) }", json!({"id": other}), Some(&viewer)).await;
    let page = b.ids(&viewer).await;
    assert!(!page.contains(&others) && page.contains(&kept), "{page:?}");

    // A log-out through A: B refuses the access token at once, though it holds the page.
    b.warm(&viewer).await;
    a.ok("mutation($t: String!) { logOut(refreshToken: $t) }", json!({"t": viewer_refresh}), Some(&viewer)).await;
    let r = b.feed(&viewer).await;
    assert_eq!(code_of(&r), "UNAUTHENTICATED", "{r}");

    running_b.handle.stop(false).await;
    a.stop().await;
}
