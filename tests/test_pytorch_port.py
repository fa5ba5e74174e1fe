"""Issue 10's "done when": the classic PyTorch VAE example runs under tinygen after changing
only its imports and its data loader, and trains.

``ports/vae_torch.py`` is the example as a PyTorch user writes it (encode / reparameterize /
decode with ``view``, ``torch.exp``, ``randn_like``, ``pow``,
``F.binary_cross_entropy(..., reduction="sum")``, ``torch.sum``); ``ports/vae_tinygen.py``
is its port. The first test proves the two differ only there; the second trains the port.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import numpy as np

PORTS = Path(__file__).parent / "ports"


def changed_lines(original: list[str], port: list[str]) -> list[tuple[str, int, str]]:
    """(side, line number, text) of every line the port changed (removed or added)."""
    changes = []
    matcher = difflib.SequenceMatcher(a=original, b=port, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            changes += [("torch", i, original[i]) for i in range(i1, i2)]
            changes += [("tinygen", j, port[j]) for j in range(j1, j2)]
    return changes


def data_loader_lines(lines: list[str]) -> set[int]:
    start, end = lines.index("# --- data loader ---"), lines.index("# --- end of data loader ---")
    return set(range(start, end + 1))


def test_the_port_changes_only_the_imports_and_the_data_loader() -> None:
    original = (PORTS / "vae_torch.py").read_text().splitlines()
    port = (PORTS / "vae_tinygen.py").read_text().splitlines()
    allowed = {"torch": data_loader_lines(original), "tinygen": data_loader_lines(port)}
    docstring = {"torch": original.index('"""', 1), "tinygen": port.index('"""', 1)}
    other = [
        (side, number + 1, text)
        for side, number, text in changed_lines(original, port)
        if number not in allowed[side]
        and number > docstring[side]  # the module docstrings say which file is which
        and not text.startswith(("import ", "from "))
        and text.strip()
    ]
    assert not other, f"the port changed more than imports and the data loader: {other}"
    body = "\n".join(port[docstring["tinygen"] :])
    for idiom in ("x.view(", "torch.exp(", "torch.randn_like(", ".pow(2)", "torch.sum("):
        assert idiom in body
    assert 'reduction="sum"' in body and "len(train_loader.dataset)" in body


def test_the_ported_vae_trains() -> None:
    spec = importlib.util.spec_from_file_location("vae_tinygen", PORTS / "vae_tinygen.py")
    assert spec is not None and spec.loader is not None
    port = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(port)  # builds the loader, the model and the optimiser
    losses = [port.train(epoch) for epoch in (1, 2, 3)]
    assert np.all(np.isfinite(losses))
    assert losses[2] < losses[1] < losses[0], losses
    images, comparison = port.sample(16)
    assert images.shape == (16, 1, 28, 28) and comparison.shape == (16, 784)
    assert 0 <= images.numpy().min() and images.numpy().max() <= 1  # sigmoid outputs
