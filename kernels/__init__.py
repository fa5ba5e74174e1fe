"""Fused kernels, installed as ``tinygen.kernels`` (the folder sits at the repository top).

Three implementations of every kernel in ``KERNELS`` (the one list of their names), with
the same names and signatures:

- ``reference.py``: plain NumPy, the specification (docstrings with loop nests and shapes),
  with ``reference_losses.py`` and ``reference_optim.py``; the ops' plain path calls it;
- ``cpu.py``: Numba ``@njit`` kernels, with ``cpu_losses.py``, ``cpu_optim.py`` and the
  vectorizable float32 math of ``cpu_math.py``;
- ``cuda.py``: ``numba.cuda`` kernels with host wrappers, for CuPy or Numba device arrays;

plus ``scalar.py`` (element math the CPU and CUDA kernels share) and ``warmup.py``. Nothing
here imports ``tinygen`` (a test checks); ``tinygen/fastpath.py``, the layer above, picks
the implementation. Importing this package imports neither Numba nor CuPy. In a checkout,
``tinygen/kernels`` is a symbolic link to this folder, for static tools (mypy, an IDE);
installs map the name here through ``pyproject.toml``'s ``package-dir``.
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
    "dropout",
    "bce_with_logits",
    "bce_with_logits_rows",
    "gaussian_kl",
    "log_softmax_cross_entropy",
    "adam_step",
    "sgd_step",
    "moving_average",
)
