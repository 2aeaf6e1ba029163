#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain, idempotently:
#   - a Python virtual environment in .venv with the tools the tests use
#     (aiosmtpd: a real SMTP server for the SMTP transport test; graphql-core: the contract check).
# Later parts add ONNX Runtime here. Safe to run again; it does nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
want="aiosmtpd==1.4.6 graphql-core==3.2.8"
stamp=.venv/.requirements
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing $want" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check $want
  echo "$want" > "$stamp"
fi
