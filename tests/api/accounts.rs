//! The onboarding story, sessions, resets, roles and bans.

use serde_json::json;

use crate::harness::*;
use crate::on_both_engines;

/// mint → sign up → verify → log in → refresh → reuse of an old refresh token revokes the
/// family → log out.
async fn onboarding_story(engine: Engine) {
    let app = app(engine).redis().start().await;
    let code = app.mint(1, 1).await.remove(0);

    // Sign up with the code typed in lower case with a dash.
    let typed = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
    let (access, refresh0, uid) = app.sign_up(&typed, "ann").await;
    let me = app.ok(ME, json!({}), Some(&access)).await;
    assert_eq!(me["me"]["id"], uid);
    assert_eq!(me["me"]["email"], "ann@example.com");
    assert_eq!(me["me"]["emailVerified"], false);
    assert_eq!(me["me"]["role"], "USER");

    // Verify the email with the mailed token; the token works once.
    let token = app.mailed_token("ann@example.com", "Confirm your email");
    let v = app
        .ok("mutation($t: String!) { verifyEmail(token: $t) { id emailVerified } }", json!({"t": token}), Some(&access))
        .await;
    assert_eq!(v["verifyEmail"]["emailVerified"], true);
    assert_eq!(
        app.code("mutation($t: String!) { verifyEmail(token: $t) { id } }", json!({"t": token}), None).await,
        "BAD_USER_INPUT"
    );

    // Log in with username (any case) and with email.
    let (_a, _r, id1) = app.log_in("ANN", "long enough secret").await;
    let (access2, refresh, id2) = app.log_in("ann@example.com", "long enough secret").await;
    assert_eq!(id1, uid);
    assert_eq!(id2, uid);

    // Refresh rotates: a new pair, and the old refresh token no longer works.
    let d = app.ok(REFRESH, json!({"t": refresh}), None).await;
    let (access3, refresh_new, _) = tokens(&d["refreshSession"]);
    assert_ne!(refresh_new, refresh);
    app.ok(ME, json!({}), Some(&access3)).await;

    // Reusing the old refresh token revokes the whole family: the new refresh token and every
    // access token of that session stop working.
    assert_eq!(app.code(REFRESH, json!({"t": refresh}), None).await, "UNAUTHENTICATED");
    assert_eq!(app.code(REFRESH, json!({"t": refresh_new}), None).await, "UNAUTHENTICATED");
    assert_eq!(app.code(ME, json!({}), Some(&access3)).await, "UNAUTHENTICATED");
    assert_eq!(app.code(ME, json!({}), Some(&access2)).await, "UNAUTHENTICATED");
    // Other sessions live on.
    app.ok(ME, json!({}), Some(&access)).await;

    // Log out ends that session at once.
    let out = app.ok("mutation($t: String!) { logOut(refreshToken: $t) }", json!({"t": refresh0}), None).await;
    assert_eq!(out["logOut"], true);
    assert_eq!(app.code(ME, json!({}), Some(&access)).await, "UNAUTHENTICATED");
    assert_eq!(app.code(REFRESH, json!({"t": refresh0}), None).await, "UNAUTHENTICATED");
    let out = app.ok("mutation($t: String!) { logOut(refreshToken: $t) }", json!({"t": "unknown"}), None).await;
    assert_eq!(out["logOut"], false);

    // Anonymous `me` is null, a garbage token is UNAUTHENTICATED.
    assert_eq!(app.ok(ME, json!({}), None).await["me"], serde_json::Value::Null);
    assert_eq!(app.code(ME, json!({}), Some("not.a.jwt")).await, "UNAUTHENTICATED");
    app.stop().await;
}
on_both_engines!(onboarding, onboarding_story);

