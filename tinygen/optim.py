"""Optimisers: SGD (momentum, weight decay) and Adam (bias correction, weight decay).

They update ``param.data`` in place from ``param.grad``; their state (momentum buffers,
moment estimates) lives on the parameters' device and round-trips through
``state_dict``/``load_state_dict`` as plain arrays, so a resumed run continues exactly.
Every hyperparameter is checked by one rule (``HYPER`` of each class), the same for the
constructor's arguments and for a loaded state's ``hyper`` values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygen import backend, fastpath
from tinygen.checks import real_number, whole_number
from tinygen.nn.module import Parameter


def _positive(value: Any, name: str) -> float:
    return real_number(value, name, 0.0, low_open=True)


def _nonnegative(value: Any, name: str) -> float:
    return real_number(value, name, 0.0)


def _fraction(value: Any, name: str) -> float:
    return real_number(value, name, 0.0, 1.0)  # [0, 1)


def _count(value: Any, name: str) -> int:
    return whole_number(value, name, minimum=0)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def _betas(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), not {value!r}")
    return _fraction(value[0], f"{name}[0]"), _fraction(value[1], f"{name}[1]")


class Optimizer:
    """Base class: holds the parameter list and clears their gradients.

    Subclasses list their hyperparameters in ``HYPER`` (name -> check(value, label)); the
    checks run on the constructor's arguments and on every loaded state.
    """

    HYPER: dict[str, Callable[[Any, str], Any]] = {"lr": _positive}

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        self.lr = self._check("lr", lr)

    def _check(self, key: str, value: Any) -> Any:
        """One hyperparameter checked by its rule in HYPER (the message names it)."""
        return self.HYPER[key](value, f"{type(self).__name__}: {key}")

    def zero_grad(self) -> None:
        """Forget the gradients of the last step (they accumulate otherwise)."""
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        """Update every parameter from its gradient (parameters without one are skipped)."""
        raise NotImplementedError

    def to(self, device: str) -> Optimizer:
        """Move the optimiser's state to a device (after ``model.to(device)``), in place."""
        for buffers in self._buffers().values():
            for index, buffer in enumerate(buffers):
                buffers[index] = backend.to_device(buffer, device)
        return self

    def _buffers(self) -> dict[str, list[Any]]:
        return {}

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters, step count and every buffer as NumPy arrays."""
        state: dict[str, Any] = {"hyper": self._hyper()}
        for name, buffers in self._buffers().items():
            state[name] = [backend.to_numpy(b).copy() for b in buffers]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from state_dict(), all or nothing: everything is checked, then assigned.

        Args:
            state: a dict from ``state_dict()`` of the same kind of optimiser over
                parameters of the same shapes.

        Raises:
            ValueError: keys other than this optimiser's, a hyperparameter out of its range,
                or a buffer of the wrong number, shape or kind; nothing has changed then.
            TypeError: a hyperparameter of the wrong type (e.g. a string for lr).
        """
        self.prepare_load(state)()

    def prepare_load(self, state: dict[str, Any]) -> Callable[[], None]:
        """Check a state as ``load_state_dict`` does; return the function that then loads it."""
        owner = type(self).__name__
        buffers = self._buffers()
        expected = sorted(["hyper", *buffers])
        if not isinstance(state, dict) or sorted(state) != expected:
            got: Any = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"{owner}.load_state_dict: expected a state with the keys {expected}, got "
                f"{got} (the state of another kind of optimiser?)"
            )
        hyper = state["hyper"]
        if not isinstance(hyper, dict) or sorted(hyper) != sorted(self.HYPER):
            got = sorted(hyper) if isinstance(hyper, dict) else type(hyper).__name__
            raise ValueError(
                f"{owner}.load_state_dict: 'hyper' must hold exactly {sorted(self.HYPER)}, "
                f"got {got}"
            )
        checked = {key: self._check(key, value) for key, value in hyper.items()}
        arrays = {
            name: _checked_buffers(owner, name, buffers[name], state[name]) for name in buffers
        }

        def load() -> None:
            for key, value in checked.items():
                setattr(self, key, value)
            for name, targets in buffers.items():
                for target, value in zip(targets, arrays[name]):
                    target[...] = value

        return load


