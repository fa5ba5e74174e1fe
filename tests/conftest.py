"""Fixtures and markers shared by the test files (pytest finds them here by itself).

What lives here: the ``needs_mnist`` marker (``@pytest.mark.needs_mnist`` skips a test, saying
how to get the data, when MNIST is not on this machine) and the data fixtures ``toy_data``
and ``mnist_subset``. Plain helper functions that tests call (``synthetic_digits``,
``parameters_of``) are in ``helpers.py``: nothing imports from this file.
"""

from __future__ import annotations

import functools

import pytest
from helpers import SumOfCopies, synthetic_digits

MNIST_MISSING = "MNIST is not on this machine (run `python -m tinygen.data fetch mnist`)"


@functools.cache
def mnist_available() -> bool:
    """True when the MNIST cache (or a source tinygen reads without downloading) is here."""
    try:
        from tinygen.data import load_mnist

        load_mnist("valid", download=False)
    except Exception:  # noqa: BLE001 - any failure means the tests needing MNIST skip
        return False
    return True


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the ``needs_mnist`` tests, giving the reason, when MNIST is not on this machine."""
    marked = [item for item in items if item.get_closest_marker("needs_mnist") is not None]
    if marked and not mnist_available():
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=MNIST_MISSING))


@pytest.fixture
def mnist_subset():
    """The first 512 MNIST training images and labels (skips when MNIST is unavailable)."""
    if not mnist_available():
        pytest.skip(MNIST_MISSING)
    from tinygen.data import load_split

    return load_split("mnist", "train", limit=512)


@pytest.fixture
def toy_data():
    """256 ten-class toy images and their labels (``helpers.synthetic_digits``)."""
    return synthetic_digits(256)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Drop compiled kernels built from other sources: test_kernels imports them directly."""
    from tinygen.kernels.cache import forget_stale_compilations

    forget_stale_compilations()


@pytest.fixture(autouse=True)
def _one_blas_thread_count(request):
    """Every test but the thread policy's own runs at one fixed BLAS thread count.

    OpenBLAS rounds some products differently with one thread and with two (a (64, 784) @
    (784, 64) product, D's first layer in the small GANs of the tests), and the automatic
    policy re-probes by the clock: on a busy machine it may switch between two runs that a
    test expects to be bit-identical (resume), and it did once in CI. The product's resume is
    bit-identical at one thread count; tests/test_threads.py tests the policy itself.
    """
    from tinygen import threads

    if request.module.__name__.endswith("test_threads"):
        yield
        return
    threads.set_blas_threads(1)
    yield
    threads.set_blas_threads(None)


@pytest.fixture
def three_ranks():
    """A world of three ranks whose gradients are all alike (``helpers.SumOfCopies``)."""
    from tinygen.distributed.world import World, set_world

    comm = SumOfCopies(3)
    set_world(World(rank=0, size=3, comm=comm))
    yield comm
    set_world(None)
