//! The `generator` binary reads the shared configuration (the `config` crate): the same keys,
//! the same checks, the same messages naming the key, and no credential in what it prints.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code

use std::process::{Command, Output};

fn generator(vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_generator"));
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in vars {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn bad_and_unknown_keys_stop_it_naming_the_key() {
    for (key, value, says) in [
        ("APP_REDIS_URI", "redis://127.0.0.1:1", "did you mean APP_REDIS_URL?"),
        ("APP_INFERENCE_DEVICE", "gpu", "found `gpu`"),
        ("APP_QUEUE_RECLAIM_IDLE_SECS", "soon", "APP_QUEUE_RECLAIM_IDLE_SECS"),
        ("APP_REDIS_URL", "http://cache:6379", "must start with redis://"),
        // A key only the backend uses is still checked: both binaries read one configuration.
        ("APP_MAIL_FROM", "nobody", "is not a mailbox"),
    ] {
        let out = generator(&[(key, value)]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {err}");
        assert!(err.starts_with(&format!("configuration: {key}: ")), "{key}={value}: {err}");
        assert!(err.contains(says), "{key}={value}: {err}");
    }
}

#[test]
fn without_redis_it_says_what_it_needs_and_prints_no_secret() {
    let out = generator(&[
        ("APP_S3_BUCKET", "media"),
        ("APP_S3_ACCESS_KEY", "access-6673"),
        ("APP_S3_SECRET_KEY", "secret-9917"),
        ("APP_WATERMARK_KEY", &"3c".repeat(32)),
        ("APP_LOG", "debug"),
    ]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("needs APP_REDIS_URL"), "{stderr}");
    for secret in ["access-6673", "secret-9917", "3c3c3c"] {
        assert!(!stderr.contains(secret) && !stdout.contains(secret), "{secret} printed");
    }
}
