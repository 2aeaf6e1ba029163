//! The social graph through the real server: follows and their counts, likes and views
//! (idempotent, consistent under concurrent requests), blocks hiding members both ways in
//! comments, notifications of follows, likes, comments, remixes; bad input.

use serde_json::json;

use crate::feeds::{member, published};
use crate::harness::*;
use crate::on_both_engines;

const USER: &str = "query($u: String!) { user(username: $u) { id followerCount followingCount viewerFollows } }";
const FOLLOW: &str = "mutation($u: ID!) { follow(userId: $u) { id followerCount followingCount viewerFollows } }";
const UNFOLLOW: &str = "mutation($u: ID!) { unfollow(userId: $u) { id followerCount viewerFollows } }";
const LIKE: &str = "mutation($v: ID!) { likeVideo(id: $v) { id likeCount viewerHasLiked } }";
const UNLIKE: &str = "mutation($v: ID!) { unlikeVideo(id: $v) { id likeCount viewerHasLiked } }";
const VIDEO: &str = "query($v: ID!) { video(id: $v) { id likeCount viewCount commentCount viewerHasLiked comments(first: 20) { edges { node { body author { username } } } } } }";
const VIEW: &str = "mutation($v: ID!, $ms: Int!) { recordView(videoId: $v, watchMs: $ms) }";
const COMMENT: &str = "mutation($v: ID!, $b: String!) { commentOnVideo(videoId: $v, body: $b) { id } }";
const BLOCK: &str = "mutation($u: ID!) { block(userId: $u) }";
const NOTES: &str = "{ notifications(first: 20) { unreadCount edges { node { kind message } } } }";

