#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU where CuPy (the CUDA 13 wheels:
# pip install -e '.[gpu-cuda13]'), Numba's CUDA target and PyTorch with CUDA are already
# installed; it downloads nothing. Under 8 minutes, each step with its own time limit:
#   1. preflight: nvidia-smi lists a GPU and CuPy sees it (else: exit 2 at once, saying why)
#   2. the GPU tests:              pytest -m gpu
#   3. a VAE and an AC-GAN training step on device="cuda" against the same step on the CPU
#   4. a W1 and a W2 epoch, tinygen on cuda and PyTorch on cuda, in the same run
# then prints one table (check | result | detail). Exit status: 0 when every row is ok,
# 1 when one failed, 2 when there is no GPU to check.
#
#   bash benchmarks/gpu_check.sh            # PYTHON=... picks the interpreter (default .venv)
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
start=$SECONDS
BUDGET=450  # seconds for the whole check; the epochs get what the steps before left

no_gpu() {
    echo "gpu_check: $1; this script checks tinygen on an NVIDIA GPU and has nothing to do here" >&2
    exit 2
}
command -v nvidia-smi >/dev/null 2>&1 || no_gpu "no NVIDIA GPU here (nvidia-smi is not installed)"
gpus=$(timeout 20 nvidia-smi -L 2>/dev/null | grep -c '^GPU') || true
[ "${gpus:-0}" -gt 0 ] || no_gpu "nvidia-smi lists no GPU (driver not loaded, or none visible)"
timeout 60 "$PYTHON" benchmarks/gpu_check.py preflight || no_gpu "preflight failed (above)"

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

# 2. the GPU tests (tests/test_gpu.py and the real-GPU kernel test)
log=$(mktemp)
timeout 150 "$PYTHON" -m pytest -q -m gpu -p no:cacheprovider tests >"$log" 2>&1
status=$?
summary=$(grep -E '(passed|failed|skipped|error)' "$log" | tail -1)
if [ $status -eq 0 ]; then result=ok; else result=FAIL; fi
[ $status -eq 124 ] && summary="timed out after 150 s; ${summary}"
echo "| pytest -m gpu | $result | ${summary:-no summary line (exit $status)} |" >>"$rows"
[ $status -eq 0 ] || tail -30 "$log"
rm -f "$log"

# 3. one training step of each model on cuda against the CPU
timeout 90 "$PYTHON" benchmarks/gpu_check.py parity "$rows" \
    || echo "| training steps, cuda vs cpu | FAIL | the step did not finish (exit $?) |" >>"$rows"

# 4. W1 / W2 epochs against PyTorch CUDA, in what is left of the 8 minutes
left=$((BUDGET - (SECONDS - start)))
if [ $left -gt 30 ]; then
    timeout $left "$PYTHON" benchmarks/gpu_check.py epochs "$rows" \
        || echo "| W1/W2 epochs on cuda | FAIL | not finished within ${left} s (exit $?) |" >>"$rows"
else
    echo "| W1/W2 epochs on cuda | FAIL | no time left (the steps before took $((SECONDS - start)) s) |" >>"$rows"
fi

echo
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
    | sed 's/^/GPU: /'
echo "tinygen GPU check, $((SECONDS - start)) s"
echo "| check | result | detail |"
echo "|---|---|---|"
cat "$rows"
if grep -q '| FAIL |' "$rows"; then exit 1; fi
