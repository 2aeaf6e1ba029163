//! Traces and logs as an operator sees them: an OTLP/HTTP collector on loopback (protobuf
//! `ExportTraceServiceRequest`s on `/v1/traces`, as the OpenTelemetry Collector and Jaeger take
//! them), a `backend serve` process and a `generator` process over PostgreSQL, Redis and a local
//! media folder, both with `APP_OTLP_ENDPOINT` and JSON logs.
//!
//! One `createVideo`, sent with a client's `traceparent`, must come back as one trace: the HTTP
//! request and the GraphQL field on the API node, the job's enqueue, the generator's delivery with
//! its model, finishing and store spans, and the API node applying the result — every span in the
//! client's trace, each with a parent that is in the trace (or the client's own span). The JSON log
//! lines of both processes carry the same trace id. A process without an endpoint exports nothing.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use prost::Message;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::generation::slow_manifest;
use crate::harness::*;

/// One span as the collector received it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    attributes: HashMap<String, String>,
}

/// The collector: every span of every export, in arrival order.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
    exports: Arc<Mutex<usize>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => s.clone(),
        Some(Any::IntValue(i)) => i.to_string(),
        Some(Any::BoolValue(b)) => b.to_string(),
        Some(Any::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

async fn export(c: web::Data<Collector>, body: web::Bytes) -> HttpResponse {
    let Ok(req) = ExportTraceServiceRequest::decode(body.as_ref()) else {
        return HttpResponse::BadRequest().body("not an ExportTraceServiceRequest");
    };
    let mut spans = c.spans.lock().unwrap();
    for rs in req.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .map(|a| text(a.value.as_ref()))
            .unwrap_or_default();
        for s in rs.scope_spans.into_iter().flat_map(|ss| ss.spans) {
            spans.push(Received {
                service: service.clone(),
                name: s.name,
                trace_id: hex(&s.trace_id),
                span_id: hex(&s.span_id),
                parent: hex(&s.parent_span_id),
                attributes: s.attributes.iter().map(|a| (a.key.clone(), text(a.value.as_ref()))).collect(),
            });
        }
    }
    *c.exports.lock().unwrap() += 1;
    // An empty ExportTraceServiceResponse: everything accepted.
    HttpResponse::Ok().content_type("application/x-protobuf").body(Vec::<u8>::new())
}

async fn start_collector() -> (Collector, u16) {
    let c = Collector::default();
    let data = web::Data::new(c.clone());
    let server = HttpServer::new(move || App::new().app_data(data.clone()).route("/v1/traces", web::post().to(export)))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (c, port)
}

struct Stack {
    root: std::path::PathBuf,
    data_dir: std::path::PathBuf,
    db_url: String,
    prefix: String,
    manifest: std::path::PathBuf,
    children: Vec<Child>,
}

