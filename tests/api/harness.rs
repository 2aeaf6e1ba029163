//! The test app: a real server on a free port over a fresh database (SQLite file or a new
//! PostgreSQL database), optionally Redis with a key prefix of its own, mail to a folder.

use std::path::PathBuf;

use app_core::types::Secret;
use backend::app::Running;
use backend::config::Config;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

/// Which database engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub struct TestApp {
    pub running: Running,
    pub base: String,
    pub data_dir: PathBuf,
    pub http: reqwest::Client,
    pub pg_db: Option<String>,
    pub config: Config,
}

type Tweak = Box<dyn FnOnce(&mut Config)>;

pub struct Builder {
    engine: Engine,
    redis: bool,
    tweaks: Vec<Tweak>,
    clock: Option<std::sync::Arc<dyn app_core::age::Clock>>,
}

impl Builder {
    pub fn redis(mut self) -> Self {
        self.redis = true;
        self
    }
    /// The rules read `clock` (daily limits, ages) instead of the system's.
    pub fn clock(mut self, clock: std::sync::Arc<dyn app_core::age::Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    pub fn tweak(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.tweaks.push(Box::new(f));
        self
    }
    pub async fn start(self) -> TestApp {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let data_dir = std::env::temp_dir().join(format!("sv-test-{id}"));
        std::fs::create_dir_all(&data_dir).unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut c = Config::default();
        c.server.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        c.server.http_workers = 2;
        c.storage.data_dir = data_dir.clone();
        c.auth.hash_concurrency = 4;
        c.database.max_connections = 5;
        c.inference.model_manifest = root.join("models/world/manifest.toml");
        c.moderation.prompt_classifier = root.join("models/moderation/text_classifier.onnx");
        c.moderation.frame_classifier = root.join(".venv/models/open-nsfw.onnx");
        c.moderation.text_encoder = root.join(".venv/models/minilm.onnx");
        c.moderation.text_encoder_tokenizer = root.join(".venv/models/minilm-tokenizer.json");
        // No search indexing in the background: tests that count statements, inject faults or
        // compare whole tables must see no writes of their own; search tests turn it on.
        c.feed.search_refresh = std::time::Duration::ZERO;
        c.queue.in_process_workers = Some(0);
        c.queue.reclaim_idle = std::time::Duration::from_secs(5);
        c.queue.retry_backoff = std::time::Duration::from_secs(1);
        // Tests that sweep call the sweeper themselves.
        c.storage.sweep_interval = std::time::Duration::ZERO;
        let mut pg_db = None;
        if self.engine == Engine::Postgres {
            let name = format!("t_{id}");
            let admin = Database::connect(postgres_admin_url()).await.unwrap();
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            let base = postgres_admin_url();
            let i = base.rfind('/').unwrap();
            c.database.url = Some(Secret::new(format!("{}/{name}", &base[..i])));
            pg_db = Some(name);
        }
        if self.redis {
            c.redis.url = Some(Secret::new(redis_url()));
            c.redis.prefix = format!("t{id}");
        }
        for t in self.tweaks {
            t(&mut c);
        }
        c.validate().unwrap();
        let running = match self.clock {
            Some(clock) => backend::app::start_with_clock(&c, clock).await.unwrap(),
            None => backend::app::start(&c).await.unwrap(),
        };
        let base = format!("http://{}", running.addr);
        TestApp { running, base, data_dir, http: reqwest::Client::new(), pg_db, config: c }
    }
}

/// POSTs one operation to the server at `base` (a [`TestApp`]'s, or another node's); returns the
/// whole JSON response.
pub async fn gql_at(
    http: &reqwest::Client,
    base: &str,
    query: &str,
    vars: Value,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Value {
    let mut req = http.post(format!("{base}/graphql")).json(&json!({"query": query, "variables": vars}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success() || resp.status().is_client_error(), "status {}", resp.status());
    resp.json().await.unwrap()
}

pub fn app(engine: Engine) -> Builder {
    Builder { engine, redis: false, tweaks: vec![], clock: None }
}

impl TestApp {
    /// POSTs one operation; returns the whole JSON response.
    pub async fn gql(&self, query: &str, vars: Value, token: Option<&str>) -> Value {
        self.gql_with(query, vars, token, &[]).await
    }

    pub async fn gql_with(&self, query: &str, vars: Value, token: Option<&str>, headers: &[(&str, &str)]) -> Value {
        gql_at(&self.http, &self.base, query, vars, token, headers).await
    }

    /// The data of a successful operation (panics with the errors otherwise).
    pub async fn ok(&self, query: &str, vars: Value, token: Option<&str>) -> Value {
        let r = self.gql(query, vars, token).await;
        assert!(r.get("errors").is_none(), "unexpected errors: {r}");
        r["data"].clone()
    }

    /// The `extensions.code` of the first error (panics when there is none).
    pub async fn code(&self, query: &str, vars: Value, token: Option<&str>) -> String {
        let r = self.gql(query, vars, token).await;
        code_of(&r)
    }

    pub async fn mint(&self, count: i32, max_uses: i32) -> Vec<String> {
        let list = self
            .running
            .services
            .invites
            .mint_as(None, domain::invites::Mint { count, max_uses, expires_at: None, note: None })
            .await
            .unwrap();
        list.into_iter().map(|i| i.code).collect()
    }

    pub async fn create_admin(&self, username: &str) -> String {
        self.running
            .services
            .accounts
            .create_admin(&format!("{username}@example.com"), username, Secret::new("admin pass phrase 1".into()))
            .await
            .unwrap();
        self.log_in(username, "admin pass phrase 1").await.0
    }

    /// Polls `job(id)` with `query` (which must select `job { status }`) until the job has ended,
    /// at most `timeout`; returns the job.
    pub async fn job_when_ended(&self, query: &str, token: &str, id: &str, timeout: std::time::Duration) -> Value {
        let start = std::time::Instant::now();
        loop {
            let j = self.ok(query, json!({"id": id}), Some(token)).await["job"].clone();
            if ["SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"].contains(&j["status"].as_str().unwrap()) {
                return j;
            }
            assert!(start.elapsed() < timeout, "timed out: {j}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// A new member through a fresh single-use invite; returns the access token.
    pub async fn member(&self, username: &str) -> String {
        let code = self.mint(1, 1).await.remove(0);
        self.sign_up(&code, username).await.0
    }

    /// Signs up; returns (access, refresh, user id).
    pub async fn sign_up(&self, code: &str, username: &str) -> (String, String, String) {
        let d = self
            .ok(
                SIGN_UP,
                json!({"input": {"birthDate": "1990-04-12", "inviteCode": code, "email": format!("{username}@example.com"), "username": username, "password": "long enough secret"}}),
                None,
            )
            .await;
        tokens(&d["signUp"])
    }

    pub async fn log_in(&self, login: &str, password: &str) -> (String, String, String) {
        let d = self.ok(LOG_IN, json!({"input": {"login": login, "password": password}}), None).await;
        tokens(&d["logIn"])
    }

    /// The id of the member whose access token is `token`.
    pub async fn my_id(&self, token: &str) -> String {
        self.ok("{ me { id } }", json!({}), Some(token)).await["me"]["id"].as_str().unwrap().to_owned()
    }

    /// Where the embedded media store keeps a video's MP4.
    pub fn video_file(&self, video_id: &str) -> PathBuf {
        self.data_dir.join("media").join("videos").join(format!("{video_id}.mp4"))
    }

    /// The stored MP4 of a video.
    pub fn stored_video(&self, video_id: &str) -> Vec<u8> {
        std::fs::read(self.video_file(video_id)).unwrap()
    }

    /// How many video files the embedded media store holds.
    pub fn stored_video_count(&self) -> usize {
        std::fs::read_dir(self.data_dir.join("media").join("videos")).map(|d| d.count()).unwrap_or(0)
    }

    /// The newest token mailed to `to` under the "token: …" line (file transport).
    pub fn mailed_token(&self, to: &str, subject: &str) -> String {
        let dir = self.data_dir.join("mail");
        mailed_token_in(&dir, to, subject).unwrap_or_else(|| panic!("no mail '{subject}' to {to} in {}", dir.display()))
    }

    pub async fn stop(self) {
        self.running.handle.stop(false).await;
        if let Some(db) = &self.pg_db
            && let Ok(admin) = Database::connect(postgres_admin_url()).await
        {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn mailed_token_in(dir: &std::path::Path, to: &str, subject: &str) -> Option<String> {
    let mut found: Vec<(std::time::SystemTime, String)> = vec![];
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let addressed =
            text.lines().any(|l| (l.starts_with("To:") || l.starts_with("X-Envelope-To:")) && l.contains(to));
        if addressed && text.contains(subject) {
            let modified = e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            found.push((modified, text));
        }
    }
    found.sort_by_key(|(t, _)| *t);
    let (_, text) = found.pop()?;
    for marker in ["token: ", "invite code: "] {
        if let Some(l) = text.lines().rev().find(|l| l.starts_with(marker)) {
            return Some(l.trim_start_matches(marker).trim().to_owned());
        }
    }
    None
}

/// Rate-limit windows are aligned to the clock: wait out the last seconds of a minute so that a
/// short sequence of requests falls inside one window.
pub async fn avoid_window_edge() {
    let s = chrono::Utc::now().timestamp().rem_euclid(60);
    if s >= 50 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - s).unsigned_abs())).await;
    }
}

pub fn tokens(p: &Value) -> (String, String, String) {
    (
        p["accessToken"].as_str().unwrap().to_owned(),
        p["refreshToken"].as_str().unwrap().to_owned(),
        p["user"]["id"].as_str().unwrap().to_owned(),
    )
}

/// The first error's `extensions.code`, if the response has one.
pub fn code_of_opt(r: &Value) -> Option<&str> {
    r["errors"][0]["extensions"]["code"].as_str()
}

pub fn code_of(r: &Value) -> String {
    r["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no error code in {r}")).to_owned()
}

pub const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken expiresIn user { id username email role } } }";
pub const LOG_IN: &str =
    "mutation($input: LogInInput!) { logIn(input: $input) { accessToken refreshToken user { id username } } }";
pub const REFRESH: &str =
    "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken user { id } } }";
pub const ME: &str = "{ me { id username email emailVerified role invitedBy { username } } }";

/// Generates one test per engine: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::harness::Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)($crate::harness::Engine::Postgres).await
            }
        }
    };
}

