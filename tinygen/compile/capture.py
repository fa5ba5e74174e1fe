"""The tracer: run the step once, eagerly, and write down everything it did as a tape.

Three kinds of things happen in a training step, and each is seen its own way:

- ops (``Function.apply``): through ``tinygen.function.observers``, the hook every op
  reports to (``on_forward``). Each becomes a ``Forward`` entry; its inputs must be slots
  (inputs, outputs of earlier ops, random draws) or constants (parameters, closed-over
  tensors, numbers), and an array that is neither but was computed from traced values
  (``traced.py``) is refused;
- library calls that change state: ``loss.backward()``, ``opt.zero_grad()``,
  ``module.zero_grad()``, ``opt.step()``, and any call made through ``replayed_call``
  (``tinygen.distributed.all_reduce_gradients``). While tracing, these methods are wrapped (and
  unwrapped after): the wrapper writes a ``Call`` entry and runs the real method, whose
  own ops (a backward's Tensor ops, the gradient sums) are not recorded, since the replay
  runs the same method again;
- random draws: ``tinygen.backend.rng`` hands out a recording generator, so each draw
  becomes a ``Draw`` entry in eager order.

Everything else Python does inside the step runs once, at tracing time, which is why
reading a tensor's value (``.item()``, ``bool(t)``, ...) is refused: its answer could
change on the next call, and the replay would not notice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import tinygen
from tinygen import autograd, backend, function, optim
from tinygen.compile import traced
from tinygen.compile.tape import Alias, Call, Draw, Forward, Tape
from tinygen.compile.traced import (
    CompileError,
    TracedArray,
    memory_key,
    plain,
    shares_traced_memory,
)
from tinygen.nn.module import Module
from tinygen.tensor import Tensor

_real_backward = autograd.backward
_tracers: list[Tracer] = []  # the tracer of the step being traced now (at most one)


def replayed_call(kind: str, fn: Callable, args: tuple, leaves: list[Tensor]) -> Any:
    """Run ``fn(*args)``; while a step is being traced, write it down as a ``Call`` as well.

    For a library call that changes state outside the ops (the gradients' all-reduce of
    data-parallel training): every replay runs it again, live. ``leaves`` are the
    parameters whose gradients it reads, so no pass takes those gradients for dead.
    """
    if not _tracers:
        return fn(*args)
    return _tracers[-1].call(kind, fn, args, list(leaves))


def guard(kind: str, fn: Callable[[Tensor], Any], tensor: Tensor) -> Any:
    """Run ``fn(tensor)``; while tracing, record it as a ``Call`` on the tensor's slot.

    For a check that reads a value the step computed (``check_finite``): a replay runs
    ``fn`` again on that replay's value, at the same point of the step.
    """
    if not _tracers:
        return fn(tensor)
    tracer = _tracers[-1]
    tracer.use(tensor, kind)  # a slot (followed on every replay) or a constant
    return tracer.call(kind, fn, (tensor,), [])


_READS = ("item", "numpy", "tolist", "__bool__", "__array__")


def _stale_array_error(where: str) -> CompileError:
    return CompileError(
        f"tinygen.compile: {where} received an array computed outside tinygen's ops from "
        "values that change between calls (arithmetic or comparisons on t.data, "
        "np.asarray(t), F.one_hot or dropout of a tensor, a parameter's data reassigned), "
        "which a replay could not recompute. Compute it with tinygen ops on Tensors, pass "
        "it to the step as a Tensor argument, or run the step eagerly "
        "(tinygen.compile(fn, enabled=False))."
    )


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


class Tracer:
    """Builds one tape while the step runs eagerly (an observer of ``Function.apply``)."""

    def __init__(self) -> None:
        self.entries: list[Any] = []
        self.slots: dict[int, Tensor] = {}  # id(tensor) -> tensor, for every slot
        self.arrays: dict[int, Tensor] = {}  # id(array) -> the slot that holds it
        self.views: dict[tuple, Tensor] = {}  # memory_key(array) -> the slot (np.asarray(t))
        self.keep: list[Any] = []  # arrays whose ids are in self.arrays stay alive
        self.leaves: dict[int, Tensor] = {}  # floating leaves that ops read (parameters)
        self.depth = 0  # > 0 inside a real call (backward, zero_grad, step): not recorded

    # ----- slots ------------------------------------------------------------------------
    def add_slot(self, tensor: Tensor) -> Tensor:
        """Make a Tensor a slot: its array is traced, and a replay rebinds it."""
        tensor.data = traced.traced(tensor.data)
        self.slots[id(tensor)] = tensor
        self.arrays[id(tensor.data)] = tensor
        self.keep.append(tensor.data)
        key = memory_key(tensor.data)
        if key is not None:
            self.views.setdefault(key, tensor)
        return tensor

    def source(self, array: Any) -> Tensor | None:
        """The slot whose array this is (the same object, or the same view of its memory)."""
        found = self.arrays.get(id(array))
        if found is None and (key := memory_key(array)) is not None:
            found = self.views.get(key)
        return found

    def derived(self, array: Any) -> bool:
        """True when an array that is no slot's comes from traced values (or shares memory)."""
        return shares_traced_memory(array)

    def use(self, tensor: Tensor, where: str) -> None:  # noqa: D417 - a helper
        """Check a Tensor an op reads: a slot, a wrapper of a slot's array, or a constant."""
        if id(tensor) in self.slots:
            return
        source = self.source(tensor.data)
        if source is not None:  # t.detach(), Tensor._wrap(draw): follows the slot
            self.entries.append(Alias(tensor, source))
            self.slots[id(tensor)] = tensor
        elif self.derived(tensor.data):
            raise _stale_array_error(where)
        elif tensor._ctx is None and tensor.dtype.kind == "f":
            self.leaves.setdefault(id(tensor), tensor)

    def param_getter(self, value: Any, where: str) -> Callable[[], Any] | None:
        """For an op parameter that holds a slot's array: the function giving its value."""
        if isinstance(value, tuple):
            getters = [self.param_getter(v, where) for v in value]
            if not any(getters):
                return None
            parts = [g if g is not None else _constant(v) for g, v in zip(getters, value)]
            return lambda: tuple(get() for get in parts)
        if not hasattr(value, "dtype") or isinstance(value, np.generic):
            return None
        source = self.source(value)
        if source is not None:
            return lambda: source.data
        if self.derived(value):
            raise _stale_array_error(where)
        return None

    def result(self, tensor: Tensor) -> Tensor:
        """A Tensor the step returns: checked as an op's input (a slot or a constant)."""
        self.use(tensor, "the step's result")
        return tensor

    # ----- the observer's calls ---------------------------------------------------------
    def on_forward(self, cls: Any, ctx: Any, inputs: Any, params: Any, out: Any, sec: float):
        """Record one op (not those inside a real call: the replay runs that call again)."""
        if self.depth:
            return
        where = f"the op {cls.__name__}"
        for tensor in inputs:
            self.use(tensor, where)
        getters = {k: g for k, v in params.items() if (g := self.param_getter(v, where))}
        self.add_slot(out)
        self.entries.append(Forward(cls, ctx, list(inputs), dict(params), out, getters))

    def on_backward(self, ctx: Any, grad_out: Any, grads_in: Any, seconds: float) -> None:
        """Nothing to do: the backward pass is recorded as one ``Call``."""

    # ----- the wrapped library calls ----------------------------------------------------
    def call(self, kind: str, fn: Callable, args: tuple, leaves: list[Tensor]) -> Any:
        """Run a state-changing library call for real and record it."""
        if self.depth:
            return fn(*args)
        entry = Call(kind, fn, args, list(leaves))
        self.entries.append(entry)
        self.depth += 1
        try:
            return fn(*args)
        finally:
            self.depth -= 1

    def backward(self, output: Tensor, grad: Any = None, create_graph: bool = False) -> None:
        """``autograd.backward`` while tracing: one ``Call`` that runs the real pass."""
        if self.depth:
            return _real_backward(output, grad, create_graph)
        if create_graph:
            raise CompileError(
                "tinygen.compile: backward(create_graph=True) (double backward, a gradient "
                "penalty) is not captured; run that step eagerly (enabled=False)"
            )
        self.use(output, "backward()")
        if isinstance(grad, Tensor):
            self.use(grad, "backward(grad)")
        leaves = list(self.leaves.values())
        flags = [(leaf, leaf._requires_grad) for leaf in leaves]
        before = [id(leaf.grad) for leaf in leaves]
        self.call("backward", _real_backward, (output, grad), [])
        entry = self.entries[-1]
        entry.leaves = [leaf for leaf, old in zip(leaves, before) if id(leaf.grad) != old]
        entry.flags = flags

    def draw(self, device: str, method: str, args: tuple, kwargs: dict) -> Any:
        """One draw from the real generator, recorded as a ``Draw`` slot."""
        array = getattr(_real_rng(device), method)(*args, **kwargs)
        if self.depth:
            return array
        slot = self.add_slot(Tensor._wrap(array))
        self.entries.append(Draw(slot, device, method, args, kwargs))
        return slot.data