def _checked_buffers(owner: str, name: str, targets: list[Any], saved: Any) -> list[Any]:
    """The saved buffers of one kind, checked against the parameters' and made ready to copy."""
    if not isinstance(saved, (list, tuple)) or len(saved) != len(targets):
        count = len(saved) if isinstance(saved, (list, tuple)) else type(saved).__name__
        raise ValueError(
            f"{owner}.load_state_dict: {name}: {count} buffers saved for {len(targets)} params"
        )
    ready = []
    for index, (target, value) in enumerate(zip(targets, saved)):
        value = np.asarray(value)
        if value.dtype.kind not in "biuf" or value.shape != target.shape:
            raise ValueError(
                f"{owner}.load_state_dict: {name}[{index}]: saved {value.dtype} array of "
                f"shape {value.shape}, parameter {target.dtype} of shape {target.shape}"
            )
        ready.append(backend.to_device(value.astype(target.dtype), backend.device_of(target)))
    return ready


def _zeros_like_params(params: list[Parameter]) -> list[Any]:
    return [backend.array_module(p.data).zeros_like(p.data) for p in params]


class SGD(Optimizer):
    """p <- p - lr * b, where b = g or, with momentum, b <- momentum * b + g (PyTorch's form).

    g is grad + weight_decay * p.

    Args:
        params: the parameters to update.
        lr: the learning rate, > 0.
        momentum: in [0, 1) (0: plain SGD).
        weight_decay: >= 0.

    Raises:
        ValueError, TypeError: a setting out of its range or of the wrong type.
    """

    HYPER = {
        "lr": _positive,
        "momentum": _fraction,
        "weight_decay": _nonnegative,
        "started": _flag,
    }

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = self._check("momentum", momentum)
        self.weight_decay = self._check("weight_decay", weight_decay)
        self.velocity = _zeros_like_params(self.params)
        self.started = False

    def step(self) -> None:
        """One SGD update of every parameter that has a gradient."""
        for param, velocity in zip(self.params, self.velocity):
            if param.grad is not None:
                update = _update_kernel("sgd_step", param.data, param.grad.data)
                update(
                    *_flat(param.data, param.grad.data, velocity),
                    self.lr,
                    self.momentum,
                    self.weight_decay,
                    not self.started,
                )
        self.started = True

    def _buffers(self) -> dict[str, list[Any]]:
        return {"velocity": self.velocity}

    def _hyper(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "started": self.started,
        }


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015, Algorithm 1), in PyTorch's exact arithmetic order.

    With g = grad + weight_decay * p and t the step count:
        m <- beta1 m + (1 - beta1) g          (first moment)
        v <- beta2 v + (1 - beta2) g^2        (second moment)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Args:
        params: the parameters to update.
        lr: the learning rate, > 0.
        betas: (beta1, beta2), each in [0, 1).
        eps: >= 0.
        weight_decay: >= 0.

    Raises:
        ValueError, TypeError: a setting out of its range or of the wrong type.
    """

    HYPER = {
        "lr": _positive,
        "betas": _betas,
        "eps": _nonnegative,
        "weight_decay": _nonnegative,
        "steps": _count,
    }

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.betas = self._check("betas", betas)
        self.eps = self._check("eps", eps)
        self.weight_decay = self._check("weight_decay", weight_decay)
        self.steps = 0
        self.m = _zeros_like_params(self.params)
        self.v = _zeros_like_params(self.params)

    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        self.steps += 1
        beta1, beta2 = self.betas
        for param, m, v in zip(self.params, self.m, self.v):
            if param.grad is not None:
                update = _update_kernel("adam_step", param.data, param.grad.data)
                update(
                    *_flat(param.data, param.grad.data, m, v),
                    self.lr,
                    beta1,
                    beta2,
                    self.eps,
                    self.weight_decay,
                    self.steps,
                )

    def _buffers(self) -> dict[str, list[Any]]:
        return {"m": self.m, "v": self.v}

    def _hyper(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": list(self.betas),
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "steps": self.steps,
        }


def _update_kernel(name: str, param: Any, grad: Any) -> Any:
    """The update of kernels/reference_optim.py, or its one-pass Numba twin.

    The twin runs when the fast path applies (float32, contiguous): one definition of each
    optimiser's arithmetic.
    """
    # both contiguous: a parameter used through a view (w.T, a conv's kernel reordering)
    # gets a strided gradient, which the 1-D kernels cannot take
    fast = fastpath.forward_kernels(param, grad) and param.flags.c_contiguous
    fast = fast and grad.flags.c_contiguous
    return fastpath.kernel_or_reference(name, fast, param)


def _flat(*arrays: Any) -> list[Any]:
    """1-D views for the kernels when every array is contiguous; else the arrays as they are.

    Only the elementwise reference receives non-contiguous arrays, and a reshape would copy
    them and lose the in-place update.
    """
    if all(a.flags.c_contiguous for a in arrays):
        return [a.reshape(-1) for a in arrays]
    return list(arrays)
