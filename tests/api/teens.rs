//! Teen accounts through the real server: the age asked at sign-up (under-13 refused, nothing
//! written), who learns a member's age, the teen rules for adults, teens and a linked parent
//! (cameo consent, maturity, private videos), the parent's link, controls, summary and unlinking,
//! and the moderators' audited corrections.

use chrono::{Datelike, Utc};
use serde_json::{Value, json};

use crate::feeds::{all_pages, published};
use crate::harness::*;
use crate::on_both_engines;

const ME: &str = "{ me { id isTeen teenControls { dailyFeedMinutes quietHoursStart quietHoursEnd cameoPermission videosPublic } guardian { username } } }";
const USER: &str = "query($u: String!) { user(username: $u) { id isTeen teenControls { cameoPermission videosPublic } guardian { username } videos(first: 10) { edges { node { id } } } } }";
const INVITE: &str = "mutation { createGuardianInvite }";
const ACCEPT: &str = "mutation($c: String!) { acceptGuardianInvite(code: $c) { id guardian { username } } }";
const CONTROLS: &str = "mutation($t: ID!, $i: TeenControlsInput!) { setTeenControls(teenId: $t, input: $i) { id teenControls { dailyFeedMinutes quietHoursStart quietHoursEnd cameoPermission videosPublic } } }";
const UNLINK: &str = "mutation($t: ID!, $n: String) { unlinkGuardian(teenId: $t, note: $n) }";
const ACTIVITY: &str = "query($t: ID!) { teenActivity(teenId: $t) { videosCreated videosPublished comments likes follows videosWatched } }";
const MATURITY: &str = "mutation($v: ID!, $m: Maturity!) { setVideoMaturity(videoId: $v, maturity: $m, note: \"checked\") { id maturity } }";
const BIRTH: &str = "mutation($u: ID!, $d: String!) { correctBirthDate(userId: $u, birthDate: $d, note: \"passport seen\") { id isTeen } }";
const VIDEO: &str = "query($v: ID!) { video(id: $v) { id maturity } }";
const FOLLOW: &str = "mutation($u: ID!) { follow(userId: $u) { id } }";
const AUDIT: &str = "{ auditLog(first: 50) { edges { node { action subject note } } } }";

/// `years` years before today, as typed at sign-up.
fn born_years_ago(years: i32) -> String {
    let t = Utc::now().date_naive();
    format!("{:04}-{:02}-{:02}", t.year() - years, t.month(), t.day().min(28))
}

/// Signs up with a date of birth; the whole response.
async fn join(app: &TestApp, code: &str, name: &str, birth: Option<&str>) -> Value {
    let mut input = json!({"inviteCode": code, "email": format!("{name}@example.com"), "username": name, "password": "long enough secret"});
    if let Some(b) = birth {
        input["birthDate"] = json!(b);
    }
    app.gql(SIGN_UP, json!({"input": input}), None).await
}

/// A member born `years` ago: (token, id).
async fn aged(app: &TestApp, name: &str, years: i32) -> (String, String) {
    let code = app.mint(1, 1).await.remove(0);
    let r = join(app, &code, name, Some(&born_years_ago(years))).await;
    assert!(r.get("errors").is_none(), "{r}");
    let (t, _, id) = tokens(&r["data"]["signUp"]);
    (t, id)
}

fn field_of(r: &Value) -> &str {
    r["errors"][0]["extensions"]["field"].as_str().unwrap_or("")
}

async fn start(engine: Engine) -> TestApp {
    app(engine)
        .tweak(|c| {
            c.limits.redeem_per_ip_per_minute = 1000;
        })
        .start()
        .await
}

on_both_engines!(age_at_sign_up, age_at_sign_up_story);

