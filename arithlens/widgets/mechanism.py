"""MechanismExplorer: a model's mechanism map, interactively: the quanta map (fail share or
impact) of its useful nodes; click a node to see its tags, its head's attention and the problems
that fail when it is ablated. ``node`` is a trait: :func:`link_circuit` makes a CircuitExplorer
follow it.

Example:
    >>> mx = al.widgets.MechanismExplorer(model, n=1000)             # doctest: +SKIP
    >>> al.widgets.link_circuit(mx, al.widgets.CircuitExplorer(model))  # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import numpy as np
import traitlets
from transformer_lens.model_bridge import TransformerBridge

from arithlens import plots
from arithlens.analyses.mechanism import MechanismMap, Runner, mechanism_map, parse_node
from arithlens.errors import ArithlensError, check_int
from arithlens.models.contract import task_of
from arithlens.tasks import sample
from arithlens.widgets._base import Explorer, clicked_cell, figure_widget, sync


class MechanismExplorer(Explorer):
    """A mechanism map (:func:`arithlens.mechanism.mechanism_map`), interactively.

    Attributes:
        map: the :class:`~arithlens.mechanism.MechanismMap` shown (pass one as ``mechanism``
            to skip mapping).
        node: the selected node's name (``"P12L0H0"``); set it to select.
        show: ``fail`` / ``impact`` toggle; heatmap, attention_fig: FigureWidgets; tags, failures:
            the selected node's tags and failing problems (HTML).
    """

    node = traitlets.Unicode("")

    def __init__(
        self,
        model: TransformerBridge,
        *,
        n: int = 1000,
        seed: int = 0,
        mechanism: MechanismMap | None = None,
    ):
        super().__init__()
        self.model = model
        check_int("n", n, minimum=1)
        self.map = mechanism or mechanism_map(model, n=n, seed=seed, progress=False)
        if self.map.task != task_of(model).name:
            raise ArithlensError(
                f"the map is of a {self.map.task} model; this one is of {task_of(model).name}: "
                "expected the model it was made from"
            )
        self.problems = sample(task_of(model), self.map.n, seed=self.map.seed)
        self.runner = Runner(model, self.problems)
        self.show = W.ToggleButtons(options=["fail", "impact"], value="fail")
        self.heatmap = figure_widget()
        self.attention_fig = figure_widget()
        self.tags = W.HTML()
        self.failures = W.HTML()
        self.observe_control(self.show, self._redraw)
        self.observe(self._on_node, names="node")
        self.add_class("arithlens-mechanism-explorer")
        self.children = [
            self.show,
            self.status,
            self.heatmap,
            W.HBox([W.VBox([self.tags, self.failures]), self.attention_fig]),
        ]
        with self.interaction():
            self._redraw()
            if self.map.nodes:
                self.node = max(self.map.nodes, key=lambda d: d["fail"])["name"]

    def _redraw(self) -> None:
        sync(self.heatmap, self.map.plot(self.show.value), on_click=self._on_click)

    def _on_click(self, trace: Any, points: Any, state: Any) -> None:
        cell = clicked_cell(trace, points)
        if cell is None:
            return
        row, col = cell
        unit = trace.y[row]  # "L0H2" / "L1M"
        pos = int(str(trace.x[col]).split(":")[0])
        with self.interaction():
            self.node = f"P{pos}{unit}"

    def _on_node(self, change: Any) -> None:
        with self.interaction():
            self.select(change["new"])

    def select(self, name: str) -> None:
        """Show node ``name``'s tags, failing problems and (for a head) attention."""
        node = self.runner.check([name])[0]
        tags = self.map.tags().get(node.name)
        if tags is None:
            raise ArithlensError(f"{node.name} is not a useful node of this map")
        role = node.with_role(list(self.map.pos_labels))
        self.tags.value = f"<b>{html.escape(role)}</b><br>" + "<br>".join(
            html.escape(t) for t in tags
        )
        self.failures.value = self._failures(node)
        if node.head is None:
            self.attention_fig.data = ()
            self.attention_fig.layout.title = f"{node.name}: an MLP (no attention)"
            return
        pattern = self.runner.mean_pattern(node.layer, node.head)
        sync(
            self.attention_fig,
            plots.attention_heatmap(
                pattern, list(self.map.pos_labels), f"mean attention of L{node.layer}H{node.head}"
            ),
        )

    def _failures(self, node: Any, k: int = 8) -> str:
        scored = self.runner.score([node])
        failed = np.flatnonzero(self.runner.base.exact & ~scored.exact)
        ints = self.problems.ints()
        rows = [f"{a}+{b}={a + b}" for a, b in (ints[i] for i in failed[:k])]
        head = f"{len(failed)} of {len(ints)} problems fail when it is ablated"
        return f"{head}{':' if rows else '.'}<br>" + "<br>".join(html.escape(r) for r in rows)


def link_circuit(mechanism: MechanismExplorer, circuit: Any) -> None:
    """Make ``circuit`` (a CircuitExplorer) select the head or MLP of the mechanism explorer's
    selected node (its position-summed node: ``P12L0H0`` -> ``a0.h0``)."""

    def follow(change: Any) -> None:
        node = parse_node(change["new"])
        target = f"a{node.layer}.h{node.head}" if node.is_head else f"m{node.layer}"
        with circuit.interaction():
            circuit.select_node(target)

    mechanism.observe(follow, names="node")
