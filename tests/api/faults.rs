//! The fault suite: the production shape on loopback, every part a real server or process —
//! PostgreSQL (behind a proxy that can cut it), a Redis of the test's own (no persistence, so a
//! restart comes back empty), an S3 server (moto, behind a proxy), two `backend serve` processes
//! and two `generator` processes — under a steady load of reads and writes from several members on
//! both API nodes, while each part fails in turn: Redis killed and started again empty, PostgreSQL
//! cut, the object store cut, an API node stopped with SIGTERM and one killed with SIGKILL, a
//! generator stopped with SIGTERM and one killed with SIGKILL (each started again).
//!
//! Afterwards: every acknowledged write is in the database (accepted jobs, follows), every accepted
//! job ended `SUCCEEDED` once (one video each, its file in the bucket), and clients saw only
//! documented answers (data, `UNAVAILABLE` with `retryAfterSeconds`, `RATE_LIMITED`, or no
//! connection to a node that is down) — never `INTERNAL` or an HTTP 5xx. The figures (answers per
//! kind during each fault, time to recover after it) are printed.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::generation::{CutProxy, PrivateRedis, slow_manifest};
use crate::harness::*;

/// Members putting load on the service.
const MEMBERS: usize = 6;
/// Pause between one member's requests.
const PACE: Duration = Duration::from_millis(40);
/// How long each fault lasts.
const HOLD: Duration = Duration::from_secs(4);

/// One answer a client got.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Answer {
    /// Data.
    Ok,
    /// A GraphQL error with this code.
    Code(String),
    /// No HTTP answer (the node is down or restarting).
    NoConnection,
    /// An HTTP status other than 200.
    Http(u16),
}

/// What the load saw, per phase.
#[derive(Default)]
struct Tally {
    answers: BTreeMap<(usize, Answer), usize>,
    /// `UNAVAILABLE` errors without a positive `retryAfterSeconds`.
    unavailable_without_retry: usize,
    /// Acknowledged follows (follower, followee).
    follows: HashSet<(String, String)>,
    /// Accepted jobs (owner's token index, job id).
    jobs: Vec<(usize, String)>,
    /// Error messages seen, by code (one example each).
    examples: BTreeMap<String, String>,
}

/// A member of the load.
#[derive(Clone)]
struct Member {
    token: String,
    id: String,
}

/// Everything the test runs.
struct Cluster {
    root: PathBuf,
    data_dir: PathBuf,
    db_url: String,
    redis_url: String,
    prefix: String,
    s3_endpoint: String,
    manifest: PathBuf,
    api_ports: [u16; 2],
    apis: [Option<Child>; 2],
    generators: [Option<Child>; 2],
}

impl Cluster {
    fn envs(&self, cmd: &mut Command) {
        cmd.current_dir(&self.root)
            .env("APP_DATABASE_URL", &self.db_url)
            .env("APP_REDIS_URL", &self.redis_url)
            .env("APP_REDIS_PREFIX", &self.prefix)
            .env("APP_DATA_DIR", &self.data_dir)
            .env("APP_S3_BUCKET", "media")
            .env("APP_S3_ENDPOINT", &self.s3_endpoint)
            .env("APP_S3_ACCESS_KEY", "testing")
            .env("APP_S3_SECRET_KEY", "testing")
            .env("APP_MODEL_MANIFEST", &self.manifest)
            .env("APP_QUEUE_RECLAIM_IDLE_SECS", "5")
            .env("APP_QUEUE_RETRY_BACKOFF_SECS", "1")
            .env("APP_QUEUE_STOP_GRACE_SECS", "3")
            .env("APP_LOG", "warn");
    }

    fn log(&self, name: &str) -> Stdio {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(self.data_dir.join(format!("{name}.log")));
        f.map(Stdio::from).unwrap()
    }

