"""pytest plugin for mutation runs: make ``tinygen.kernels`` the mutated ``kernels`` package.

mutmut copies ``tinygen/`` and ``kernels/`` into ``mutants/`` but not the symbolic link
``tinygen/kernels -> ../kernels`` (it walks folders without following links), so under
mutmut ``import tinygen.kernels`` fell through to the editable install's mapping and loaded
the checkout's unmutated kernels: every mutant of ``kernels/reference*.py`` ran no test
("no tests") or could never be switched on. And mutmut switches a mutant on by its module's
name, ``kernels.reference``, which the same file imported as ``tinygen.kernels.reference``
would not match. So this plugin, loaded first (``-p mutmut_kernels_alias`` in
``[tool.mutmut]``), imports the mutated package as ``kernels`` and registers the very same
module objects under the ``tinygen.kernels`` names before anything imports tinygen. Not for
ordinary test runs.
"""

from __future__ import annotations

import importlib
import sys

# the pure-Python modules mutmut mutates and trampolines (cpu*, cuda, scalar are @njit code
# that mutmut leaves alone; they load lazily under tinygen.kernels and import these by name)
_MUTATED = ("reference", "reference_losses", "reference_optim", "cache")


def alias_kernels() -> None:
    """Register ``kernels`` and its mutated modules as ``tinygen.kernels[.name]``."""
    if "tinygen.kernels" in sys.modules:
        return  # already done (a second session in the same process) or too late to matter
    package = importlib.import_module("kernels")
    sys.modules["tinygen.kernels"] = package
    for name in _MUTATED:
        sys.modules[f"tinygen.kernels.{name}"] = importlib.import_module(f"kernels.{name}")
    import tinygen

    tinygen.kernels = package  # type: ignore[attr-defined]  # what the link would have made


alias_kernels()
