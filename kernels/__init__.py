"""Fused kernels, installed as ``tinygen.kernels`` (the folder sits at the repository top).

Three implementations of every kernel, with the same names and signatures:

- ``reference.py``: plain NumPy, the specification (docstrings with loop nests and shapes),
  with ``reference_losses.py`` and ``reference_optim.py``;
- ``cpu.py``: Numba ``@njit`` kernels, with ``cpu_losses.py``, ``cpu_optim.py`` and the
  vectorizable float32 math of ``cpu_math.py``;
- ``cuda.py``: ``numba.cuda`` kernels with host wrappers, for CuPy or Numba device arrays.

Use them through ``tinygen.fused.kernel(name, device)``, which picks the implementation;
importing this package imports neither Numba nor CuPy.
"""

KERNELS = (
    "bias_leaky_relu",
    "bias_leaky_relu_backward",
    "bias_tanh",
    "bias_tanh_backward",
    "bias_sigmoid",
    "bias_sigmoid_backward",
    "reparameterize",
    "reparameterize_backward",
    "bce_with_logits",
    "bce_with_logits_rows",
    "gaussian_kl",
    "log_softmax_cross_entropy",
    "adam_step",
    "sgd_step",
)