    /// `backend migrate` on the fresh database.
    fn migrate(&self) {
        let mut cmd = Command::new(binary("backend"));
        self.envs(&mut cmd);
        let out = cmd.arg("migrate").output().unwrap();
        assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts API node `i` and waits for `/readyz`.
    async fn start_api(&mut self, i: usize) {
        let mut cmd = Command::new(binary("backend"));
        self.envs(&mut cmd);
        cmd.arg("serve")
            .env("APP_LISTEN", format!("127.0.0.1:{}", self.api_ports[i]))
            .env("APP_IN_PROCESS_WORKERS", "0")
            .env("APP_TOTAL_WORKERS", "2")
            .env("APP_SWEEP_INTERVAL_SECS", "0")
            .env("APP_REDEEM_PER_IP_PER_MINUTE", "1000")
            .env("APP_SOCIAL_ACTIONS_PER_USER_PER_MINUTE", "100000")
            .stdout(self.log(&format!("api{i}")))
            .stderr(self.log(&format!("api{i}")));
        self.apis[i] = Some(cmd.spawn().unwrap());
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let r = http.get(format!("http://127.0.0.1:{}/readyz", self.api_ports[i])).send().await;
            if r.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "API node {i} not ready: {}", self.log_text(&format!("api{i}")));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn start_generator(&mut self, i: usize) {
        let mut cmd = Command::new(binary("generator"));
        self.envs(&mut cmd);
        cmd.env("APP_WORKER_NAME", format!("gen{i}"))
            .env("APP_LOG", "info")
            .stdout(self.log(&format!("gen{i}")))
            .stderr(self.log(&format!("gen{i}")));
        self.generators[i] = Some(cmd.spawn().unwrap());
    }

    fn log_text(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.data_dir.join(format!("{name}.log"))).unwrap_or_default();
        text.chars().rev().take(3000).collect::<Vec<_>>().into_iter().rev().collect()
    }

    fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}/graphql", self.api_ports[i])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.apis.iter_mut().chain(self.generators.iter_mut()).flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends `signal` to `child` and waits (at most 60 s) for it to exit; how long it took.