on_both_engines!(follows_likes_views_and_counts, |engine| async move {
    let app = app(engine).tweak(|c| c.limits.redeem_per_ip_per_minute = 1000).start().await;
    let (ann, ann_id) = member(&app, "ann").await;
    let (bob, bob_id) = member(&app, "bob").await;

    // Follow: counts on both sides, idempotent, the followee told once.
    let f = app.ok(FOLLOW, json!({"u": bob_id}), Some(&ann)).await;
    assert_eq!((f["follow"]["followerCount"].as_i64(), f["follow"]["viewerFollows"].as_bool()), (Some(1), Some(true)));
    let f = app.ok(FOLLOW, json!({"u": bob_id}), Some(&ann)).await;
    assert_eq!(f["follow"]["followerCount"], 1, "a second follow changes nothing");
    let me = app.ok(USER, json!({"u": "ann"}), Some(&ann)).await;
    assert_eq!((me["user"]["followingCount"].as_i64(), me["user"]["followerCount"].as_i64()), (Some(1), Some(0)));
    let n = app.ok(NOTES, json!({}), Some(&bob)).await;
    let follows: Vec<_> = n["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["kind"] == "user.followed")
        .collect();
    assert_eq!(follows.len(), 1, "{n}");
    assert!(follows[0]["node"]["message"].as_str().unwrap().contains("@ann"));
    // Bad input, unknown members, oneself, signed out.
    assert_eq!(app.code(FOLLOW, json!({"u": "nope"}), Some(&ann)).await, "BAD_USER_INPUT");
    assert_eq!(app.code(FOLLOW, json!({"u": uuid::Uuid::new_v4().to_string()}), Some(&ann)).await, "NOT_FOUND");
    assert_eq!(app.code(FOLLOW, json!({"u": ann_id}), Some(&ann)).await, "BAD_USER_INPUT");
    assert_eq!(app.code(FOLLOW, json!({"u": bob_id}), None).await, "UNAUTHENTICATED");
    // Unfollow, twice.
    for _ in 0..2 {
        let u = app.ok(UNFOLLOW, json!({"u": bob_id}), Some(&ann)).await;
        assert_eq!(
            (u["unfollow"]["followerCount"].as_i64(), u["unfollow"]["viewerFollows"].as_bool()),
            (Some(0), Some(false))
        );
    }

    // Likes: idempotent, counted once, the author told once; drafts and unknown ids are absent.
    let v = published(&app, &bob_id, "a kite over the dunes").await;
    for _ in 0..2 {
        let l = app.ok(LIKE, json!({"v": v}), Some(&ann)).await;
        assert_eq!(
            (l["likeVideo"]["likeCount"].as_i64(), l["likeVideo"]["viewerHasLiked"].as_bool()),
            (Some(1), Some(true))
        );
    }
    let n = app.ok(NOTES, json!({}), Some(&bob)).await;
    assert_eq!(
        n["notifications"]["edges"].as_array().unwrap().iter().filter(|e| e["node"]["kind"] == "video.liked").count(),
        1
    );
    assert_eq!(app.ok(VIDEO, json!({"v": v}), Some(&bob)).await["video"]["viewerHasLiked"], false);
    assert_eq!(app.ok(VIDEO, json!({"v": v}), None).await["video"]["viewerHasLiked"], false);
    for _ in 0..2 {
        let l = app.ok(UNLIKE, json!({"v": v}), Some(&ann)).await;
        assert_eq!(
            (l["unlikeVideo"]["likeCount"].as_i64(), l["unlikeVideo"]["viewerHasLiked"].as_bool()),
            (Some(0), Some(false))
        );
    }
    assert_eq!(app.code(LIKE, json!({"v": uuid::Uuid::new_v4().to_string()}), Some(&ann)).await, "NOT_FOUND");
    assert_eq!(app.code(LIKE, json!({"v": "x"}), Some(&ann)).await, "BAD_USER_INPUT");

    // Views: members counted once, the longest watch kept and clamped to the video's length.
    for ms in [1000, 500, 9_000_000] {
        assert_eq!(app.ok(VIEW, json!({"v": v, "ms": ms}), Some(&ann)).await["recordView"], true);
    }
    let (cat, _) = member(&app, "cat").await;
    app.ok(VIEW, json!({"v": v, "ms": 200}), Some(&cat)).await;
    // The author watching their own video is not a view.
    app.ok(VIEW, json!({"v": v, "ms": 3000}), Some(&bob)).await;
    assert_eq!(app.ok(VIDEO, json!({"v": v}), Some(&ann)).await["video"]["viewCount"], 2);
    let stored = app.running.store.video(app_core::types::VideoId::parse(&v).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.watch_ms_total, 4000 + 200, "ann's watch is clamped to the 4 s video");
    assert_eq!(app.code(VIEW, json!({"v": v, "ms": -1}), Some(&ann)).await, "BAD_USER_INPUT");
    assert_eq!(app.code(VIEW, json!({"v": v, "ms": 10}), None).await, "UNAUTHENTICATED");
    app.stop().await;
});

on_both_engines!(counts_hold_under_concurrent_writes, |engine| async move {
    let app = app(engine).tweak(|c| c.limits.redeem_per_ip_per_minute = 1000).start().await;
    let (_, star_id) = member(&app, "star").await;
    let v = published(&app, &star_id, "a lighthouse in a storm").await;
    let mut fans = vec![];
    for i in 0..8 {
        fans.push(member(&app, &format!("fan{i}")).await);
    }
    // Every fan follows, likes and views twice at once; half of them then unlike twice at once.
    let mut tasks = vec![];
    for (token, _) in &fans {
        for _ in 0..2 {
            for q in [(FOLLOW, json!({"u": star_id})), (LIKE, json!({"v": v})), (VIEW, json!({"v": v, "ms": 1500}))] {
                let (app_base, token, http) = (app.base.clone(), token.clone(), app.http.clone());
                tasks.push(tokio::spawn(async move {
                    let r: serde_json::Value = http
                        .post(format!("{app_base}/graphql"))
                        .bearer_auth(token)
                        .json(&json!({"query": q.0, "variables": q.1}))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    assert!(r.get("errors").is_none(), "{r}");
                }));
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut tasks = vec![];
    for (token, _) in fans.iter().take(4) {
        for _ in 0..2 {
            let (app_base, token, http, v) = (app.base.clone(), token.clone(), app.http.clone(), v.clone());
            tasks.push(tokio::spawn(async move {
                let r: serde_json::Value = http
                    .post(format!("{app_base}/graphql"))
                    .bearer_auth(token)
                    .json(&json!({"query": UNLIKE, "variables": {"v": v}}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(r.get("errors").is_none(), "{r}");
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let u = app.ok(USER, json!({"u": "star"}), None).await;
    assert_eq!(u["user"]["followerCount"], 8);
    let d = app.ok(VIDEO, json!({"v": v}), None).await;
    assert_eq!((d["video"]["likeCount"].as_i64(), d["video"]["viewCount"].as_i64()), (Some(4), Some(8)));
    let stored = app.running.store.video(app_core::types::VideoId::parse(&v).unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.watch_ms_total, 8 * 1500);
    for (_, id) in &fans {
        let u = app.ok(USER, json!({"u": app.running.store.user(app_core::types::UserId::parse(id).unwrap()).await.unwrap().unwrap().username}), None).await;
        assert_eq!(u["user"]["followingCount"], 1);
    }
    app.stop().await;
});

on_both_engines!(blocks_hide_members_both_ways, |engine| async move {
    let app = app(engine).tweak(|c| c.limits.redeem_per_ip_per_minute = 1000).start().await;
    let (ann, ann_id) = member(&app, "ann").await;
    let (bob, bob_id) = member(&app, "bob").await;
    let (cat, _) = member(&app, "cat").await;
    app.ok(FOLLOW, json!({"u": bob_id}), Some(&ann)).await;
    app.ok(FOLLOW, json!({"u": ann_id}), Some(&bob)).await;
    let anns = published(&app, &ann_id, "a canoe on a misty lake").await;
    let cats_video = published(&app, &backend_id(&app, "cat").await, "a tram in the rain").await;
    app.ok(COMMENT, json!({"v": cats_video, "b": "bob was here"}), Some(&bob)).await;
    app.ok(COMMENT, json!({"v": cats_video, "b": "ann was here"}), Some(&ann)).await;

    assert_eq!(app.ok(BLOCK, json!({"u": bob_id}), Some(&ann)).await["block"], true);
    // Follows ended both ways, counts with them.
    let a = app.ok(USER, json!({"u": "ann"}), Some(&ann)).await;
    assert_eq!((a["user"]["followerCount"].as_i64(), a["user"]["followingCount"].as_i64()), (Some(0), Some(0)));
    let b = app.ok(USER, json!({"u": "bob"}), Some(&ann)).await;
    assert_eq!((b["user"]["followerCount"].as_i64(), b["user"]["viewerFollows"].as_bool()), (Some(0), Some(false)));
    // `viewerBlocks` tells the blocker only; the blocked member and strangers see false.
    let blocks = "query($u: String!) { user(username: $u) { viewerBlocks } }";
    assert_eq!(app.ok(blocks, json!({"u": "bob"}), Some(&ann)).await["user"]["viewerBlocks"], true);
    assert_eq!(app.ok(blocks, json!({"u": "ann"}), Some(&bob)).await["user"]["viewerBlocks"], false);
    assert_eq!(app.ok(blocks, json!({"u": "bob"}), Some(&cat)).await["user"]["viewerBlocks"], false);
    assert_eq!(app.ok(blocks, json!({"u": "bob"}), None).await["user"]["viewerBlocks"], false);
    // Neither can follow the other again; Bob cannot like or comment on Ann's video.
    assert_eq!(app.code(FOLLOW, json!({"u": ann_id}), Some(&bob)).await, "FORBIDDEN");
    assert_eq!(app.code(FOLLOW, json!({"u": bob_id}), Some(&ann)).await, "FORBIDDEN");
    assert_eq!(app.code(LIKE, json!({"v": anns}), Some(&bob)).await, "NOT_FOUND");
    assert_eq!(app.code(COMMENT, json!({"v": anns, "b": "hello"}), Some(&bob)).await, "NOT_FOUND");
    assert_eq!(app.code(VIEW, json!({"v": anns, "ms": 100}), Some(&bob)).await, "NOT_FOUND");
    let remix = "mutation($v: ID!) { createVideo(input: {prompt: \"at dusk\", remixOf: $v}) { id } }";
    assert_eq!(
        app.code(remix, json!({"v": anns}), Some(&bob)).await,
        "NOT_FOUND",
        "a block hides the source from remixing"
    );
    // Each one's comments are hidden from the other; a third member sees both.
    let bodies = |token: String| {
        let app = &app;
        let v = cats_video.clone();
        async move {
            let d = app.ok(VIDEO, json!({"v": v}), Some(&token)).await;
            d["video"]["comments"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["body"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(bodies(ann.clone()).await, vec!["ann was here"]);
    assert_eq!(bodies(bob.clone()).await, vec!["bob was here"]);
    assert_eq!(bodies(cat.clone()).await.len(), 2);
    assert_eq!(app.ok(VIDEO, json!({"v": cats_video}), Some(&cat)).await["video"]["commentCount"], 2);
    // Unblocking lets them follow again; blocking oneself is bad input.
    assert_eq!(
        app.ok("mutation($u: ID!) { unblock(userId: $u) }", json!({"u": bob_id}), Some(&ann)).await["unblock"],
        true
    );
    assert_eq!(app.ok(blocks, json!({"u": "bob"}), Some(&ann)).await["user"]["viewerBlocks"], false);
    app.ok(FOLLOW, json!({"u": ann_id}), Some(&bob)).await;
    assert_eq!(app.code(BLOCK, json!({"u": ann_id}), Some(&ann)).await, "BAD_USER_INPUT");
    app.stop().await;
});

async fn backend_id(app: &TestApp, username: &str) -> String {
    app.running.store.user_by_username(username).await.unwrap().unwrap().id.to_string()
}
