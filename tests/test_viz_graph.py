"""tinygen.viz.graph: the DOT text (ops, shapes, broadcast marks, clusters), rendering, errors."""

import re
import shutil

import pytest

import tinygen as tg
from tinygen import nn, viz
from tinygen.viz import dot as dot_module


def labels(dot: str) -> list[str]:
    return re.findall(r'label="([^"]*)"', dot)


def test_ops_shapes_dtypes_and_leaf_names():
    x = tg.randn(5, 3, requires_grad=True)
    b = tg.randn(3, requires_grad=True)
    loss = ((x * b).tanh()).sum()
    dot = viz.graph(loss, params={"x": x, "b": b})
    found = labels(dot)
    assert "Mul\\n(5, 3) float32" in found
    assert "Tanh\\n(5, 3) float32" in found
    assert "Sum\\n() float32" in found
    assert "x\\n(5, 3) float32" in found and "b\\n(3,) float32" in found
    assert dot.startswith("digraph") and dot.count("->") == 4  # x, b -> Mul -> Tanh -> Sum


def test_a_broadcast_edge_carries_both_shapes_and_only_that_edge():
    x = tg.randn(5, 3, requires_grad=True)
    b = tg.randn(3, requires_grad=True)
    dot = viz.graph((x + b).sum(), params={"x": x, "b": b})
    marked = [line for line in dot.splitlines() if "⇐" in line]
    assert len(marked) == 1
    assert 'label="(3,) ⇐ (5, 3)"' in marked[0]
    ids = dict(re.findall(r'(n\d+) \[label="(\w+)\\n', dot))
    b_id = next(node for node, name in ids.items() if name == "b")
    assert marked[0].strip().startswith(f"{b_id} ->")


def test_gradient_norms_after_backward_and_for_every_node():
    x = tg.tensor([[3.0, 4.0]], requires_grad=True)
    loss = (x * 1.0).sum()
    assert "|grad|" not in viz.graph(loss, params={"x": x})
    loss.backward()  # dL/dx = (1, 1): norm sqrt(2)
    assert "x\\n(1, 2) float32\\n|grad| 1.41" in viz.graph(loss, params={"x": x})
    every = viz.graph(loss, params={"x": x}, grad_norms=True)
    assert "Sum\\n() float32\\n|grad| 1" in every
    with pytest.raises(ValueError, match="one scalar output"):
        viz.graph(x * 2.0, grad_norms=True)


def mlp_step():
    model = nn.Sequential(nn.Linear(4, 3, activation="relu"), nn.Linear(3, 2))
    loss = model(tg.randn(6, 4)).sum()
    loss.backward()
    return model, loss


def test_one_cluster_per_linear_with_parameters_folded_or_expanded():
    model, loss = mlp_step()
    folded = viz.graph(loss, module=model)
    assert folded.count("subgraph cluster_") == 2
    assert 'label="0 (Linear)"' in folded and 'label="1 (Linear)"' in folded
    assert "weight (3, 4) |grad|" in folded and "bias (3,) ⇐ (6, 3) |grad|" in folded
    assert "0.weight" not in folded  # listed inside the op, not drawn apart
    expanded = viz.graph(loss, module=model, expand=True)
    assert expanded.count("subgraph cluster_") == 2
    cluster_0 = expanded.split("subgraph cluster_0")[1].split("}")[0]
    assert "0.weight" in cluster_0 and "0.bias" in cluster_0 and "Linear (relu)" in cluster_0
    assert 'label="(3,) ⇐ (6, 3)"' in expanded  # the bias edge, summed over the batch


def test_a_second_order_graph():
    x = tg.randn(4, requires_grad=True)
    (grad_x,) = tg.grad((x**3).sum(), x, create_graph=True)  # 3 x^2, built from ops
    dot = viz.graph(grad_x.sum(), params={"x": x})
    found = labels(dot)
    assert "x\\n(4,) float32" in found
    assert any(label.startswith("Mul") for label in found)
    assert any(label.startswith("Pow") for label in found)  # x ** 2 inside d(x^3)/dx


def test_writes_dot_and_renders_svg(tmp_path):
    x = tg.randn(2, requires_grad=True)
    text = viz.graph((x * x).sum(), tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == text
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    viz.graph((x * x).sum(), tmp_path / "sub" / "g.svg")
    assert "<svg" in (tmp_path / "sub" / "g.svg").read_text()


def test_without_dot_svg_says_how_to_get_it_and_dot_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: None)
    x = tg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.graph((x * x).sum(), tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()
    assert viz.graph((x * x).sum(), tmp_path / "g.dot").startswith("digraph")
    with pytest.raises(ValueError, match="use .dot, .svg or .png"):
        viz.graph((x * x).sum(), tmp_path / "g.pdf")
