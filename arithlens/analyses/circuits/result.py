"""Edge scores as a result (:class:`Circuit`): select a circuit, measure its MIB curve, save it,
and read and write EAP-IG / MIB's JSON (``{cfg, nodes, edges}``, edges ``a->b<q|k|v>``).

Example:
    >>> c = al.circuits.score_edges(model, pairs, "eap-ig-inputs")            # doctest: +SKIP
    >>> c.top(5)                                                               # doctest: +SKIP
    >>> small = c.select(0.05); small.n_in_circuit                             # doctest: +SKIP
    >>> c.curve(model, pairs).cpr                                              # doctest: +SKIP
    >>> small = small.evaluate(model, held_out); small.evaluation["faithfulness"]  # doctest: +SKIP
    >>> al.circuits.apply(model, small, held_out).faithfulness   # the same    # doctest: +SKIP
    >>> json.dump(c.to_mib(), open("importances.json", "w"))                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens._plotting import draw
from arithlens._saving import Saveable
from arithlens.analyses.circuits.evaluation import (
    MIB_FRACTIONS,
    Curve,
    Evaluation,
    curve_of,
    evaluate,
    greedy_prune,
    prune,
    random_curve,
    select,
)
from arithlens.analyses.circuits.graph import Graph, graph_of
from arithlens.analyses.circuits.scoring import Setup, score_matrix, setup
from arithlens.errors import ArithlensError
from arithlens.patching.metrics import PairBatch
from arithlens.patching.store import fingerprint, weights_fingerprint
from arithlens.tasks import Pairs
from arithlens.version import __version__

JSON_FORMAT = 1
"""The version of the ``arithlens`` block :meth:`Circuit.to_mib` adds to MIB's layout."""


