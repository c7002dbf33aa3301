"""Edge scores by four methods, and circuits evaluated as the MIB benchmark evaluates them.

Scores are the drop in the metric (the logit difference by default) when the edge carries the
ablated value instead of the clean one: positive = the edge helps, as MIB ranks with its loss.

- ``exact``: activation patching of each edge alone (one forward pass per edge, or per edge and
  position): the ground truth the others approximate.
- ``eap`` (Syed et al. 2023): ``-(a_ablated - a_clean) . d metric / d receiver input`` with the
  gradient at the clean run, for every edge from one backward pass.
- ``eap-ig-inputs`` (Hanna et al. 2024, as ``hannamw/EAP-IG``): the gradient averaged over
  ``ig_steps`` runs whose input embeddings go from the ablated toward the clean ones,
  ``corrupt + (k / steps) (clean - corrupt)`` for ``k = 0 .. steps - 1`` (MIB's default: 5
  steps). With one step the gradient is the corrupt run's.
- ``eap-ig-activations`` (Hanna et al. 2024, as ``hannamw/EAP-IG``): per sub-layer of senders
  (the input, a layer's heads, a layer's MLP), the gradient averaged over ``ig_steps`` runs in
  which those senders' outputs reach every receiver as ``a * clean + (1 - a) * ablated``,
  ``a = k / steps`` for ``k = 1 .. steps``; one step is EAP. Costs ``steps * (2 L + 1)``
  backward passes.

Ablation: ``patching`` (the corrupt run's outputs, MIB's default) or ``mean`` (each sender's
mean output over the clean prompts, per position).

Example:
    >>> c = score_edges(model, pairs, "eap-ig-inputs")                    # doctest: +SKIP
    >>> curve = faithfulness_curve(model, pairs, c)                       # doctest: +SKIP
    >>> curve.cpr, curve.cmd                                              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens._plotting import draw
from arithlens.analyses.circuits.engine import (
    Control,
    receiver_grads,
    run_controlled,
    sender_outputs,
)
from arithlens.analyses.circuits.graph import Graph, graph_of
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.patching.metrics import Metric, PairBatch
from arithlens.patching.runs import prepare
from arithlens.tasks import Pairs

METHODS = ("exact", "eap", "eap-ig-inputs", "eap-ig-activations")
ABLATIONS = ("patching", "mean")
MIB_FRACTIONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""The circuit sizes (fractions of the scored edges) MIB measures faithfulness at."""


@dataclass
class Setup:
    """Pairs, metric, graph and the senders' clean and replacement outputs of one run."""

    batch: PairBatch
    metric: Metric
    graph: Graph
    clean: torch.Tensor  # (batch, pos, sender, d)
    replacement: torch.Tensor  # (batch, pos, sender, d)


@torch.no_grad()
def setup(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    ablation: str = "patching",
    metric: str = "logit_diff",
    digits: str | int | list = "all",
) -> Setup:
    """Everything a scoring or evaluation run needs, checked."""
    check_choice("ablation", ablation, ABLATIONS)
    batch, met = prepare(pairs, metric, digits, model)
    graph = graph_of(model)
    clean = sender_outputs(model, batch.clean.tokens, graph)
    if ablation == "patching":
        replacement = sender_outputs(model, batch.corrupt.tokens, graph)
    else:
        replacement = clean.mean(0, keepdim=True).expand_as(clean).clone()
    return Setup(batch, met, graph, clean, replacement)


def score_matrix(
    model: TransformerBridge,
    s: Setup,
    method: str,
    ig_steps: int = 5,
    positions: bool = False,
    progress: bool = True,
) -> torch.Tensor:
    """``(receiver, sender)`` scores, or ``(receiver, sender, pos)`` with ``positions``; 0
    where no edge. ``exact`` patches an edge at every position at once when position-summed;
    the gradient methods' summed scores are the sums of their per-position ones (linear)."""
    check_choice("method", method, METHODS)
    check_int("ig_steps", ig_steps, minimum=1)
    if method == "exact":
        return _exact(model, s, positions, progress)
    per_pos = _attribution(model, s, method, ig_steps, progress)
    return per_pos if positions else per_pos.sum(-1)


