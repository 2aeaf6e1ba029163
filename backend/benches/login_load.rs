//! Load benchmark against the real server on loopback: log-ins per second at full speed, and
//! `/healthz` latency (p50/p99/max) measured alone and while the log-ins run — the argon2id
//! hashes run on the blocking pool, so the event loop must keep answering health checks fast.
//!
//! Run: `cargo bench -p backend --bench login_load` (env: BENCH_SECONDS, BENCH_CONCURRENCY).
//! Bounded in time; sends traffic only to 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // bench code

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app_core::types::Secret;
use backend::config::Config;
use serde_json::json;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn probe_healthz(client: &reqwest::Client, url: &str, stop: &AtomicBool, max: Duration) -> Vec<Duration> {
    let mut out = vec![];
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < max {
        let t = Instant::now();
        let r = client.get(url).send().await.unwrap();
        assert!(r.status().is_success());
        out.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out.sort();
    out
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY").ok().and_then(|s| s.parse().ok()).unwrap_or(16);
    let dir = std::env::temp_dir().join(format!("sv-bench-{}", uuid::Uuid::new_v4().simple()));
    let mut config = Config::default();
    config.server.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.storage.data_dir = dir.clone();
    config.limits.login_per_ip_per_minute = 1_000_000;
    config.limits.login_per_account_per_minute = 1_000_000;
    config.log.filter = "warn".into();
    let app = backend::app::start(&config).await.unwrap();
    app.services
        .accounts
        .create_admin("bench@example.com", "bench_user", Secret::new("bench pass phrase".into()))
        .await
        .unwrap();
    let base = format!("http://{}", app.addr);
    let health = format!("{base}/healthz");
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("login_load: {cores} cores, {concurrency} concurrent log-ins, {seconds} s, argon2id m=19456 t=2 p=1");

    // Baseline: /healthz alone.
    let idle = probe_healthz(&client, &health, &AtomicBool::new(false), Duration::from_secs(3)).await;
    println!(
        "healthz idle:        n={} p50={} p99={} max={}",
        idle.len(),
        ms(pct(&idle, 0.5)),
        ms(pct(&idle, 0.99)),
        ms(*idle.last().unwrap())
    );

    // No enumeration: an unknown login costs the same hashing as a wrong password.
    let q = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }";
    for (label, login) in [("wrong password", "bench_user"), ("unknown login ", "nobody_here")] {
        let mut t = vec![];
        for _ in 0..40 {
            let body = json!({"query": q, "variables": {"i": {"login": login, "password": "not the password"}}});
            let s = Instant::now();
            let r: serde_json::Value =
                client.post(format!("{base}/graphql")).json(&body).send().await.unwrap().json().await.unwrap();
            assert_eq!(r["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
            t.push(s.elapsed());
        }
        t.sort();
        println!("refused log-in, {label}: p50={} p90={}", ms(pct(&t, 0.5)), ms(pct(&t, 0.9)));
    }

    // Log-ins at full speed, with /healthz probed alongside.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(tokio::sync::Mutex::new(Vec::<Duration>::new()));
    let started = Instant::now();
    let mut workers = vec![];
    for _ in 0..concurrency {
        let (client, base, stop, done, failed, lat) =
            (client.clone(), base.clone(), stop.clone(), done.clone(), failed.clone(), lat.clone());
        workers.push(tokio::spawn(async move {
            let q = "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }";
            let body =
                json!({"query": q, "variables": {"i": {"login": "bench_user", "password": "bench pass phrase"}}});
            let mut mine = vec![];
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let r: serde_json::Value =
                    client.post(format!("{base}/graphql")).json(&body).send().await.unwrap().json().await.unwrap();
                if r.get("errors").is_none() {
                    done.fetch_add(1, Ordering::Relaxed);
                    mine.push(t.elapsed());
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat.lock().await.extend(mine);
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // let the pool fill
    let under_load = probe_healthz(&client, &health, &stop, Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut lat = lat.lock().await.clone();
    lat.sort();
    let n = done.load(Ordering::Relaxed);
    println!(
        "logins:              n={n} failed={} rate={:.1}/s p50={} p99={}",
        failed.load(Ordering::Relaxed),
        n as f64 / elapsed,
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99))
    );
    println!(
        "healthz under load:  n={} p50={} p99={} max={}",
        under_load.len(),
        ms(pct(&under_load, 0.5)),
        ms(pct(&under_load, 0.99)),
        ms(*under_load.last().unwrap())
    );
    app.handle.stop(false).await;
    std::fs::remove_dir_all(&dir).ok();
}