_real_rng = backend.rng
_apply = function.Function.__dict__["apply"].__func__  # the classmethod's function
traced.library_code.update({_apply.__code__, Tracer.call.__code__})


class _RecordingGenerator:
    """Stands in for a device's Generator while tracing: each draw goes through the tracer."""

    def __init__(self, tracer: Tracer, device: str) -> None:
        self.tracer, self.device = tracer, device

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def draw(*args: Any, **kwargs: Any) -> Any:
            return self.tracer.draw(self.device, method, args, kwargs)

        return draw


def _read_refusal(tracer: Tracer, name: str, original: Callable) -> Callable:
    """Tensor.<name> that refuses to read a slot or a parameter to Python while tracing."""

    def read(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        live = id(self) in tracer.slots or id(self) in tracer.leaves
        if not tracer.depth and (live or tracer.derived(self.data)):
            spelled = {"__bool__": "bool(t) (an if or while on a tensor)"}.get(name)
            raise traced.refuse_read(spelled or f"t.{name}()")
        return original(self, *args, **kwargs)

    return read


def _copy_refusal(tracer: Tracer, original: Callable) -> Callable:
    """Tensor.__init__ that refuses to copy traced values into a new constant while tracing."""

    def init(self: Tensor, data: Any, *args: Any, **kwargs: Any) -> None:
        array = data.data if isinstance(data, Tensor) else data
        if not tracer.depth and (id(data) in tracer.slots or tracer.derived(array)):
            raise _stale_array_error("tinygen.tensor / Tensor(...)")
        original(self, data, *args, **kwargs)

    return init


def _optimizer_classes() -> list[type]:
    found: list[type] = []
    todo: list[type] = [optim.Optimizer]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _refuse_grad(*args: Any, **kwargs: Any) -> Any:
    raise CompileError(
        "tinygen.compile: tinygen.grad inside a compiled step is not captured; use "
        "loss.backward() and the parameters' .grad, or run the step eagerly (enabled=False)"
    )


def _legacy_numpy_state() -> Any:
    """The key of NumPy's global generator (np.random.rand & co.), to see if a step drew."""
    return np.random.get_state(legacy=True)[1].copy()  # type: ignore[index]


@contextlib.contextmanager
def tracing(tracer: Tracer) -> Iterator[None]:
    """While the block runs, the step's ops, calls and draws are recorded by ``tracer``."""
    if traced._tracing:
        raise CompileError(
            "tinygen.compile: a compiled step was called while another was being traced; "
            "compile the outer step only"
        )
    patches: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, value: Any) -> None:
        patches.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def recorded(kind: str, original: Callable, leaves: Callable) -> Callable:
        return lambda self, *a: tracer.call(kind, original, (self, *a), leaves(self))

    legacy_numpy_state = _legacy_numpy_state()
    entered = False
    try:
        patch(autograd, "backward", tracer.backward)
        patch(autograd, "grad", _refuse_grad)
        patch(tinygen, "grad", _refuse_grad)
        patch(backend, "rng", lambda device="cpu": _RecordingGenerator(tracer, device))
        for cls in _optimizer_classes():
            for kind in ("step", "zero_grad"):
                if kind in cls.__dict__:
                    patch(cls, kind, recorded(kind, cls.__dict__[kind], lambda o: o.params))
        patch(Module, "zero_grad", recorded("zero_grad", Module.zero_grad, Module.parameters))
        patch(Tensor, "__init__", _copy_refusal(tracer, Tensor.__dict__["__init__"]))
        for name in _READS:
            patch(Tensor, name, _read_refusal(tracer, name, Tensor.__dict__[name]))
        function.observers.append(tracer)
        _tracers.append(tracer)
        traced._tracing += 1
        entered = True
        yield
    finally:
        traced._tracing -= entered
        if tracer in _tracers:
            _tracers.remove(tracer)
        traced.traced_memory.clear()
        if tracer in function.observers:
            function.observers.remove(tracer)
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)
    if not np.array_equal(_legacy_numpy_state(), legacy_numpy_state):
        raise CompileError(
            "tinygen.compile: the step drew from NumPy's global generator (np.random.*), "
            "whose numbers a replay would repeat; draw with tinygen.randn / tinygen.rand "
            "(seeded by tinygen.manual_seed) or pass the numbers as a Tensor argument"
        )