@dataclass(frozen=True)
class Circuit(Saveable):
    """Scored edges of a model's graph, and optionally the circuit chosen among them.

    Attributes:
        scores: ``(receiver, sender)`` drop in the metric when the edge is ablated, or
            ``(receiver, sender, pos)`` when position-resolved; 0 where no edge exists.
        in_circuit: bool, the same shape: the chosen edges (all False: nothing chosen yet).
        n_layers, n_heads, n_kv_heads, parallel: the graph's shape (:class:`Graph`).
        method, ablation, ig_steps, metric: how the scores were made.
        pos_labels: the positions' labels (``position:role``) when position-resolved.
        n_pairs, change, task: the pairs scored on.
        model_fingerprint: a hash of every weight of the model (:func:`weights_fingerprint`).
        evaluation: the chosen circuit's :class:`Evaluation` on the pairs of
            :meth:`evaluate` (with their fingerprint), or empty.
    """

    SAVED_AS = "circuit"

    scores: np.ndarray
    in_circuit: np.ndarray
    n_layers: int
    n_heads: int
    method: str
    ablation: str
    ig_steps: int
    metric: str
    pos_labels: tuple[str, ...]
    n_pairs: int
    change: str
    model_fingerprint: str
    task: str = ""
    n_kv_heads: int = 0
    parallel: bool = False
    evaluation: dict = field(default_factory=dict)

    @property
    def graph(self) -> Graph:
        return Graph(self.n_layers, self.n_heads, self.n_kv_heads, self.parallel)

    @property
    def positions(self) -> bool:
        """Whether the scores are per position."""
        return self.scores.ndim == 3

    @property
    def n_in_circuit(self) -> int:
        return int(self.in_circuit.sum())

    def to_frame(self) -> pd.DataFrame:
        """One row per existing edge (and position): ``edge``, ``sender``, ``receiver``,
        (``pos``, ``pos_label``), ``score``, ``in_circuit``."""
        g = self.graph
        rows: list[tuple] = []
        for r, s in g.edges():
            ends = (f"{g.senders[s]}->{g.receivers[r]}", g.senders[s], g.receivers[r])
            if self.positions:
                rows += [
                    (*ends, p, label, float(self.scores[r, s, p]), bool(self.in_circuit[r, s, p]))
                    for p, label in enumerate(self.pos_labels)
                ]
            else:
                rows.append((*ends, float(self.scores[r, s]), bool(self.in_circuit[r, s])))
        cols = ["edge", "sender", "receiver"] + (["pos", "pos_label"] if self.positions else [])
        return pd.DataFrame(rows, columns=cols + ["score", "in_circuit"])

    def top(self, k: int = 10, absolute: bool = True) -> pd.DataFrame:
        """The ``k`` edges with the largest score (or |score|)."""
        frame = self.to_frame()
        key = frame.score.abs() if absolute else frame.score
        return frame.loc[key.sort_values(ascending=False, kind="stable").index[:k]]

    def select(
        self,
        fraction: float | None = None,
        absolute: bool = False,
        prune_edges: bool = True,
        *,
        threshold: float | None = None,
    ) -> Circuit:
        """This result with the top ``fraction`` of edges (by score, or |score|), or every edge
        whose score (or |score|) is at least ``threshold``, as its circuit, without edges that
        cannot reach the logits from the input."""
        scores = torch.from_numpy(self.scores)
        if (fraction is None) == (threshold is None):
            raise ArithlensError(
                f"fraction={fraction!r}, threshold={threshold!r}: expected exactly one of them"
            )
        if threshold is not None:
            valid = self.graph.mask if not self.positions else self._mask_by_position()
            keep = ((scores.abs() if absolute else scores) >= threshold) & valid
        else:
            keep = select(scores, self.graph.mask, float(fraction), absolute)  # type: ignore[arg-type]
        if prune_edges:
            keep = prune(self.graph, keep)
        return replace(self, in_circuit=keep.numpy(), evaluation={})

    def _mask_by_position(self) -> torch.Tensor:
        return self.graph.mask[:, :, None].expand(-1, -1, self.scores.shape[-1])

    def greedy(
        self,
        model: TransformerBridge,
        pairs: Pairs | PairBatch,
        tolerance: float = 0.01,
        progress: bool = True,
    ) -> Circuit:
        """ACDC's greedy pass over the chosen circuit (every edge when none is chosen): each
        edge, from the logits backwards, is dropped if that moves the metric's normalized
        distance to the full model by less than ``tolerance``
        (:func:`~arithlens.analyses.circuits.scoring.greedy_prune`)."""
        s = self._setup(model, pairs)
        keep = torch.from_numpy(self.in_circuit).to(s.clean.device)
        if not bool(keep.any()):
            keep = s.graph.mask if not self.positions else self._all_positions(s)
        kept = greedy_prune(model, s, keep, tolerance, progress)
        return replace(self, in_circuit=kept.cpu().numpy(), evaluation={})

    def _all_positions(self, s: Setup) -> torch.Tensor:
        return s.graph.mask[:, :, None].expand(-1, -1, s.clean.shape[1]).to(s.clean.device)

    def evaluate(self, model: TransformerBridge, pairs: Pairs | PairBatch) -> Circuit:
        """This circuit with its :class:`Evaluation` on ``pairs`` recorded (saved with it, so
        :func:`apply` on the same pairs can be checked against it)."""
        s = self._setup(model, pairs)
        ev = evaluate(model, s, self._chosen(s))
        record = dict(asdict(ev), n_pairs=len(s.batch), pairs_fingerprint=_pairs_hash(s))
        return replace(self, evaluation=record)

    def curve(
        self,
        model: TransformerBridge,
        pairs: Pairs | PairBatch,
        fractions: tuple[float, ...] = MIB_FRACTIONS,
        absolute: bool = False,
    ) -> Curve:
        """MIB's faithfulness curve of these scores on ``pairs`` (held-out pairs, ideally):
        CPR with ``absolute=False``, CMD with ``absolute=True``."""
        s = self._setup(model, pairs)
        return curve_of(model, s, torch.from_numpy(self.scores), fractions, absolute)

    def random_baseline(
        self,
        model: TransformerBridge,
        pairs: Pairs | PairBatch,
        seeds: int = 3,
        fractions: tuple[float, ...] = MIB_FRACTIONS,
    ) -> Curve:
        """The curve of random edge rankings on ``pairs`` (mean over ``seeds``), to show beside
        :meth:`curve` (MIB's random row: CPR ~0.25, CMD ~0.75)."""
        s = self._setup(model, pairs)
        return random_curve(model, s, torch.from_numpy(self.scores), seeds, fractions)

    def _setup(self, model: TransformerBridge, pairs: Pairs | PairBatch) -> Setup:
        """The pairs prepared for this circuit's model, ablation and metric, checked."""
        self.check_model(model)
        s = setup(model, pairs, self.ablation, self.metric)
        if self.positions and self.scores.shape[-1] != s.clean.shape[1]:
            raise ArithlensError(
                f"the circuit has {self.scores.shape[-1]} positions but the pairs have "
                f"{s.clean.shape[1]}: expected pairs of the task it was scored on ({self.task})"
            )
        return s

    def _chosen(self, s: Setup) -> torch.Tensor:
        if self.n_in_circuit == 0:
            raise ArithlensError(
                "no edge of this circuit is chosen: expected a circuit from .select(fraction) "
                "or .greedy(model, pairs)"
            )
        return torch.from_numpy(self.in_circuit).to(s.clean.device)

    def check_model(self, model: TransformerBridge) -> None:
        """Refuse a model of another shape than the graph's, or with other weights."""
        g = graph_of(model)
        if g.cfg() != self.graph.cfg():
            raise ArithlensError(
                f"the circuit is of a model with {self.graph.describe()}; this model has "
                f"{g.describe()}: expected the model it was scored on"
            )
        if self.model_fingerprint and weights_fingerprint(model) != self.model_fingerprint:
            raise ArithlensError(
                f"the circuit was scored on a model with weights {self.model_fingerprint}; this "
                f"model's are {weights_fingerprint(model)}: expected the model it was scored on"
            )

    def plot(self, top: int = 40, title: str | None = None) -> Any:
        """The circuit as a layered graph (:func:`arithlens.plots.circuit_figure`)."""
        return draw(self, top=top, title=title)

    def to_mib(self) -> dict[str, Any]:
        """EAP-IG / MIB's JSON layout (``cfg``, ``nodes``, ``edges``: the position-summed
        graph), plus an ``arithlens`` block holding everything else (settings, provenance,
        evaluation and, when position-resolved, each edge's per-position scores): MIB tools
        read the first three keys, :meth:`from_mib` reads it all back."""
        g = self.graph
        scores = self.scores.sum(-1) if self.positions else self.scores
        chosen = np.asarray(self.in_circuit.any(-1) if self.positions else self.in_circuit)
        edges = {
            name: {"score": float(scores[r, s]), "in_graph": bool(chosen[r, s])}
            for name, (r, s) in zip(g.edge_names(), g.edges())
        }
        used = {n for e, v in edges.items() if v["in_graph"] for n in _ends(e)}
        nodes = {n: {"in_graph": n in used} for n in [*g.senders, "logits"]}
        return {"cfg": g.cfg(), "nodes": nodes, "edges": edges, "arithlens": self._block()}

    def _block(self) -> dict[str, Any]:
        block: dict[str, Any] = dict(
            format=JSON_FORMAT,
            version=__version__,
            method=self.method,
            ablation=self.ablation,
            ig_steps=self.ig_steps,
            metric=self.metric,
            n_pairs=self.n_pairs,
            change=self.change,
            task=self.task,
            model_fingerprint=self.model_fingerprint,
            evaluation=self.evaluation,
        )
        if self.positions:
            g = self.graph
            block["positions"] = list(self.pos_labels)
            block["position_edges"] = {
                name: {
                    "scores": [float(x) for x in self.scores[r, s]],
                    "in_graph": [bool(x) for x in self.in_circuit[r, s]],
                }
                for name, (r, s) in zip(g.edge_names(), g.edges())
            }
        return block

    @classmethod
    def from_mib(cls, data: dict[str, Any], method: str = "unknown") -> Circuit:
        """A circuit from EAP-IG / MIB's JSON (missing edges score 0), or everything
        :meth:`to_mib` wrote when its ``arithlens`` block is there."""
        try:
            g = Graph.from_cfg(data["cfg"])
            edges = data["edges"]
        except (KeyError, TypeError, ValueError) as e:
            raise ArithlensError(
                f"not an EAP-IG / MIB graph ({type(e).__name__}: {e}): expected keys cfg "
                "(n_layers, n_heads) and edges"
            ) from None
        block = data.get("arithlens") or {}
        if block.get("format", JSON_FORMAT) != JSON_FORMAT:
            raise ArithlensError(
                f"the arithlens block has format {block.get('format')!r}: expected {JSON_FORMAT}"
            )
        labels = tuple(block.get("positions") or ())
        index = {name: (r, s) for name, (r, s) in zip(g.edge_names(), g.edges())}
        per_pos = block.get("position_edges") if labels else None
        shape = g.mask.shape + ((len(labels),) if per_pos else ())
        scores, chosen = np.zeros(shape), np.zeros(shape, dtype=bool)
        for name, value in (per_pos or edges).items():
            at = _edge_at(index, name, g)
            scores[at] = value.get("scores", value.get("score")) or 0.0
            chosen[at] = value.get("in_graph", False)
        return cls(
            scores=scores,
            in_circuit=chosen,
            n_layers=g.n_layers,
            n_heads=g.n_heads,
            method=block.get("method", method),
            ablation=block.get("ablation", "patching"),
            ig_steps=int(block.get("ig_steps", 0)),
            metric=block.get("metric", "logit_diff"),
            pos_labels=labels if per_pos else (),
            n_pairs=int(block.get("n_pairs", 0)),
            change=block.get("change", ""),
            model_fingerprint=block.get("model_fingerprint", ""),
            task=block.get("task", ""),
            n_kv_heads=g.n_kv_heads,
            parallel=g.parallel,
            evaluation=dict(block.get("evaluation") or {}),
        )


