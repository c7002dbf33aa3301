"""Edge scores as a result (:class:`Circuit`): select a circuit, measure its MIB curve, save it,
and read and write EAP-IG / MIB's JSON (``{cfg, nodes, edges}``, edges ``a->b<q|k|v>``).

Example:
    >>> c = al.circuits.score_edges(model, pairs, "eap-ig-inputs")            # doctest: +SKIP
    >>> c.top(5)                                                               # doctest: +SKIP
    >>> small = c.select(0.05); small.n_in_circuit                             # doctest: +SKIP
    >>> c.curve(model, pairs).cpr                                              # doctest: +SKIP
    >>> json.dump(c.to_mib(), open("importances.json", "w"))                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens._plotting import draw
from arithlens._saving import Saveable
from arithlens.analyses.circuits.graph import Graph, graph_of
from arithlens.analyses.circuits.scoring import (
    MIB_FRACTIONS,
    Curve,
    curve_of,
    prune,
    score_matrix,
    select,
    setup,
)
from arithlens.errors import ArithlensError
from arithlens.patching.metrics import PairBatch
from arithlens.patching.store import fingerprint
from arithlens.tasks import Pairs


@dataclass(frozen=True)
class Circuit(Saveable):
    """Scored edges of a model's graph, and optionally the circuit chosen among them.

    Attributes:
        scores: ``(receiver, sender)`` drop in the metric when the edge is ablated, or
            ``(receiver, sender, pos)`` when position-resolved; 0 where no edge exists.
        in_circuit: bool, the same shape: the chosen edges (all False: nothing chosen yet).
        n_layers, n_heads: the graph's shape (:class:`Graph`).
        method, ablation, ig_steps, metric: how the scores were made.
        pos_labels: the positions' labels when position-resolved, else empty.
        n_pairs, change: the pairs scored on.
        model_fingerprint: a hash of the model's weights (and the scoring settings).
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

    @property
    def graph(self) -> Graph:
        return Graph(self.n_layers, self.n_heads)

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
            name = f"{g.senders[s]}->{g.receivers[r]}"
            if self.positions:
                for p, label in enumerate(self.pos_labels):
                    rows.append(
                        (
                            name,
                            g.senders[s],
                            g.receivers[r],
                            p,
                            label,
                            float(self.scores[r, s, p]),
                            bool(self.in_circuit[r, s, p]),
                        )
                    )
            else:
                rows.append(
                    (
                        name,
                        g.senders[s],
                        g.receivers[r],
                        float(self.scores[r, s]),
                        bool(self.in_circuit[r, s]),
                    )
                )
        cols = ["edge", "sender", "receiver"] + (["pos", "pos_label"] if self.positions else [])
        return pd.DataFrame(rows, columns=cols + ["score", "in_circuit"])

    def top(self, k: int = 10, absolute: bool = True) -> pd.DataFrame:
        """The ``k`` edges with the largest score (or |score|)."""
        frame = self.to_frame()
        key = frame.score.abs() if absolute else frame.score
        return frame.loc[key.sort_values(ascending=False, kind="stable").index[:k]]

    def select(self, fraction: float, absolute: bool = False, prune_edges: bool = True) -> Circuit:
        """This result with the top ``fraction`` of edges (by score, or |score|) as its
        circuit, without edges that cannot reach the logits from the input."""
        keep = select(torch.from_numpy(self.scores), self.graph.mask, fraction, absolute)
        if prune_edges:
            keep = prune(self.graph, keep)
        return replace(self, in_circuit=keep.numpy())

    def curve(
        self,
        model: TransformerBridge,
        pairs: Pairs | PairBatch,
        fractions: tuple[float, ...] = MIB_FRACTIONS,
        absolute: bool = False,
    ) -> Curve:
        """MIB's faithfulness curve of these scores on ``pairs`` (held-out pairs, ideally):
        CPR with ``absolute=False``, CMD with ``absolute=True``."""
        self.check_model(model)
        s = setup(model, pairs, self.ablation, self.metric)
        scores = torch.from_numpy(self.scores)
        if self.positions and scores.shape[-1] != s.clean.shape[1]:
            raise ArithlensError(
                f"the circuit has {scores.shape[-1]} positions but the pairs have "
                f"{s.clean.shape[1]}: expected pairs of the task it was scored on"
            )
        return curve_of(model, s, scores, fractions, absolute)

    def check_model(self, model: TransformerBridge) -> None:
        """Refuse a model of another shape than the graph's."""
        g = graph_of(model)
        if (g.n_layers, g.n_heads) != (self.n_layers, self.n_heads):
            raise ArithlensError(
                f"the circuit is of a model with {self.n_layers} layers x {self.n_heads} heads; "
                f"this model has {g.n_layers} x {g.n_heads}: expected the model it was scored on"
            )

    def plot(self, top: int = 40, title: str | None = None) -> Any:
        """The circuit as a layered graph (:func:`arithlens.plots.circuit_figure`)."""
        return draw(self, top=top, title=title)

    def to_mib(self) -> dict[str, Any]:
        """The position-summed graph in EAP-IG / MIB's JSON layout."""
        g = self.graph
        scores = self.scores.sum(-1) if self.positions else self.scores
        chosen = np.asarray(self.in_circuit.any(-1) if self.positions else self.in_circuit)
        edges = {
            f"{g.senders[s]}->{g.receivers[r]}": {
                "score": float(scores[r, s]),
                "in_graph": bool(chosen[r, s]),
            }
            for r, s in g.edges()
        }
        used = {n for e, v in edges.items() if v["in_graph"] for n in _ends(e)}
        nodes = {n: {"in_graph": n in used} for n in [*g.senders, "logits"]}
        cfg = dict(n_layers=self.n_layers, n_heads=self.n_heads, parallel_attn_mlp=False)
        return {"cfg": cfg, "nodes": nodes, "edges": edges}

    @classmethod
    def from_mib(cls, data: dict[str, Any], method: str = "unknown") -> Circuit:
        """A position-summed circuit from EAP-IG / MIB's JSON (missing edges score 0)."""
        try:
            g = Graph(int(data["cfg"]["n_layers"]), int(data["cfg"]["n_heads"]))
            edges = data["edges"]
        except (KeyError, TypeError, ValueError) as e:
            raise ArithlensError(
                f"not an EAP-IG / MIB graph ({type(e).__name__}: {e}): expected keys cfg "
                "(n_layers, n_heads) and edges"
            ) from None
        R, S = g.mask.shape
        scores, chosen = np.zeros((R, S)), np.zeros((R, S), dtype=bool)
        index = {name: (r, s) for name, (r, s) in zip(g.edge_names(), g.edges())}
        for name, value in edges.items():
            if name not in index:
                raise ArithlensError(
                    f"edge {name!r} is not in a graph of {g.n_layers} layers x {g.n_heads} "
                    f"heads: expected names like {g.edge_names()[0]!r}"
                )
            scores[index[name]] = float(value.get("score") or 0.0)
            chosen[index[name]] = bool(value.get("in_graph", False))
        return cls(
            scores,
            chosen,
            g.n_layers,
            g.n_heads,
            method,
            "patching",
            0,
            "logit_diff",
            (),
            0,
            "",
            "",
        )


def _ends(edge: str) -> tuple[str, str]:
    sender, receiver = edge.split("->")
    return sender, receiver.split("<")[0]


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
        scores=scores.double().numpy(),
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
        model_fingerprint=fingerprint(model, [s.batch.clean.tokens, s.batch.corrupt.tokens]),
    )
