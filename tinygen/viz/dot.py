"""The computation graph behind a Tensor, as Graphviz DOT text (and .svg/.png through ``dot``).

What lives here: ``graph``, which walks the graph from an output back to its leaves (the
``_ctx.inputs`` links that ``Function.apply`` records) and writes one DOT node per Tensor:
an op node shows the op, its output shape and dtype; a leaf shows its name when parameter
names are given; an edge where the backward pass sums a broadcast gradient back
(``unbroadcast``, or the bias of a fused ``Linear``) carries both shapes, ``(3,) ⇐ (5, 3)``.
Parameters are grouped in one cluster per module that owns them (one per ``Linear``).
What does not: the backward pass itself (``tinygen/autograd.py``) and the record of ops as
they run (``tinygen/tracing.py``).

The DOT text is written by hand (the format is small); only rendering to .svg or .png needs
Graphviz's ``dot`` program, run as a subprocess.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygen import backend
from tinygen.tensor import Tensor

# Ops whose backward sums the gradient back over broadcast axes (``unbroadcast``): an input
# of another shape than the output was broadcast. MatMul broadcasts only its batch axes.
_ELEMENTWISE_BROADCAST = {"Add", "Sub", "Mul", "Div", "Pow", "Where", "BroadcastTo"}
_NO_DOT = (
    "writing {suffix} needs Graphviz's `dot` program, which is not on PATH: install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: conda "
    "install graphviz), or write the DOT text instead (a path ending in .dot, or path=None)"
)


def graph(
    output: Tensor | Sequence[Tensor],
    path: str | os.PathLike | None = None,
    *,
    params: Any = None,
    module: Any = None,
    grad_norms: bool | None = None,
    expand: bool = False,
    constants: bool = True,
    rankdir: str = "TB",
) -> str:
    """The graph that produced ``output``, as Graphviz DOT source.

    Args:
        output: a Tensor (or several) to draw the graph of, back to its leaves.
        path: also write it there: ``.dot`` (the text), ``.svg`` or ``.png`` (rendered by
            Graphviz's ``dot``); None writes nothing.
        params: names for leaves, as ``model.named_parameters()`` or a dict name -> Tensor.
        module: a Module: its ``named_parameters()`` name the leaves (instead of ``params``).
        grad_norms: True: compute dL/d(node) for every node with ``tinygen.grad`` (output
            must be a scalar) and show its norm; None (default): show ``leaf.grad``'s norm
            where a ``backward()`` has set it; False: no gradients.
        expand: draw every parameter as its own node inside its module's cluster; by
            default a module's parameters are listed inside the op node that uses them,
            which keeps a whole VAE or AC-GAN step readable.
        constants: draw inputs that need no gradient (data, noise) as grey boxes.
        rankdir: Graphviz's layout direction, "TB" (top to bottom) or "LR".

    Returns:
        The DOT source (a str).

    Raises:
        ValueError: a path with another suffix, or ``grad_norms=True`` on a non-scalar.
        RuntimeError: .svg/.png asked for but ``dot`` is not installed (the message says how
            to get it); the DOT text itself never needs it.
    """
    outputs = [output] if isinstance(output, Tensor) else list(output)
    suffix = Path(path).suffix.lower() if path is not None else ""
    if path is not None and suffix not in (".dot", ".gv", ".svg", ".png"):
        raise ValueError(
            f"graph: cannot write {suffix or 'a file without suffix'}: use .dot, .svg or .png"
        )
    if suffix in (".svg", ".png") and shutil.which("dot") is None:
        raise RuntimeError(_NO_DOT.format(suffix=suffix))
    names = _names(module.named_parameters() if module is not None else params)
    kinds = {path: type(m).__name__ for path, m in module.named_modules()} if module else {}
    nodes = _walk(outputs)
    grads = _all_grads(outputs, nodes) if grad_norms else {}
    dot = _Dot(nodes, names, grads, grad_norms is not False, expand, constants)
    text = dot.source(outputs, rankdir, kinds)
    if path is not None:
        _write(text, Path(path), suffix)
    return text


def _names(params: Any) -> dict[int, str]:
    """id(tensor) -> its dotted name, from named_parameters() pairs or a dict."""
    if params is None:
        return {}
    pairs: Iterable = params.items() if isinstance(params, dict) else params
    return {id(tensor): str(name) for name, tensor in pairs}


def _walk(outputs: list[Tensor]) -> list[Tensor]:
    """Every Tensor the outputs were computed from (leaves and constants too), inputs first."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(t, False) for t in reversed(outputs)]
    while stack:  # iterative depth-first search, as autograd.toposort
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            if node._ctx is not None:
                stack.extend((t, False) for t in reversed(node._ctx.inputs))
    return order


def _all_grads(outputs: list[Tensor], nodes: list[Tensor]) -> dict[int, Any]:
    """id(node) -> dL/d(node) for every node that requires grad (one extra backward pass)."""
    if len(outputs) != 1 or outputs[0].size != 1:
        raise ValueError("graph(grad_norms=True) needs one scalar output (a loss)")
    from tinygen.autograd import grad

    wanted = [t for t in nodes if t.requires_grad]
    found = grad(outputs[0], wanted, allow_unused=True)
    return {id(t): g.data for t, g in zip(wanted, found)}


def _norm(array: Any) -> float:
    return float(np.linalg.norm(backend.to_numpy(array).astype(np.float64).ravel()))


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def broadcast_edge(op: Any, index: int) -> bool:
    """True when input ``index`` of op node ``op`` (a Function) was broadcast to its output.

    Those are the edges where the backward pass sums the gradient back to the input's
    shape: ``unbroadcast`` in the elementwise ops and MatMul's batch axes, and the bias of a
    fused Linear (dL/db = Σ over the batch of dL/dy).
    """
    name, inputs, out = type(op).__name__, op.inputs, op.output
    shape = inputs[index].shape
    if name in _ELEMENTWISE_BROADCAST:
        return shape != out.shape
    if name == "MatMul":
        return len(shape) >= 2 and out.ndim >= 2 and shape[:-2] != out.shape[:-2]
    return name == "Linear" and index == 2 and shape != out.shape


class _Dot:
    """Builds the DOT text for a walked graph (one instance per ``graph`` call)."""

    def __init__(
        self,
        nodes: list[Tensor],
        names: dict[int, str],
        grads: dict[int, Any],
        show_grads: bool,
        expand: bool,
        constants: bool,
    ) -> None:
        self.nodes, self.names, self.grads = nodes, names, grads
        self.show_grads, self.expand, self.constants = show_grads, expand, constants
        self.ids = {id(t): f"n{index}" for index, t in enumerate(nodes)}  # short DOT names
        owner = {i: name.rsplit(".", 1)[0] for i, name in names.items() if "." in name}
        self.cluster: dict[int, str] = {}  # id(tensor) -> the module path it is drawn in
        for t in nodes:  # a parameter, and the op that uses it, are drawn in its module
            if id(t) in owner:
                self.cluster[id(t)] = owner[id(t)]
            elif t._ctx is not None:
                owners = [owner[id(p)] for p in t._ctx.inputs if id(p) in owner]
                if owners:
                    self.cluster[id(t)] = owners[0]
        # folded: parameters listed inside the op that uses them instead of drawn apart, and
        # Python numbers (0-d constants) written into their op's label
        self.folded = set() if expand else {i for i in owner if i in self.ids}
        self.folded |= {
            id(t) for t in nodes if t._ctx is None and not t.requires_grad and t.ndim == 0
        }

    def grad_text(self, t: Tensor) -> str:
        grad = self.grads.get(id(t), t.grad.data if t.grad is not None else None)
        return f"\n|grad| {_norm(grad):.3g}" if self.show_grads and grad is not None else ""

    def label(self, t: Tensor) -> str:
        what = f"{_shape(t.shape)} {t.dtype}"
        if t._ctx is None:
            name = self.names.get(id(t), "leaf" if t.requires_grad else "constant")
            return f"{name}\n{what}{self.grad_text(t)}"
        op = type(t._ctx).__name__
        activation = getattr(t._ctx, "activation", None)
        head = f"{op} ({activation})" if isinstance(activation, str) else op
        lines = [head, what]
        for index, p in enumerate(t._ctx.inputs):
            if id(p) in self.folded and id(p) not in self.names:  # a Python number
                lines[0] += f" {backend.to_numpy(p.data).item():.4g}"
            elif id(p) in self.folded:
                short = self.names[id(p)].rsplit(".", 1)[-1]
                shape = _shape(p.shape)
                if p.requires_grad and broadcast_edge(t._ctx, index):
                    shape += f" ⇐ {_shape(t.shape)}"  # the bias: its gradient sums the batch
                grad = self.grad_text(p).replace("\n", " ")
                lines.append(f"{short} {shape}{grad}")
        return "\n".join(lines) + self.grad_text(t)

    def style(self, t: Tensor, is_output: bool) -> str:
        if t._ctx is not None:
            extra = ", penwidth=2.5" if is_output else ""
            return f'shape=box, style="rounded,filled", fillcolor="#dbe9f6"{extra}'
        if t.requires_grad:
            return 'shape=ellipse, style=filled, fillcolor="#fde9c9"'
        return 'shape=box, style="dashed", color=gray45, fontcolor=gray30'

    def drawn(self, t: Tensor) -> bool:
        if id(t) in self.folded:
            return False
        return t._ctx is not None or t.requires_grad or self.constants

    def source(self, outputs: list[Tensor], rankdir: str, kinds: dict[str, str]) -> str:
        lines = [
            "digraph tinygen {",
            f"  rankdir={rankdir};",
            '  graph [fontname="Helvetica", fontsize=11];',
            '  node [fontname="Helvetica", fontsize=10];',
            '  edge [fontname="Helvetica", fontsize=9];',
        ]
        output_ids = {id(t) for t in outputs}
        clusters: dict[str, list[str]] = {}
        for t in self.nodes:
            if not self.drawn(t):
                continue
            style = self.style(t, id(t) in output_ids)
            node = f"  {self.ids[id(t)]} [label={_quote(self.label(t))}, {style}];"
            clusters.setdefault(self.cluster.get(id(t), ""), []).append(node)
        lines += clusters.pop("", [])
        for index, (name, members) in enumerate(sorted(clusters.items())):
            lines.append(f"  subgraph cluster_{index} {{")
            title = f"{name} ({kinds[name]})" if name in kinds else name
            lines.append(f'    label={_quote(title)}; style="rounded"; color=gray60;')
            lines += ["  " + m for m in members]
            lines.append("  }")
        lines += self.edges()
        lines.append("}")
        return "\n".join(lines) + "\n"

    def edges(self) -> list[str]:
        lines = []
        for t in self.nodes:
            if t._ctx is None:
                continue
            for index, parent in enumerate(t._ctx.inputs):
                if not self.drawn(parent):
                    continue
                attributes = ""
                if parent.requires_grad and broadcast_edge(t._ctx, index):  # summed back
                    mark = f"{_shape(parent.shape)} ⇐ {_shape(t.shape)}"
                    attributes = f" [label={_quote(mark)}, color=firebrick, fontcolor=firebrick]"
                lines.append(f"  {self.ids[id(parent)]} -> {self.ids[id(t)]}{attributes};")
        return lines


def _write(text: str, path: Path, suffix: str) -> None:
    """Write the DOT text, or render it with ``dot``, through a temporary file + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    if suffix in (".dot", ".gv"):
        partial.write_text(text, encoding="utf-8")
    else:
        result = subprocess.run(
            ["dot", f"-T{suffix[1:]}", "-o", str(partial)],
            input=text.encode("utf-8"),
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            message = result.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"graph: Graphviz's dot failed on {path.name}: {message}")
    os.replace(partial, path)