/// Every error code of the accounts surface.
async fn account_errors(engine: Engine) {
    let app = app(engine).start().await;
    let codes = app.mint(3, 1).await;
    let (access, _, _) = app.sign_up(&codes[0], "bob").await;
    let su = |code: &str, email: &str, username: &str, password: &str| json!({"input": {"birthDate": "1990-04-12", "inviteCode": code, "email": email, "username": username, "password": password}});
    // Bad input, each naming the field.
    for (vars, field) in [
        (su(&codes[1], "not-an-email", "carl", "long enough secret"), "email"),
        (su(&codes[1], "carl@example.com", "c", "long enough secret"), "username"),
        (su(&codes[1], "carl@example.com", "carl", "short"), "password"),
        (su(&codes[1], "carl@example.com", "carl", "password123"), "password"),
        (su(&codes[1], "carl@example.com", "carl", &"x".repeat(129)), "password"),
    ] {
        let r = app.gql(SIGN_UP, vars, None).await;
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
        assert_eq!(r["errors"][0]["extensions"]["field"], field, "{r}");
    }
    // Taken username (any case) and email.
    assert_eq!(
        app.code(SIGN_UP, su(&codes[1], "other@example.com", "BOB", "long enough secret"), None).await,
        "CONFLICT"
    );
    assert_eq!(
        app.code(SIGN_UP, su(&codes[1], "bob@example.com", "bobby", "long enough secret"), None).await,
        "CONFLICT"
    );
    // The refused sign-ups did not consume the code.
    app.sign_up(&codes[1], "carl").await;

    // Unknown login and wrong password: the same code and message.
    let wrong = app.gql(LOG_IN, json!({"input": {"login": "bob", "password": "not the password"}}), None).await;
    let unknown = app.gql(LOG_IN, json!({"input": {"login": "nobody", "password": "not the password"}}), None).await;
    assert_eq!(code_of(&wrong), "UNAUTHENTICATED");
    assert_eq!(wrong["errors"][0]["message"], unknown["errors"][0]["message"]);
    assert_eq!(code_of(&unknown), "UNAUTHENTICATED");

    // A member may not mint, set roles or ban.
    let mint = "mutation { mintInvites(count: 1) { code } }";
    assert_eq!(app.code(mint, json!({}), Some(&access)).await, "FORBIDDEN");
    assert_eq!(app.code(mint, json!({}), None).await, "UNAUTHENTICATED");
    let admin = app.create_admin("root_admin").await;
    let set_role = "mutation($u: ID!, $r: Role!) { setRole(userId: $u, role: $r) { id role } }";
    assert_eq!(
        app.code(set_role, json!({"u": uuid::Uuid::new_v4().to_string(), "r": "MODERATOR"}), Some(&admin)).await,
        "NOT_FOUND"
    );
    assert_eq!(app.code(set_role, json!({"u": "not-an-id", "r": "MODERATOR"}), Some(&admin)).await, "BAD_USER_INPUT");
    // Admins mint; bad arguments are BAD_USER_INPUT.
    assert_eq!(
        app.code("mutation { mintInvites(count: 0) { code } }", json!({}), Some(&admin)).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.code(
            "mutation { mintInvites(count: 1, expiresAt: \"2001-01-01T00:00:00Z\") { code } }",
            json!({}),
            Some(&admin)
        )
        .await,
        "BAD_USER_INPUT"
    );
    // An expired verification token is refused.
    let bob = app.running.services.accounts.user_by_username("bob").await.unwrap().unwrap();
    let secret = domain::auth::random_secret();
    app.running
        .store
        .insert_one_time(
            bob.id,
            domain::model::TokenPurpose::Verify,
            domain::auth::secret_digest(&secret),
            chrono::Utc::now() - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    let r = app.gql("mutation($t: String!) { verifyEmail(token: $t) { id } }", json!({"t": secret}), None).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT");
    assert_eq!(r["errors"][0]["extensions"]["field"], "token");
    // Reset with a bad token is refused, naming the field.
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    assert_eq!(app.code(reset, json!({"t": "nope", "p": "a brand new secret"}), None).await, "BAD_USER_INPUT");
    app.stop().await;
}
on_both_engines!(errors, account_errors);

/// Roles: an admin promotes a member to moderator, who may then ban members but not admins.
/// A banned member is locked out at once, and their invite codes stop working.
async fn banned_member_locked_out(engine: Engine) {
    let app = app(engine).redis().start().await;
    let admin = app.create_admin("the_admin").await;
    let codes = app.mint(2, 1).await;
    let (mod_access, _, mod_id) = app.sign_up(&codes[0], "mona").await;
    let (access, refresh, uid) = app.sign_up(&codes[1], "eve").await;
    let ban = "mutation($u: ID!, $r: String!) { banUser(userId: $u, reason: $r) { id banned banReason } }";
    // A member cannot ban.
    assert_eq!(app.code(ban, json!({"u": uid, "r": "spam"}), Some(&mod_access)).await, "FORBIDDEN");
    app.ok("mutation($u: ID!) { setRole(userId: $u, role: MODERATOR) { role } }", json!({"u": mod_id}), Some(&admin))
        .await;
    // The role is read per request: the same token now carries moderator rights.
    let me = app.ok(ME, json!({}), Some(&mod_access)).await;
    assert_eq!(me["me"]["role"], "MODERATOR");
    assert_eq!(app.code(ban, json!({"u": uid, "r": " "}), Some(&mod_access)).await, "BAD_USER_INPUT");
    let admin_id = app.ok(ME, json!({}), Some(&admin)).await["me"]["id"].clone();
    assert_eq!(app.code(ban, json!({"u": admin_id, "r": "coup"}), Some(&mod_access)).await, "FORBIDDEN");

    // eve's own invite codes work before the ban.
    let eve_codes = app.ok("{ myInvites { code usesLeft maxUses } }", json!({}), Some(&access)).await;
    let eve_codes: Vec<String> =
        eve_codes["myInvites"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(eve_codes.len(), 4);
    app.sign_up(&eve_codes[0], "eves_friend").await;

    let b = app.ok(ban, json!({"u": uid, "r": "spam"}), Some(&mod_access)).await;
    assert_eq!(b["banUser"]["banned"], true);
    assert_eq!(b["banUser"]["banReason"], "spam");
    // Locked out at once: access token, refresh token and log-in.
    assert_eq!(app.code(ME, json!({}), Some(&access)).await, "UNAUTHENTICATED");
    assert_eq!(app.code(REFRESH, json!({"t": refresh}), None).await, "UNAUTHENTICATED");
    assert_eq!(
        app.code(LOG_IN, json!({"input": {"login": "eve", "password": "long enough secret"}}), None).await,
        "FORBIDDEN"
    );
    // Her remaining codes stop working.
    let r = app
        .gql(
            SIGN_UP,
            json!({"input": {"birthDate": "1990-04-12", "inviteCode": eve_codes[1], "email": "x@example.com", "username": "xavier", "password": "long enough secret"}}),
            None,
        )
        .await;
    assert_eq!(code_of(&r), "INVITE_INVALID");
    // The friend she invited is unaffected.
    app.log_in("eves_friend", "long enough secret").await;

    // Every moderator and admin action is in the audit log, newest first; only admins read it.
    let q = "{ auditLog(first: 10) { edges { node { action subject note actor { username } } } pageInfo { hasNextPage } } }";
    let log = app.ok(q, json!({}), Some(&admin)).await;
    let entries: Vec<&serde_json::Value> =
        log["auditLog"]["edges"].as_array().unwrap().iter().map(|e| &e["node"]).collect();
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(&actions[..3], &["user.ban", "user.set_role", "invites.mint"], "{log}");
    assert_eq!(entries[0]["actor"]["username"], "mona");
    assert_eq!(entries[0]["subject"], format!("user:{uid}"));
    assert_eq!(entries[0]["note"], "spam");
    assert_eq!(entries[1]["actor"]["username"], "the_admin");
    assert_eq!(entries[1]["note"], "MODERATOR");
    assert_eq!(entries[2]["actor"], serde_json::Value::Null, "minted from the command line");
    assert!(actions.contains(&"user.create_admin"));
    assert_eq!(app.code(q, json!({}), Some(&mod_access)).await, "FORBIDDEN");
    assert_eq!(app.code(q, json!({}), None).await, "UNAUTHENTICATED");
    app.stop().await;
}
on_both_engines!(ban, banned_member_locked_out);

/// A password reset ends every session; the reset token works once.
async fn password_reset(engine: Engine) {
    let app = app(engine).start().await;
    let code = app.mint(1, 1).await.remove(0);
    let (access, refresh, _) = app.sign_up(&code, "rita").await;
    let (access_b, _, _) = app.log_in("rita", "long enough secret").await;
    let req = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    assert_eq!(app.ok(req, json!({"e": "rita@example.com"}), None).await["requestPasswordReset"], true);
    // Unknown addresses get the same answer.
    assert_eq!(app.ok(req, json!({"e": "nobody@example.com"}), None).await["requestPasswordReset"], true);
    // The mail is sent after the answer; wait for it.
    let mut token = None;
    for _ in 0..100 {
        if let Some(t) = mailed_token_in(&app.data_dir.join("mail"), "rita@example.com", "Reset your password") {
            token = Some(t);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let token = token.expect("reset mail");
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    // A weak password is refused without using up the token.
    assert_eq!(app.code(reset, json!({"t": token, "p": "qwerty123"}), None).await, "BAD_USER_INPUT");
    assert_eq!(app.ok(reset, json!({"t": token, "p": "a brand new secret"}), None).await["resetPassword"], true);
    assert_eq!(app.code(reset, json!({"t": token, "p": "another new secret"}), None).await, "BAD_USER_INPUT");
    // Every session ended.
    assert_eq!(app.code(ME, json!({}), Some(&access)).await, "UNAUTHENTICATED");
    assert_eq!(app.code(ME, json!({}), Some(&access_b)).await, "UNAUTHENTICATED");
    assert_eq!(app.code(REFRESH, json!({"t": refresh}), None).await, "UNAUTHENTICATED");
    // Old password refused, new accepted.
    assert_eq!(
        app.code(LOG_IN, json!({"input": {"login": "rita", "password": "long enough secret"}}), None).await,
        "UNAUTHENTICATED"
    );
    let (a, _, _) = app.log_in("rita", "a brand new secret").await;
    assert_eq!(app.ok(ME, json!({}), Some(&a)).await["me"]["emailVerified"], true);
    app.stop().await;
}
on_both_engines!(reset, password_reset);

/// Two concurrent rotations of one refresh token: exactly one wins, and the family is revoked.
async fn concurrent_refresh(engine: Engine) {
    let app = app(engine).start().await;
    let code = app.mint(1, 1).await.remove(0);
    let (_, refresh, _) = app.sign_up(&code, "racer").await;
    let (a, b) =
        tokio::join!(app.gql(REFRESH, json!({"t": refresh}), None), app.gql(REFRESH, json!({"t": refresh}), None));
    let wins = [&a, &b].iter().filter(|r| r.get("errors").is_none()).count();
    assert!(wins <= 1, "both rotations succeeded: {a} {b}");
    // Whatever won, its refresh token is dead now because the loser presented a used token
    // (or, if both lost, nothing is live).
    if let Some(w) = [&a, &b].into_iter().find(|r| r.get("errors").is_none()) {
        let next = w["data"]["refreshSession"]["refreshToken"].as_str().unwrap();
        assert_eq!(app.code(REFRESH, json!({"t": next}), None).await, "UNAUTHENTICATED");
    }
    app.stop().await;
}
on_both_engines!(refresh_race, concurrent_refresh);

/// The kid named in a JWT's header.
fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

/// The access-token key rotates without signing anyone out: `backend keys rotate-jwt` makes a new
/// signing key and keeps the old public key trusted; after a restart new tokens name the new key,
/// tokens signed before still work, and `/.well-known/jwks.json` lists both (the signing key
/// first). Once the old key is taken out, its tokens stop working and the new ones go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_token_key_rotates_without_signing_anyone_out() {
    let jwks = |base: String| async move {
        let r = reqwest::get(format!("{base}/.well-known/jwks.json")).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/jwk-set+json");
        let v: serde_json::Value = r.json().await.unwrap();
        v["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let first = app(Engine::Sqlite).start().await;
    let before = first.member("ann").await;
    let old_kid = kid_of(&before);
    assert_eq!(jwks(first.base.clone()).await, std::slice::from_ref(&old_kid));
    let dir = first.data_dir.clone();
    let out = backend_cli(&dir, &["keys", "rotate-jwt"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(&format!("retired {old_kid}")), "{text}");
    let new_kid = text.lines().find_map(|l| l.strip_prefix("signing ")).unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    first.running.handle.stop(false).await;

    let d = dir.clone();
    let second = app(Engine::Sqlite).tweak(move |c| c.storage.data_dir = d).start().await;
    let me = second.ok("{ me { username } }", json!({}), Some(&before)).await;
    assert_eq!(me["me"]["username"], "ann", "a token signed before the rotation");
    let (after, _, _) = second.log_in("ann", "long enough secret").await;
    assert_eq!(kid_of(&after), new_kid);
    assert_eq!(jwks(second.base.clone()).await, [new_kid.clone(), old_kid.clone()]);
    second.running.handle.stop(false).await;

    // The old key taken out (after the access-token lifetime): its tokens stop working.
    std::fs::remove_file(dir.join("keys").join("jwt-previous.pem")).unwrap();
    let d = dir.clone();
    let third = app(Engine::Sqlite).tweak(move |c| c.storage.data_dir = d).start().await;
    assert_eq!(third.code("{ me { username } }", json!({}), Some(&before)).await, "UNAUTHENTICATED");
    let me = third.ok("{ me { username } }", json!({}), Some(&after)).await;
    assert_eq!(me["me"]["username"], "ann");
    assert_eq!(jwks(third.base.clone()).await, [new_kid]);
    third.stop().await;
}
