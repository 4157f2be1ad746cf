#!/usr/bin/env bash
# The executors on a GPU, in one go (issue 11): the answer tests, the process-model checks, the GPU limits
# and the speed-ratio repeatability, then one summary. Two steps:
#
#   bash benchmarks/gpu_check.sh prepare   # here, once: cp312 wheels and bubblewrap's .deb into .gpu/
#   bash benchmarks/gpu_check.sh           # on the GPU machine, with .gpu/ carried: < 5 min on an H200
#
# The GPU image has torch, numpy, pytest, PyYAML, typer and rich, but not pydantic and its friends, nor
# bubblewrap; those come from .gpu/ (wheels installed into /tmp/site, bwrap unpacked into /tmp/bwrap and
# run through a wrapper that finds its libraries there when the image lacks them).
set -uo pipefail
cd "$(dirname "$0")/.."
GPU_DIR=.gpu
WHEELS="pydantic==2.14.4 pydantic-core==2.50.5 pydantic-settings==2.16.3 annotated-types==0.8.0
typing-inspection==0.4.5 typing-extensions==4.16.0 python-dotenv==1.2.4"

if [[ "${1:-}" == "prepare" ]]; then
    grep -qx "/$GPU_DIR/" .git/info/exclude 2>/dev/null || echo "/$GPU_DIR/" >>.git/info/exclude
    mkdir -p "$GPU_DIR/wheels" "$GPU_DIR/debs"
    # shellcheck disable=SC2086
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d "$GPU_DIR/wheels" $WHEELS || exit 1
    (cd "$GPU_DIR/debs" && apt-get download bubblewrap libselinux1 libcap2 libpcre2-8-0) || exit 1
    du -sh "$GPU_DIR"
    exit 0
fi

started=$(date +%s)
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
[[ -d "$GPU_DIR/wheels" ]] || { echo "no $GPU_DIR/: run 'bash benchmarks/gpu_check.sh prepare' here and carry .gpu"; exit 2; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    "$GPU_DIR"/wheels/*.whl || exit 1
for deb in "$GPU_DIR"/debs/*.deb; do dpkg -x "$deb" /tmp/bwrap; done
libs=/tmp/bwrap/usr/lib/x86_64-linux-gnu:/tmp/bwrap/lib/x86_64-linux-gnu
cat >/tmp/bwrap/bwrap <<EOF
#!/bin/sh
if /tmp/bwrap/usr/bin/bwrap --version >/dev/null 2>&1; then exec /tmp/bwrap/usr/bin/bwrap "\$@"; fi
LD_LIBRARY_PATH=$libs exec /tmp/bwrap/usr/bin/bwrap "\$@"
EOF
chmod +x /tmp/bwrap/bwrap
export PYTHONPATH=/tmp/site:$PWD GRADEFLOW_EXEC_BWRAP=/tmp/bwrap/bwrap PYTHONUNBUFFERED=1

{
    echo "== machine"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python3 -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__)'
    /tmp/bwrap/bwrap --version
    python3 - <<'PY'
from executors import ExecSettings
from executors.sandbox import Worker
from rubric_schema import load_exam

seed = load_exam("eval_sets/ai-engineer-mid/rubric.yaml").code_tasks[0].module
worker = Worker(ExecSettings(), slot=0, torch=True, task_module=seed)
worker.start()  # the warm checker: warm-up on the CPU, GPU probed by a forked child
print("sandboxed checker says:", worker.hello)
worker.close()
PY
} 2>&1 | tee "$OUT/machine.txt"

echo "== answer tests and process model on the GPU"
timeout 200 python3 -m pytest -q -p no:cacheprovider tests/executors/test_answers.py \
    tests/executors/test_process_model.py tests/executors/test_entrypoints.py -x 2>&1 | tee "$OUT/pytest.txt"
tests_rc=${PIPESTATUS[0]}

echo "== GPU limits and per-answer cost; speed-ratio repeatability (5 fresh workers)"
timeout 150 python3 benchmarks/bench_executors.py --only gpu repeatability --runs 5 \
    --repeat attention_torch attention_numpy 2>&1 | tee "$OUT/bench.txt"
bench_rc=${PIPESTATUS[0]}

echo
echo "== summary ($(($(date +%s) - started)) s)"
grep -E "^NVIDIA|^[A-Z].*H[0-9]|sandboxed checker says" "$OUT/machine.txt"
echo "tests (exit $tests_rc): $(grep -E '[0-9]+ (passed|failed)' "$OUT/pytest.txt" | tail -1)"
echo "bench (exit $bench_rc):"
grep -E '^\| (per answer|runner memory|an answer|attention_)' "$OUT/bench.txt"
[[ $tests_rc -eq 0 && $bench_rc -eq 0 ]]
