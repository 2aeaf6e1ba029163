//! Invites: quotas, used-up / expired / revoked codes, the invite tree, the waitlist, limits.

use serde_json::json;

use crate::harness::*;
use crate::on_both_engines;

fn su(code: &str, username: &str) -> serde_json::Value {
    json!({"input": {"birthDate": "1990-04-12", "inviteCode": code, "email": format!("{username}@example.com"), "username": username, "password": "long enough secret"}})
}

/// A code with two uses admits two members, then refuses; the tree records who invited whom.
async fn invite_used_up_and_tree(engine: Engine) {
    let app = app(engine).start().await;
    let admin = app.create_admin("boss").await;
    let minted = app
        .ok(
            "mutation { mintInvites(count: 1, maxUses: 2, note: \"launch party\") { code usesLeft maxUses note url } }",
            json!({}),
            Some(&admin),
        )
        .await;
    let inv = &minted["mintInvites"][0];
    assert_eq!(inv["usesLeft"], 2);
    assert_eq!(inv["note"], "launch party");
    let code = inv["code"].as_str().unwrap().to_owned();
    assert!(code.len() >= 8);
    assert!(inv["url"].as_str().unwrap().ends_with(&format!("/join?code={code}")));

    let (a1, _, _) = app.sign_up(&code, "first").await;
    app.sign_up(&code, "second").await;
    let r = app.gql(SIGN_UP, su(&code, "third"), None).await;
    assert_eq!(code_of(&r), "INVITE_INVALID");
    assert_eq!(r["errors"][0]["message"], "this invite code cannot be used");

    // Each new member has their quota of single-use codes.
    let mine = app.ok("{ myInvites { code usesLeft maxUses redeemedBy { username } } }", json!({}), Some(&a1)).await;
    let mine = mine["myInvites"].as_array().unwrap().clone();
    assert_eq!(mine.len(), 4);
    assert!(mine.iter().all(|i| i["usesLeft"] == 1 && i["maxUses"] == 1));
    let child_code = mine[0]["code"].as_str().unwrap().to_owned();
    let (child, _, _) = app.sign_up(&child_code, "grandchild").await;
    let mine = app.ok("{ myInvites { code usesLeft redeemedBy { username } } }", json!({}), Some(&a1)).await;
    let used = mine["myInvites"].as_array().unwrap().iter().find(|i| i["code"] == child_code.as_str()).unwrap().clone();
    assert_eq!(used["usesLeft"], 0);
    assert_eq!(used["redeemedBy"][0]["username"], "grandchild");

    // invitedBy: the member whose code it was (admin-minted codes: the minting admin).
    let me = app.ok(ME, json!({}), Some(&child)).await;
    assert_eq!(me["me"]["invitedBy"]["username"], "first");
    let me = app.ok(ME, json!({}), Some(&a1)).await;
    assert_eq!(me["me"]["invitedBy"]["username"], "boss");

    // The admin view of a member's invitees; other members may not look.
    let q = "query($u: String!) { user(username: $u) { username invitees { username } } }";
    let tree = app.ok(q, json!({"u": "boss"}), Some(&admin)).await;
    let names: Vec<&str> =
        tree["user"]["invitees"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["first", "second"]);
    assert_eq!(app.code(q, json!({"u": "boss"}), Some(&child)).await, "FORBIDDEN");
    let own = app.ok(q, json!({"u": "first"}), Some(&a1)).await;
    assert_eq!(own["user"]["invitees"][0]["username"], "grandchild");
    // Email is private to the member and admins.
    let q = "query($u: String!) { user(username: $u) { email } }";
    assert_eq!(app.ok(q, json!({"u": "first"}), Some(&child)).await["user"]["email"], serde_json::Value::Null);
    assert_eq!(app.ok(q, json!({"u": "first"}), Some(&admin)).await["user"]["email"], "first@example.com");
    app.stop().await;
}
on_both_engines!(used_up_and_tree, invite_used_up_and_tree);

