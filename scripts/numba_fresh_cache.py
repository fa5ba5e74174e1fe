"""pytest plugin for mutation runs: delete Numba's on-disk kernel cache at session start.

Numba's cache (``kernels/__pycache__/*.nbi``, ``*.nbc``, and ``NUMBA_CACHE_DIR`` when set)
is keyed by a kernel file's path and time stamp, not by the code a kernel calls: a mutant
in ``kernels/scalar.py`` would run the cached, unmutated machine code. ``scripts/mutation.sh``
loads this plugin (``-p numba_fresh_cache``) so that every mutant's test session compiles
afresh. Not for ordinary test runs, which it would slow down.
"""

from __future__ import annotations

import os
from pathlib import Path


def clear_numba_cache(root: Path) -> int:
    """Delete the ``.nbi``/``.nbc`` files under root's kernels and NUMBA_CACHE_DIR.

    Args:
        root: the folder holding ``kernels/`` (the repository, or mutmut's ``mutants/``).

    Returns:
        How many files were deleted.
    """
    folders = [root / "kernels" / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        folders.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    removed = 0
    for folder in folders:
        for pattern in ("*.nbi", "*.nbc"):
            for path in folder.rglob(pattern) if folder.is_dir() else ():
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def pytest_sessionstart(session) -> None:  # noqa: ANN001 (pytest's hook signature)
    """Clear the cache before any test imports a kernel."""
    clear_numba_cache(Path(str(session.config.rootpath)))
