#!/usr/bin/env bash
# End-to-end tests of the web client (/) and the admin console (/admin) in real headless
# Chromium (Debian's package, driven by playwright-core) against the running backend, started by
# each test file on a free port with embedded defaults and a fresh data folder.
# The tests are a Node.js project in tests/e2e (harness.mjs, tests/*.test.mjs). Screenshots (phone
# and desktop) are written to target/e2e/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
E2E=1 ./scripts/setup.sh
# The backend binary the tests start, built by the same command as test.sh and the system tests'
# harness (tests/api/harness.rs::binary), so one feature set and a no-op after either. (`cargo test
# --no-run` does not build it: the backend package has no integration tests of its own any more.)
cargo build --workspace --bins --tests --locked
test -x target/debug/backend
rm -rf target/e2e/screenshots
cd tests/e2e
exec node --test --test-concurrency=1 --test-reporter=spec tests/
