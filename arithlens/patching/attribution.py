"""Attribution patching (Nanda 2023): a first-order estimate of every activation patch at once.

The effect of patching activation ``a`` from the source run into the target run is estimated as
``(a_source - a_target) . d metric / d a`` at the target run: one clean forward, one corrupt
forward and one backward give the whole layer x position (x head) grid. It is exact for a
metric linear in ``a`` and an approximation elsewhere (poor where attention saturates); compare
it with :func:`~arithlens.patching.activation_patch` before trusting it
(:func:`~arithlens.patching.agreement` reports Pearson on the cells that can be nonzero,
Spearman and top-k overlap).

With ``ig_steps=k > 1`` the gradient is instead averaged over ``k`` points on the straight line
between the two runs (integrated gradients along the clean-corrupt path, as EAP-IG, Hanna et
al. 2024): the residual stream entering block 0 is set to ``target + alpha * (source - target)``
for ``alpha = 0, 1/k, ..., (k-1)/k`` (a left Riemann sum, so ``ig_steps=1`` is plain
attribution patching, as in transformer_lens), and the averaged gradient multiplies the same
activation difference. Each step costs one more forward and backward pass.

Example:
    >>> est = attribution_patch(model, pairs, "z", by=("layer", "pos", "head"))  # doctest: +SKIP
    >>> est.effect()                                                         # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
from einops import reduce
from transformer_lens.model_bridge import TransformerBridge

from arithlens.choices import Direction
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.models import sites
from arithlens.patching.activation import COMPONENTS, GRIDS
from arithlens.patching.checks import check_grid
from arithlens.patching.direction import baseline, check_direction, orient
from arithlens.patching.metrics import Metric, PairBatch
from arithlens.patching.results import PatchResult
from arithlens.patching.runs import prepare
from arithlens.tasks import Pairs

_REDUCE = {
    ("pos d", ("layer", "pos")): "b pos d -> pos",
    ("pos head d", ("layer", "pos", "head")): "b pos head d -> pos head",
    ("pos head d", ("layer", "head")): "b pos head d -> head",
    ("head qpos kpos", ("layer", "pos", "head")): "b head q k -> q head",
    ("head qpos kpos", ("layer", "head")): "b head q k -> head",
}


INPUT = sites.EMBEDDINGS
"""Where integrated gradients interpolates between the runs: the residual stream entering block 0."""


def _run_with_grads(
    model: TransformerBridge,
    tokens: torch.Tensor,
    hooks: list[str],
    metric: Metric,
    interpolate: tuple[torch.Tensor, torch.Tensor, float] | None = None,
) -> tuple[float, dict, dict]:
    """The metric, the hooked activations and their gradients on ``tokens``; with
    ``interpolate=(target, source, alpha)`` the block-0 input is ``target + alpha (source -
    target)`` instead of the tokens' own."""
    acts: dict[str, torch.Tensor] = {}

    def keeper(name: str):
        def keep(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
            if interpolate is not None and name == INPUT:
                tgt, src, alpha = interpolate
                act = (tgt + alpha * (src - tgt)).requires_grad_(True)
            act.retain_grad()
            acts[name] = act
            return act

        return keep

    names = list(dict.fromkeys([*hooks, *([INPUT] if interpolate is not None else [])]))
    with torch.enable_grad(), model.hooks(fwd_hooks=[(h, keeper(h)) for h in names]):
        value = metric(model(tokens)).mean()
        model.zero_grad(set_to_none=True)
        value.backward()
    missing = [h for h in hooks if h not in acts]
    if missing:
        raise ArithlensError(f"hook {missing[0]!r} never fired: the model does not expose it")
    model.zero_grad(set_to_none=True)
    return (
        value.item(),
        {h: a.detach() for h, a in acts.items()},
        {h: _grad(a) for h, a in acts.items()},
    )


def _grad(a: torch.Tensor) -> torch.Tensor:
    if a.grad is None:  # every hooked activation feeds the metric in a transformer
        raise ArithlensError("an activation got no gradient: the metric does not depend on it")
    return a.grad.detach()


def attribution_patch(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    component: str = "z",
    *,
    by: tuple[str, ...] = ("layer", "pos", "head"),
    metric: str | Metric = "answer_logprob",
    digits: str | int | list = "all",
    direction: Direction = "denoise",
    ig_steps: int = 1,
) -> PatchResult:
    """Gradient x activation-difference estimate of :func:`activation_patch`'s grid.

    Same arguments and result layout as ``activation_patch``; ``values`` hold the estimated
    patched metric (the unpatched value plus the estimated effect).

    Example:
        >>> est = attribution_patch(model, pairs, "z", by=("layer", "head"))            # doctest: +SKIP
        >>> ig = attribution_patch(model, pairs, "z", by=("layer", "head"), ig_steps=8)  # doctest: +SKIP

    Args:
        ig_steps: 1 for attribution patching (the gradient at the patched-into run); ``k > 1``
            for integrated gradients over ``k`` points of the path between the runs.
    """
    comp = COMPONENTS[check_choice("component", component, tuple(COMPONENTS))]
    check_direction(direction)
    check_int("ig_steps", ig_steps, minimum=1)
    by = check_grid(by, GRIDS)
    if (comp.layout, by) not in _REDUCE:
        raise ArithlensError(f"by={by!r} is not available for component {component!r}")
    batch, met = prepare(pairs, metric, digits, model)
    if "pos" in by:
        batch.check_aligned(met.pos)
    hooks = [comp.at(layer) for layer in range(model.cfg.n_layers)]
    was_training = model.training
    model.eval()
    try:
        clean_v, clean_a, clean_g = _run_with_grads(model, batch.clean.tokens, hooks, met)
        corrupt_v, corrupt_a, corrupt_g = _run_with_grads(model, batch.corrupt.tokens, hooks, met)
        ends = (
            (_block0_input(model, batch.clean.tokens), _block0_input(model, batch.corrupt.tokens))
            if ig_steps > 1
            else None
        )
    finally:
        model.train(was_training)
    src, tgt = orient(direction, clean_a, corrupt_a)
    grad = orient(direction, clean_g, corrupt_g)[1]  # the gradient at the run patched into
    base = baseline(direction, clean=clean_v, corrupt=corrupt_v)
    tokens = orient(direction, batch.clean.tokens, batch.corrupt.tokens)[1]
    if ends is not None:  # ig_steps > 1; left Riemann sum: alpha = 0 is the gradient already taken
        clean_in, corrupt_in = ends
        # from the run patched into (target) towards the run patched from (source)
        src_in, tgt_in = orient(direction, clean_in, corrupt_in)
        grad = {h: g.clone() for h, g in grad.items()}
        model.eval()
        try:
            for j in range(1, ig_steps):
                g = _run_with_grads(model, tokens, hooks, met, (tgt_in, src_in, j / ig_steps))[2]
                for h in hooks:
                    grad[h] += g[h]
        finally:
            model.train(was_training)
        grad = {h: g / ig_steps for h, g in grad.items()}
    pattern = _REDUCE[(comp.layout, by)]
    # grad is of the batch mean, so summing over the batch gives the change in the mean.
    values = torch.stack([reduce((src[h] - tgt[h]) * grad[h], pattern, "sum") for h in hooks])
    return PatchResult.of(
        values + base,
        by,
        batch,
        met,
        clean_v,
        corrupt_v,
        component=component,
        direction=direction,
        method="attribution" if ig_steps == 1 else "integrated_gradients",
        ig_steps=ig_steps,
    )


@torch.no_grad()
def _block0_input(model: TransformerBridge, tokens: torch.Tensor) -> torch.Tensor:
    name = INPUT
    return model.run_with_cache(tokens, names_filter=lambda n: n == name)[1][name]
