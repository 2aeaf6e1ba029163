#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
//! The S3 engine of `MediaStore` against a real S3-compatible server on loopback: `moto_server`
//! from the project's `.venv` (installed by `scripts/setup.sh`).

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use media::{MediaError, MediaStore};

/// The moto server that `scripts/setup.sh` installs into the workspace's `.venv`.
const MOTO_SERVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server");

/// How long the server may take to start answering.
const STARTUP_LIMIT: Duration = Duration::from_secs(20);

/// A running `moto_server`, killed when dropped (also when the test panics).
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts `moto_server` on a free loopback port and waits until the port answers.
    fn start() -> Self {
        assert!(
            Path::new(MOTO_SERVER).exists(),
            "{MOTO_SERVER} is missing: run ./scripts/setup.sh from the workspace root \
             (it installs moto[server] into .venv)"
        );
        let port = free_port();
        let child = Command::new(MOTO_SERVER)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {MOTO_SERVER}: {e}"));
        // From here on the guard owns the child, so a failed wait below still kills it.
        let mut moto = Self { child, port };
        let started = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto_server exited before answering on port {port}: {status}");
            }
            assert!(
                started.elapsed() < STARTUP_LIMIT,
                "moto_server did not answer on port {port} within {STARTUP_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `len` bytes that do not repeat with any short period (xorshift).
fn varied_bytes(len: usize) -> Vec<u8> {
    let mut state: u32 = 0x9E37_79B9;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_be_bytes()[0]
        })
        .collect()
}

#[tokio::test]
async fn s3_store_round_trips_against_moto() {
    let moto = Moto::start();
    let endpoint = moto.endpoint();
    let http = reqwest::Client::new();

    let bucket = "media-test";
    let created = http.put(format!("{endpoint}/{bucket}")).send().await.unwrap();
    assert!(created.status().is_success(), "creating the bucket: {}", created.status());

    let store = MediaStore::s3(bucket, Some(&endpoint), "us-east-1", "testing", "testing", true).unwrap();

    let key = "videos/0190b1c2-7d3e-7000-8000-000000000000.mp4";
    let bytes = varied_bytes(300 * 1024);

    // put, then get round-trips the bytes.
    store.put(key, bytes.clone(), "video/mp4").await.unwrap();
    let back = store.get(key).await.unwrap();
    assert_eq!(back.len(), bytes.len());
    assert!(back == bytes, "get returned different bytes");

    // size and a range.
    assert_eq!(store.size(key).await.unwrap(), bytes.len() as u64);
    let range = store.get_range(key, 100..1100).await.unwrap();
    assert_eq!(range.len(), 1000);
    assert!(range == bytes[100..1100], "get_range returned different bytes");

    // A presigned URL serves the object to a plain HTTP client, with its content type. Note that
    // moto only looks for `Signature=` in a presigned URL and does not check the signature itself
    // (a made-up or expired one is served too), so this checks the URL's shape, not the SigV4 maths.
    let url = store.presigned_get_url(key, Duration::from_secs(600)).await.unwrap().expect("the S3 store signs URLs");
    assert!(url.starts_with(&format!("{endpoint}/{bucket}/{key}?")), "{url}");
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK, "GET {url}");
    assert_eq!(
        response.headers().get(reqwest::header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).as_deref(),
        Some("video/mp4")
    );
    let served = response.bytes().await.unwrap();
    assert!(served == bytes, "the presigned URL served different bytes");

    // A presigned URL for a missing key does not serve anything.
    let missing_url = store.presigned_get_url("videos/missing.mp4", Duration::from_secs(600)).await.unwrap().unwrap();
    let missing = http.get(&missing_url).send().await.unwrap();
    assert_ne!(missing.status(), reqwest::StatusCode::OK, "GET {missing_url}");

    common::a_folder_is_deleted_alone(&store).await;
    common::a_folder_is_listed_in_chunks(&store).await;

    // exists, delete, and a missing object.
    assert!(store.exists(key).await.unwrap());
    store.delete(key).await.unwrap();
    assert!(!store.exists(key).await.unwrap());
    assert!(matches!(store.get(key).await, Err(MediaError::NotFound { .. })), "get after delete");
    assert!(matches!(store.size(key).await, Err(MediaError::NotFound { .. })), "size after delete");
    // Deleting again is not an error.
    store.delete(key).await.unwrap();

    // A bad key is refused before any request is made: the server is gone now, so a request
    // would fail with a connection error, not `BadKey`.
    drop(moto);
    for bad in ["/videos/a.mp4", "videos/../secrets", "videos/a b.mp4"] {
        assert!(
            matches!(store.put(bad, vec![1, 2, 3], "video/mp4").await, Err(MediaError::BadKey { .. })),
            "put {bad:?}"
        );
        assert!(matches!(store.get(bad).await, Err(MediaError::BadKey { .. })), "get {bad:?}");
        assert!(
            matches!(store.presigned_get_url(bad, Duration::from_secs(600)).await, Err(MediaError::BadKey { .. })),
            "presign {bad:?}"
        );
    }
}
