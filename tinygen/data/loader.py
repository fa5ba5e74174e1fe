"""DataLoader: seeded, resumable mini-batches as tinygen Tensors; dynamic binarisation.

``Rows`` is the arrays seen as examples (``loader.dataset``, as in PyTorch).

The loader owns a ``numpy.random.Generator``. Each epoch draws one permutation from it, so the
same seed gives the same order and every epoch a new one. Its state (epoch, batches already
served, the generator's state at the start of the epoch, and the transform's state) is plain
JSON-able data: a run restored from ``state_dict()`` continues with the very batch, and the
very random draws, it would have seen.

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

    Raises:
        ValueError: no arrays, arrays of different lengths, or batch_size < 1.
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
        self.seed = _default_seed() if seed is None else int(seed)
        self.generator = np.random.default_rng(self.seed)
        self.epoch = 0  # epochs completed
        self.batch = 0  # batches served in the current epoch
        self._epoch_state = self.generator.bit_generator.state  # before this epoch's draw

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
            start, stop = index * self.batch_size, (index + 1) * self.batch_size
            if order is None:
                batch = tuple(a[start:stop].copy() for a in self.arrays)  # own the memory
            else:
                rows = order[start:stop]
                batch = tuple(np.take(a, rows, axis=0) for a in self.arrays)
            if self.transform is not None:
                result = self.transform(*batch)
                batch = result if isinstance(result, tuple) else (result, *batch[1:])
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
