"""CompiledStep: the callable ``tinygen.compile`` returns; one tape per call signature."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from tinygen import backend, fastpath
from tinygen.compile import capture, passes
from tinygen.compile.tape import Tape
from tinygen.compile.traced import CompileError
from tinygen.function import is_grad_enabled
from tinygen.nn.module import Module
from tinygen.tensor import Tensor

PASSES = ("dead_gradients", "fuse_linear_activation", "reuse_buffers")


def compile_enabled() -> bool:
    """False when ``TINYGEN_COMPILE=0`` (or false/off) is set: every compiled step runs eagerly."""
    return os.environ.get("TINYGEN_COMPILE", "1").strip().lower() not in ("0", "false", "off")


class CompiledStep:
    """``fn`` traced once per signature and replayed (see ``tinygen.compile``).

    Attributes:
        tapes: signature -> Tape, the traces made so far.
        stats: per signature, what each optimisation pass changed (e.g. how many Linear +
            activation pairs were fused).
    """

    def __init__(self, fn: Callable, enabled: bool = True, passes: tuple = PASSES) -> None:
        unknown = sorted(set(passes) - set(PASSES))
        if unknown:
            raise ValueError(f"tinygen.compile: unknown passes {unknown}; the passes are {PASSES}")
        self.fn, self.enabled, self.passes = fn, enabled, tuple(passes)
        self.tapes: dict[tuple, Tape] = {}
        self.stats: dict[tuple, dict[str, int]] = {}
        self._modules: list[Module] | None = None
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Trace on a new signature (fn runs eagerly, once), else replay the tape."""
        if not (self.enabled and compile_enabled()):
            return self.fn(*args, **kwargs)
        if self._modules is None:
            self._modules = reachable_modules(self.fn)
        key = self.signature(args, kwargs)
        tape = self.tapes.get(key)
        if tape is None:
            result, tape = capture.trace(self.fn, list(args), kwargs, self._modules)
            self.stats[key] = {name: getattr(passes, name)(tape) for name in self.passes}
            self.tapes[key] = tape
            return result
        tape.replay([a.data for a in (*args, *kwargs.values()) if isinstance(a, Tensor)])
        return capture.results(tape)

    def signature(self, args: tuple, kwargs: dict) -> tuple:
        """What a trace is specialised to: the arguments' kinds and the engine's switches."""
        parts: list[Any] = []
        for name, value in [*enumerate(args), *kwargs.items()]:
            if isinstance(value, Tensor):
                device = backend.device_of(value.data)
                parts.append((name, value.shape, value.dtype.str, device, value._requires_grad))
                continue
            try:
                hash(value)
            except TypeError:
                raise CompileError(
                    f"tinygen.compile: argument {name!r} is a {type(value).__name__}; pass "
                    "arrays as Tensors (inputs, read afresh on every call) and other values as "
                    "numbers, strings or tuples (each new value traces the step again)"
                ) from None
            parts.append((name, type(value).__name__, value))
        modes = tuple(m.training for m in self._modules or [])
        return (*parts, is_grad_enabled(), fastpath.fast_path_enabled(), modes)


def reachable_modules(fn: Callable) -> list[Module]:
    """The Modules a step reaches through its closure, globals, defaults or bound self."""
    found: dict[int, Module] = {}
    code = getattr(fn, "__code__", None)
    roots: list[Any] = [getattr(fn, "__self__", None), *(getattr(fn, "__defaults__", None) or ())]
    roots += [cell.cell_contents for cell in getattr(fn, "__closure__", None) or ()]
    if code is not None:
        names = set(code.co_names) | {
            n for c in code.co_consts if hasattr(c, "co_names") for n in c.co_names
        }
        roots += [fn.__globals__[n] for n in names if n in getattr(fn, "__globals__", {})]

    def visit(value: Any, depth: int) -> None:
        if isinstance(value, Module):
            for module in value.modules():
                found.setdefault(id(module), module)
        elif depth < 3 and isinstance(value, (list, tuple, dict)):
            for item in value.values() if isinstance(value, dict) else value:
                visit(item, depth + 1)
        elif depth < 3 and hasattr(value, "__dict__") and not isinstance(value, type):
            if not callable(value) or hasattr(value, "__self__"):
                for item in vars(value).values():
                    visit(item, depth + 1)

    for root in roots:
        visit(root, 0)
    return list(found.values())
