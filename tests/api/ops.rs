//! Operations: health, readiness, metrics, the WebSocket endpoint, the command line, the SMTP
//! transport against a real SMTP server, the schema file, and a database fault.

use std::io::{BufRead, Write};
use std::process::{Command, Stdio};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let app = app(Engine::Postgres).redis().start().await;
    let h = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(h.status(), 200);
    let r: Value = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(r, json!({"database": "ok", "redis": "ok"}));
    // Generate some traffic with a known refusal.
    app.gql(SIGN_UP, json!({"input": {"birthDate": "1990-04-12", "inviteCode": "ABCDEFGHJK", "email": "m@example.com", "username": "mmm", "password": "long enough secret"}}), None).await;
    app.gql(ME, json!({}), None).await;
    let m = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(m.contains(r#"graphql_operations_total{kind="mutation",operation="signUp"} 1"#), "{m}");
    assert!(m.contains(r#"graphql_operations_total{kind="query",operation="me"} 1"#), "{m}");
    assert!(m.contains(r#"graphql_errors_total{code="INVITE_INVALID"} 1"#), "{m}");
    assert!(m.contains(r#"graphql_operation_duration_seconds_bucket{operation="signUp""#), "{m}");
    assert!(m.contains(r#"http_requests_total{method="POST",route="/graphql",status="200"}"#), "{m}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_fault_is_unavailable_and_not_ready() {
    let app = app(Engine::Postgres).start().await;
    let code = app.mint(1, 1).await.remove(0);
    let (access, _, _) = app.sign_up(&code, "faulty").await;
    // Cut the database away under the running service.
    let name = app.pg_db.clone().unwrap();
    let admin = sea_orm::Database::connect(postgres_admin_url()).await.unwrap();
    {
        use sea_orm::ConnectionTrait;
        admin.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();
    }
    // Connections cut and the database gone read as a database that does not answer: the client
    // is told to try again, and nothing of the cause.
    let r = app.gql(ME, json!({}), Some(&access)).await;
    assert_eq!(code_of(&r), "UNAVAILABLE", "{r}");
    assert_eq!(r["errors"][0]["extensions"]["retryAfterSeconds"], 3, "{r}");
    let msg = r["errors"][0]["message"].as_str().unwrap();
    assert!(!msg.to_lowercase().contains("database") && !msg.contains("SQL"), "internal detail leaked: {msg}");
    let ready = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_with_token_in_connection_init() {
    let app = app(Engine::Sqlite).start().await;
    let code = app.mint(1, 1).await.remove(0);
    let (access, _, uid) = app.sign_up(&code, "socket").await;
    let url = format!("ws://{}/graphql/ws", app.running.addr);
    let mut req = url.clone().into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {access}")}}).to_string(),
    ))
    .await
    .unwrap();
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack");
    ws.send(Message::text(
        json!({"id": "1", "type": "subscribe", "payload": {"query": "{ me { id username } }"}}).to_string(),
    ))
    .await
    .unwrap();
    let next = next_json(&mut ws).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(next["payload"]["data"]["me"]["id"], uid);
    let complete = next_json(&mut ws).await;
    assert_eq!(complete["type"], "complete");
    // Errors over the socket carry codes too.
    ws.send(Message::text(json!({"id": "2", "type": "subscribe", "payload": {"query": "{ mee }"}}).to_string()))
        .await
        .unwrap();
    let err = next_json(&mut ws).await;
    let errors = if err["type"] == "error" { err["payload"].clone() } else { err["payload"]["errors"].clone() };
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{err}");

    // A bad token is refused at connection_init.
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(json!({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}}).to_string()))
        .await
        .unwrap();
    let mut closed = false;
    while let Some(m) = ws.next().await {
        match m {
            Ok(Message::Close(_)) | Err(_) => {
                closed = true;
                break;
            }
            Ok(Message::Text(t)) => assert_ne!(serde_json::from_str::<Value>(&t).unwrap()["type"], "connection_ack"),
            _ => {}
        }
    }
    assert!(closed);
    app.stop().await;
}

async fn next_json<S>(ws: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn schema_file_matches_the_server() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert!(
        committed == api::sdl(),
        "schema.graphql is out of date: run `cargo run -p backend -- schema > schema.graphql`"
    );
}

/// The schema-evolution policy (`api::evolution`, README "Conventions for clients"): the server's
/// schema breaks nothing for clients built against the schema they were last given — the
/// committed `schema.graphql` while it is being changed, else the version before its last change
/// in the history (so a clean clone checks the latest change too).
#[test]
fn schema_changes_keep_old_clients_working() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git").current_dir(root).args(args).output().ok()?;
        o.status.success().then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let current = api::sdl();
    let head = git(&["show", "HEAD:schema.graphql"]).expect("git and the repository's history");
    let (baseline, since) = if head != current {
        (head, "HEAD".to_owned())
    } else {
        let last = git(&["log", "-1", "--format=%H", "--", "schema.graphql"]).unwrap_or_default();
        let parent = format!("{}^", last.trim());
        match git(&["show", &format!("{parent}:schema.graphql")]) {
            Some(before) => (before, parent),
            // The file's first version, or a shallow clone without its parent: nothing older.
            None => (head, "HEAD".to_owned()),
        }
    };
    let broken = api::evolution::breaking_changes(&baseline, &current).unwrap();
    assert!(
        broken.is_empty(),
        "the schema breaks clients built against {since}'s schema.graphql; deprecate first \
         (#[graphql(deprecation = \"…\")]) and remove in a later release:\n{}",
        broken.join("\n")
    );
}

fn backend_cmd(data_dir: &std::path::Path) -> Command {
    let mut c = Command::new(crate::harness::binary("backend"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_DATA_DIR", data_dir)
        .env("APP_MODEL_MANIFEST", concat!(env!("CARGO_MANIFEST_DIR"), "/../models/world/manifest.toml"))
        .env("APP_ORT_DYLIB_PATH", std::env::var("ORT_DYLIB_PATH").unwrap_or_default())
        .env("APP_TEXT_ENCODER", concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/models/minilm.onnx"))
        .env(
            "APP_TEXT_ENCODER_TOKENIZER",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/models/minilm-tokenizer.json"),
        )
        .env("APP_LOG", "warn");
    c
}

#[test]
fn command_line_mints_creates_admin_and_refuses_bad_config() {
    let dir = std::env::temp_dir().join(format!("sv-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = backend_cmd(&dir)
        .args(["invites", "mint", "--count", "3", "--max-uses", "2", "--expires-in-days", "7"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let codes: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(codes.len(), 3);
    assert!(
        codes.iter().all(|c| c.len() >= 8 && domain::values::normalise_invite_code(c).as_deref() == Some(c.as_str()))
    );

    let mut child = backend_cmd(&dir)
        .args(["users", "create-admin", "--email", "ops@example.com", "--username", "ops"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"operator pass phrase\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(uuid::Uuid::parse_str(String::from_utf8(out.stdout).unwrap().trim()).is_ok());

    // The same data folder holds the codes: a served instance accepts them (checked through the store).
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let app = app(Engine::Sqlite).tweak({
            let dir = dir.clone();
            move |c| c.storage.data_dir = dir
        });
        let app = app.start().await;
        app.sign_up(&codes[0].to_lowercase(), "from_cli").await;
        let (admin, _, _) = app.log_in("ops", "operator pass phrase").await;
        assert_eq!(app.ok(ME, json!({}), Some(&admin)).await["me"]["role"], "ADMIN");
        app.running.handle.stop(false).await;
    });

    // A bad value stops the process with a message naming the key.
    let out = backend_cmd(&dir).env("APP_INVITE_QUOTA", "lots").args(["migrate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP_INVITE_QUOTA"));
    let out = backend_cmd(&dir).env("APP_LISTEN", "nowhere").args(["serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP_LISTEN"));

    // A missing ONNX Runtime library or model file stops start-up and says what to run.
    let out = backend_cmd(&dir)
        .env("APP_LISTEN", "127.0.0.1:0")
        .env("APP_ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ONNX Runtime") && err.contains("scripts/setup.sh"), "{err}");
    let out = backend_cmd(&dir)
        .env("APP_LISTEN", "127.0.0.1:0")
        .env("APP_MODEL_MANIFEST", "/nonexistent/manifest.toml")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/manifest.toml"), "{err}");

    // `schema` prints the SDL.
    let out = backend_cmd(&dir).arg("schema").output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), api::sdl());
    std::fs::remove_dir_all(&dir).ok();
}

fn venv_python() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("TEST_PYTHON") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python")
}

/// Mail through a real SMTP server on loopback (aiosmtpd, installed by scripts/setup.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_transport_delivers_to_a_real_server() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let outdir = std::env::temp_dir().join(format!("sv-smtp-{}", uuid::Uuid::new_v4().simple()));
    let python = venv_python();
    assert!(python.exists(), "{} is missing: run scripts/setup.sh", python.display());
    let mut sink = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/support/smtp_sink.py"))
        .arg(port.to_string())
        .arg(&outdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(sink.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");

    let app = app(Engine::Sqlite)
        .tweak(move |c| c.mail.smtp_url = Some(app_core::types::Secret::new(format!("smtp://127.0.0.1:{port}"))))
        .start()
        .await;
    let code = app.mint(1, 1).await.remove(0);
    let (access, _, _) = app.sign_up(&code, "smtp_user").await;
    let token = mailed_token_in(&outdir, "smtp_user@example.com", "Confirm your email")
        .expect("mail received by the SMTP server");
    let v = app
        .ok("mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }", json!({"t": token}), Some(&access))
        .await;
    assert_eq!(v["verifyEmail"]["emailVerified"], true);
    // Nothing went to the file transport.
    assert!(
        !app.data_dir.join("mail").exists() || std::fs::read_dir(app.data_dir.join("mail")).unwrap().next().is_none()
    );
    app.stop().await;
    drop(sink.stdin.take());
    let _ = sink.wait();
    std::fs::remove_dir_all(&outdir).ok();
}

/// The web client and the console are served by the backend itself: pages with a strict
/// policy, assets revalidated by ETag, client routes answered with the client's page, and no
/// path outside `web/` reachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_client_and_console_are_served() {
    let app = app(Engine::Sqlite).start().await;
    let get = |path: &str| app.http.get(format!("{}{path}", app.base)).send();
    for (path, marker) in [
        ("/", "/static/app/"),
        ("/join?code=ABC", "/static/app/"),
        ("/v/0190", "/static/app/"),
        ("/admin", "/static/admin/"),
        ("/admin/users", "/static/admin/"),
    ] {
        let r = get(path).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(r.headers()["x-frame-options"], "DENY");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let body = r.text().await.unwrap();
        assert!(body.contains(marker), "{path}: {body}");
        assert!(!body.contains("<script>") && !body.contains(" onclick="), "no inline script: {path}");
    }
    // An asset, then the same asset revalidated.
    let r = get("/static/shared/api.js").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert!(r.text().await.unwrap().contains("graphql-transport-ws"));
    let again =
        app.http.get(format!("{}/static/shared/api.js", app.base)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    // Nothing outside web/, no invented files, and the backend's own paths stay its own.
    let icon = get("/favicon.ico").await.unwrap();
    assert_eq!(icon.status(), 200);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    let head = app.http.head(format!("{}/admin", app.base)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    for path in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/app/missing.js",
        "/robots.txt",
        "/media/nothing",
        "/graphql/ws/x",
    ] {
        let status = get(path).await.unwrap().status();
        assert!(status == 404 || status == 400 || status == 403, "{path}: {status}");
    }
    let post = app.http.post(format!("{}/join", app.base)).body("x").send().await.unwrap();
    assert_eq!(post.status(), 404);
    app.stop().await;
}