def _attribution(
    model: TransformerBridge, s: Setup, method: str, ig_steps: int, progress: bool
) -> torch.Tensor:
    """EAP, EAP-IG-inputs or EAP-IG-activations scores per position, ``(receiver, sender,
    pos)``."""
    delta = s.replacement - s.clean
    if method == "eap-ig-activations":
        return _ig_activations(model, s, delta, ig_steps, progress)
    tokens = s.batch.clean.tokens
    if method == "eap":
        grads = receiver_grads(model, tokens, s.graph, s.metric)
    else:
        clean_emb, corrupt_emb = s.clean[:, :, 0], s.replacement[:, :, 0]
        grads = torch.zeros(0)
        for k in tqdm(range(ig_steps), desc="EAP-IG steps", disable=not progress):
            embed = corrupt_emb + (k / ig_steps) * (clean_emb - corrupt_emb)
            g = receiver_grads(model, tokens, s.graph, s.metric, Control(embed=embed))
            grads = g if k == 0 else grads + g
        grads = grads / ig_steps
    return _estimate(s, delta, grads)


def _estimate(
    s: Setup, delta: torch.Tensor, grads: torch.Tensor, senders: list[int] | None = None
) -> torch.Tensor:
    """``-(delta . grad)`` per edge and position, ``(receiver, sender, pos)`` (only the columns
    of ``senders`` when given); the grads are of the batch mean, so summing over the batch
    averages the pairs."""
    d = delta if senders is None else delta[:, :, senders]
    est = torch.einsum("bpsd,bprd->rsp", d.to(grads.dtype), grads)
    mask = s.graph.mask if senders is None else s.graph.mask[:, senders]
    return -est * mask[:, :, None].to(est.device)


def _ig_activations(
    model: TransformerBridge, s: Setup, delta: torch.Tensor, ig_steps: int, progress: bool
) -> torch.Tensor:
    """EAP-IG-activations: one interpolation path per sub-layer of senders."""
    R, S = s.graph.mask.shape
    P = s.clean.shape[1]
    dev = s.clean.device
    out = torch.zeros(R, S, P, device=dev)
    groups = s.graph.sender_groups()
    todo = [(g, k) for g in groups for k in range(1, ig_steps + 1)]
    bar = tqdm(total=len(todo), desc="EAP-IG-activations", disable=not progress)
    for group in groups:
        grads = torch.zeros(0)
        for k in range(1, ig_steps + 1):
            ablate = torch.zeros(R, S, P, device=dev)
            # each receiver reads a * clean + (1 - a) * ablated from the group's senders
            ablate[:, group] = (1 - k / ig_steps) * s.graph.mask[:, group, None].to(dev).float()
            control = Control(replacement=s.replacement, ablate=ablate)
            g = receiver_grads(model, s.batch.clean.tokens, s.graph, s.metric, control)
            grads = g if k == 1 else grads + g
            bar.update()
        out[:, group] = _estimate(s, delta, grads / ig_steps, group)
    bar.close()
    return out


@torch.no_grad()
def _exact(model: TransformerBridge, s: Setup, positions: bool, progress: bool) -> torch.Tensor:
    """Patch each edge alone (at every position at once, or at each position) where it can
    matter: where the sender's output differs between the runs, at or before the last position
    the metric reads (elsewhere the score is exactly 0)."""
    base = float(s.metric(model(s.batch.clean.tokens)).mean())
    R, S = s.graph.mask.shape
    P = s.clean.shape[1]
    moved = (s.replacement - s.clean).abs().amax(dim=(0, 3)) > 0  # (pos, sender)
    moved[s.metric.last_pos + 1 :] = False
    if positions:
        todo = [(r, sd, [p]) for r, sd in s.graph.edges() for p in range(P) if moved[p, sd]]
    else:
        todo = [(r, sd, moved[:, sd].nonzero()[:, 0].tolist()) for r, sd in s.graph.edges()]
    dev = s.clean.device
    out = torch.zeros((R, S, P) if positions else (R, S), device=dev)
    for r, sd, at in tqdm(todo, desc="exact edges", disable=not progress):
        if not at:
            continue
        ablate = torch.zeros(R, S, P, device=dev)
        ablate[r, sd, at] = 1.0
        control = Control(replacement=s.replacement, ablate=ablate)
        value = base - float(
            s.metric(run_controlled(model, s.batch.clean.tokens, s.graph, control)).mean()
        )
        out[(r, sd, at[0]) if positions else (r, sd)] = value
    return out


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
