"""Circuits evaluated as the MIB benchmark evaluates them: choose the top edges, keep those
connected to the input and the logits, run the model with every other edge ablated, and measure
faithfulness ``f = (m(C) - m(empty)) / (m(full) - m(empty))``; the curve of ``f`` over MIB's
circuit sizes with its areas (CPR, CMD); the random ranking's curve; ACDC's greedy pass.

Example:
    >>> s = setup(model, pairs)                                      # doctest: +SKIP
    >>> curve_of(model, s, scores).cpr                               # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens._plotting import draw
from arithlens.analyses.circuits.engine import Control, run_controlled
from arithlens.analyses.circuits.graph import Graph
from arithlens.analyses.circuits.scoring import Setup
from arithlens.errors import ArithlensError, check_int

MIB_FRACTIONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""The circuit sizes (fractions of the scored edges) MIB measures faithfulness at."""


@dataclass(frozen=True)
class Curve:
    """Faithfulness by circuit size, and MIB's areas.

    Attributes:
        fractions: circuit sizes as fractions of the scored edges.
        faithfulness: ``(m(C) - m(empty)) / (m(full) - m(empty))`` at each size.
        n_edges: edges kept at each size (after pruning unconnected edges).
        full, empty: the metric of the full model and of everything ablated.
        absolute: whether edges were ranked by |score| (CMD's ranking) or by score (CPR's).
    """

    fractions: tuple[float, ...]
    faithfulness: tuple[float, ...]
    n_edges: tuple[int, ...]
    full: float
    empty: float
    absolute: bool

    @property
    def cpr(self) -> float:
        """The trapezoid area under faithfulness over the fractions (linear x, as MIB)."""
        return float(np.trapezoid(self.faithfulness, self.fractions))

    @property
    def cmd(self) -> float:
        """The trapezoid area of ``|1 - faithfulness|`` over the fractions (linear x)."""
        return float(np.trapezoid(np.abs(1 - np.asarray(self.faithfulness)), self.fractions))

    def plot(self, baseline: Curve | None = None, mark: float | None = None) -> Any:
        """This curve on a log x-axis (:func:`arithlens.plots.curve_figure`)."""
        return draw(self, baseline=baseline, mark=mark)

    @property
    def log_area(self) -> float:
        """The area under faithfulness over log10 of the fractions, divided by that range
        (small circuits weigh as much as large ones)."""
        x = np.log10(self.fractions)
        return float(np.trapezoid(self.faithfulness, x) / (x[-1] - x[0]))


def select(
    scores: torch.Tensor, mask: torch.Tensor, fraction: float, absolute: bool
) -> torch.Tensor:
    """The top ``fraction`` of the existing items of ``scores`` (``(receiver, sender[, pos])``)
    by score or |score|, as a bool tensor of the same shape (ties broken by order)."""
    if not 0 < fraction <= 1:
        raise ArithlensError(f"fraction={fraction!r} is invalid: expected a number in (0, 1]")
    valid = mask if scores.dim() == 2 else mask[:, :, None].expand_as(scores)
    flat = (scores.abs() if absolute else scores).flatten().clone().double()
    flat[~valid.flatten()] = -float("inf")
    n = int(round(fraction * int(valid.sum())))
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[torch.argsort(flat, descending=True, stable=True)[:n]] = True
    return keep.view(scores.shape) & valid


def prune(graph: Graph, keep: torch.Tensor) -> torch.Tensor:
    """``keep`` without the edges that cannot reach the logits from the input through kept
    edges (positions ignored; MIB prunes the same way)."""
    keep = keep.clone()
    edge = keep if keep.dim() == 2 else keep.any(-1)
    node_of_r = [r.split("<")[0] for r in graph.receivers]
    while True:
        reach = {"input"}
        for _ in range(len(graph.senders)):  # senders are in forward order
            for r, s in edge.nonzero().tolist():
                if graph.senders[s] in reach:
                    reach.add(node_of_r[r])
        useful = {"logits"}
        for _ in range(len(graph.senders)):
            for r, s in edge.nonzero().tolist():
                if node_of_r[r] in useful:
                    useful.add(graph.senders[s])
        ok = torch.tensor(
            [
                [graph.senders[s] in reach and node_of_r[r] in useful for s in range(edge.shape[1])]
                for r in range(edge.shape[0])
            ],
            device=edge.device,
        )
        if not bool((edge & ~ok).any()):
            return keep
        edge = edge & ok
        keep = keep & (ok if keep.dim() == 2 else ok[:, :, None])


@torch.no_grad()
def metric_with(model: TransformerBridge, s: Setup, keep: torch.Tensor) -> float:
    """The mean metric with every edge outside ``keep`` carrying its replacement."""
    P = s.clean.shape[1]
    kept = keep if keep.dim() == 3 else keep[:, :, None].expand(-1, -1, P)
    ablate = (s.graph.mask.to(kept.device)[:, :, None] & ~kept).float()
    control = Control(replacement=s.replacement, ablate=ablate)
    return float(s.metric(run_controlled(model, s.batch.clean.tokens, s.graph, control)).mean())