def settle_state(modules: list[Module]) -> list[str]:
    """Hand the modules' arrays back as plain ndarrays once a trace ends (or fails).

    Returns:
        The parameters and buffers the step assigned traced values to (BatchNorm's running
        statistics in train mode): state a replay would not update.
    """
    assigned = []
    for module in modules:
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if isinstance(tensor.data, TracedArray):
                assigned.append(f"{type(module).__name__}.{name}")
                tensor.data = plain(tensor.data)
            if tensor.grad is not None:
                tensor.grad.data = plain(tensor.grad.data)
    return assigned


def trace(fn: Callable, args: list[Any], kwargs: dict, modules: list[Module]) -> tuple:
    """Run ``fn`` once, eagerly, and capture it.

    Args:
        fn: the step.
        args: its positional arguments; each Tensor among them becomes an input slot.
        kwargs: its keyword arguments, the same way.
        modules: the modules fn reaches, checked for state assigned outside the ops.

    Returns:
        (what fn returned, with every Tensor a detached copy; the tape).
    """
    tracer = Tracer()
    inputs: list[Tensor] = []

    def as_input(value: Any) -> Any:
        if not isinstance(value, Tensor):
            return value
        slot = tracer.add_slot(Tensor._wrap(value.data))
        slot._requires_grad = value._requires_grad
        inputs.append(slot)
        return slot

    call_args = [as_input(a) for a in args]
    call_kwargs = {k: as_input(v) for k, v in kwargs.items()}
    try:
        with tracing(tracer):
            result = fn(*call_args, **call_kwargs)
            outputs = _map_tensors(result, lambda t: tracer.result(t))
    finally:
        assigned = settle_state(modules)
    if assigned:
        raise CompileError(
            f"tinygen.compile: {', '.join(assigned)} was assigned values computed in the "
            "step outside tinygen's ops (BatchNorm's running statistics in train mode), "
            "which a replay would not update; use model.eval() for that part or run the "
            "step eagerly (enabled=False)"
        )
    tape = Tape(inputs, tracer.entries, outputs)  # the trace's arrays (tracer.keep) go
    return results(tape), tape


def _map_tensors(value: Any, fn: Callable[[Tensor], Any]) -> Any:
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_map_tensors(v, fn) for v in value)
    if isinstance(value, dict):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    return value


def results(tape: Tape) -> Any:
    """What the step returns: its output Tensors' current values, copied and detached."""
    return _map_tensors(tape.outputs, lambda t: Tensor._wrap(plain(t.data).copy()))