async fn age_at_sign_up_story(engine: Engine) {
    let app = start(engine).await;
    let code = app.mint(1, 1).await.remove(0);
    // No date, a malformed one, an impossible one: refused, on the field.
    for (birth, msg) in
        [(None, "date of birth"), (Some("12/05/2001"), "YYYY-MM-DD"), (Some("2999-01-01"), "not possible")]
    {
        let r = join(&app, &code, "kid", birth).await;
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
        assert_eq!(field_of(&r), "birthDate");
        assert!(r["errors"][0]["message"].as_str().unwrap().contains(msg), "{r}");
    }
    // Under 13: refused, and nothing is written: the code keeps its use.
    let r = join(&app, &code, "kid", Some(&born_years_ago(12))).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("at least 13"), "{r}");
    assert!(app.running.store.user_by_username("kid").await.unwrap().is_none());
    // 13 today: a teen account, with the same code.
    let r = join(&app, &code, "newteen", Some(&born_years_ago(13))).await;
    assert!(r.get("errors").is_none(), "the code was not used by the refusal: {r}");
    let (teen, _, _) = tokens(&r["data"]["signUp"]);
    let me = app.ok(ME, json!({}), Some(&teen)).await;
    assert_eq!(me["me"]["isTeen"], true);
    assert_eq!(me["me"]["teenControls"]["dailyFeedMinutes"], 60, "the default daily limit");
    assert_eq!(me["me"]["teenControls"]["quietHoursStart"], "22:00");
    assert_eq!(me["me"]["teenControls"]["cameoPermission"], "MUTUALS");
    // Only the year and month are kept.
    let stored = app.running.store.user_by_username("newteen").await.unwrap().unwrap();
    assert_eq!(stored.birth_month.unwrap().as_string(), born_years_ago(13)[..7]);
    // An adult: not a teen, no teen controls; a stranger learns neither's age.
    let (adult, _) = aged(&app, "grownup", 30).await;
    let me = app.ok(ME, json!({}), Some(&adult)).await;
    assert_eq!(me["me"]["isTeen"], false);
    assert!(me["me"]["teenControls"].is_null());
    let seen = app.ok(USER, json!({"u": "newteen"}), Some(&adult)).await;
    assert!(seen["user"]["isTeen"].is_null() && seen["user"]["teenControls"].is_null(), "{seen}");
    // A deployment without age checks asks for no date and has no teens.
    let open = crate::harness::app(engine).tweak(|c| c.limits.age_checks = false).start().await;
    let code = open.mint(1, 1).await.remove(0);
    let r = join(&open, &code, "nodate", None).await;
    let (t, _, _) = tokens(&r["data"]["signUp"]);
    assert_eq!(open.ok(ME, json!({}), Some(&t)).await["me"]["isTeen"], false);
}

on_both_engines!(teen_cameo_rules_and_parent_controls, teen_cameo_rules_and_parent_controls_story);