/// The path of a workspace binary (`backend`, `generator`), built first, once per test process,
/// with the same command `scripts/test.sh` runs before the tests (`cargo build --workspace
/// --bins --tests`: with the tests in the same invocation the binaries get the test build's
/// feature set, so nothing is compiled twice and the build is a no-op there); a test never runs
/// a stale binary.
pub fn binary(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let bin = exe.parent().unwrap().parent().unwrap().join(name);
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "--quiet", "--workspace", "--bins", "--tests"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        // Cargo runs this test with the variables of the package under test (CARGO_MANIFEST_DIR,
        // CARGO_PKG_…); build scripts that watch them (ring's does) would make the nested build
        // recompile half the tree, and the next build outside recompile it back.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if ["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_PACKAGE"]
                .iter()
                .any(|p| name.starts_with(p))
                || ["CARGO_TARGET_TMPDIR", "CARGO_RUSTC_CURRENT_DIR", "OUT_DIR"].contains(&name.as_ref())
            {
                build.env_remove(name.as_ref());
            }
        }
        build.status().is_ok_and(|s| s.success())
    });
    assert!(*built, "cargo build --workspace --bins --tests failed");
    bin
}

/// An S3-compatible server on loopback for one test: `moto_server` from the workspace's `.venv`
/// (`scripts/setup.sh` installs it), on a port of its own, killed when dropped.
pub struct S3Server {
    child: std::process::Child,
    pub port: u16,
}

