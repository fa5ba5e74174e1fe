"""Keep Numba's on-disk cache of the CPU kernels in step with their sources.

Numba keys a cached kernel on the file that defines it, not on the helpers inlined into it:
after an edit of ``scalar.py`` or ``cpu_math.py`` (or an upgrade of tinygen over an old
``kernels/__pycache__``) it would load the old machine code without a word. Before the
kernels are imported, ``forget_stale_compilations`` compares a SHA-256 of every source file
in this folder with the one stored beside the cache, and deletes the cached kernels when
they differ. What does not live here: the kernels themselves, and when they run
(``tinygen/fastpath.py``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAMP = "sources.sha256"


def sources_digest(folder: Path = HERE) -> str:
    """A SHA-256 of every ``.py`` file of the folder, in name order."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def forget_stale_compilations(folder: Path = HERE) -> int:
    """Delete the cached kernels of ``folder/__pycache__`` compiled from other sources.

    Args:
        folder: the kernels' folder (this one by default).

    Returns:
        How many cache files were deleted (0 when the cache matches, or cannot be written).
    """
    cache, digest = folder / "__pycache__", sources_digest(folder)
    stamp = cache / STAMP
    try:
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return 0
        removed = 0
        for pattern in ("*.nbi", "*.nbc"):
            for path in cache.glob(pattern):
                path.unlink(missing_ok=True)
                removed += 1
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest + "\n")
    except OSError:  # a read-only install: Numba then caches elsewhere, or not at all
        return 0
    return removed
