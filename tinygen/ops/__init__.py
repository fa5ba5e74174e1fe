"""Every differentiable primitive op, one class each, forward and backward side by side.

- ``elementwise``: + - * / ** neg exp log tanh sigmoid softplus relu leaky_relu abs clip
  where cast
- ``reduce``: sum, max, matmul
- ``shape``: reshape, transpose, broadcast_to, getitem / index_add, cat, to(device)
- ``conv``: im2col and its transpose col2im, from which ``conv2d`` (with ``linear``'s op) and
  ``max_pool2d`` (a reshape and ``max``) are built
- ``linear``, ``losses``: fused ops a Numba kernel may run (linear + activation; BCE,
  log-softmax, cross-entropy, Gaussian KL, the reparameterized sample); when, and which
  implementation, is ``tinygen/fastpath.py``'s choice

Everything else (mean, var, min, sqrt, stack, softmax, logsumexp, mse ...) is composed from
these.
"""
