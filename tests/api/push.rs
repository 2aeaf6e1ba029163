//! Notifications that leave the app, through the real server and the loopback push services
//! (`push_servers::PushLab`: APNs over HTTP/2 with ES256 provider tokens, FCM HTTP v1 with
//! service-account OAuth, Web Push with VAPID and RFC 8291 encryption): devices and their
//! checks, delivery to each platform, settings per kind, retries on 429/503 with `Retry-After`,
//! dead tokens removed, quiet hours on a moving clock (a teen's default, an adult's own), "your
//! video is ready" when a job succeeds, the same key after a crash mid-send, and the weekly
//! email digest with its unsubscribe link.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use crate::harness::*;
use crate::push_servers::{PushLab, Received};
use app_core::model::PushPlatform;

const REGISTER: &str = "mutation($p: PushPlatform!, $t: String!) { registerPushDevice(platform: $p, token: $t) }";
const UNREGISTER: &str = "mutation($t: String!) { unregisterPushDevice(token: $t) }";
const SETTINGS: &str = "{ notificationSettings { videoReady cameoUsed comments remixes follows likesDigest moderation emailDigest quietHoursStart quietHoursEnd devices { id platform label lastSuccessAt } } }";
const SET: &str = "mutation($i: NotificationSettingsInput!) { setNotificationSettings(input: $i) { follows quietHoursStart quietHoursEnd emailDigest devices { platform } } }";
const FOLLOW: &str = "mutation($u: ID!) { follow(userId: $u) { id } }";
const WELLBEING: &str = "mutation($i: WellbeingInput!) { setWellbeing(input: $i) { wellbeing { timeZone } } }";

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The app with every channel pointed at `lab` (a push round every 100 ms, a 5 s lease).
fn with_lab(b: Builder, lab: &PushLab) -> Builder {
    let (apns_url, fcm_url) = (lab.apns_url(), lab.fcm_url());
    let (apns_key, key_id, team, topic) =
        (lab.apns_key_file(), lab.apns_key_id().to_owned(), lab.apns_team_id().to_owned(), lab.apns_topic().to_owned());
    let (fcm_sa, vapid, subject) =
        (lab.fcm_service_account_file(), lab.vapid_private_key_file(), lab.vapid_subject().to_owned());
    b.tweak(move |c| {
        c.limits.redeem_per_ip_per_minute = 1000;
        c.push.apns_url = apns_url;
        c.push.apns_key_file = Some(apns_key);
        c.push.apns_key_id = Some(key_id);
        c.push.apns_team_id = Some(team);
        c.push.apns_topic = Some(topic);
        c.push.fcm_url = fcm_url;
        c.push.fcm_service_account_file = Some(fcm_sa);
        c.push.vapid_private_key_file = Some(vapid);
        c.push.vapid_subject = Some(subject);
        c.push.push_allow_loopback_http = true;
        c.push.poll = Duration::from_millis(100);
        c.push.lease = Duration::from_secs(5);
    })
}

