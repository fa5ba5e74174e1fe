"""DataLoader: seeded, resumable mini-batches as tinygen Tensors; dynamic binarisation.

``Rows`` is the arrays seen as examples (``loader.dataset``, as in PyTorch).

The loader owns a ``numpy.random.Generator``. Each epoch draws one permutation from it, so the
same seed gives the same order and every epoch a new one. Its state (epoch, batches already
served, the generator's state at the start of the epoch, and the transform's state) is plain
JSON-able data: a run restored from ``state_dict()`` continues with the very batch, and the
very random draws, it would have seen.

Data-parallel training (``rank``, ``world_size``): every rank draws the same permutation and
walks the same global batches; a rank serves its contiguous share of each (rows
[m r / N, m (r + 1) / N) of a batch of m rows), so the N shares are the batch one process would
serve, and the state is the same on every rank and for every N (a run resumes on any number
of ranks). ``loader.share`` says which rows of the last batch this rank served.

Arrays stay NumPy until the last step: a batch is one ``take`` per array, the transform runs on
NumPy arrays, and only then does each array become a Tensor on the chosen device.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygen.checks import whole_number


def _as_tensor(array: np.ndarray, device: str) -> Any:
    import tinygen  # lazy: the engine is only needed once batches are served

    # the batch is a fresh array (fancy indexing copies), so wrap it instead of copying again
    return tinygen.Tensor._wrap(tinygen.backend.to_device(array, device))


def _default_seed() -> int:
    from tinygen import backend  # tinygen.manual_seed seeds this generator

    return int(backend.rng("cpu").integers(2**63 - 1))


class DataLoader:
    """Mini-batches over equally long arrays, yielded as tuples of Tensors.

    ``DataLoader(images, batch_size=128)`` yields ``(x,)``; ``DataLoader(images, labels, ...)``
    yields ``(x, y)`` with y kept int64 (the labelled loader of the conditional models).

    An epoch abandoned midway (``break``) is resumed by the next ``iter()``, exactly as after
    ``load_state_dict``; call ``reset()`` to start the next epoch at once instead.

    Args:
        *arrays: NumPy arrays (or Tensors) with the same first dimension.
        batch_size: rows per batch.
        shuffle: draw a new order every epoch (otherwise the data's order).
        drop_last: drop the last, smaller batch.
        seed: the loader's own seed; None draws one from ``tinygen.backend.rng("cpu")``, so
            ``tinygen.manual_seed`` makes the order reproducible.
        transform: called as ``transform(*batch)`` on NumPy arrays; returns the new batch (a
            tuple, or a single array that replaces the first), e.g. ``dynamic_binarize``.
        device: where the Tensors live ("cpu" or "cuda").
        rank: this process's rank in data-parallel training (it serves its share of a batch).
        world_size: the number of ranks sharing each batch (``batch_size`` stays the global
            batch).

    Raises:
        ValueError: no arrays, arrays of different lengths, batch_size < 1, a rank outside
            [0, world_size), or a batch with fewer rows than ranks.
        TypeError: batch_size is not a whole number (e.g. 2.7).
    """

    def __init__(
        self,
        *arrays: Any,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        transform: Callable[..., Any] | None = None,
        device: str = "cpu",
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        self.arrays = tuple(a.numpy() if hasattr(a, "numpy") else np.asarray(a) for a in arrays)
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(f"arrays differ in length: {[len(a) for a in self.arrays]}")
        self.size = lengths.pop()
        self.batch_size = whole_number(batch_size, "DataLoader: batch_size")
        self.shuffle, self.drop_last = shuffle, drop_last
        self.transform, self.device = transform, device
        self.world_size = whole_number(world_size, "DataLoader: world_size")
        self.rank = whole_number(rank, "DataLoader: rank", minimum=0)
        if self.rank >= self.world_size:
            raise ValueError(f"DataLoader: rank {rank} is not below world_size {world_size}")
        self.share = (0, 0, 0)  # (first row, one past the last, rows) of the last batch served
        self._check_shares()
        self.seed = _default_seed() if seed is None else int(seed)
        self.generator = np.random.default_rng(self.seed)
        self.epoch = 0  # epochs completed
        self.batch = 0  # batches served in the current epoch
        self._epoch_state = self.generator.bit_generator.state  # before this epoch's draw

    def _check_shares(self) -> None:
        rest = self.size % self.batch_size
        smallest = rest if rest and not self.drop_last else min(self.batch_size, self.size)
        if self.world_size > 1 and len(self) and smallest < self.world_size:
            raise ValueError(
                f"DataLoader: a batch of {smallest} rows cannot be shared by {self.world_size} "
                "ranks; use a larger batch_size, drop_last=True, or fewer ranks"
            )

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.size, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    @property
    def dataset(self) -> Rows:
        """The rows served, as PyTorch's ``loader.dataset``.

        ``len()`` counts examples; ``dataset[i]`` is the tuple of row i of each array (NumPy,
        untransformed).
        """
        return Rows(self.arrays)

    def _order(self) -> np.ndarray | None:
        # Re-drawing from the saved epoch-start state gives the same permutation on resume.
        self.generator.bit_generator.state = self._epoch_state
        return self.generator.permutation(self.size) if self.shuffle else None

    def reset(self) -> None:
        """Finish the current epoch now: the next iteration starts a fresh one."""
        if self.batch:
            self._order()  # advance the generator past this epoch's permutation
            self.epoch, self.batch = self.epoch + 1, 0
            self._epoch_state = self.generator.bit_generator.state

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        """Yield the rest of the current epoch (all of it, unless resumed), batch by batch."""
        if self.batch >= len(self):  # the previous epoch was served in full but not closed
            self.reset()
        order = self._order()
        for index in range(self.batch, len(self)):
            start, stop = index * self.batch_size, min((index + 1) * self.batch_size, self.size)
            rows = stop - start  # this rank's share: [first, last) of the batch's rows
            first, last = (
                rows * self.rank // self.world_size,
                rows * (self.rank + 1) // self.world_size,
            )
            if self.transform is None:  # only the share is gathered
                start, stop = start + first, start + last
            if order is None:
                batch = tuple(a[start:stop].copy() for a in self.arrays)  # own the memory
            else:
                batch = tuple(np.take(a, order[start:stop], axis=0) for a in self.arrays)
            if self.transform is not None:  # on the whole batch: its draws match one process's
                result = self.transform(*batch)
                batch = result if isinstance(result, tuple) else (result, *batch[1:])
                if self.world_size > 1:
                    batch = tuple(a[first:last] for a in batch)
            self.share = (first, last, rows)
            self.batch = index + 1
            yield tuple(_as_tensor(a, self.device) for a in batch)
        self.reset()

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state: seed, epoch, batches served, generator and transform state."""
        state = {
            "seed": self.seed,
            "epoch": self.epoch,
            "batch": self.batch,
            "generator": copy.deepcopy(self._epoch_state),
        }
        if self.transform is not None and hasattr(self.transform, "state_dict"):
            state["transform"] = self.transform.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state_dict(): the next iteration serves the batch that came next."""
        self.seed, self.epoch, self.batch = int(state["seed"]), state["epoch"], state["batch"]
        self._epoch_state = copy.deepcopy(state["generator"])
        self.generator.bit_generator.state = self._epoch_state
        transform = self.transform
        if "transform" in state and transform is not None and hasattr(transform, "load_state_dict"):
            transform.load_state_dict(state["transform"])


class Rows:
    """Equally long arrays seen as one sequence of examples (what ``DataLoader.dataset`` is).

    Args:
        arrays: the arrays, one entry of each per example.
    """

    def __init__(self, arrays: tuple[np.ndarray, ...]) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.arrays)
