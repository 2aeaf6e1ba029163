#!/usr/bin/env bash
# The whole test suite: installs what is missing, starts PostgreSQL and Redis, checks formatting
# (cargo fmt, rustfmt.toml) and lints (unwrap/expect are denied outside tests), runs every test on
# SQLite and PostgreSQL, then the browser end-to-end tests (scripts/e2e.sh, tests/e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/services.sh
export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The binaries the system tests and the browser tests start, with the tests themselves: one
# invocation, so the binaries get the test build's feature set (dev-dependencies unify features,
# e.g. reqwest's) and no crate is compiled twice; tests/api/harness.rs::binary and e2e.sh run the
# same command, a no-op after this one.
cargo build --workspace --bins --tests --locked
.venv/bin/python scripts/check_infra.py  # infra/: Kubernetes and Compose schemas, every APP_ key accepted by the binaries
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
# The web client and the admin console in headless Chromium (screenshots in target/e2e/screenshots).
./scripts/e2e.sh
