#!/usr/bin/env bash
# Mutation testing of the engine with mutmut (pip install -e '.[dev]'), on demand:
#
#   bash scripts/mutation.sh                      # the engine files (see ENGINE below)
#   bash scripts/mutation.sh 'tinygen.ops.*'      # only mutants whose name matches
#   bash scripts/mutation.sh --keep 'tinygen.ops.reduce.xǁMaxǁbackward__mutmut_3'
#                                                 # again, reusing mutants/ (see --keep)
#   .venv/bin/mutmut results                      # afterwards: the survivors, by name
#   .venv/bin/mutmut show tinygen.ops.reduce.xǁMaxǁbackward__mutmut_3   # one mutant's diff
#
# mutmut copies the package to mutants/ and runs the tests that cover each mutated function
# (pyproject.toml's [tool.mutmut]). Numba's on-disk cache is cleared before the run and at
# the start of every mutant's test session (scripts/numba_fresh_cache.py), and points at a
# fresh folder, so that no stale compiled kernel hides a mutation.
#
# --keep: start from the mutants/ of the last run instead of deleting it. mutmut then reuses
# what it measured there, which tests cover which function (the stats run over the engine's
# tests, 3-5 minutes on two cores), and measures only the tests added since; it reruns every
# mutant named by the patterns. For the loop "write a test for a survivor, see it killed".
# Without --keep every run starts afresh, which is what a score for a report needs: a kept
# mutants/ can hold the verdicts of mutants that the patterns no longer name.
set -euo pipefail
cd "$(dirname "$0")/.."
MUTMUT="${MUTMUT:-.venv/bin/mutmut}"  # a test substitutes a stand-in (tests/test_mutation_script.py)
ENGINE=(
    'tinygen.ops.*' 'tinygen.autograd.*' 'tinygen.function.*' 'tinygen.gradcheck.*'
    'tinygen.optim.*' 'tinygen.nn.*' 'tinygen.distributions.*' 'tinygen.serialization.*'
    'kernels.reference*'
)
KEEP=0
PATTERNS=()
for arg in "$@"; do
    case "$arg" in
        --keep) KEEP=1 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "mutation.sh: unknown option $arg (options: --keep, --help)" >&2; exit 2 ;;
        *) PATTERNS+=("$arg") ;;
    esac
done
[ ${#PATTERNS[@]} -eq 0 ] && PATTERNS=("${ENGINE[@]}")
if [ "$KEEP" = 1 ] && [ -d mutants ]; then
    echo "mutation.sh: --keep: reusing mutants/ (its stats and its copy of the package)"
else
    [ "$KEEP" = 1 ] && echo "mutation.sh: --keep: no mutants/ yet, so this run starts afresh"
    rm -rf mutants
fi
find kernels -path '*__pycache__*' \( -name '*.nbi' -o -name '*.nbc' \) -delete
NUMBA_CACHE_DIR="$(mktemp -d)"
export NUMBA_CACHE_DIR
trap 'rm -rf "$NUMBA_CACHE_DIR"' EXIT
export PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}"  # the -p numba_fresh_cache plugin
# one worker: the project's machines have few cores, shared (set MUTMUT_CHILDREN to change)
"$MUTMUT" run --max-children "${MUTMUT_CHILDREN:-1}" "${PATTERNS[@]}"
"$MUTMUT" results