/// Waits until `lab` has accepted `n` pushes for `name` on `platform` (at most 30 s).
async fn arrived(lab: &PushLab, platform: PushPlatform, name: &str, n: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = lab.received(platform, name);
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "{platform:?} {name}: {} of {n} pushes arrived", got.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Registers `name`'s three devices for `token`'s member: (ios, android, web) tokens.
async fn three_devices(app: &TestApp, lab: &PushLab, token: &str, name: &str) -> (String, String, String) {
    let ios = lab.ios_token(name);
    let android = lab.android_token(name);
    let web = lab.web_subscription(name);
    for (p, t) in [("IOS", &ios), ("ANDROID", &android), ("WEB", &web)] {
        assert_eq!(app.ok(REGISTER, json!({"p": p, "t": t}), Some(token)).await["registerPushDevice"], true);
    }
    (ios, android, web)
}

fn field_of(r: &Value) -> &str {
    r["errors"][0]["extensions"]["field"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_reach_every_platform_and_follow_the_settings() {
    let dir = tempdir("push-lab");
    let lab = PushLab::start(&dir).await;
    let app = with_lab(app(Engine::Sqlite), &lab).tweak(|c| c.queue.in_process_workers = Some(1)).start().await;
    let ann = app.member("ann").await;
    let ann_id = app.my_id(&ann).await;

    // Tokens are checked before they are kept; a browser's endpoint must be a push service.
    for (p, t) in [
        ("IOS", "not-hex".to_owned()),
        ("ANDROID", "a b".to_owned()),
        ("WEB", r#"{"endpoint":"https://169.254.169.254/latest","keys":{"p256dh":"x","auth":"y"}}"#.to_owned()),
        ("WEB", "{".to_owned()),
    ] {
        let r = app.gql(REGISTER, json!({"p": p, "t": t}), Some(&ann)).await;
        assert_eq!(code_of(&r), "BAD_USER_INPUT", "{p} {t}: {r}");
        assert_eq!(field_of(&r), "token", "{r}");
        assert!(!r["errors"][0]["message"].as_str().unwrap().contains("Error"), "{r}");
    }
    assert_eq!(app.code(REGISTER, json!({"p": "IOS", "t": lab.ios_token("x")}), None).await, "UNAUTHENTICATED");
    let (ios, _android, web) = three_devices(&app, &lab, &ann, "ann").await;
    let s = app.ok(SETTINGS, json!({}), Some(&ann)).await["notificationSettings"].clone();
    let labels: Vec<&str> = s["devices"].as_array().unwrap().iter().map(|d| d["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["iPhone or iPad", "Android", "Browser"], "{s}");
    assert_eq!(s["follows"], true);
    assert_eq!(s["emailDigest"], true);

    // A follow: one push on each device, with the kind, the title and where it opens.
    let bob = app.member("bob").await;
    app.ok(FOLLOW, json!({"u": ann_id}), Some(&bob)).await;
    for p in [PushPlatform::Ios, PushPlatform::Android, PushPlatform::Web] {
        let got = arrived(&lab, p, "ann", 1).await;
        assert_eq!(got[0].kind, "user.followed", "{p:?}");
        assert_eq!(got[0].title, "New follower", "{p:?}");
        assert!(got[0].body.contains("bob"), "{p:?}: {}", got[0].body);
        assert_eq!(got[0].collapse.as_deref().map(|c| c.replace('-', "")), Some(got[0].key.replace('-', "")));
    }
    let s = app.ok(SETTINGS, json!({}), Some(&ann)).await["notificationSettings"].clone();
    assert!(s["devices"].as_array().unwrap().iter().all(|d| d["lastSuccessAt"].is_string()), "{s}");

    // 429 with Retry-After on iOS and 503 on Android: each is sent again after the wait, once.
    lab.fail_next(PushPlatform::Ios, "ann", 429, Some(1));
    lab.fail_next(PushPlatform::Android, "ann", 503, Some(1));
    let cy = app.member("cyrus").await;
    app.ok(FOLLOW, json!({"u": ann_id}), Some(&cy)).await;
    for p in [PushPlatform::Ios, PushPlatform::Android, PushPlatform::Web] {
        let got = arrived(&lab, p, "ann", 2).await;
        assert_eq!(got.len(), 2, "{p:?}");
        assert!(got[1].body.contains("cyrus"));
    }
    assert_eq!(lab.attempts(PushPlatform::Ios, "ann"), 3, "the 429 and its retry");
    assert_eq!(lab.attempts(PushPlatform::Android, "ann"), 3, "the 503 and its retry");
    assert_eq!(lab.attempts(PushPlatform::Web, "ann"), 2);

    // Follows turned off: the next follow is not pushed; comments still are.
    let r = app.ok(SET, json!({"i": {"follows": false}}), Some(&ann)).await;
    assert_eq!(r["setNotificationSettings"]["follows"], false);
    let dee = app.member("dee").await;
    app.ok(FOLLOW, json!({"u": ann_id}), Some(&dee)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(lab.attempts(PushPlatform::Web, "ann"), 2, "a kind turned off is not sent");

    // The browser's subscription expires (410 Gone): the device is removed, the others still get
    // their pushes.
    lab.kill(PushPlatform::Web, "ann");
    app.ok(SET, json!({"i": {"follows": true}}), Some(&ann)).await;
    let eve = app.member("eve").await;
    app.ok(FOLLOW, json!({"u": ann_id}), Some(&eve)).await;
    arrived(&lab, PushPlatform::Ios, "ann", 3).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = app.ok(SETTINGS, json!({}), Some(&ann)).await["notificationSettings"].clone();
        let platforms: Vec<&str> =
            s["devices"].as_array().unwrap().iter().map(|d| d["platform"].as_str().unwrap()).collect();
        if platforms == ["IOS", "ANDROID"] {
            break;
        }
        assert!(Instant::now() < deadline, "the dead browser was not removed: {platforms:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // "Your video is ready" when the job succeeds (one 1-second clip on the in-process worker).
    let r = app
        .ok(
            "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }",
            json!({"i": {"prompt": "a paper boat on a pond", "durationSeconds": 1}}),
            Some(&ann),
        )
        .await;
    let job = r["createVideo"]["id"].as_str().unwrap().to_owned();
    let ended =
        app.job_when_ended("query($id: ID!) { job(id: $id) { status } }", &ann, &job, Duration::from_secs(180)).await;
    assert_eq!(ended["status"], "SUCCEEDED", "{ended}");
    let got = arrived(&lab, PushPlatform::Ios, "ann", 4).await;
    let ready = got.iter().find(|g| g.kind == "video.ready").unwrap_or_else(|| panic!("no video.ready push: {got:?}"));
    assert_eq!(ready.title, "Your video is ready");
    assert!(ready.body.contains("paper boat"), "{}", ready.body);
    assert_eq!(ready.path.as_deref(), Some("/drafts"));

    // Unregistering stops pushes to that device; a token moves to whoever registers it last.
    assert_eq!(app.ok(UNREGISTER, json!({"t": ios}), Some(&ann)).await["unregisterPushDevice"], true);
    assert_eq!(app.ok(UNREGISTER, json!({"t": ios}), Some(&ann)).await["unregisterPushDevice"], false);
    app.ok(REGISTER, json!({"p": "WEB", "t": web}), Some(&bob)).await;
    let s = app.ok(SETTINGS, json!({}), Some(&ann)).await["notificationSettings"].clone();
    assert_eq!(s["devices"].as_array().unwrap().len(), 1, "{s}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_hours_hold_pushes_until_they_end() {
    use app_core::age::ManualClock;
    let dir = tempdir("push-quiet");
    let lab = PushLab::start(&dir).await;
    // 23:30 in New York tomorrow (ahead of the real time, so new entries are due at once).
    let ny: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let tomorrow = (Utc::now().with_timezone(&ny) + chrono::Duration::days(1)).date_naive();
    let late = ny.from_local_datetime(&tomorrow.and_hms_opt(23, 30, 0).unwrap()).unwrap().with_timezone(&Utc);
    let clock = std::sync::Arc::new(ManualClock::new(late));
    let app = with_lab(app(Engine::Postgres), &lab).clock(clock.clone()).start().await;
    // A 15-year-old (teen default quiet hours 22:00–07:00) and an adult, both in New York.
    let t = late.with_timezone(&ny).date_naive();
    let code = app.mint(1, 1).await.remove(0);
    let born = format!("{}-01-15", chrono::Datelike::year(&t) - 15);
    let r = app
        .ok(SIGN_UP, json!({"input": {"birthDate": born, "inviteCode": code, "email": "tia@example.com", "username": "tia", "password": "long enough secret"}}), None)
        .await;
    let (teen, _, teen_id) = tokens(&r["signUp"]);
    let adult = app.member("ada").await;
    let adult_id = app.my_id(&adult).await;
    for who in [&teen, &adult] {
        app.ok(WELLBEING, json!({"i": {"timeZone": "America/New_York"}}), Some(who)).await;
    }
    app.ok(REGISTER, json!({"p": "WEB", "t": lab.web_subscription("tia")}), Some(&teen)).await;
    app.ok(REGISTER, json!({"p": "WEB", "t": lab.web_subscription("ada")}), Some(&adult)).await;

    let fan = app.member("fan").await;
    app.ok(FOLLOW, json!({"u": teen_id}), Some(&fan)).await;
    app.ok(FOLLOW, json!({"u": adult_id}), Some(&fan)).await;
    // The adult's arrives at 23:30; the teen's waits.
    arrived(&lab, PushPlatform::Web, "ada", 1).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(lab.attempts(PushPlatform::Web, "tia"), 0, "a teen gets no push at 23:30");
    // 06:59: still quiet. 07:00: it goes out.
    clock.set(late + chrono::Duration::minutes(7 * 60 + 29));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(lab.attempts(PushPlatform::Web, "tia"), 0, "06:59 is still quiet");
    clock.set(late + chrono::Duration::minutes(7 * 60 + 31));
    let got = arrived(&lab, PushPlatform::Web, "tia", 1).await;
    assert_eq!(got[0].kind, "user.followed");

    // An adult's own quiet hours (12:00–13:00 New York): a follow at 12:15 is pushed at 13:00.
    let r = app.ok(SET, json!({"i": {"quietHoursStart": "12:00", "quietHoursEnd": "13:00"}}), Some(&adult)).await;
    assert_eq!(r["setNotificationSettings"]["quietHoursStart"], "12:00");
    let noon = ny.from_local_datetime(&(tomorrow + chrono::Duration::days(1)).and_hms_opt(12, 15, 0).unwrap()).unwrap();
    clock.set(noon.with_timezone(&Utc));
    let fan2 = app.member("fan2").await;
    app.ok(FOLLOW, json!({"u": adult_id}), Some(&fan2)).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(lab.received(PushPlatform::Web, "ada").len(), 1, "held in the adult's own quiet hours");
    clock.set(noon.with_timezone(&Utc) + chrono::Duration::minutes(46));
    arrived(&lab, PushPlatform::Web, "ada", 2).await;
    // Bad quiet hours are refused in words.
    let r = app.gql(SET, json!({"i": {"quietHoursStart": "25:00", "quietHoursEnd": "07:00"}}), Some(&adult)).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT");
    assert_eq!(field_of(&r), "quietHoursStart");
    let r = app.gql(SET, json!({"i": {"quietHoursStart": "22:00"}}), Some(&adult)).await;
    assert_eq!(code_of(&r), "BAD_USER_INPUT");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weekly_digest_for_members_without_a_device_and_its_unsubscribe_link() {
    use app_core::age::ManualClock;
    let clock = std::sync::Arc::new(ManualClock::new(Utc::now()));
    let app =
        app(Engine::Sqlite).clock(clock.clone()).tweak(|c| c.limits.redeem_per_ip_per_minute = 1000).start().await;
    let quiet = app.member("quinn").await;
    let quiet_id = app.my_id(&quiet).await;
    let mut fans = vec![];
    for i in 0..3 {
        fans.push(app.member(&format!("fan{i}")).await);
    }
    for f in &fans {
        app.ok(FOLLOW, json!({"u": quiet_id}), Some(f)).await;
    }
    let push = &app.running.services.push;
    // Not before a week.
    assert_eq!(push.send_digests().await.unwrap(), 0);
    clock.advance(chrono::Duration::days(7) + chrono::Duration::hours(1));
    assert_eq!(push.send_digests().await.unwrap(), 1, "quinn's first digest");
    assert_eq!(push.send_digests().await.unwrap(), 0, "once a week");
    let mail = std::fs::read_dir(app.data_dir.join("mail"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .find(|m| m.contains("Your week on soravibe"))
        .expect("the digest mail");
    let mail = mail.replace("=\r\n", "").replace("=3D", "=");
    assert!(mail.contains("To: quinn@example.com"), "{mail}");
    assert!(mail.contains("3 new followers"), "{mail}");
    let link = mail
        .split_whitespace()
        .rev()
        .find(|w| w.contains("/unsubscribe?token=") && !w.starts_with('<'))
        .unwrap()
        .to_owned();
    // The same link in the headers mail clients show as "Unsubscribe" (RFC 8058 one-click).
    let unfolded = mail.replace("\r\n ", " ").replace("\r\n\t", " ");
    assert!(unfolded.contains(&format!("List-Unsubscribe: <{link}>")), "{link} in {mail}");
    assert!(unfolded.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{mail}");
    // Opening the link changes nothing (mail scanners open links); the button does, signed out.
    let page = app.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Stop the weekly email"));
    assert_eq!(app.ok(SETTINGS, json!({}), Some(&quiet)).await["notificationSettings"]["emailDigest"], true);
    // What a mail client's one-click unsubscribe sends.
    let done = app
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("will not get the weekly email"));
    assert_eq!(app.ok(SETTINGS, json!({}), Some(&quiet)).await["notificationSettings"]["emailDigest"], false);
    // A forged or truncated link is refused in words.
    let bad = app.http.post(format!("{}x", &link[..link.len() - 8])).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("invalid or has expired"));
    // Next week: nothing for quinn.
    clock.advance(chrono::Duration::days(8));
    for f in &fans {
        app.ok("mutation($u: ID!) { unfollow(userId: $u) { id } }", json!({"u": quiet_id}), Some(f)).await;
        app.ok(FOLLOW, json!({"u": quiet_id}), Some(f)).await;
    }
    // (The fans have had nothing happen to them: no digest for them either.)
    assert_eq!(push.send_digests().await.unwrap(), 0, "quinn unsubscribed");
    app.stop().await;
}

/// `backend serve` as a process on `data_dir` with every channel pointed at `lab`.
fn serve(data_dir: &std::path::Path, lab: &PushLab, port: u16) -> std::process::Child {
    std::process::Command::new(binary("backend"))
        .arg("serve")
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("APP_DATA_DIR", data_dir)
        .env("APP_LISTEN", format!("127.0.0.1:{port}"))
        .env("APP_IN_PROCESS_WORKERS", "0")
        .env("APP_SWEEP_INTERVAL_SECS", "0")
        .env("APP_LOG", "warn")
        .env("APP_APNS_URL", lab.apns_url())
        .env("APP_APNS_KEY_FILE", lab.apns_key_file())
        .env("APP_APNS_KEY_ID", lab.apns_key_id())
        .env("APP_APNS_TEAM_ID", lab.apns_team_id())
        .env("APP_APNS_TOPIC", lab.apns_topic())
        .env("APP_FCM_URL", lab.fcm_url())
        .env("APP_FCM_SERVICE_ACCOUNT_FILE", lab.fcm_service_account_file())
        .env("APP_VAPID_PRIVATE_KEY_FILE", lab.vapid_private_key_file())
        .env("APP_VAPID_SUBJECT", lab.vapid_subject())
        .env("APP_PUSH_ALLOW_LOOPBACK_HTTP", "true")
        .env("APP_PUSH_POLL_MS", "100")
        .env("APP_PUSH_LEASE_SECS", "5")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

async fn ready(http: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = http.get(format!("http://127.0.0.1:{port}/readyz")).send().await;
        if r.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "backend on {port} not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A push service accepts a push, and the node that sent it is killed (SIGKILL) before it reads
/// the answer. After the lease, the restarted node sends it again with the same key: the device
/// shows one notification (the repeat replaces it), and the delivery is recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_interrupted_by_a_crash_is_sent_again_with_the_same_key() {
    let dir = tempdir("push-crash");
    let lab = PushLab::start(&dir.join("lab")).await;
    let data = dir.join("data");
    let out = backend_cli(&data, &["invites", "mint", "--count", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let codes: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/graphql");
    let http = reqwest::Client::new();
    let mut node = serve(&data, &lab, port);
    ready(&http, port).await;
    let (ann, _, ann_id) = sign_up_at(&http, &url, &codes[0], "ann").await;
    let (bob, _, _) = sign_up_at(&http, &url, &codes[1], "bob").await;
    let gql = |token: String, query: &'static str, vars: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let r: Value = http
                .post(&url)
                .bearer_auth(token)
                .json(&json!({"query": query, "variables": vars}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(r.get("errors").is_none(), "{r}");
            r
        }
    };
    gql(ann.clone(), REGISTER, json!({"p": "WEB", "t": lab.web_subscription("ann")})).await;

    // The push service takes the push and holds its answer; the node dies meanwhile.
    lab.hold_next(PushPlatform::Web, Duration::from_secs(60));
    gql(bob.clone(), FOLLOW, json!({"u": ann_id})).await;
    let first = arrived(&lab, PushPlatform::Web, "ann", 1).await;
    node.kill().unwrap();
    node.wait().unwrap();
    assert_eq!(lab.attempts(PushPlatform::Web, "ann"), 1);

    // Restarted: after the 5 s lease the entry is taken over and sent again, with its key.
    let mut node = serve(&data, &lab, port);
    ready(&http, port).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while lab.attempts(PushPlatform::Web, "ann") < 2 {
        assert!(Instant::now() < deadline, "the interrupted push was not sent again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = lab.received(PushPlatform::Web, "ann");
    assert_eq!(shown.len(), 1, "the repeat replaced the first: {shown:?}");
    assert_eq!(shown[0].key, first[0].key, "the same idempotency key");
    // Recorded as delivered: nothing more is sent.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(lab.attempts(PushPlatform::Web, "ann"), 2);
    let s = gql(ann.clone(), SETTINGS, json!({})).await;
    assert!(s["data"]["notificationSettings"]["devices"][0]["lastSuccessAt"].is_string(), "{s}");
    node.kill().unwrap();
    node.wait().unwrap();
}

/// Likes are never pushed one by one: once a day a member with a device gets their count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn likes_are_pushed_once_a_day_as_a_count() {
    let dir = tempdir("push-likes");
    let lab = PushLab::start(&dir).await;
    let app = with_lab(app(Engine::Sqlite), &lab).start().await;
    let ann = app.member("ann").await;
    let ann_id = app.my_id(&ann).await;
    app.ok(REGISTER, json!({"p": "WEB", "t": lab.web_subscription("ann")}), Some(&ann)).await;
    let video = crate::feeds::published(&app, &ann_id, "a red kite over the dunes").await;
    for name in ["bob", "cyd"] {
        let fan = app.member(name).await;
        app.ok("mutation($v: ID!) { likeVideo(id: $v) { id } }", json!({"v": video}), Some(&fan)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(lab.attempts(PushPlatform::Web, "ann"), 0, "a like is not pushed by itself");
    let push = &app.running.services.push;
    assert_eq!(push.send_likes_digests().await.unwrap(), 1);
    let got = arrived(&lab, PushPlatform::Web, "ann", 1).await;
    assert_eq!(got[0].kind, "likes.digest");
    assert_eq!(got[0].body, "2 new likes on your videos");
    assert_eq!(push.send_likes_digests().await.unwrap(), 0, "once a day");
    app.stop().await;
}
