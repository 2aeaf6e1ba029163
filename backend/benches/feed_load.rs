//! Feed load benchmark against a running server seeded by `seed` (see
//! `scripts/bench-feed.sh`, which builds, seeds PostgreSQL, starts the server on one core and runs
//! this on another).
//!
//! Phases, each for BENCH_SECONDS with BENCH_CONCURRENCY keep-alive connections on one thread:
//! 1. `bare`: `GET /ping`, the floor of the HTTP stack;
//! 2. `warm`: FOR_YOU first pages (fully hydrated) for BENCH_USERS members, cycling, after one
//!    priming request each (untimed): ranked lists come from the cache;
//! 3. `cold`: the feed cache is cleared (Redis, `BENCH_REDIS_PREFIX`), then every request is the
//!    first page of a member never asked for before, so each ranks afresh.
//!
//! Env: BENCH_URL (default http://127.0.0.1:18080), BENCH_SECONDS (15), BENCH_CONCURRENCY (32),
//! BENCH_USERS (200), BENCH_COLD_USERS (6000), BENCH_PASSWORD (seed-password-1),
//! BENCH_REDIS_URL (redis://127.0.0.1:6379), BENCH_REDIS_PREFIX (unset: the cache is not cleared),
//! BENCH_LOGIN_CONCURRENCY (16), BENCH_SERVER_PID (when set, each phase also reports the server
//! process's CPU time per request, read from /proc: what the server spends, whatever the load
//! tool's own limits). Exits non-zero when any request failed.
//!
//! Every response is checked: HTTP 200, valid JSON (parsed in full, into types that keep only what
//! is checked: `errors`, and the count of `data.feed.edges`), no errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // bench code

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const FEED: &str = "query F($after: String) { feed(kind: FOR_YOU, first: 20, after: $after) { edges { cursor node { id prompt url thumbnailUrl durationMs publishedAt likeCount commentCount viewCount remixCount viewerHasLiked author { id username displayName followerCount viewerFollows } } } pageInfo { hasNextPage endCursor } } }";
const LOGIN: &str = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }";

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What one phase measured.
#[derive(Default)]
struct Phase {
    name: &'static str,
    lat: Vec<Duration>,
    failures: u64,
    empty: u64,
    errors: BTreeMap<String, u64>,
    elapsed: f64,
    note: Option<String>,
    /// Server CPU seconds used during the phase (BENCH_SERVER_PID).
    server_cpu: Option<f64>,
}

impl Phase {
    fn ok(&self) -> u64 {
        self.lat.len() as u64
    }
    fn requests(&self) -> u64 {
        self.ok() + self.failures
    }
    fn rate(&self) -> f64 {
        if self.elapsed > 0.0 { self.requests() as f64 / self.elapsed } else { 0.0 }
    }
    /// Server CPU microseconds per request.
    fn server_us(&self) -> Option<f64> {
        let n = self.requests();
        self.server_cpu.filter(|_| n > 0).map(|c| c * 1e6 / n as f64)
    }
    fn fail(&mut self, why: String) {
        self.failures += 1;
        *self.errors.entry(why).or_default() += 1;
    }
    fn print(&self) {
        let mut lat = self.lat.clone();
        lat.sort();
        println!(
            "{:<5} requests={} ok={} failed={} empty={} throughput={:.1} req/s p50={:.2} ms p99={:.2} ms max={:.2} ms",
            self.name,
            self.requests(),
            self.ok(),
            self.failures,
            self.empty,
            self.rate(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
            ms(lat.last().copied().unwrap_or_default()),
        );
        if let (Some(c), Some(us)) = (self.server_cpu, self.server_us()) {
            println!(
                "      server CPU: {:.2} s of {:.1} s ({:.0}% of a core), {us:.1} µs per request",
                c,
                self.elapsed,
                100.0 * c / self.elapsed.max(1e-9)
            );
        }
        if let Some(n) = &self.note {
            println!("      note: {n}");
        }
        for (e, n) in self.errors.iter().take(8) {
            println!("      failure x{n}: {e}");
        }
    }
    fn json(&self) -> Value {
        let mut lat = self.lat.clone();
        lat.sort();
        json!({
            "requests": self.requests(), "failed": self.failures, "empty": self.empty,
            "rps": (self.rate() * 10.0).round() / 10.0,
            "p50_ms": (ms(pct(&lat, 0.5)) * 100.0).round() / 100.0,
            "p99_ms": (ms(pct(&lat, 0.99)) * 100.0).round() / 100.0,
            "server_us_per_request": self.server_us().map(|u| (u * 10.0).round() / 10.0),
            "max_ms": (ms(lat.last().copied().unwrap_or_default()) * 100.0).round() / 100.0,
        })
    }
}

/// A feed response, as far as it is checked (the rest is parsed and validated, not kept).
#[derive(serde::Deserialize)]
struct FeedResponse {
    data: Option<FeedData>,
    errors: Option<Value>,
}

#[derive(serde::Deserialize)]
struct FeedData {
    feed: FeedPage,
}

#[derive(serde::Deserialize)]
struct FeedPage {
    edges: Vec<serde::de::IgnoredAny>,
}

/// Checks a feed response; `Ok(true)` when it had edges.
async fn check_feed(r: reqwest::Result<reqwest::Response>) -> Result<bool, String> {
    let r = r.map_err(|e| format!("transport: {e}"))?;
    let status = r.status();
    let body = r.bytes().await.map_err(|e| format!("body: {e}"))?;
    let excerpt = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP {status}: {}", excerpt()));
    }
    let v: FeedResponse =
        serde_json::from_slice(&body).map_err(|e| format!("not a feed response ({e}): {}", excerpt()))?;
    if let Some(errors) = v.errors {
        return Err(format!("errors: {errors}"));
    }
    let page = v.data.ok_or_else(|| format!("no data: {}", excerpt()))?;
    Ok(!page.feed.edges.is_empty())
}

