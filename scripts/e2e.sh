#!/usr/bin/env bash
# End-to-end tests of the web client (/) and the admin console (/admin) in real headless
# Chromium (Debian's package, driven by playwright-core) against the running backend, started by
# each test file on a free port with embedded defaults and a fresh data folder.
# Screenshots (phone and desktop) are written to target/e2e/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
E2E=1 ./scripts/setup.sh
# The backend binary the tests start: the same build as the test suite's (no second feature set).
cargo test --workspace --locked --no-run
test -x target/debug/backend
rm -rf target/e2e/screenshots
cd e2e
exec node --test --test-concurrency=1 --test-reporter=spec tests/