fn signal_and_wait(child: &mut Child, signal: &str) -> Duration {
    let sent = Instant::now();
    let ok = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    loop {
        if child.try_wait().unwrap().is_some() {
            return sent.elapsed();
        }
        assert!(sent.elapsed() < Duration::from_secs(60), "still running 60 s after {signal}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One GraphQL request; the answer's kind (and the first error, for the tally).
async fn ask(http: &reqwest::Client, url: &str, query: &str, vars: Value, token: &str) -> (Answer, Value) {
    let sent = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": vars}))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let Ok(response) = sent else { return (Answer::NoConnection, Value::Null) };
    let status = response.status().as_u16();
    if status != 200 {
        return (Answer::Http(status), Value::Null);
    }
    let Ok(body) = response.json::<Value>().await else { return (Answer::NoConnection, Value::Null) };
    match body["errors"].get(0) {
        Some(e) => (Answer::Code(e["extensions"]["code"].as_str().unwrap_or("NONE").to_owned()), body),
        None => (Answer::Ok, body),
    }
}

/// One member's load until `stop`: reads on both nodes, a follow now and then, a new job every
/// few seconds; every answer counted under the phase it was asked in.
async fn load(
    urls: [String; 2],
    me: usize,
    members: Vec<Member>,
    phase: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    let http = reqwest::Client::new();
    let token = members[me].token.clone();
    let mut n: usize = me;
    let mut last_job = Instant::now() - Duration::from_secs(60);
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let url = &urls[n % 2];
        let p = phase.load(Ordering::SeqCst);
        let (answer, body) = if last_job.elapsed() > Duration::from_secs(5) {
            last_job = Instant::now();
            let input = json!({"prompt": format!("a lantern on a pier, take {n}"), "durationSeconds": 1});
            let (a, body) = ask(
                &http,
                url,
                "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }",
                json!({"i": input}),
                &token,
            )
            .await;
            if a == Answer::Ok {
                let id = body["data"]["createVideo"]["id"].as_str().unwrap().to_owned();
                tally.lock().unwrap().jobs.push((me, id));
            }
            (a, body)
        } else {
            match n % 3 {
                0 => ask(&http, url, "{ me { id username } }", json!({}), &token).await,
                1 => {
                    ask(&http, url, "{ feed(kind: TRENDING, first: 5) { edges { node { id } } } }", json!({}), &token)
                        .await
                }
                _ => {
                    let other = &members[(me + 1 + n % (members.len() - 1)) % members.len()];
                    let (a, body) = ask(
                        &http,
                        url,
                        "mutation($u: ID!) { follow(userId: $u) { id } }",
                        json!({"u": other.id}),
                        &token,
                    )
                    .await;
                    if a == Answer::Ok {
                        tally.lock().unwrap().follows.insert((members[me].id.clone(), other.id.clone()));
                    }
                    (a, body)
                }
            }
        };
        {
            let mut t = tally.lock().unwrap();
            if let Answer::Code(code) = &answer {
                let e = &body["errors"][0];
                if code == "UNAVAILABLE" && e["extensions"]["retryAfterSeconds"].as_u64().unwrap_or(0) == 0 {
                    t.unavailable_without_retry += 1;
                }
                t.examples.entry(code.clone()).or_insert_with(|| e["message"].as_str().unwrap_or("").to_owned());
            }
            *t.answers.entry((p, answer)).or_default() += 1;
        }
        tokio::time::sleep(PACE).await;
    }
}

/// Waits until `me` and `feed` answer with data on both nodes again; how long that took.
async fn recovery(urls: &[String; 2], token: &str) -> Duration {
    let http = reqwest::Client::new();
    let started = Instant::now();
    for url in urls {
        for q in ["{ me { id } }", "{ feed(kind: TRENDING, first: 5) { edges { node { id } } } }"] {
            loop {
                if ask(&http, url, q, json!({}), token).await.0 == Answer::Ok {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(120), "{url} did not recover for {q}");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_service_survives_the_loss_of_each_part_under_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let data_dir = std::env::temp_dir().join(format!("sv-faults-{id}"));
    std::fs::create_dir_all(&data_dir).unwrap();
    // PostgreSQL: a database of the test's own, reached through a proxy that can cut it.
    let admin_url = postgres_admin_url();
    let db_name = format!("t_{id}");
    let admin = Database::connect(&admin_url).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE {db_name}")).await.unwrap();
    let hostport = admin_url.split('@').nth(1).unwrap().split('/').next().unwrap().to_owned();
    let pg_proxy = CutProxy::start(hostport.clone()).await;
    let db_url = admin_url[..admin_url.rfind('/').unwrap()].replace(&hostport, &format!("127.0.0.1:{}", pg_proxy.port))
        + &format!("/{db_name}");
    let mut redis = Some(PrivateRedis::start(None));
    let redis_port = redis.as_ref().unwrap().port;
    let s3 = S3Server::start("media").await;
    let s3_proxy = CutProxy::start(format!("127.0.0.1:{}", s3.port)).await;
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cluster = Cluster {
        root: root.clone(),
        data_dir: data_dir.clone(),
        db_url,
        redis_url: format!("redis://127.0.0.1:{redis_port}"),
        prefix: format!("f{id}"),
        s3_endpoint: format!("http://127.0.0.1:{}", s3_proxy.port),
        manifest: slow_manifest(4),
        api_ports: [free(), free()],
        apis: [None, None],
        generators: [None, None],
    };
    cluster.migrate();
    cluster.start_api(0).await; // makes the shared keys in the data folder first
    cluster.start_api(1).await;
    cluster.start_generator(0);
    cluster.start_generator(1);
    let urls = [cluster.url(0), cluster.url(1)];

    // Members, through invites minted on the command line.
    let mut mint = Command::new(binary("backend"));
    cluster.envs(&mut mint);
    let out = mint.args(["invites", "mint", "--count", &MEMBERS.to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let codes: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    let http = reqwest::Client::new();
    let mut members = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let (token, _, id) = sign_up_at(&http, &urls[i % 2], code, &format!("load{i}")).await;
        members.push(Member { token, id });
    }

    let phase = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let loaders: Vec<_> = (0..MEMBERS)
        .map(|me| tokio::spawn(load(urls.clone(), me, members.clone(), phase.clone(), stop.clone(), tally.clone())))
        .collect();
    let watch = members[0].token.clone();
    let mut names = vec!["steady load".to_owned()];
    let mut recoveries = vec![Duration::ZERO];
    tokio::time::sleep(Duration::from_secs(3)).await;

    // Each fault: announce it (answers count under it until the next), break, hold, repair,
    // measure the time until both nodes answer again.
    macro_rules! fault {
        ($name:expr, $break:block, $repair:block) => {{
            names.push($name.to_owned());
            phase.store(names.len() - 1, Ordering::SeqCst);
            $break;
            tokio::time::sleep(HOLD).await;
            // Recovery counts from the repair: a restarted node's start-up is part of it.
            let repaired = Instant::now();
            $repair;
            recovery(&urls, &watch).await;
            recoveries.push(repaired.elapsed());
            tokio::time::sleep(Duration::from_secs(2)).await;
        }};
    }
    fault!(
        "Redis killed, started again empty",
        {
            redis.take().unwrap().stop();
        },
        {
            redis = Some(PrivateRedis::start(Some(redis_port)));
        }
    );
    fault!(
        "PostgreSQL connections cut",
        {
            pg_proxy.cut();
        },
        {
            pg_proxy.restore();
        }
    );
    fault!(
        "object store cut",
        {
            s3_proxy.cut();
        },
        {
            s3_proxy.restore();
        }
    );
    let mut exits = Vec::new();
    fault!(
        "API node 0 stopped (SIGTERM) and started again",
        {
            exits.push(("api0 SIGTERM", signal_and_wait(cluster.apis[0].as_mut().unwrap(), "-TERM")));
        },
        {
            cluster.start_api(0).await;
        }
    );
    fault!(
        "API node 1 killed (SIGKILL) and started again",
        {
            exits.push(("api1 SIGKILL", signal_and_wait(cluster.apis[1].as_mut().unwrap(), "-KILL")));
        },
        {
            cluster.start_api(1).await;
        }
    );
    fault!(
        "generator 0 stopped (SIGTERM) and started again",
        {
            exits.push(("gen0 SIGTERM", signal_and_wait(cluster.generators[0].as_mut().unwrap(), "-TERM")));
        },
        {
            cluster.start_generator(0);
        }
    );
    fault!(
        "generator 1 killed (SIGKILL) and started again",
        {
            exits.push(("gen1 SIGKILL", signal_and_wait(cluster.generators[1].as_mut().unwrap(), "-KILL")));
        },
        {
            cluster.start_generator(1);
        }
    );
    names.push("after the faults".to_owned());
    phase.store(names.len() - 1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    for l in loaders {
        l.await.unwrap();
    }

    // Every accepted job ends, SUCCEEDED, once.
    let tally = Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap();
    let started = Instant::now();
    let mut ended = BTreeMap::new();
    for (owner, job) in &tally.jobs {
        loop {
            let (a, body) = ask(
                &http,
                &urls[0],
                "query($id: ID!) { job(id: $id) { status attempts error { message } video { id } } }",
                json!({"id": job}),
                &members[*owner].token,
            )
            .await;
            let j = &body["data"]["job"];
            if a == Answer::Ok
                && ["SUCCEEDED", "FAILED", "REJECTED", "CANCELLED"].contains(&j["status"].as_str().unwrap_or(""))
            {
                ended.insert(job.clone(), j.clone());
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "job {job} did not end: {j}\n{}\n{}",
                cluster.log_text("gen0"),
                cluster.log_text("gen1")
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let drained = started.elapsed();
    let not_made: Vec<&Value> = ended.values().filter(|j| j["status"] != "SUCCEEDED").collect();
    assert!(not_made.is_empty(), "jobs that did not succeed: {not_made:?}");
    let db = Database::connect(&cluster.db_url).await.unwrap();
    let videos = store::entities::videos::Entity::find().count(&db).await.unwrap();
    assert_eq!(videos as usize, tally.jobs.len(), "one video per accepted job");
    let bucket = media::MediaStore::s3(
        "media",
        Some(&format!("http://127.0.0.1:{}", s3.port)),
        "us-east-1",
        "testing",
        "testing",
        true,
    )
    .unwrap();
    for j in ended.values() {
        let key = format!("videos/{}.mp4", j["video"]["id"].as_str().unwrap());
        assert!(bucket.exists(&key).await.unwrap(), "{key} is not in the bucket");
    }
    let retried = ended.values().filter(|j| j["attempts"].as_i64().unwrap_or(0) > 1).count();
    // Every acknowledged follow is there.
    let follows: HashSet<(String, String)> = store::entities::follows::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.follower_id.to_string(), f.followee_id.to_string()))
        .collect();
    let lost: Vec<_> = tally.follows.difference(&follows).collect();
    assert!(lost.is_empty(), "acknowledged follows lost: {lost:?}");

    // The figures.
    let mut report = String::from(
        "\nfault suite: answers per phase (ok / UNAVAILABLE / RATE_LIMITED / no connection / other), recovery\n",
    );
    for (p, name) in names.iter().enumerate() {
        let count = |want: &dyn Fn(&Answer) -> bool| -> usize {
            tally.answers.iter().filter(|((q, a), _)| *q == p && want(a)).map(|(_, n)| n).sum()
        };
        let ok = count(&|a| *a == Answer::Ok);
        let unavailable = count(&|a| *a == Answer::Code("UNAVAILABLE".into()));
        let limited = count(&|a| *a == Answer::Code("RATE_LIMITED".into()));
        let down = count(&|a| *a == Answer::NoConnection);
        let other = count(&|a| {
            !matches!(a, Answer::Ok | Answer::NoConnection)
                && *a != Answer::Code("UNAVAILABLE".into())
                && *a != Answer::Code("RATE_LIMITED".into())
        });
        let rec = match recoveries.get(p) {
            Some(d) if p > 0 => format!("answering again {} ms after the repair", d.as_millis()),
            _ => String::new(),
        };
        report += &format!("  {name:<48} {ok:>5} {unavailable:>5} {limited:>5} {down:>5} {other:>3}   {rec}\n");
    }
    for (what, took) in &exits {
        report += &format!("  {what} exited after {} ms\n", took.as_millis());
    }
    report += &format!(
        "  {} jobs accepted, all SUCCEEDED once ({} needed a second delivery); {} follows acknowledged, none lost; queue drained {} ms after the load stopped\n",
        tally.jobs.len(),
        retried,
        tally.follows.len(),
        drained.as_millis()
    );
    eprintln!("{report}");
    // Only documented answers.
    let odd: Vec<_> = tally
        .answers
        .keys()
        .filter(|(_, a)| match a {
            Answer::Ok | Answer::NoConnection => false,
            Answer::Code(c) => !["UNAVAILABLE", "RATE_LIMITED"].contains(&c.as_str()),
            Answer::Http(_) => true,
        })
        .collect();
    assert!(odd.is_empty(), "undocumented answers: {odd:?} {:?}{report}", tally.examples);
    assert_eq!(tally.unavailable_without_retry, 0, "UNAVAILABLE without retryAfterSeconds");
    assert!(tally.jobs.len() >= 5, "too few jobs to mean anything: {report}");

    drop(cluster);
    if let Some(r) = redis.take() {
        r.stop();
    }
    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")).await;
    let _ = std::fs::remove_dir_all(&data_dir);
}
