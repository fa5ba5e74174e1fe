#!/usr/bin/env bash
# Mutation testing of the engine with mutmut (pip install -e '.[dev]'), on demand:
#
#   bash scripts/mutation.sh                      # the engine files (see ENGINE below)
#   bash scripts/mutation.sh 'tinygen.ops.*'      # only mutants whose name matches
#   .venv/bin/mutmut results                      # afterwards: the survivors, by name
#   .venv/bin/mutmut show tinygen.ops.reduce.xǁMaxǁbackward__mutmut_3   # one mutant's diff
#
# mutmut copies the package to mutants/ and runs the tests that cover each mutated function
# (pyproject.toml's [tool.mutmut]). Numba's on-disk cache is cleared before the run and at
# the start of every mutant's test session (scripts/numba_fresh_cache.py), and points at a
# fresh folder, so that no stale compiled kernel hides a mutation.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=(
    'tinygen.ops.*' 'tinygen.autograd.*' 'tinygen.function.*' 'tinygen.gradcheck.*'
    'tinygen.optim.*' 'tinygen.nn.*' 'tinygen.distributions.*' 'tinygen.serialization.*'
    'kernels.reference*'
)
PATTERNS=("$@")
[ ${#PATTERNS[@]} -eq 0 ] && PATTERNS=("${ENGINE[@]}")
rm -rf mutants
find kernels -path '*__pycache__*' \( -name '*.nbi' -o -name '*.nbc' \) -delete
NUMBA_CACHE_DIR="$(mktemp -d)"
export NUMBA_CACHE_DIR
trap 'rm -rf "$NUMBA_CACHE_DIR"' EXIT
export PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}"  # the -p numba_fresh_cache plugin
# one worker: the project's machines have few cores, shared (set MUTMUT_CHILDREN to change)
.venv/bin/mutmut run --max-children "${MUTMUT_CHILDREN:-1}" "${PATTERNS[@]}"
.venv/bin/mutmut results
