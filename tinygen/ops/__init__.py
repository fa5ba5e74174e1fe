"""Every differentiable primitive op, one class each, forward and backward side by side.

- ``elementwise``: + - * / ** neg exp log tanh sigmoid softplus relu leaky_relu abs where cast
- ``reduce``: sum, max, matmul
- ``shape``: reshape, transpose, broadcast_to, getitem / index_add, cat, to(device)
- ``fused``: ops whose body a Numba kernel may replace (linear + activation, the losses)

Everything else (mean, var, min, stack, log_softmax, the losses ...) is composed from these.
"""