def _edge_at(index: dict[str, tuple[int, int]], name: str, g: Graph) -> tuple[int, int]:
    if name not in index:
        raise ArithlensError(
            f"edge {name!r} is not in a graph of {g.describe()}: expected names like "
            f"{g.edge_names()[0]!r}"
        )
    return index[name]


def _ends(edge: str) -> tuple[str, str]:
    sender, receiver = edge.split("->")
    return sender, receiver.split("<")[0]


def _pairs_hash(s: Setup) -> str:
    """A hash of the pairs' clean and corrupt tokens."""
    empty: Any = torch.nn.Module()  # no weights: the tokens alone
    return fingerprint(empty, [s.batch.clean.tokens, s.batch.corrupt.tokens])


def apply(model: TransformerBridge, circuit: Circuit, pairs: Pairs | PairBatch) -> Evaluation:
    """Run ``model`` on ``pairs`` with every edge outside ``circuit``'s chosen ones ablated (by
    the circuit's ablation), and measure faithfulness as MIB does. On the pairs a circuit was
    :meth:`~Circuit.evaluate`-d on, the numbers equal its saved ``evaluation``.

    Example:
        >>> ev = al.circuits.apply(model, al.circuits.Circuit.load("c"), pairs)  # doctest: +SKIP
        >>> ev.faithfulness, ev.n_edges                                          # doctest: +SKIP
    """
    s = circuit._setup(model, pairs)
    return evaluate(model, s, circuit._chosen(s))


