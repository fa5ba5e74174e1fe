"""Optimisers: SGD (momentum, weight decay) and Adam (bias correction, weight decay).

They update ``param.data`` in place from ``param.grad``; their state (momentum buffers,
moment estimates) lives on the parameters' device and round-trips through
``state_dict``/``load_state_dict`` as plain arrays, so a resumed run continues exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygen import backend, fastpath
from tinygen.nn.module import Parameter


class Optimizer:
    """Base class: holds the parameter list and clears their gradients."""

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if lr <= 0:
            raise ValueError(f"learning rate must be positive, not {lr}")
        self.lr = lr

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
        """Restore from state_dict(); buffers are checked against the parameters' shapes."""
        for key, value in state["hyper"].items():
            setattr(self, key, value)
        for name, buffers in self._buffers().items():
            saved = state[name]
            if len(saved) != len(buffers):
                raise ValueError(f"{name}: {len(saved)} buffers saved for {len(buffers)} params")
            for index, (target, value) in enumerate(zip(buffers, saved)):
                value = np.asarray(value)
                if value.shape != target.shape:
                    raise ValueError(
                        f"{name}[{index}]: saved shape {value.shape}, "
                        f"parameter shape {target.shape}"
                    )
                target[...] = backend.to_device(
                    value.astype(target.dtype), backend.device_of(target)
                )


def _zeros_like_params(params: list[Parameter]) -> list[Any]:
    return [backend.array_module(p.data).zeros_like(p.data) for p in params]


class SGD(Optimizer):
    """p <- p - lr * b, where b = g or, with momentum, b <- momentum * b + g (PyTorch's form).

    g is grad + weight_decay * p.
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
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
    """

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must lie in [0, 1), not {betas}")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
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
    fast = fastpath.forward_kernels(param, grad) and param.flags.c_contiguous
    return fastpath.kernel_or_reference(name, fast, param)


def _flat(*arrays: Any) -> list[Any]:
    """1-D views for the kernels when every array is contiguous; else the arrays as they are.

    Only the elementwise reference receives non-contiguous arrays, and a reshape would copy
    them and lose the in-place update.
    """
    if all(a.flags.c_contiguous for a in arrays):
        return [a.reshape(-1) for a in arrays]
    return list(arrays)
