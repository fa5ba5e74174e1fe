"""numba.cuda kernels: under Numba's CUDA simulator, compiled for a real GPU, and on one.

The simulator runs in a *subprocess*: Numba reads NUMBA_ENABLE_CUDASIM once, when it is
first imported, and numba.cuda binds to the driver or to the simulator for the life of the
process. In one pytest process other tests have long imported Numba by then (a fixture
setting the variable would depend on test order), and a simulated numba.cuda would leak
into every later test. One subprocess runs every case of ``test_kernels.CASES`` and reports
per case, so this costs a few seconds whatever the order or parallelism of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_kernels import CASES, compare

from tinygen import backend, fastpath
from tinygen.kernels import reference

SIMULATOR_SHAPES = [(1, 1), (3, 37)]  # 37 > the simulator's 32 threads: strided loops run


def _simulator_main() -> None:
    """Entry point of the simulator subprocess: print {case id: failure or ''} as JSON."""
    from tinygen.kernels import cuda

    report = {"dispatcher": "" if fastpath.implementation("cuda") == "cuda" else "not cuda"}
    for case_id in CASES:
        report[case_id] = " ".join(
            filter(None, (compare(cuda, case_id, shape) for shape in SIMULATOR_SHAPES))
        )
    report["adam_step[grid-stride]"] = compare(cuda, "adam_step[0.9]", (3, 101))  # > 8 blocks x 32
    print(json.dumps(report))


@pytest.fixture(scope="module")
def simulator_report():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    here = str(Path(__file__).parent)
    code = f"import sys; sys.path.insert(0, {here!r}); import test_kernels_cuda as cuda_tests\n"
    code += "cuda_tests._simulator_main()"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case_id", ["dispatcher", *CASES, "adam_step[grid-stride]"])
def test_cuda_kernel_under_simulator(simulator_report, case_id):
    assert simulator_report[case_id] == ""


def test_cuda_kernels_compile_for_a_real_gpu():
    """The numba.cuda kernels compile to PTX (no GPU needed); no float64 in elementwise ones."""
    from numba import config, cuda
    from numba import types as nbt
    from numba.cuda.cudadrv import nvvm

    if config.ENABLE_CUDASIM or not nvvm.is_available():
        pytest.skip("needs Numba's NVVM compiler (the CUDA toolkit), not the simulator")
    from tinygen.kernels import cuda as kernels

    f, matrix, vector = nbt.float32, nbt.float32[:, ::1], nbt.float32[::1]
    rows64, labels = nbt.float64[::1], nbt.int64[::1]
    signatures = {  # kernel -> (argument types, may use float64)
        "_bias_activation": ((matrix, vector, nbt.int64, f, matrix), False),
        "_bias_activation_backward": ((matrix, matrix, nbt.int64, f, matrix, vector), True),
        "_reparameterize": ((matrix, matrix, matrix, f, matrix, matrix), False),
        "_reparameterize_backward": ((matrix, matrix, matrix, f, matrix, matrix), False),
        "_bce_rows": ((matrix, matrix, matrix, rows64), True),
        "_gaussian_kl": ((matrix, matrix, rows64, matrix, matrix), True),
        "_log_softmax_cross_entropy": ((nbt.float32[:, :], labels, matrix, rows64), True),
        "_adam": ((vector,) * 4 + (nbt.UniTuple(f, 8), nbt.UniTuple(nbt.boolean, 2)), False),
        "_sgd": ((vector,) * 3 + (f,) * 3 + (nbt.UniTuple(nbt.boolean, 3),), False),
    }
    for name, (argument_types, float64_allowed) in signatures.items():
        ptx, _ = cuda.compile_ptx(getattr(kernels, name).py_func, argument_types, cc=(7, 5))
        assert float64_allowed or ".f64" not in ptx, f"{name} computes in float64"


@pytest.mark.gpu
def test_kernels_on_a_real_gpu():
    if not backend.cuda_available():
        pytest.skip("no CUDA GPU with CuPy on this machine (pip install 'tinygen[gpu]')")
    rng = np.random.default_rng(0)
    x, bias = rng.standard_normal((128, 784), dtype=np.float32), np.ones(784, np.float32)
    logits, target = x * 4, rng.random((128, 784)).astype(np.float32)
    out, grad = np.empty_like(x), np.empty_like(x)
    reference.bias_leaky_relu(x, bias, 0.2, out)
    loss = reference.bce_with_logits(logits, target, grad)
    on_gpu = [backend.to_device(a, "cuda") for a in (x, bias, logits, target)]
    out_gpu, grad_gpu = (
        backend.to_device(np.empty_like(x), "cuda"),
        backend.to_device(np.empty_like(x), "cuda"),
    )
    fastpath.kernel("bias_leaky_relu", "cuda")(on_gpu[0], on_gpu[1], 0.2, out_gpu)
    loss_gpu = fastpath.kernel("bce_with_logits", "cuda")(on_gpu[2], on_gpu[3], grad_gpu)
    np.testing.assert_allclose(backend.to_numpy(out_gpu), out, rtol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(grad_gpu), grad, rtol=1e-5, atol=1e-7)
    assert loss_gpu == pytest.approx(loss, rel=1e-6)
