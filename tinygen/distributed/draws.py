"""Per-example random draws that do not depend on how the batch is split over the ranks.

What lives here: ``RowDraws`` (a Generator seen through a rank's rows) and ``share_of_draws``
(the block inside which tinygen's generators are seen that way). What does not: the split
itself (``tinygen.data.DataLoader``'s ``rank`` and ``world_size``).

Why: one process on a batch of B rows draws, say, the VAE's eps as a (B, z) array. A rank
holding rows [start, stop) of that batch would draw (stop - start, z) from the same stream:
other numbers, and every rank the same ones. Inside ``share_of_draws`` a draw whose first
dimension is the rank's row count is made for all B rows and the rank keeps its rows, so N
ranks use exactly the numbers one process would, and every rank's generator stays in step
(the state rank 0 checkpoints is every rank's, whatever N is on resume). A draw of twice the
row count is taken as two stacked batches (the GAN's D runs on real and fake images stacked,
and its dropout masks are drawn for 2B rows): the rank keeps its rows of each half. A draw
of any other shape is made as asked, the same on every rank.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tinygen import backend


class RowDraws:
    """A random Generator whose per-example draws are rows [start, stop) of a B-row draw.

    Args:
        generator: the NumPy (or CuPy) Generator.
        start: this rank's first row of the batch.
        stop: one past its last row.
        total: the rows of the whole batch, B.
    """

    def __init__(self, generator: Any, start: int, stop: int, total: int) -> None:
        self.generator, self.start, self.stop, self.total = generator, start, stop, total

    def _draw(self, method: str, size: Any, *args: Any, **kwargs: Any) -> Any:
        shape = (size,) if isinstance(size, int) else tuple(size or ())
        draw = getattr(self.generator, method)
        share = self.stop - self.start
        for blocks in (1, 2):  # the rank's rows, or its rows of real and fake stacked (2B)
            if shape and share != self.total and shape[0] == blocks * share:
                whole = draw(*args, size=(blocks * self.total, *shape[1:]), **kwargs)
                parts = [whole[b * self.total + self.start : b * self.total + self.stop]
                         for b in range(blocks)]  # fmt: skip
                return parts[0] if blocks == 1 else backend.array_module(whole).concatenate(parts)
        return draw(*args, size=size, **kwargs)

    def standard_normal(self, size: Any = None, **kwargs: Any) -> Any:
        """As ``Generator.standard_normal``, per example."""
        return self._draw("standard_normal", size, **kwargs)

    def random(self, size: Any = None, **kwargs: Any) -> Any:
        """As ``Generator.random``, per example."""
        return self._draw("random", size, **kwargs)

    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None) -> Any:
        """As ``Generator.normal``, per example."""
        return self._draw("normal", size, loc, scale)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None) -> Any:
        """As ``Generator.uniform``, per example."""
        return self._draw("uniform", size, low, high)

    def integers(self, low: Any, high: Any = None, size: Any = None, **kwargs: Any) -> Any:
        """As ``Generator.integers``, per example."""
        return self._draw("integers", size, low, high, **kwargs)

    def __getattr__(self, name: str) -> Any:  # bit_generator (checkpoints), permutation, ...
        return getattr(self.generator, name)


@contextlib.contextmanager
def share_of_draws(start: int, stop: int, total: int) -> Iterator[None]:
    """Inside the block, tinygen's per-example draws are rows [start, stop) of a total-row draw.

    A whole batch (start 0, stop total) changes nothing, and costs nothing.
    """
    if (start, stop) == (0, total):
        yield
        return
    with backend.drawing_through(lambda generator: RowDraws(generator, start, stop, total)):
        yield
