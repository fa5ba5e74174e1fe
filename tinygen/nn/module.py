"""Module and Parameter: how layers hold their weights and find each other's.

A Module registers, by plain attribute assignment, every Parameter and sub-Module it is
given (in order), so ``parameters()``, ``state_dict()``, ``train()``/``eval()`` and
``to(device)`` walk the whole tree without any registration calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from tinygen import backend
from tinygen.tensor import Tensor, float32, float64

M = TypeVar("M", bound="Module")  # the methods that return self keep the subclass's type


class Parameter(Tensor):
    """A Tensor that a Module owns and an optimiser updates (requires_grad by default)."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data)
        self.requires_grad_(requires_grad)


class Module:
    """Base class of every layer and model.

    Subclasses assign Parameters, Modules and buffers (``register_buffer``) as attributes in
    ``__init__`` and define ``forward``; calling the module calls ``forward``.
    """

    _parameters: dict[str, Parameter]  # by attribute name, in assignment order
    _modules: dict[str, Module]
    _buffers: dict[str, Tensor]
    training: bool  # train() / eval()

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"call super().__init__() in {type(self).__name__}.__init__ first")
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: Tensor) -> None:
        """Keep a non-trainable tensor (e.g. running statistics) in the state dict."""
        setattr(self, name, value)
        self._buffers[name] = value

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The layer's computation; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """module(x) is module.forward(x)."""
        return self.forward(*args, **kwargs)

    # ----- walking the tree -------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """Yield (dotted name, module) for this module and every descendant."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """Yield this module and every descendant."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Yield (dotted name, parameter), each parameter once."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{prefix}.{name}" if prefix else name), param

    def parameters(self) -> list[Parameter]:
        """Every parameter of the tree, each once, in registration order."""
        return [param for _, param in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """Yield (dotted name, buffer) for every buffer of the tree."""
        for prefix, module in self.named_modules():
            for name, buffer in module._buffers.items():
                yield (f"{prefix}.{name}" if prefix else name), buffer

    # ----- modes, gradients, devices ----------------------------------------------------
    def train(self: M, mode: bool = True) -> M:
        """Switch training behaviour (Dropout, BatchNorm) on or off for the whole tree."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self: M) -> M:
        """Switch to evaluation behaviour: ``train(False)``."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (set it to None)."""
        for param in self.parameters():
            param.grad = None

    def requires_grad_(self: M, requires_grad: bool = True) -> M:
        """Freeze (False) or unfreeze every parameter, e.g. D while G trains."""
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def to(self: M, device: str) -> M:
        """Move every parameter and buffer to a device, in place."""
        for _, tensor in list(self.named_parameters()) + list(self.named_buffers()):
            tensor.data = backend.to_device(tensor.data, device)
            if tensor.grad is not None:
                tensor.grad = tensor.grad.to(device)
        return self

    def float(self) -> Module:
        """Cast every floating parameter and buffer to float32, in place (returns self)."""
        return self._cast(float32)

    def double(self) -> Module:
        """Cast every floating parameter and buffer to float64, in place (returns self).

        E.g. to feed the model float64 data: tinygen never casts inputs for you.
        """
        return self._cast(float64)

    def _cast(self, dtype: Any) -> Module:
        for _, tensor in list(self.named_parameters()) + list(self.named_buffers()):
            if tensor.dtype.kind == "f":
                tensor.data = tensor.data.astype(dtype, copy=False)
                if tensor.grad is not None:
                    tensor.grad = tensor.grad.astype(dtype)
        return self

    def num_parameters(self) -> int:
        """The number of scalar parameters."""
        return sum(param.size for param in self.parameters())

    # ----- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter and buffer by dotted name, as NumPy copies (device-independent)."""
        state = {name: param.numpy().copy() for name, param in self.named_parameters()}
        state.update({name: buf.numpy().copy() for name, buf in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values in by name, all or nothing: every value is checked before any is set.

        Args:
            state: name -> array (or Tensor), as from ``state_dict()``.
            strict: missing or unexpected keys are errors (otherwise they are skipped).

        Raises:
            KeyError: with strict, keys missing from the state or not in the model.
            ValueError: a value of the wrong shape, or not numbers; the message names the
                key and both shapes. The module is unchanged when anything is raised.
        """
        self.prepare_load(state, strict)()

    def prepare_load(self, state: dict[str, Any], strict: bool = True) -> Callable[[], None]:
        """Check a state as ``load_state_dict`` does; return the function that then loads it.

        A caller loading several objects (a trainer: model, optimisers) checks them all
        first, then calls the returned functions, which cannot fail.
        """
        own = dict(self.named_parameters()) | dict(self.named_buffers())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict for {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        ready = {}
        for name, value in state.items():
            if name not in own:
                continue
            value = np.asarray(value.numpy() if isinstance(value, Tensor) else value)
            target = own[name]
            if value.shape != target.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {value.shape} in the state but "
                    f"{target.shape} in the model; nothing was loaded"
                )
            if value.dtype.kind not in "biuf":
                raise ValueError(
                    f"load_state_dict: {name!r} holds {value.dtype} values, not numbers; "
                    "nothing was loaded"
                )
            ready[name] = backend.to_device(value.astype(target.dtype), target.device).copy()

        def load() -> None:
            for name, data in ready.items():
                own[name].data = data

        return load

    def __repr__(self) -> str:
        children = "".join(
            "\n  " + f"({name}): {child!r}".replace("\n", "\n  ")
            for name, child in self._modules.items()
        )
        return f"{type(self).__name__}({self.extra_repr()}{children}{chr(10) if children else ''})"

    def extra_repr(self) -> str:
        """The settings shown in repr() (empty here; layers override it)."""
        return ""