/// Unknown, malformed and expired codes all answer INVITE_INVALID with the same message.
async fn invalid_codes_look_alike(engine: Engine) {
    let app = app(engine).start().await;
    let expired = app
        .running
        .store
        .insert_invites(vec![store::NewInvite {
            code: "EXPIRED234".into(),
            owner_id: None,
            created_by: None,
            max_uses: 5,
            expires_at: Some(chrono::Utc::now() - chrono::Duration::minutes(1)),
            note: None,
        }])
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    let mut messages = vec![];
    for (i, code) in ["EXPIRED234", "ZZZZZZZZZZ", "0000", "", "<script>"].iter().enumerate() {
        let r = app.gql(SIGN_UP, su(code, &format!("user{i}")), None).await;
        assert_eq!(code_of(&r), "INVITE_INVALID", "{code}: {r}");
        messages.push(r["errors"][0]["message"].clone());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]));
    app.stop().await;
}
on_both_engines!(invalid_codes, invalid_codes_look_alike);

/// Concurrent redemptions of a single-use code: exactly one member is created.
async fn single_use_under_race(engine: Engine) {
    let app = app(engine).start().await;
    let code = app.mint(1, 1).await.remove(0);
    let futs = (0..4).map(|i| app.gql(SIGN_UP, su(&code, &format!("racer{i}")), None));
    let results = futures_util::future::join_all(futs).await;
    let ok = results.iter().filter(|r| r.get("errors").is_none()).count();
    assert_eq!(ok, 1, "{results:?}");
    for r in results.iter().filter(|r| r.get("errors").is_some()) {
        assert_eq!(code_of(r), "INVITE_INVALID", "{r}");
    }
    app.stop().await;
}
on_both_engines!(race, single_use_under_race);

/// The waitlist: join, admin grant mails a code, the code works once.
async fn waitlist_grant(engine: Engine) {
    let app = app(engine).start().await;
    let admin = app.create_admin("granter").await;
    let join = "mutation($e: String!) { joinWaitlist(email: $e) }";
    assert_eq!(app.ok(join, json!({"e": "Wanda@Example.com"}), None).await["joinWaitlist"], true);
    assert_eq!(app.ok(join, json!({"e": "wanda@example.com"}), None).await["joinWaitlist"], true);
    assert_eq!(app.code(join, json!({"e": "wanda"}), None).await, "BAD_USER_INPUT");
    let grant = "mutation($e: String!) { grantWaitlist(email: $e) { code usesLeft expiresAt } }";
    let member_code = app.mint(1, 1).await.remove(0);
    let (member, _, _) = app.sign_up(&member_code, "member").await;
    assert_eq!(app.code(grant, json!({"e": "wanda@example.com"}), Some(&member)).await, "FORBIDDEN");
    // The console's list: oldest first, pending ones only on request; admins only.
    app.ok(join, json!({"e": "xavier@example.com"}), None).await;
    let list = "query($p: Boolean! = false) { waitlist(pending: $p, first: 10) { edges { node { email grantedAt invite { code } } } } }";
    assert_eq!(app.code(list, json!({}), Some(&member)).await, "FORBIDDEN");
    let l = app.ok(list, json!({"p": true}), Some(&admin)).await;
    let emails: Vec<&str> =
        l["waitlist"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["wanda@example.com", "xavier@example.com"]);
    let g = app.ok(grant, json!({"e": "wanda@example.com"}), Some(&admin)).await;
    let l = app.ok(list, json!({"p": true}), Some(&admin)).await;
    assert_eq!(l["waitlist"]["edges"].as_array().unwrap().len(), 1, "{l}");
    assert_eq!(l["waitlist"]["edges"][0]["node"]["email"], "xavier@example.com");
    let l = app.ok(list, json!({}), Some(&admin)).await;
    assert_eq!(l["waitlist"]["edges"][0]["node"]["invite"]["code"], g["grantWaitlist"]["code"]);
    assert!(l["waitlist"]["edges"][0]["node"]["grantedAt"].is_string());
    assert!(l["waitlist"]["edges"][1]["node"]["invite"].is_null());
    assert_eq!(g["grantWaitlist"]["usesLeft"], 1);
    assert!(g["grantWaitlist"]["expiresAt"].is_string());
    let mailed = app.mailed_token("wanda@example.com", "your invite code");
    assert_eq!(mailed, g["grantWaitlist"]["code"].as_str().unwrap());
    app.sign_up(&mailed, "wanda").await;
    assert_eq!(code_of(&app.gql(SIGN_UP, su(&mailed, "wanda2"), None).await), "INVITE_INVALID");
    app.stop().await;
}
on_both_engines!(waitlist, waitlist_grant);

