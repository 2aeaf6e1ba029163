#!/usr/bin/env bash
# Runs the service with embedded defaults (SQLite, mail to files, in-memory limits) under ./data,
# listening on APP_LISTEN (default 127.0.0.1:8080). Any APP_* variable overrides a default.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec cargo run --release --locked -p backend -- serve