@dataclass(frozen=True)
class Evaluation:
    """One circuit run on pairs, as MIB measures it.

    Attributes:
        faithfulness: ``(circuit - empty) / (full - empty)``.
        circuit, full, empty: the mean metric with the circuit's edges kept (every other edge
            ablated), of the full model, and with every edge ablated.
        n_edges: edges (or edge-positions) kept.
    """

    faithfulness: float
    circuit: float
    full: float
    empty: float
    n_edges: int


def bounds(model: TransformerBridge, s: Setup, like: torch.Tensor) -> tuple[float, float]:
    """``(full, empty)``: the metric with nothing and with every edge ablated; refused when
    they are equal (faithfulness undefined)."""
    none = torch.zeros_like(like, dtype=torch.bool)
    full, empty = metric_with(model, s, ~none), metric_with(model, s, none)
    if abs(full - empty) < 1e-9:
        raise ArithlensError(
            f"the full model and the fully ablated one score the same ({full:.4g}): "
            "faithfulness is undefined; expected pairs whose corruption changes the metric"
        )
    return full, empty


def evaluate(
    model: TransformerBridge,
    s: Setup,
    keep: torch.Tensor,
    ends: tuple[float, float] | None = None,
) -> Evaluation:
    """Faithfulness of the circuit ``keep`` (``(receiver, sender[, pos])`` bool) on ``s``."""
    full, empty = bounds(model, s, keep) if ends is None else ends
    m = metric_with(model, s, keep)
    return Evaluation((m - empty) / (full - empty), m, full, empty, int(keep.sum()))


def curve_of(
    model: TransformerBridge,
    s: Setup,
    scores: torch.Tensor,
    fractions: tuple[float, ...] = MIB_FRACTIONS,
    absolute: bool = False,
    prune_edges: bool = True,
) -> Curve:
    """Faithfulness of the top ``fractions`` of ``scores`` on ``s``'s pairs."""
    ends = bounds(model, s, scores)
    faith, sizes = [], []
    for k in fractions:
        keep = select(scores, s.graph.mask, k, absolute)
        if prune_edges:
            keep = prune(s.graph, keep)
        e = evaluate(model, s, keep, ends)
        faith.append(e.faithfulness)
        sizes.append(e.n_edges)
    return Curve(tuple(fractions), tuple(faith), tuple(sizes), ends[0], ends[1], absolute)


def random_curve(
    model: TransformerBridge,
    s: Setup,
    like: torch.Tensor,
    seeds: int = 3,
    fractions: tuple[float, ...] = MIB_FRACTIONS,
) -> Curve:
    """MIB's random baseline: the faithfulness curve of uniformly random edge rankings
    (scores shaped like ``like``), averaged over ``seeds`` rankings (seed 0, 1, ...)."""
    check_int("seeds", seeds, minimum=1)
    curves = [
        curve_of(
            model, s, torch.rand(like.shape, generator=torch.Generator().manual_seed(k)), fractions
        )
        for k in range(seeds)
    ]
    mean = np.mean([c.faithfulness for c in curves], axis=0)
    sizes = np.mean([c.n_edges for c in curves], axis=0).round().astype(int)
    first = curves[0]
    return Curve(
        first.fractions,
        tuple(float(x) for x in mean),
        tuple(int(x) for x in sizes),
        first.full,
        first.empty,
        False,
    )


def greedy_prune(
    model: TransformerBridge,
    s: Setup,
    keep: torch.Tensor,
    tolerance: float = 0.01,
    progress: bool = True,
) -> torch.Tensor:
    """ACDC's pass (Conmy et al. 2023) with the metric's distance to the full model: visit the
    kept edges from the logits backwards (receivers in reverse order, then senders in reverse)
    and remove each one whose removal moves ``|full - m| / |full - empty|`` up by less than
    ``tolerance``; then drop edges cut off from the logits or the input (:func:`prune`)."""
    if tolerance < 0:
        raise ArithlensError(f"tolerance={tolerance!r} is invalid: expected a number >= 0")
    full, empty = bounds(model, s, keep)
    gap = abs(full - empty)
    keep = keep.clone()
    current = abs(full - metric_with(model, s, keep)) / gap
    items = sorted((tuple(i) for i in keep.nonzero().tolist()), reverse=True)
    for item in tqdm(items, desc="greedy pruning", disable=not progress):
        keep[item] = False
        without = abs(full - metric_with(model, s, keep)) / gap
        if without - current < tolerance:
            current = without
        else:
            keep[item] = True
    return prune(s.graph, keep)