def score_edges(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    method: str = "eap-ig-inputs",
    *,
    ablation: str = "patching",
    ig_steps: int = 5,
    positions: bool = False,
    metric: str = "logit_diff",
    digits: str | int | list = "all",
    progress: bool = True,
) -> Circuit:
    """Score every edge of ``model``'s graph on ``pairs`` (see :mod:`.scoring` for the
    methods); ``positions=True`` scores each edge at each position.

    Example:
        >>> c = al.circuits.score_edges(model, pairs, "exact", positions=True)  # doctest: +SKIP
    """
    s = setup(model, pairs, ablation, metric, digits)
    scores = score_matrix(model, s, method, ig_steps, positions, progress)
    labels = tuple(s.batch.labels()) if positions else ()
    return Circuit(
        scores=scores.double().cpu().numpy(),
        in_circuit=np.zeros(tuple(scores.shape), dtype=bool),
        n_layers=s.graph.n_layers,
        n_heads=s.graph.n_heads,
        method=method,
        ablation=ablation,
        ig_steps=ig_steps if method.startswith("eap-ig") else 0,
        metric=metric,
        pos_labels=labels,
        n_pairs=len(s.batch),
        change=str(getattr(s.batch.pairs, "change", "")),
        model_fingerprint=weights_fingerprint(model),
        task=s.batch.pairs.clean.task.name,
        n_kv_heads=s.graph.n_kv_heads,
        parallel=s.graph.parallel,
    )