/// Redemption is limited per client address (in Redis here, shared by all API nodes).
async fn redemption_rate_limits(engine: Engine) {
    let app = app(engine)
        .redis()
        .tweak(|c| {
            c.limits.redeem_per_ip_per_minute = 3;
            c.limits.redeem_global_per_minute = 5;
            c.server.trust_forwarded_for = true;
        })
        .start()
        .await;
    let ip = |n: u8| format!("203.0.113.{n}");
    avoid_window_edge().await;
    // Per address: three attempts pass (as INVITE_INVALID), the fourth is RATE_LIMITED.
    for i in 0..3 {
        let r =
            app.gql_with(SIGN_UP, su("ABCDEFGHJK", &format!("user{i}")), None, &[("x-forwarded-for", &ip(1))]).await;
        assert_eq!(code_of(&r), "INVITE_INVALID");
    }
    let r = app.gql_with(SIGN_UP, su("ABCDEFGHJK", "user9"), None, &[("x-forwarded-for", &ip(1))]).await;
    assert_eq!(code_of(&r), "RATE_LIMITED");
    assert!(r["errors"][0]["extensions"]["retryAfterSeconds"].as_u64().unwrap() <= 60);
    // Globally: two more from other addresses pass, then everyone is limited.
    for n in 2..4 {
        let r = app.gql_with(SIGN_UP, su("ABCDEFGHJK", "vera"), None, &[("x-forwarded-for", &ip(n))]).await;
        assert_eq!(code_of(&r), "INVITE_INVALID");
    }
    let r = app.gql_with(SIGN_UP, su("ABCDEFGHJK", "will"), None, &[("x-forwarded-for", &ip(7))]).await;
    assert_eq!(code_of(&r), "RATE_LIMITED");
    app.stop().await;
}
on_both_engines!(rate_limits, redemption_rate_limits);

/// The in-process limiter (embedded default) behaves the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_rate_limit() {
    let app = app(Engine::Sqlite).tweak(|c| c.limits.redeem_per_ip_per_minute = 2).start().await;
    avoid_window_edge().await;
    for i in 0..2 {
        assert_eq!(code_of(&app.gql(SIGN_UP, su("ABCDEFGHJK", &format!("mem{i}")), None).await), "INVITE_INVALID");
    }
    assert_eq!(code_of(&app.gql(SIGN_UP, su("ABCDEFGHJK", "mem3"), None).await), "RATE_LIMITED");
    app.stop().await;
}

/// The console's member search: moderators and admins; handle, display name or email, any case;
/// wildcards are literal; newest first, paged.
async fn member_search(engine: Engine) {
    let app = app(engine).start().await;
    let admin = app.create_admin("searcher").await;
    let codes = app.mint(3, 1).await;
    let (member, _, _) = app.sign_up(&codes[0], "alice_b").await;
    app.sign_up(&codes[1], "bob").await;
    app.sign_up(&codes[2], "Alina").await;
    let q = "query($q: String, $after: String) { users(query: $q, first: 2, after: $after) { edges { cursor node { username email role } } pageInfo { hasNextPage endCursor } } }";
    assert_eq!(app.code(q, json!({"q": "ali"}), Some(&member)).await, "FORBIDDEN");
    assert_eq!(app.code(q, json!({"q": "ali"}), None).await, "UNAUTHENTICATED");
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["users"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app.ok(q, json!({"q": "ALI"}), Some(&admin)).await;
    assert_eq!(names(&r), ["Alina", "alice_b"]);
    assert_eq!(r["users"]["edges"][1]["node"]["email"], "alice_b@example.com");
    assert_eq!(r["users"]["pageInfo"]["hasNextPage"], false);
    // `_` and `%` match themselves only.
    assert_eq!(names(&app.ok(q, json!({"q": "e_b"}), Some(&admin)).await), ["alice_b"]);
    assert!(names(&app.ok(q, json!({"q": "%"}), Some(&admin)).await).is_empty());
    // By email; everyone when empty, in pages.
    assert_eq!(names(&app.ok(q, json!({"q": "bob@EXAMPLE"}), Some(&admin)).await), ["bob"]);
    let p1 = app.ok(q, json!({}), Some(&admin)).await;
    assert_eq!(names(&p1), ["Alina", "bob"]);
    assert_eq!(p1["users"]["pageInfo"]["hasNextPage"], true);
    let p2 = app.ok(q, json!({"after": p1["users"]["pageInfo"]["endCursor"]}), Some(&admin)).await;
    assert_eq!(names(&p2), ["alice_b", "searcher"]);
    app.stop().await;
}
on_both_engines!(search, member_search);