impl Stack {
    fn command(&self, bin: &str, otlp: Option<u16>) -> Command {
        let mut cmd = Command::new(binary(bin));
        cmd.current_dir(&self.root)
            .env("APP_DATABASE_URL", &self.db_url)
            .env("APP_REDIS_URL", redis_url())
            .env("APP_REDIS_PREFIX", &self.prefix)
            .env("APP_DATA_DIR", &self.data_dir)
            .env("APP_MODEL_MANIFEST", &self.manifest)
            .env("APP_LOG", "info")
            .env("APP_LOG_FORMAT", "json")
            // The SDK's own knob (read by the batch span processor): send every 100 ms.
            .env("OTEL_BSP_SCHEDULE_DELAY", "100");
        if let Some(port) = otlp {
            cmd.env("APP_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}"));
        }
        cmd
    }

    fn log(&self, name: &str) -> Stdio {
        Stdio::from(std::fs::File::create(self.data_dir.join(format!("{name}.log"))).unwrap())
    }

    fn log_text(&self, name: &str) -> String {
        std::fs::read_to_string(self.data_dir.join(format!("{name}.log"))).unwrap_or_default()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn stop(child: &mut Child) {
    let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "still running 30 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The JSON log lines of `text` (other lines, such as a panic's, are skipped).
fn json_lines(text: &str) -> Vec<Value> {
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_follows_a_video_from_the_request_through_the_queue_to_the_stored_file() {
    let (collector, port) = start_collector().await;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let data_dir = std::env::temp_dir().join(format!("sv-traces-{id}"));
    std::fs::create_dir_all(&data_dir).unwrap();
    let admin_url = postgres_admin_url();
    let db_name = format!("t_{id}");
    let admin = Database::connect(&admin_url).await.unwrap();
    admin.execute_unprepared(&format!("CREATE DATABASE {db_name}")).await.unwrap();
    let mut stack = Stack {
        root: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap(),
        data_dir: data_dir.clone(),
        db_url: format!("{}/{db_name}", &admin_url[..admin_url.rfind('/').unwrap()]),
        prefix: format!("tr{id}"),
        manifest: slow_manifest(2),
        children: vec![],
    };
    let out = stack.command("backend", None).arg("migrate").output().unwrap();
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    let api_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let api = stack
        .command("backend", Some(port))
        .arg("serve")
        .env("APP_LISTEN", format!("127.0.0.1:{api_port}"))
        .env("APP_IN_PROCESS_WORKERS", "0")
        .env("APP_SWEEP_INTERVAL_SECS", "0")
        .stdout(stack.log("api"))
        .stderr(stack.log("api"))
        .spawn()
        .unwrap();
    stack.children.push(api);
    let url = format!("http://127.0.0.1:{api_port}/graphql");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = http.get(format!("http://127.0.0.1:{api_port}/readyz")).send().await;
        if r.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(Instant::now() < deadline, "API node not ready: {}", stack.log_text("api"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let generator = stack
        .command("generator", Some(port))
        .env("APP_WORKER_NAME", "gen-traced")
        .stdout(stack.log("gen"))
        .stderr(stack.log("gen"))
        .spawn()
        .unwrap();
    stack.children.push(generator);

    // A member, through an invite minted on the command line (that process exports nothing: it
    // makes no span).
    let out = stack.command("backend", Some(port)).args(["invites", "mint", "--count", "1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let code = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (token, _, _) = sign_up_at(&http, &url, &code, "tracer").await;

    // The client's own trace: every span of this video must join it.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client_span = "00f067aa0ba902b7";
    let r: Value = http
        .post(&url)
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-{client_span}-01"))
        .json(&json!({
            "query": "mutation($i: CreateVideoInput!) { createVideo(input: $i) { id } }",
            "variables": {"i": {"prompt": "a lighthouse at dusk, waves below", "durationSeconds": 2}},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = r["data"]["createVideo"]["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r: Value = http
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({"query": "query($id: ID!) { job(id: $id) { status } }", "variables": {"id": job}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = r["data"]["job"]["status"].as_str().unwrap_or_default().to_owned();
        if status == "SUCCEEDED" {
            break;
        }
        assert!(
            !["FAILED", "REJECTED", "CANCELLED"].contains(&status.as_str()) && Instant::now() < deadline,
            "job ended {status}: {r}\n{}",
            stack.log_text("gen")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The spans arrive within a few export rounds of the result being applied.
    let wanted = |spans: &[Received]| {
        spans.iter().any(|s| s.service == "backend" && s.name == "apply job result")
            && spans.iter().any(|s| s.service == "generator" && s.name == "generate video")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !wanted(&collector.spans.lock().unwrap()) {
        assert!(
            Instant::now() < deadline,
            "spans not exported: {:#?}\napi: {}\ngen: {}",
            collector.spans.lock().unwrap(),
            stack.log_text("api"),
            stack.log_text("gen")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the last batch (the request that read SUCCEEDED) come in too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spans: Vec<Received> =
        collector.spans.lock().unwrap().iter().filter(|s| s.trace_id == trace_id).cloned().collect();
    let names: Vec<(String, String)> = spans.iter().map(|s| (s.service.clone(), s.name.clone())).collect();
    let has = |service: &str, name: &str| names.iter().any(|(s, n)| s == service && n == name);
    for (service, name) in [
        ("backend", "POST /graphql"),
        ("backend", "mutation createVideo"),
        ("backend", "enqueue"),
        ("generator", "generate video"),
        ("generator", "model"),
        ("generator", "C2PA signing"),
        ("generator", "store video/mp4"),
        ("generator", "report succeeded"),
        ("backend", "apply job result"),
    ] {
        assert!(has(service, name), "no {service} span {name:?} in the trace: {names:#?}");
    }
    // One tree: each span's parent is in the trace, or is the client's span.
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    for s in &spans {
        assert!(
            s.parent == client_span || ids.contains(s.parent.as_str()),
            "{} {:?} hangs from {} outside the trace",
            s.service,
            s.name,
            s.parent
        );
    }
    let find = |service: &str, name: &str| spans.iter().find(|s| s.service == service && s.name == name).unwrap();
    let request = find("backend", "POST /graphql");
    assert_eq!(request.parent, client_span, "the HTTP span continues the client's");
    assert_eq!(request.attributes.get("http.route").map(String::as_str), Some("/graphql"));
    let delivery = find("generator", "generate video");
    assert_eq!(delivery.attributes.get("job.id"), Some(&job));
    assert_eq!(delivery.attributes.get("job.attempt").map(String::as_str), Some("1"));
    let field = find("backend", "mutation createVideo");
    assert_eq!(delivery.parent, field.span_id, "the job continues the createVideo field's span");
    assert_eq!(find("generator", "model").parent, delivery.span_id);
    let applied = find("backend", "apply job result");
    assert_eq!(applied.parent, field.span_id);
    assert_eq!(applied.attributes.get("job.outcome").map(String::as_str), Some("succeeded"));
    // Another request, without a traceparent, is a trace of its own.
    assert!(
        collector.spans.lock().unwrap().iter().any(|s| s.name == "mutation signUp" && s.trace_id != trace_id),
        "signUp traced on its own"
    );
    // Probes are not traced.
    assert!(
        !collector.spans.lock().unwrap().iter().any(|s| s.attributes.get("url.path").is_some_and(|p| p == "/readyz"))
    );

    // The JSON log lines carry the trace id: the API node's "job queued" and the generator's
    // sound and frame-check lines.
    for (log, message) in [("api", "job queued"), ("gen", "sound"), ("gen", "frame check")] {
        let lines = json_lines(&stack.log_text(log));
        assert!(!lines.is_empty(), "{log} wrote no JSON lines: {}", stack.log_text(log));
        let line = lines
            .iter()
            .find(|l| l["fields"]["message"] == message && l["fields"]["job"] == job.as_str())
            .unwrap_or_else(|| panic!("no {message:?} line for the job in {log}: {}", stack.log_text(log)));
        assert_eq!(line["trace_id"], trace_id, "{line}");
        assert_eq!(line["span_id"].as_str().map(str::len), Some(16), "{line}");
        assert!(line["timestamp"].is_string() && line["level"] == "INFO" && line["target"].is_string(), "{line}");
    }
    let gen_lines = json_lines(&stack.log_text("gen"));
    let in_job = gen_lines.iter().find(|l| l["fields"]["message"] == "sound").unwrap();
    assert_eq!(in_job["spans"][0]["name"], "job", "{in_job}");
    assert_eq!(in_job["spans"][0]["job.id"], job.as_str(), "{in_job}");

    // Both stop cleanly, sending what they still hold.
    for c in &mut stack.children {
        stop(c);
    }
    stack.children.clear();
    assert!(*collector.exports.lock().unwrap() >= 2);
    std::fs::remove_dir_all(&data_dir).ok();
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")).await.ok();
}

/// A malformed endpoint or sample ratio is refused at start, naming the key.
#[tokio::test]
async fn a_malformed_endpoint_or_sample_ratio_is_refused_at_start() {
    let dir = std::env::temp_dir().join(format!("sv-notrace-{}", uuid::Uuid::new_v4().simple()));
    let mint = ["invites", "mint", "--count", "1"];
    let out = backend_cli_with(&dir, &[("APP_OTLP_ENDPOINT", "collector:4318")], &mint);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("APP_OTLP_ENDPOINT") && err.contains("http://"), "{err}");
    let out = backend_cli_with(&dir, &[("APP_OTLP_SAMPLE_RATIO", "2")], &mint);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("APP_OTLP_SAMPLE_RATIO"));
    std::fs::remove_dir_all(&dir).ok();
}