impl S3Server {
    /// Starts the server, waits until it answers, and creates `bucket`.
    pub async fn start(bucket: &str) -> S3Server {
        let exe = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server");
        assert!(std::path::Path::new(exe).exists(), "{exe} is missing: run ./scripts/setup.sh");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = S3Server { child, port };
        let http = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(r) = http.put(format!("http://127.0.0.1:{port}/{bucket}")).send().await
                && r.status().is_success()
            {
                return server;
            }
            assert!(std::time::Instant::now() < deadline, "moto_server did not answer on {port}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs an operator command (`backend <args>`) against the data folder `data_dir`, as an operator
/// would from the repository root; its output.
pub fn backend_cli(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    backend_cli_with(data_dir, &[], args)
}

/// [`backend_cli`] with more variables in its environment.
pub fn backend_cli_with(data_dir: &std::path::Path, vars: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    std::process::Command::new(binary("backend"))
        .args(args)
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("APP_DATA_DIR", data_dir)
        .env("APP_LOG", "warn")
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

/// Signs `username` up with `code` at a server's GraphQL `url` (one started as a process, not a
/// [`TestApp`]); its tokens and id as [`tokens`] reads them.
pub async fn sign_up_at(http: &reqwest::Client, url: &str, code: &str, username: &str) -> (String, String, String) {
    let input = json!({"birthDate": "1990-04-12", "inviteCode": code, "email": format!("{username}@example.com"), "username": username, "password": "long enough secret"});
    let r: Value = http
        .post(url)
        .json(&json!({"query": SIGN_UP, "variables": {"input": input}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens(&r["data"]["signUp"])
}

/// A configuration change that puts the media in the S3 bucket `media` at `endpoint` (moto's
/// credentials), for `Builder::tweak`.
pub fn with_s3(endpoint: String) -> impl FnOnce(&mut Config) + 'static {
    move |c| {
        c.storage.s3_bucket = Some("media".into());
        c.storage.s3_endpoint = Some(endpoint);
        c.storage.s3_access_key = Some(Secret::new("testing".into()));
        c.storage.s3_secret_key = Some(Secret::new("testing".into()));
    }
}
