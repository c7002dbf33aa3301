"""CircuitExplorer: an edge-level circuit, interactively: pick the scoring method and the
ablation, slide the circuit size along MIB's fractions and see the circuit and its point on the
faithfulness curve; click a node for its attention pattern and its own effect.

Example:
    >>> cx = al.widgets.CircuitExplorer(model, n=32)                       # doctest: +SKIP
    >>> ipywidgets.dlink((problem_explorer, "problem"), (cx, "clean_problem"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W
from transformer_lens.model_bridge import TransformerBridge

from arithlens import plots
from arithlens.analyses.circuits import ABLATIONS, METHODS, MIB_FRACTIONS, Circuit, Curve
from arithlens.analyses.circuits.evaluation import metric_with
from arithlens.analyses.circuits.scoring import setup
from arithlens.errors import ArithlensError, check_choice
from arithlens.widgets._base import PairsExplorer, figure_widget, sync


class CircuitExplorer(PairsExplorer):
    """Edge-level circuits, interactively (scores from :func:`arithlens.circuits.score_edges`,
    curves from :meth:`~arithlens.circuits.Circuit.curve` on held-out pairs).

    Attributes:
        clean_problem: when set (``"123+456"``), the pairs are ``n`` corruptions of that one
            problem; link it to ``ProblemExplorer.problem``.
        scored: the :class:`~arithlens.circuits.Circuit` on screen (all edges scored), and
            ``circuit``: it with the current fraction chosen.
        curve, baseline: MIB's curve of ``scored`` and the random ranking's, on held-out pairs.
        node: the clicked node (``"a1.h2"``, ``"m0"``) and ``node_effect``: the drop in the
            metric when every edge out of it is ablated.
        method, ablation, fraction, change: the controls; graph_fig, curve_fig, attention_fig.
    """

    def __init__(
        self,
        model: TransformerBridge,
        *,
        n: int = 32,
        change: str | None = None,
        method: str = "eap-ig-inputs",
        ablation: str = "patching",
        fraction: float = 0.05,
        seed: int = 0,
    ):
        super().__init__(model, n, change, seed, "the CircuitExplorer")
        check_choice("method", method, METHODS)
        check_choice("ablation", ablation, ABLATIONS)
        if fraction not in MIB_FRACTIONS:
            raise ArithlensError(
                f"fraction={fraction!r} is not one of MIB's sizes: expected one of "
                f"{list(MIB_FRACTIONS)}"
            )
        self.method = W.Dropdown(options=list(METHODS), value=method, description="method")
        self.ablation = W.Dropdown(options=list(ABLATIONS), value=ablation, description="ablation")
        self.fraction = W.SelectionSlider(
            options=[(f"{100 * f:g}%", f) for f in MIB_FRACTIONS],
            value=fraction,
            description="edges",
            continuous_update=False,
        )
        self.fraction.add_class("arithlens-fraction")
        self.summary = W.HTML()
        self.graph_fig = figure_widget()
        self.curve_fig = figure_widget()
        self.attention_fig = figure_widget()
        self.node: str | None = None
        self.node_effect: float | None = None
        self._scored: dict[tuple, Circuit] = {}
        self._curves: dict[tuple, tuple[Curve, Curve]] = {}
        for control in (self.change, self.method, self.ablation):
            self.observe_control(control, self._refresh)
        self.observe_control(self.fraction, self._redraw)
        self.add_class("arithlens-circuit-explorer")
        self.children = [
            W.HBox([self.change, self.method, self.ablation]),
            W.HBox([self.fraction, self.summary]),
            self.status,
            W.HBox([self.graph_fig, self.curve_fig]),
            self.attention_fig,
        ]
        with self.interaction():
            self._refresh()

    # -- data (cached by everything it depends on) ------------------------------------------
    def _key(self) -> tuple:
        return (self.change.value, self.clean_problem, self.method.value, self.ablation.value)

    @property
    def scored(self) -> Circuit:
        key = self._key()
        if key not in self._scored:
            from arithlens.analyses.circuits import score_edges

            self._scored[key] = score_edges(
                self.model,
                self.pairs(),
                self.method.value,
                ablation=self.ablation.value,
                progress=False,
            )
        return self._scored[key]

    @property
    def circuit(self) -> Circuit:
        return self.scored.select(self.fraction.value)

    @property
    def curve(self) -> Curve:
        return self._curve_pair()[0]

    @property
    def baseline(self) -> Curve:
        return self._curve_pair()[1]

    def _curve_pair(self) -> tuple[Curve, Curve]:
        key = self._key()
        if key not in self._curves:
            held_out = self.pairs(1)
            scored = self.scored
            self._curves[key] = (
                scored.curve(self.model, held_out),
                scored.random_baseline(self.model, held_out),
            )
        return self._curves[key]

    # -- drawing ------------------------------------------------------------------------------
    def _refresh(self) -> None:
        self.scored  # noqa: B018 - score first, so an error leaves the old figures
        self._redraw()
        self.select_node(self.node or self._first_head())

    def _first_head(self) -> str:
        top = self.circuit.to_frame().query("in_circuit")
        heads = [s for s in top.sender if s.startswith("a")]
        return heads[0] if heads else "a0.h0"

    def _redraw(self) -> None:
        circuit, curve, k = self.circuit, self.curve, self.fraction.value
        f = curve.faithfulness[curve.fractions.index(k)]
        self.summary.value = (
            f"&nbsp;{circuit.n_in_circuit} of {circuit.graph.n_edges} edges; faithfulness "
            f"{f:.3f} on {self.n} held-out {self.source} (CPR {curve.cpr:.2f}, random "
            f"{self.baseline.cpr:.2f})"
        )
        graph = circuit.plot()
        graph.update_layout(width=600, height=min(graph.layout.height or 480, 480))
        sync(self.graph_fig, graph, on_click=self._on_click)
        sync(
            self.curve_fig,
            plots.curve_figure({self.method.value: curve}, self.baseline, k, width=460),
        )

    def _on_click(self, trace: Any, points: Any, state: Any) -> None:
        if not points.point_inds or trace.customdata is None:
            return
        node = trace.customdata[points.point_inds[0]]
        with self.interaction():
            self.select_node(str(node[0] if isinstance(node, (list, tuple)) else node))

    def select_node(self, node: str) -> None:
        """Show ``node``'s own effect (every edge out of it ablated, on the scored pairs) and,
        for a head, its mean attention pattern on the clean prompts."""
        g = self.scored.graph
        if node not in g.senders:
            self.show_note(f"{node} sends nothing: click a head, an MLP or the input")
            return
        sender = g.senders.index(node)
        s = setup(self.model, self.pairs(), self.ablation.value)
        keep = g.mask.clone()
        keep[:, sender] = False
        self.node_effect = metric_with(self.model, s, g.mask) - metric_with(self.model, s, keep)
        self.node = node
        label = plots.circuits._label(node)
        title = f"{label}: ablating its outputs costs {self.node_effect:.3f} logit difference"
        if not node.startswith("a"):
            self.attention_fig.data = ()
            self.attention_fig.layout.title = title
            return
        layer, head = (int(x) for x in node[1:].split(".h"))
        sync(
            self.attention_fig,
            plots.attention_heatmap(
                self.mean_pattern(layer, head), self.pairs().labels(), title, width=520
            ),
        )
