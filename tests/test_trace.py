"""tinygen.trace: the forward ops in call order, then the backward pass in reverse."""

import numpy as np

import tinygen as tg
from tinygen import fastpath, nn


def test_the_order_of_a_small_expression_by_hand():
    # y = sum(tanh(x * w) + b): forward Mul, Tanh, Add, Sum; the backward pass visits the
    # same nodes from the output back: Sum, Add, Tanh, Mul.
    x = tg.randn(4, 3, requires_grad=True)
    w = tg.randn(3, requires_grad=True)
    b = tg.randn(4, 3, requires_grad=True)
    with tg.trace() as t:
        y = ((x * w).tanh() + b).sum()
        y.backward()
    assert [row.phase for row in t.rows] == ["forward"] * 4 + ["backward"] * 4
    assert t.ops("forward") == ["Mul", "Tanh", "Add", "Sum"]
    assert t.ops("backward") == ["Sum", "Add", "Tanh", "Mul"]
    mul_forward, mul_backward = t.rows[0], t.rows[-1]
    assert mul_forward.inputs == ((4, 3), (3,)) and mul_forward.outputs == ((4, 3),)
    assert mul_backward.outputs == ((4, 3), (3,))  # dL/dw summed back to w's shape
    sum_backward = t.rows[4]
    assert sum_backward.grad_norm == 1.0  # the seed dL/dL = 1
    assert np.isclose(t.rows[5].grad_norm, np.sqrt(12))  # dL/d(Add output): ones (4, 3)
    assert all(row.dtype == "float32" and row.seconds >= 0 for row in t.rows)


def test_a_diamond_backward_is_reverse_topological():
    # a = exp(x); y = a * a + log(a): a is used twice, its backward runs once, last
    x = tg.rand(3, requires_grad=True)
    with tg.trace() as t:
        a = x.exp()
        y = (a * a + a.log()).sum()
        y.backward()
    assert t.ops("forward") == ["Exp", "Mul", "Log", "Add", "Sum"]
    backward = t.ops("backward")
    assert backward[:2] == ["Sum", "Add"] and backward[-1] == "Exp"
    assert sorted(backward[2:4]) == ["Log", "Mul"]


def test_kernel_or_plain_path_and_the_table():
    model = nn.Linear(4, 3, activation="tanh")
    with tg.trace() as fast:
        model(tg.randn(2, 4)).sum().backward()
    with fastpath.fast_path(False), tg.trace() as plain:
        model(tg.randn(2, 4)).sum().backward()
    kernel = fastpath.implementation("cpu")
    assert fast.rows[0].op == "Linear(tanh)"
    assert fast.rows[0].path == f"kernel:bias_tanh@{kernel}"
    assert fast.rows[-1].path == f"kernel:bias_tanh_backward@{kernel}"
    assert plain.rows[0].path == "plain" and plain.rows[-1].path == "plain"
    table = str(fast).splitlines()
    assert table[0].split() == ["#", "phase", "op", "in", "out", "dtype", "path", "ms", "|grad|"]
    assert len(table) == 1 + len(fast.rows) and "Linear(tanh)" in table[1]
    assert fastpath._kernel_log is None and not tg.function.observers  # all undone


def test_inner_ops_of_a_backward_and_optimizer_kernels():
    x = tg.randn(3, requires_grad=True)
    with tg.trace(inner=True) as t:
        tg.grad((x * x).sum(), x, create_graph=True)
    phases = [row.phase for row in t.rows]
    assert phases[:2] == ["forward", "forward"] and "inner" in phases
    assert phases.index("inner") < phases.index("backward")  # a backward's ops come first
    with tg.trace() as quiet:
        tg.grad((x * x).sum(), x, create_graph=True)
    assert "inner" not in [row.phase for row in quiet.rows]
    model = nn.Linear(3, 2)
    optimizer = tg.optim.Adam(model.parameters())
    with tg.trace() as step:
        model(tg.randn(2, 3)).sum().backward()
        optimizer.step()
    if fastpath.implementation("cpu") != "reference":
        assert [row.op for row in step.rows if row.phase == "kernel"] == ["adam_step"] * 2
