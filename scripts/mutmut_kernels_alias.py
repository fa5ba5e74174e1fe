"""pytest plugin for mutation runs: make ``tinygen.kernels`` the mutated ``kernels`` package.

mutmut copies ``tinygen/`` and ``kernels/`` into ``mutants/`` but not the symbolic link
``tinygen/kernels -> ../kernels`` (it walks folders without following links), so under
mutmut ``import tinygen.kernels`` fell through to the editable install's mapping and loaded
the checkout's unmutated kernels: every mutant of ``kernels/reference*.py`` ran no test
("no tests") or could never be switched on. And mutmut switches a mutant on by its module's
name, ``kernels.reference``, which the same file imported as ``tinygen.kernels.reference``
would not match. So this plugin, loaded first (``-p mutmut_kernels_alias`` in
``[tool.mutmut]``), imports the mutated package as ``kernels`` and registers the very same
module objects under the ``tinygen.kernels`` names before anything imports tinygen. Every
CPU-side module is registered, not only the mutated ones: a module imported under both names
would be two objects (``kernels.cpu`` and ``tinygen.kernels.cpu``), and the dispatcher's
``kernel(name) is cpu.name`` would fail before any mutant ran. ``cuda.py`` stays lazy (it
imports ``numba.cuda``; nothing here compares its functions). Not for ordinary test runs.
"""

from __future__ import annotations

import importlib
import sys

# the pure-Python modules mutmut mutates and trampolines, then the @njit ones it leaves alone
# (in import order: each imports only those before it)
_MODULES = (
    "reference_losses", "reference_optim", "reference", "cache", "scalar", "cpu_math",
    "cpu_losses", "cpu_optim", "cpu", "warmup",
)  # fmt: skip


def alias_kernels() -> None:
    """Register ``kernels`` and its CPU-side modules as ``tinygen.kernels[.name]``.

    Each module's ``__package__`` becomes ``tinygen.kernels``, so what it imports relatively
    later (``warmup``'s ``import_module(".cpu", __package__)``, ``cuda``) goes by the names
    the library and the tests use, and a test that blocks ``tinygen.kernels.cpu`` blocks it.
    """
    if "tinygen.kernels" in sys.modules:
        return  # already done (a second session in the same process) or too late to matter
    package = importlib.import_module("kernels")
    sys.modules["tinygen.kernels"] = package
    package.__package__ = "tinygen.kernels"
    for name in _MODULES:
        module = importlib.import_module(f"kernels.{name}")
        module.__package__ = "tinygen.kernels"
        sys.modules[f"tinygen.kernels.{name}"] = module
    import tinygen

    tinygen.kernels = package  # type: ignore[attr-defined]  # what the link would have made


alias_kernels()