async fn teen_cameo_rules_and_parent_controls_story(engine: Engine) {
    let app = start(engine).await;
    let admin = app.create_admin("chief").await;
    let (teen, teen_id) = aged(&app, "tia", 15).await;
    let (parent, parent_id) = aged(&app, "pat", 44).await;
    let (mutual, mutual_id) = aged(&app, "max", 16).await;
    let (adult, adult_id) = aged(&app, "ada", 35).await;
    let (_, moder_id) = aged(&app, "moe", 40).await;
    app.ok("mutation($u: ID!) { setRole(userId: $u, role: MODERATOR) { role } }", json!({"u": moder_id}), Some(&admin))
        .await;
    let _ = parent_id;

    // A teen's cameo can never be open to everyone.
    let cameo = crate::cameos::active_cameo(&app, &teen, "Tia", "APPROVED", &admin).await;
    let r = app.gql(crate::cameos::UPDATE, json!({"id": cameo, "p": "EVERYONE"}), Some(&teen)).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
    assert_eq!(field_of(&r), "permission");

    // Approval alone is not enough, and a teen approves only mutuals.
    let r = app.gql(crate::cameos::APPROVE_USER, json!({"c": cameo, "u": adult_id}), Some(&teen)).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "an adult who is no mutual cannot be approved: {r}");
    for (t, target) in [(&teen, &mutual_id), (&mutual, &teen_id), (&adult, &teen_id)] {
        app.ok(FOLLOW, json!({"u": target}), Some(t)).await;
    }
    let submit = |token: String| {
        let app = &app;
        let cameo = cameo.clone();
        async move {
            app.gql(
                crate::cameos::CREATE,
                json!({"i": {"prompt": "two friends skateboarding", "durationSeconds": 1, "cameoIds": [cameo]}}),
                Some(&token),
            )
            .await
        }
    };
    // Mutual, not approved: refused; a follower who is not followed back: refused.
    let r = submit(mutual.clone()).await;
    assert_eq!(code_of(&r), "CONSENT_REQUIRED", "{r}");
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("teen account"), "{r}");
    assert_eq!(code_of(&submit(adult.clone()).await), "CONSENT_REQUIRED");
    // Mutual and approved: allowed; the same holds under MUTUALS.
    app.ok(crate::cameos::APPROVE_USER, json!({"c": cameo, "u": mutual_id}), Some(&teen)).await;
    let r = submit(mutual.clone()).await;
    assert!(r.get("errors").is_none(), "{r}");
    app.ok(crate::cameos::UPDATE, json!({"id": cameo, "p": "MUTUALS"}), Some(&teen)).await;
    let usable = |t: String| {
        let app = &app;
        async move {
            app.ok("{ usableCameos(first: 20) { edges { node { id } } } }", json!({}), Some(&t)).await["usableCameos"]
                ["edges"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(usable(mutual.clone()).await, 1, "listed for the approved mutual");
    assert_eq!(usable(adult.clone()).await, 0, "not listed for a follower");

    // The parent links with a code; only an adult makes one and only a teen accepts it.
    assert_eq!(app.code(INVITE, json!({}), Some(&teen)).await, "FORBIDDEN");
    let code = app.ok(INVITE, json!({}), Some(&parent)).await["createGuardianInvite"].as_str().unwrap().to_owned();
    assert_eq!(app.code(ACCEPT, json!({"c": code}), Some(&adult)).await, "FORBIDDEN");
    assert_eq!(app.code(ACCEPT, json!({"c": "NOPENOPENOPE"}), Some(&teen)).await, "BAD_USER_INPUT");
    let linked = app.ok(ACCEPT, json!({"c": code.to_lowercase()}), Some(&teen)).await;
    assert_eq!(linked["acceptGuardianInvite"]["guardian"]["username"], "pat");
    assert_eq!(app.code(ACCEPT, json!({"c": code}), Some(&mutual)).await, "BAD_USER_INPUT", "a code is used once");
    // The parent sees the teen's age band and controls; another adult does not.
    let seen = app.ok(USER, json!({"u": "tia"}), Some(&parent)).await;
    assert_eq!(seen["user"]["isTeen"], true);
    assert_eq!(seen["user"]["teenControls"]["cameoPermission"], "MUTUALS");
    assert!(app.ok(USER, json!({"u": "tia"}), Some(&adult)).await["user"]["isTeen"].is_null());

    // Controls: only the parent; never everyone; a narrower ceiling narrows the cameo at once.
    let set = |token: String, input: Value| {
        let app = &app;
        let teen_id = teen_id.clone();
        async move { app.gql(CONTROLS, json!({"t": teen_id, "i": input}), Some(&token)).await }
    };
    assert_eq!(code_of(&set(adult.clone(), json!({"dailyFeedMinutes": 30})).await), "FORBIDDEN");
    assert_eq!(code_of(&set(teen.clone(), json!({"dailyFeedMinutes": 300})).await), "FORBIDDEN");
    for (input, field) in [
        (json!({"cameoPermission": "EVERYONE"}), "cameoPermission"),
        (json!({"dailyFeedMinutes": 2}), "dailyFeedMinutes"),
        (json!({"quietHoursStart": "25:00", "quietHoursEnd": "07:00"}), "quietHoursStart"),
        (json!({"quietHoursStart": "21:00"}), "quietHoursStart"),
    ] {
        let r = set(parent.clone(), input.clone()).await;
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{input}: {r}");
        assert_eq!(field_of(&r), field, "{input}");
    }
    let r = set(
        parent.clone(),
        json!({"dailyFeedMinutes": 45, "quietHoursStart": "21:30", "quietHoursEnd": "6:45", "cameoPermission": "ONLY_ME"}),
    )
    .await;
    assert!(r.get("errors").is_none(), "{r}");
    let c = &r["data"]["setTeenControls"]["teenControls"];
    assert_eq!((c["dailyFeedMinutes"].as_i64(), c["quietHoursEnd"].as_str()), (Some(45), Some("06:45")));
    let perm = app.ok("query($id: ID!) { cameo(id: $id) { permission } }", json!({"id": cameo}), Some(&teen)).await;
    assert_eq!(perm["cameo"]["permission"], "ONLY_ME", "narrowed by the parent");
    assert_eq!(code_of(&submit(mutual.clone()).await), "CONSENT_REQUIRED", "the approved mutual no more");
    let r = app.gql(crate::cameos::UPDATE, json!({"id": cameo, "p": "APPROVED"}), Some(&teen)).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "the teen cannot widen past the parent: {r}");
    // An adult's cameo is untouched by all this.
    let own = crate::cameos::active_cameo(&app, &adult, "Ada", "EVERYONE", &admin).await;
    assert!(submit_with(&app, &teen, &own).await.get("errors").is_none());

    // The weekly summary: counts, to the parent only.
    let a = app.ok(ACTIVITY, json!({"t": teen_id}), Some(&parent)).await;
    assert_eq!(a["teenActivity"]["follows"], 1);
    assert_eq!(a["teenActivity"]["videosCreated"], 1);
    assert_eq!(app.code(ACTIVITY, json!({"t": teen_id}), Some(&adult)).await, "FORBIDDEN");

    // Unlinking needs both sides: the teen asks, the parent confirms; audited.
    assert_eq!(app.ok(UNLINK, json!({"t": teen_id}), Some(&teen)).await["unlinkGuardian"], false);
    assert_eq!(app.ok(UNLINK, json!({"t": teen_id}), Some(&teen)).await["unlinkGuardian"], false, "asking twice");
    assert_eq!(app.code(UNLINK, json!({"t": teen_id}), Some(&adult)).await, "NOT_FOUND");
    assert_eq!(app.ok(UNLINK, json!({"t": teen_id}), Some(&parent)).await["unlinkGuardian"], true);
    assert!(app.ok(ME, json!({}), Some(&teen)).await["me"]["guardian"].is_null());
    assert_eq!(code_of(&set(parent.clone(), json!({"dailyFeedMinutes": 30})).await), "FORBIDDEN", "unlinked");
    let audit = app.ok(AUDIT, json!({}), Some(&admin)).await;
    assert!(audit.to_string().contains("guardian.unlink"), "{audit}");
}

/// `createVideo` with one cameo, as `token`; the whole response.
async fn submit_with(app: &TestApp, token: &str, cameo: &str) -> Value {
    app.gql(
        crate::cameos::CREATE,
        json!({"i": {"prompt": "a walk by the sea", "durationSeconds": 1, "cameoIds": [cameo]}}),
        Some(token),
    )
    .await
}

on_both_engines!(what_teens_see, what_teens_see_story);

async fn what_teens_see_story(engine: Engine) {
    let app = start(engine).await;
    let admin = app.create_admin("chief").await;
    let (teen, teen_id) = aged(&app, "tess", 14).await;
    let (parent, _) = aged(&app, "paula", 41).await;
    let (friend, friend_id) = aged(&app, "finn", 15).await;
    let (adult, _) = aged(&app, "abe", 29).await;
    let (moder, moder_id) = aged(&app, "mona", 38).await;
    app.ok("mutation($u: ID!) { setRole(userId: $u, role: MODERATOR) { role } }", json!({"u": moder_id}), Some(&admin))
        .await;
    let author = app.my_id(&adult).await;
    let (_, other) = aged(&app, "olga", 52).await;
    let calm = published(&app, &other, "a birthday party in the park").await;
    let scary = published(&app, &author, "a quiet street at dusk").await;
    // Published before the first TRENDING read, so the one ranked list holds all three.
    let own = published(&app, &teen_id, "my skateboard trick").await;
    // A moderator labels a video MATURE (audited); a teen stops seeing it, an adult does not.
    assert_eq!(app.code(MATURITY, json!({"v": scary, "m": "MATURE"}), Some(&adult)).await, "FORBIDDEN");
    let m = app.ok(MATURITY, json!({"v": scary, "m": "MATURE"}), Some(&moder)).await;
    assert_eq!(m["setVideoMaturity"]["maturity"], "MATURE");
    let trending = |t: Option<String>| {
        let app = &app;
        async move {
            all_pages(app, "TRENDING", 10, t.as_deref())
                .await
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let seen = trending(Some(teen.clone())).await;
    assert!(seen.contains(&calm) && !seen.contains(&scary), "{seen:?}");
    assert!(trending(Some(adult.clone())).await.contains(&scary));
    assert!(trending(None).await.contains(&scary), "signed out: no age, adult content rules");
    assert!(app.ok(VIDEO, json!({"v": scary}), Some(&teen)).await["video"].is_null());
    assert_eq!(app.ok(VIDEO, json!({"v": scary}), Some(&adult)).await["video"]["maturity"], "MATURE");
    let profile = app.ok(USER, json!({"u": "abe"}), Some(&teen)).await;
    assert_eq!(profile["user"]["videos"]["edges"].as_array().unwrap().len(), 0, "not on the profile either: {profile}");
    let profile = app.ok(USER, json!({"u": "abe"}), Some(&adult)).await;
    assert_eq!(profile["user"]["videos"]["edges"].as_array().unwrap().len(), 1, "{profile}");
    let audit = app.ok(AUDIT, json!({}), Some(&admin)).await.to_string();
    assert!(audit.contains("video.set_maturity") && audit.contains(&format!("video:{scary}")), "{audit}");

    // A teen whose parent turned videos private: seen by themselves, mutuals and the parent only.
    let code = app.ok(INVITE, json!({}), Some(&parent)).await["createGuardianInvite"].as_str().unwrap().to_owned();
    app.ok(ACCEPT, json!({"c": code}), Some(&teen)).await;
    for (t, target) in [(&teen, &friend_id), (&friend, &teen_id)] {
        app.ok(FOLLOW, json!({"u": target}), Some(t)).await;
    }
    assert!(trending(Some(adult.clone())).await.contains(&own), "public by default");
    app.ok(CONTROLS, json!({"t": teen_id, "i": {"videosPublic": false}}), Some(&parent)).await;
    for (who, token, sees) in [
        ("stranger", Some(adult.clone()), false),
        ("signed out", None, false),
        ("the teen", Some(teen.clone()), true),
        ("a mutual", Some(friend.clone()), true),
        ("the parent", Some(parent.clone()), true),
    ] {
        assert_eq!(trending(token.clone()).await.contains(&own), sees, "{who} in TRENDING");
        let v = app.ok(VIDEO, json!({"v": own}), token.as_deref()).await;
        assert_eq!(!v["video"].is_null(), sees, "{who} by id");
        let p = app.ok(USER, json!({"u": "tess"}), token.as_deref()).await;
        assert_eq!(p["user"]["videos"]["edges"].as_array().unwrap().len(), usize::from(sees), "{who} on the profile");
        // Member search finds a teen for the same people (whatever the videos setting).
        let found = app
            .ok(
                "query { search(query: \"tess\", kinds: [MEMBER]) { edges { node { ... on User { id } } } } }",
                json!({}),
                token.as_deref(),
            )
            .await;
        let ids: Vec<&str> =
            found["search"]["edges"].as_array().unwrap().iter().filter_map(|e| e["node"]["id"].as_str()).collect();
        assert_eq!(ids.contains(&teen_id.as_str()), sees, "{who} in member search");
    }
    // A moderator corrects the teen's date of birth (audited): an adult now, videos public again.
    assert_eq!(app.code(BIRTH, json!({"u": teen_id, "d": "1990-01-01"}), Some(&adult)).await, "FORBIDDEN");
    let r = app.gql(BIRTH, json!({"u": teen_id, "d": born_years_ago(10)}), Some(&moder)).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT", "under 13: ban instead: {r}");
    let r = app.ok(BIRTH, json!({"u": teen_id, "d": "1990-01-01"}), Some(&moder)).await;
    assert!(r["correctBirthDate"]["isTeen"].is_null(), "a moderator is not told the age band (admins are)");
    assert_eq!(app.ok(ME, json!({}), Some(&teen)).await["me"]["isTeen"], false);
    assert!(trending(Some(adult.clone())).await.contains(&own), "teen rules end with the teen years");
    assert!(trending(Some(teen.clone())).await.contains(&scary), "and so does the maturity filter");
    let audit = app.ok(AUDIT, json!({}), Some(&admin)).await.to_string();
    assert!(audit.contains("user.set_birth_date"), "{audit}");
}

const FEED_ITEMS: &str = "query($k: FeedKind!) { feedItems(kind: $k, first: 5) { edges { cursor node { __typename ... on TakeABreak { continuousMinutes message } ... on Video { id } } } } }";
const FEED_Q: &str = "query($k: FeedKind!) { feed(kind: $k, first: 5) { edges { node { id } } } }";
const WELLBEING: &str = "mutation($i: WellbeingInput!) { setWellbeing(input: $i) { wellbeing { dailyFeedMinutes timeZone minutesToday } } }";

/// Asks for `query` every `step` minutes, `n` times, on `clock`; the codes answered (`OK` for a page).
async fn scroll(
    app: &TestApp,
    clock: &app_core::age::ManualClock,
    token: &str,
    query: &str,
    step: i64,
    n: usize,
) -> Vec<String> {
    let mut out = vec![];
    for _ in 0..n {
        clock.advance(chrono::Duration::minutes(step));
        let r = app.gql(query, json!({"k": "TRENDING"}), Some(token)).await;
        out.push(code_of_opt(&r).unwrap_or("OK").to_owned());
    }
    out
}

/// The daily feed limit and the take-a-break card on a clock the test moves: a teen's default
/// hour, a pause that does not count, a parent's shorter limit, a member's own limit in their
/// time zone, the card after 30 minutes for everyone, midnight resetting it all. On PostgreSQL
/// with Redis and the response cache on, so a cached feed response is refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_limits_and_breaks_on_a_moving_clock() {
    use app_core::age::{Clock, ManualClock};
    // Noon UTC today: a whole afternoon before midnight.
    let noon = Utc::now().date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc();
    let clock = std::sync::Arc::new(ManualClock::new(noon));
    let app = crate::harness::app(Engine::Postgres)
        .redis()
        .clock(clock.clone())
        .tweak(|c| c.limits.redeem_per_ip_per_minute = 1000)
        .start()
        .await;
    let (teen, teen_id) = aged(&app, "tara", 15).await;
    let (parent, _) = aged(&app, "pia", 45).await;
    let (adult, _) = aged(&app, "alf", 33).await;
    let author = app.my_id(&adult).await;
    published(&app, &author, "a sunny beach").await;

    // The teen's default hour: 15 steps of 4 minutes make 60 minutes; the 16th page is refused,
    // with the reset at the next midnight (UTC: no time zone set). The same query every time, so
    // the server's whole-response cache would answer it if the limit did not come first.
    let codes = scroll(&app, &clock, &teen, FEED_Q, 4, 16).await;
    assert!(codes[..15].iter().all(|c| c == "OK"), "{codes:?}");
    assert_eq!(codes[15], "LIMIT_REACHED", "{codes:?}");
    let r = app.gql(FEED_ITEMS, json!({"k": "TRENDING"}), Some(&teen)).await;
    assert_eq!(code_of(&r), "LIMIT_REACHED");
    let resets = r["errors"][0]["extensions"]["resetsAt"].as_str().unwrap();
    let midnight = (noon.date_naive() + chrono::Duration::days(1)).and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert_eq!(resets, midnight.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("60 minutes"), "{r}");
    // Midnight resets it.
    clock.set(midnight + chrono::Duration::minutes(1));
    assert_eq!(scroll(&app, &clock, &teen, FEED_Q, 1, 1).await, ["OK"]);

    // A pause longer than 5 minutes does not count: 10 pages 20 minutes apart use nothing.
    let codes = scroll(&app, &clock, &teen, FEED_Q, 20, 10).await;
    assert!(codes.iter().all(|c| c == "OK"), "{codes:?}");
    let me = app.ok("{ me { wellbeing { minutesToday } } }", json!({}), Some(&teen)).await;
    assert!(me["me"]["wellbeing"]["minutesToday"].as_i64().unwrap() < 2, "{me}");

    // The parent's 20 minutes apply at once.
    let code = app.ok(INVITE, json!({}), Some(&parent)).await["createGuardianInvite"].as_str().unwrap().to_owned();
    app.ok(ACCEPT, json!({"c": code}), Some(&teen)).await;
    app.ok(CONTROLS, json!({"t": teen_id, "i": {"dailyFeedMinutes": 20}}), Some(&parent)).await;
    // (The last page of the pauses was 4 minutes before the first of these: that counts.)
    let codes = scroll(&app, &clock, &teen, FEED_Q, 4, 5).await;
    assert_eq!(codes, ["OK", "OK", "OK", "OK", "LIMIT_REACHED"], "20 minutes");

    // An adult in New York, from their noon: no limit, two hours of scrolling, and a
    // take-a-break card every 30 minutes.
    app.ok(WELLBEING, json!({"i": {"timeZone": "America/New_York"}}), Some(&adult)).await;
    clock.set(midnight + chrono::Duration::hours(17));
    let start = clock.now() + chrono::Duration::minutes(3);
    let mut cards = vec![];
    for _ in 0..41 {
        clock.advance(chrono::Duration::minutes(3));
        let r = app.ok(FEED_ITEMS, json!({"k": "TRENDING"}), Some(&adult)).await;
        let edges = r["feedItems"]["edges"].as_array().unwrap();
        if let Some(card) = edges.iter().find(|e| e["node"]["__typename"] == "TakeABreak") {
            assert_eq!(edges[0]["node"]["__typename"], "TakeABreak", "the card comes first");
            assert!(edges.iter().any(|e| e["node"]["__typename"] == "Video"), "and the page goes on");
            cards.push((clock.now() - start).num_minutes());
            assert!(card["node"]["message"].as_str().unwrap().contains("break"), "{card}");
        }
    }
    assert_eq!(cards, [30, 60, 90, 120], "a card every 30 minutes of continuous use");

    // A member's own limit, in their time zone.
    for (input, field) in
        [(json!({"dailyFeedMinutes": 2}), "dailyFeedMinutes"), (json!({"timeZone": "Mars/Olympus_Mons"}), "timeZone")]
    {
        let r = app.gql(WELLBEING, json!({"i": input}), Some(&adult)).await;
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{r}");
        assert_eq!(field_of(&r), field);
    }
    let w =
        app.ok(WELLBEING, json!({"i": {"dailyFeedMinutes": 100, "timeZone": "America/New_York"}}), Some(&adult)).await;
    assert_eq!(w["setWellbeing"]["wellbeing"]["timeZone"], "America/New_York");
    clock.advance(chrono::Duration::minutes(4));
    let r = app.gql(FEED_Q, json!({"k": "TRENDING"}), Some(&adult)).await;
    assert_eq!(code_of(&r), "LIMIT_REACHED", "two hours used, and more: {r}");
    let resets: chrono::DateTime<Utc> = r["errors"][0]["extensions"]["resetsAt"].as_str().unwrap().parse().unwrap();
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    assert_eq!(resets.with_timezone(&ny).time(), chrono::NaiveTime::MIN, "New York's midnight: {resets}");
    // Clearing it lifts it.
    app.ok(WELLBEING, json!({"i": {"clearDailyLimit": true}}), Some(&adult)).await;
    assert_eq!(scroll(&app, &clock, &adult, FEED_Q, 1, 1).await, ["OK"]);
}
