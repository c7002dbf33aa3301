"""Attribution patching (Nanda 2023): a first-order estimate of every activation patch at once.

The effect of patching activation ``a`` from the source run into the target run is estimated as
``(a_source - a_target) . d metric / d a`` at the target run: one clean forward, one corrupt
forward and one backward give the whole layer x position (x head) grid. It is exact for a
metric linear in ``a`` and an approximation elsewhere (poor where attention saturates); compare
it with :func:`~arithlens.patching.activation_patch` before trusting it (the tests report the
correlation on the zoo models).

Example:
    >>> est = attribution_patch(model, pairs, "z", by=("layer", "pos", "head"))  # doctest: +SKIP
    >>> est.effect()                                                         # doctest: +SKIP
"""

from __future__ import annotations

import torch
from einops import reduce
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError, check_choice
from arithlens.patching.activation import COMPONENTS, GRIDS
from arithlens.patching.metrics import Metric, PairBatch, check_grid, prepare
from arithlens.patching.results import PatchResult
from arithlens.tasks import Pairs

_REDUCE = {
    ("pos d", ("layer", "pos")): "b pos d -> pos",
    ("pos head d", ("layer", "pos", "head")): "b pos head d -> pos head",
    ("pos head d", ("layer", "head")): "b pos head d -> head",
    ("head qpos kpos", ("layer", "pos", "head")): "b head q k -> q head",
    ("head qpos kpos", ("layer", "head")): "b head q k -> head",
}


def _run_with_grads(
    model: TransformerBridge, tokens: torch.Tensor, hooks: list[str], metric: Metric
) -> tuple[float, dict, dict]:
    acts: dict[str, torch.Tensor] = {}

    def keeper(name: str):
        def keep(act: torch.Tensor, hook=None) -> torch.Tensor:
            act.retain_grad()
            acts[name] = act
            return act

        return keep

    with torch.enable_grad(), model.hooks(fwd_hooks=[(h, keeper(h)) for h in hooks]):
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
        {h: a.grad.detach() for h, a in acts.items()},
    )


def attribution_patch(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    component: str = "z",
    *,
    by: tuple[str, ...] = ("layer", "pos", "head"),
    metric: str | Metric = "answer_logprob",
    digits: str | int | list = "all",
    direction: str = "denoise",
) -> PatchResult:
    """Gradient x activation-difference estimate of :func:`activation_patch`'s grid.

    Same arguments and result layout as ``activation_patch``; ``values`` hold the estimated
    patched metric (the unpatched value plus the estimated effect).
    """
    comp = COMPONENTS[check_choice("component", component, tuple(COMPONENTS))]
    check_choice("direction", direction, ("denoise", "noise"))
    by = check_grid(by, GRIDS)
    if (comp.layout, by) not in _REDUCE:
        raise ArithlensError(f"by={by!r} is not available for component {component!r}")
    batch, met = prepare(pairs, metric, digits, model)
    hooks = [comp.hook.format(layer=layer) for layer in range(model.cfg.n_layers)]
    was_training = model.training
    model.eval()
    try:
        clean_v, clean_a, clean_g = _run_with_grads(model, batch.clean.tokens, hooks, met)
        corrupt_v, corrupt_a, corrupt_g = _run_with_grads(model, batch.corrupt.tokens, hooks, met)
    finally:
        model.train(was_training)
    if direction == "denoise":
        src, tgt, grad, base = clean_a, corrupt_a, corrupt_g, corrupt_v
    else:
        src, tgt, grad, base = corrupt_a, clean_a, clean_g, clean_v
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
        method="attribution",
    )