/// The feed request's body, serialised once.
fn feed_body() -> &'static [u8] {
    static BODY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BODY.get_or_init(|| serde_json::to_vec(&json!({"query": FEED, "variables": {"after": null}})).unwrap())
}

/// CPU seconds (user + system) the process `pid` has used, from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(ticks as f64 / 100.0)
}

async fn check_ping(r: reqwest::Result<reqwest::Response>) -> Result<(), String> {
    let r = r.map_err(|e| format!("transport: {e}"))?;
    let status = r.status();
    let body = r.bytes().await.map_err(|e| format!("body: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP {status}"));
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    if v.get("ok") != Some(&Value::Bool(true)) {
        return Err(format!("unexpected body: {v}"));
    }
    Ok(())
}

fn feed_request(client: &reqwest::Client, base: &str, token: &str) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(feed_body())
}

/// Logs in `seed_{from}` … `seed_{to-1}` concurrently; the tokens in order.
async fn log_in(
    client: &reqwest::Client,
    base: &str,
    password: &str,
    from: usize,
    to: usize,
    concurrency: usize,
) -> Vec<String> {
    let next = Rc::new(RefCell::new(from));
    let out: Rc<RefCell<Vec<(usize, String)>>> = Rc::default();
    let mut tasks = vec![];
    for _ in 0..concurrency.max(1) {
        let (client, base, password, next, out) =
            (client.clone(), base.to_owned(), password.to_owned(), next.clone(), out.clone());
        tasks.push(tokio::task::spawn_local(async move {
            loop {
                let i = {
                    let mut n = next.borrow_mut();
                    if *n >= to {
                        break;
                    }
                    *n += 1;
                    *n - 1
                };
                let body =
                    json!({"query": LOGIN, "variables": {"i": {"login": format!("seed_{i}"), "password": password}}});
                let mut tries = 0;
                loop {
                    tries += 1;
                    let r: Value =
                        client.post(format!("{base}/graphql")).json(&body).send().await.unwrap().json().await.unwrap();
                    if let Some(t) = r.pointer("/data/logIn/accessToken").and_then(Value::as_str) {
                        out.borrow_mut().push((i, t.to_owned()));
                        break;
                    }
                    assert!(tries < 3, "log-in of seed_{i} failed: {r}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut v = Rc::try_unwrap(out).unwrap().into_inner();
    v.sort();
    v.into_iter().map(|(_, t)| t).collect()
}

enum Kind {
    Bare,
    Warm(Rc<Vec<String>>),
    Cold(Rc<Vec<String>>),
}

async fn run_phase(
    name: &'static str,
    kind: Kind,
    client: &reqwest::Client,
    base: &str,
    seconds: u64,
    concurrency: usize,
) -> Phase {
    let phase = Rc::new(RefCell::new(Phase { name, ..Phase::default() }));
    let server: Option<u32> = std::env::var("BENCH_SERVER_PID").ok().and_then(|p| p.parse().ok());
    let cpu_before = server.and_then(cpu_seconds);
    let next = Rc::new(RefCell::new(0usize));
    let kind = Rc::new(kind);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let ran_out = Rc::new(RefCell::new(None::<f64>));
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (client, base, phase, next, kind, ran_out) =
            (client.clone(), base.to_owned(), phase.clone(), next.clone(), kind.clone(), ran_out.clone());
        tasks.push(tokio::task::spawn_local(async move {
            while Instant::now() < deadline {
                let t = Instant::now();
                let result = match &*kind {
                    Kind::Bare => check_ping(client.get(format!("{base}/ping")).send().await).await.map(|()| true),
                    Kind::Warm(tokens) => {
                        let i = {
                            let mut n = next.borrow_mut();
                            *n += 1;
                            (*n - 1) % tokens.len()
                        };
                        check_feed(feed_request(&client, &base, &tokens[i]).send().await).await
                    }
                    Kind::Cold(tokens) => {
                        let i = {
                            let mut n = next.borrow_mut();
                            *n += 1;
                            *n - 1
                        };
                        let Some(token) = tokens.get(i) else {
                            ran_out.borrow_mut().get_or_insert(started.elapsed().as_secs_f64());
                            break;
                        };
                        check_feed(feed_request(&client, &base, token).send().await).await
                    }
                };
                let d = t.elapsed();
                let mut p = phase.borrow_mut();
                match result {
                    Ok(non_empty) => {
                        p.lat.push(d);
                        if !non_empty {
                            p.empty += 1;
                        }
                    }
                    Err(e) => p.fail(e),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut p = Rc::try_unwrap(phase).ok().unwrap().into_inner();
    p.elapsed = started.elapsed().as_secs_f64();
    p.server_cpu = match (server.and_then(cpu_seconds), cpu_before) {
        (Some(after), Some(before)) => Some(after - before),
        _ => None,
    };
    if let Some(at) = *ran_out.borrow() {
        p.note = Some(format!("ran out of fresh members after {at:.1} s (raise BENCH_COLD_USERS)"));
    }
    p
}

fn clear_feed_cache() -> Option<String> {
    let prefix = std::env::var("BENCH_REDIS_PREFIX").ok()?;
    let url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let script = format!(
        "redis-cli -u '{url}' --scan --pattern '{prefix}:feed:*' | xargs -r redis-cli -u '{url}' unlink >/dev/null"
    );
    let out = std::process::Command::new("bash").arg("-c").arg(&script).output().expect("run redis-cli");
    assert!(out.status.success(), "clearing the feed cache failed: {}", String::from_utf8_lossy(&out.stderr));
    let count = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("redis-cli -u '{url}' --scan --pattern '{prefix}:feed:*' | wc -l"))
        .output()
        .expect("run redis-cli");
    Some(String::from_utf8_lossy(&count.stdout).trim().to_owned())
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&rt, bench());
    std::process::exit(code);
}

async fn bench() -> i32 {
    let base: String = env("BENCH_URL", "http://127.0.0.1:18080".to_owned());
    let base = base.trim_end_matches('/').to_owned();
    let seconds: u64 = env("BENCH_SECONDS", 15);
    let concurrency: usize = env("BENCH_CONCURRENCY", 32);
    let warm_users: usize = env("BENCH_USERS", 200);
    let cold_users: usize = env("BENCH_COLD_USERS", 6000);
    let password: String = env("BENCH_PASSWORD", "seed-password-1".to_owned());
    let login_concurrency: usize = env("BENCH_LOGIN_CONCURRENCY", 16);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(login_concurrency) + 8)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    println!(
        "feed_load: {base}, {seconds} s per phase, {concurrency} connections, {warm_users} warm members, {cold_users} cold members"
    );

    let t = Instant::now();
    let tokens = log_in(&client, &base, &password, 0, warm_users + cold_users, login_concurrency).await;
    println!("logged in {} members in {:.1} s (not timed)", tokens.len(), t.elapsed().as_secs_f64());
    let warm_tokens = Rc::new(tokens[..warm_users].to_vec());
    let cold_tokens = Rc::new(tokens[warm_users..].to_vec());

    let bare = run_phase("bare", Kind::Bare, &client, &base, seconds, concurrency).await;
    bare.print();

    // Prime: one first page per warm member (ranks and caches their lists), concurrently.
    let t = Instant::now();
    let primed = run_prime(&client, &base, &warm_tokens, concurrency).await;
    println!("primed {} warm members in {:.1} s (not timed){}", warm_tokens.len(), t.elapsed().as_secs_f64(), primed);
    let warm = run_phase("warm", Kind::Warm(warm_tokens), &client, &base, seconds, concurrency).await;
    warm.print();

    match clear_feed_cache() {
        Some(left) => println!("feed cache cleared ({left} keys left)"),
        None => println!(
            "BENCH_REDIS_PREFIX unset: the feed cache was not cleared (cold members were never requested anyway)"
        ),
    }
    let cold = run_phase("cold", Kind::Cold(cold_tokens.clone()), &client, &base, seconds, concurrency).await;
    cold.print();

    // Latency without queueing: one request at a time (at 32 connections p50 is mostly the
    // wait behind the other 31). Cold uses members not requested yet.
    let warm1 =
        run_phase("warm@1", Kind::Warm(Rc::new(tokens[..warm_users].to_vec())), &client, &base, seconds, 1).await;
    warm1.print();
    let used = (cold.lat.len() as u64 + cold.failures) as usize;
    let rest = Rc::new(cold_tokens.get(used..).map(<[String]>::to_vec).unwrap_or_default());
    let cold1 = run_phase("cold@1", Kind::Cold(rest), &client, &base, seconds, 1).await;
    cold1.print();

    let warm_ratio = if bare.rate() > 0.0 { warm.rate() / bare.rate() } else { 0.0 };
    let cold_ratio = if bare.rate() > 0.0 { cold.rate() / bare.rate() } else { 0.0 };
    let mut wl = warm.lat.clone();
    wl.sort();
    let mut cl = cold.lat.clone();
    cl.sort();
    let warm_p99 = ms(pct(&wl, 0.99));
    let cold_p99 = ms(pct(&cl, 0.99));
    // A phase that answered nothing passes no target.
    let warm_pass = !wl.is_empty() && warm_ratio >= 0.35 && warm_p99 <= 10.0;
    let cold_pass = !cl.is_empty() && cold_p99 <= 50.0;
    let verdict = |b: bool| if b { "PASS" } else { "MISS" };
    let measured = |p: &Phase, b: bool| if p.lat.is_empty() { "NO DATA" } else { verdict(b) };
    println!("warm/bare throughput: {:.1}%   cold/bare throughput: {:.1}%", warm_ratio * 100.0, cold_ratio * 100.0);
    println!(
        "target warm >= 35% of bare and p99 <= 10 ms: {} ({:.1}%, p99 {warm_p99:.2} ms)",
        verdict(warm_pass),
        warm_ratio * 100.0
    );
    println!("target cold p99 <= 50 ms: {} (p99 {cold_p99:.2} ms)", verdict(cold_pass));
    // The same ratio in the server's own cost: what a warm page costs its core against a ping.
    let server_ratio = match (bare.server_us(), warm.server_us()) {
        (Some(b), Some(w)) if w > 0.0 => Some(b / w),
        _ => None,
    };
    if let Some(r) = server_ratio {
        println!(
            "server CPU per request, bare over warm: {:.1}% (the throughput one core would give warm pages, against bare)",
            r * 100.0
        );
    }
    let p99_of = |p: &Phase| {
        let mut l = p.lat.clone();
        l.sort();
        ms(pct(&l, 0.99))
    };
    let (w1, c1) = (p99_of(&warm1), p99_of(&cold1));
    println!(
        "one request at a time: warm p99 {w1:.2} ms (target 10: {}), cold p99 {c1:.2} ms (target 50: {})",
        measured(&warm1, w1 <= 10.0),
        measured(&cold1, c1 <= 50.0)
    );

    let mut bad = false;
    for p in [&warm, &cold] {
        if p.ok() > 0 && (p.empty as f64) > 0.05 * p.ok() as f64 {
            println!("{}: {} of {} responses had no edges (more than 5%)", p.name, p.empty, p.ok());
            bad = true;
        }
    }
    let summary = json!({
        "bench": "feed_load", "seconds": seconds, "concurrency": concurrency,
        "bare": bare.json(), "warm": warm.json(), "cold": cold.json(), "warm_at_1": warm1.json(), "cold_at_1": cold1.json(),
        "warm_over_bare": (warm_ratio * 1000.0).round() / 1000.0, "cold_over_bare": (cold_ratio * 1000.0).round() / 1000.0,
        "warm_target": verdict(warm_pass), "cold_target": verdict(cold_pass),
        "warm_over_bare_server_cpu": server_ratio.map(|r| (r * 1000.0).round() / 1000.0),
    });
    println!("{summary}");
    let failed = bare.failures + warm.failures + cold.failures + warm1.failures + cold1.failures;
    if failed > 0 || bad {
        println!("FAILED: {failed} failed requests");
        1
    } else {
        0
    }
}

/// One untimed first page per member; a summary of what failed.
async fn run_prime(client: &reqwest::Client, base: &str, tokens: &Rc<Vec<String>>, concurrency: usize) -> String {
    let next = Rc::new(RefCell::new(0usize));
    let failures: Rc<RefCell<BTreeMap<String, u64>>> = Rc::default();
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (client, base, tokens, next, failures) =
            (client.clone(), base.to_owned(), tokens.clone(), next.clone(), failures.clone());
        tasks.push(tokio::task::spawn_local(async move {
            loop {
                let i = {
                    let mut n = next.borrow_mut();
                    *n += 1;
                    *n - 1
                };
                let Some(token) = tokens.get(i) else { break };
                if let Err(e) = check_feed(feed_request(&client, &base, token).send().await).await {
                    *failures.borrow_mut().entry(e).or_default() += 1;
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let f = failures.borrow();
    if f.is_empty() { String::new() } else { format!("; priming failures: {f:?}") }
}
