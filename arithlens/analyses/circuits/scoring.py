"""Edge scores by four methods (circuits are evaluated in :mod:`.evaluation`).

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
    >>> s = setup(model, pairs)                                           # doctest: +SKIP
    >>> scores = score_matrix(model, s, "eap-ig-inputs")  # (receiver, sender)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

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
    edges: list[tuple[int, int]] | None = None,
) -> torch.Tensor:
    """``(receiver, sender)`` scores, or ``(receiver, sender, pos)`` with ``positions``; 0
    where no edge. ``exact`` patches an edge at every position at once when position-summed
    (only the ``(receiver, sender)`` pairs of ``edges`` when given: re-scoring a few edges
    exactly); the gradient methods' summed scores are the sums of their per-position ones
    (linear)."""
    check_choice("method", method, METHODS)
    check_int("ig_steps", ig_steps, minimum=1)
    if method == "exact":
        return _exact(model, s, positions, progress, edges)
    if edges is not None:
        raise ArithlensError(f"edges= picks edges for method 'exact' only, not {method!r}")
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
def _exact(
    model: TransformerBridge,
    s: Setup,
    positions: bool,
    progress: bool,
    edges: list[tuple[int, int]] | None,
) -> torch.Tensor:
    """Patch each edge alone (at every position at once, or at each position) where it can
    matter: where the sender's output differs between the runs, at or before the last position
    the metric reads (elsewhere the score is exactly 0)."""
    base = float(s.metric(model(s.batch.clean.tokens)).mean())
    R, S = s.graph.mask.shape
    P = s.clean.shape[1]
    moved = (s.replacement - s.clean).abs().amax(dim=(0, 3)) > 0  # (pos, sender)
    moved[s.metric.last_pos + 1 :] = False
    every = s.graph.edges()
    if edges is not None:
        unknown = sorted(set(edges) - set(every))
        if unknown:
            raise ArithlensError(
                f"edges {unknown[:3]} are not (receiver, sender) pairs of the graph: expected "
                "indices from graph.edges()"
            )
        every = [e for e in every if e in set(edges)]
    if positions:
        todo = [(r, sd, [p]) for r, sd in every for p in range(P) if moved[p, sd]]
    else:
        todo = [(r, sd, moved[:, sd].nonzero()[:, 0].tolist()) for r, sd in every]
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
