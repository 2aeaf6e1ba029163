#!/usr/bin/env bash
# Feed load benchmark on PostgreSQL + Redis: builds release, seeds a fresh database `feedbench`
# (USERS members, VIDEOS published videos), starts the server pinned to CPU 0, runs
# backend/benches/feed_load.rs pinned to CPU 1 (bare /ping, warm FOR_YOU, cold FOR_YOU) and stops
# the server. Quick run: USERS=2000 VIDEOS=20000 scripts/bench-feed.sh; REUSE=1 reuses the last
# run's database (no seeding).
# Env passed to the bench: BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_USERS, BENCH_COLD_USERS.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-10000}
VIDEOS=${VIDEOS:-100000}
PORT=${PORT:-18080}
PREFIX=${PREFIX:-feedbench}
DB=${DB:-feedbench}
PG=postgres://postgres@127.0.0.1:5432
REDIS_URL=redis://127.0.0.1:6379
SERVER_CPU=${SERVER_CPU:-0}
BENCH_CPU=${BENCH_CPU:-1}

echo "bench-feed: building (release)" >&2
cargo build --release --locked -p backend -p seed
cargo bench --locked -p backend --bench feed_load --no-run
bench_bin=$(ls -t target/release/deps/feed_load-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
[ -x "$bench_bin" ] || { echo "bench-feed: feed_load binary not found under target/release/deps" >&2; exit 1; }
[ -e .venv/ort/libonnxruntime.so ] || ./scripts/setup.sh

./scripts/services.sh >/dev/null

# REUSE=1 keeps the database seeded by the previous run (same USERS/VIDEOS) and skips seeding.
if [ -z "${REUSE:-}" ]; then
  echo "bench-feed: fresh database $DB" >&2
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
fi
redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX:*" | xargs -r redis-cli -u "$REDIS_URL" unlink >/dev/null

DATA_DIR=$(mktemp -d /tmp/feedbench.XXXXXX)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -INT "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA_DIR"
}
trap cleanup EXIT

export APP_DATABASE_URL="$PG/$DB"
export APP_REDIS_URL="$REDIS_URL"
export APP_REDIS_PREFIX="$PREFIX"
export APP_LISTEN="127.0.0.1:$PORT"
export APP_HTTP_WORKERS=1
export APP_DATA_DIR="$DATA_DIR"
export APP_LOG=warn
export APP_FEED_REFRESH_SECS=1800
export APP_LOGIN_PER_IP_PER_MINUTE=1000000
export APP_LOGIN_PER_ACCOUNT_PER_MINUTE=1000000
export APP_IN_PROCESS_WORKERS=0

[ -n "${REUSE:-}" ] || echo "bench-feed: seeding $USERS members, $VIDEOS videos" >&2
if [ -z "${REUSE:-}" ]; then
  /usr/bin/time -f "bench-feed: seed took %e s, max RSS %M KiB" target/release/seed --users "$USERS" --videos "$VIDEOS"
  psql -q "$PG/$DB" -c "ANALYZE"
fi

echo "bench-feed: starting the server on CPU $SERVER_CPU" >&2
taskset -c "$SERVER_CPU" target/release/backend serve &
SERVER_PID=$!
for i in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "bench-feed: the server exited" >&2; exit 1; }
  [ "$i" = 120 ] && { echo "bench-feed: the server did not become ready" >&2; exit 1; }
  sleep 0.5
done

echo "bench-feed: running the bench on CPU $BENCH_CPU" >&2
BENCH_URL="http://127.0.0.1:$PORT" BENCH_REDIS_URL="$REDIS_URL" BENCH_REDIS_PREFIX="$PREFIX" BENCH_SERVER_PID="$SERVER_PID" \
  taskset -c "$BENCH_CPU" "$bench_bin"
