"""Path patching (Wang et al. 2022), the method Zhang et al. (2024) used to find key heads.

Measures the effect of *sender* heads on chosen *receivers* along paths that avoid the other
heads. By default it noises (Wang et al.'s convention): the clean run, with the sender heads'
outputs (``hook_z``) taken from the corrupt run and every other head's ``hook_z`` frozen at its
clean value. What happens to the MLPs is the variant, and must be chosen knowingly:

- ``mlps="recompute"`` (default; Wang et al.'s definition): MLPs recompute on the patched
  residual stream, so sender -> MLP -> ... -> receiver paths count. In arithmetic models the MLPs
  do much of the work, and this is the effect that ranks heads the way activation patching does.
- ``mlps="freeze"`` (direct paths only): every MLP output is frozen at its clean value as well,
  so only sender -> residual stream -> receiver counts.

Receivers:

- ``"logits"``: the metric is read from that run's logits.
- ``[(layer, head, "q" | "k" | "v"), ...]``: that run's q / k / v of each receiver head is
  recorded, and a second clean run patches only those in (everything else recomputes); the
  metric is read there. This isolates sender -> receiver-input paths.

Difference from activation patching of ``hook_z`` (:func:`activation_patch`): that lets every
later head recompute too, so it measures the sender's total effect through all paths. With no
head between sender and receiver (last-layer sender, receiver ``"logits"``) the recompute
variant and activation patching agree exactly, and in an attention-only model so do both
variants; tests check both, and both variants against a hand-written hook loop.

Example:
    >>> res = path_patch(model, pairs, receivers="logits")            # doctest: +SKIP
    >>> res.settings["mlps"], res.top(5)                                   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
from einops import repeat
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens.choices import Direction, Mlps
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.models import sites
from arithlens.models.run import can_resume, run_from_layer
from arithlens.patching.direction import baseline, check_direction
from arithlens.patching.metrics import Metric, PairBatch, checked_values
from arithlens.patching.results import PatchResult
from arithlens.patching.runs import PairRuns, prepare, run_pairs
from arithlens.tasks import Pairs

Receiver = tuple[int, int, str]


def _check_heads(model: TransformerBridge, heads: list[tuple[int, int]], what: str) -> None:
    if not heads:
        raise ArithlensError(f"no {what} heads given: expected a non-empty list of (layer, head)")
    for item in heads:
        ok = isinstance(item, (tuple, list)) and len(item) == 2
        if not ok or not all(isinstance(x, int) and not isinstance(x, bool) for x in item):
            raise ArithlensError(f"{what} head {item!r} is invalid: expected (layer, head) ints")
        layer, head = item
        if not (0 <= layer < model.cfg.n_layers and 0 <= head < model.cfg.n_heads):
            raise ArithlensError(
                f"{what} head ({layer}, {head}) does not exist: the model has layers "
                f"0..{model.cfg.n_layers - 1} and heads 0..{model.cfg.n_heads - 1}"
            )


def _frozen_run_hooks(
    model: TransformerBridge,
    senders_mask: torch.Tensor,
    src: Any,
    tgt: Any,
    k: int,
    freeze_mlps: bool,
) -> sites.Hooks:
    """Hooks that set every head's z to tgt (or src for senders), and every MLP output to tgt
    when ``freeze_mlps``."""
    hooks: sites.Hooks = []
    for layer in range(model.cfg.n_layers):
        zname, mname = sites.hook("z", layer), sites.hook("mlp_out", layer)
        m = senders_mask[:, layer][:, None, None, :, None]  # (k, 1, 1, head, 1)

        def set_z(act: torch.Tensor, hook: Any = None, zname: str = zname, m: torch.Tensor = m):
            out = torch.where(m, src[zname][None], tgt[zname][None])
            return out.reshape(act.shape)

        def set_mlp(act: torch.Tensor, hook: Any = None, mname: str = mname):
            return repeat(tgt[mname], "b pos d -> (k b) pos d", k=k)

        hooks.append((zname, set_z))
        if freeze_mlps and not getattr(model.cfg, "attn_only", False):
            hooks.append((mname, set_mlp))
    return hooks


@torch.no_grad()
def path_patch(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    *,
    receivers: str | list[Receiver] = "logits",
    senders: list[tuple[int, int]] | None = None,
    metric: str | Metric = "answer_logprob",
    digits: str | int | list = "all",
    direction: Direction = "noise",
    mlps: Mlps = "recompute",
    max_rows: int = 2048,
    progress: bool = True,
) -> PatchResult:
    """Path-patch each sender head (default: every head) into ``receivers``.

    Example:
        >>> res = path_patch(model, pairs)                         # doctest: +SKIP
        >>> direct = path_patch(model, pairs, mlps="freeze")       # doctest: +SKIP

    Args:
        model: a TransformerBridge.
        pairs: clean/corrupt pairs.
        receivers: ``"logits"`` or a list of ``(layer, head, "q"|"k"|"v")``.
        senders: heads to test one at a time (default: all ``(layer, head)``).
        metric: metric name or :class:`Metric`.
        digits: answer digits scored.
        direction: ``"noise"`` (clean run, corrupt sender; Wang et al.) or ``"denoise"``.
        mlps: ``"recompute"`` (Wang et al.: other heads frozen, MLPs recomputed) or
            ``"freeze"`` (MLPs frozen too: direct paths only). Recorded in ``res.settings``.
        max_rows: rows per forward.
        progress: tqdm bar.

    Returns:
        A ``(layer, head)`` :class:`PatchResult` whose ``values[layer, head]`` is the mean metric
        with that sender patched; cells not tested hold the unpatched value.
    """
    check_direction(direction)
    check_choice("mlps", mlps, ("recompute", "freeze"))
    check_int("max_rows", max_rows, minimum=1)
    batch, met = prepare(pairs, metric, digits, model)
    n_layers, n_heads, b = model.cfg.n_layers, model.cfg.n_heads, len(batch)
    senders = (
        [(layer, h) for layer in range(n_layers) for h in range(n_heads)]
        if senders is None
        else list(senders)
    )
    _check_heads(model, senders, "sender")
    _check_receivers(model, receivers)
    names = (
        set(sites.layers("z", n_layers))
        | (set(sites.layers("mlp_out", n_layers)) if mlps == "freeze" else set())
        | set(sites.layers("resid_pre", n_layers))
    )
    runs = run_pairs(model, batch, names, direction)
    clean_v, corrupt_v = (
        met(runs.clean_logits).mean().item(),
        met(runs.corrupt_logits).mean().item(),
    )
    values = torch.full((n_layers, n_heads), baseline(direction, clean=clean_v, corrupt=corrupt_v))
    per = max(1, max_rows // b)
    bar = tqdm(total=len(senders), desc="path patch", disable=not progress)
    for start in range(0, len(senders), per):
        chunk = senders[start : start + per]
        logits = _senders_run(model, runs, chunk, receivers, mlps == "freeze")
        vals = checked_values(met, logits, len(chunk) * b).reshape(len(chunk), b).mean(1)
        for (layer, h), v in zip(chunk, vals):
            values[layer, h] = v
        bar.update(len(chunk))
    bar.close()
    return PatchResult.of(
        values,
        ("layer", "head"),
        batch,
        met,
        clean_v,
        corrupt_v,
        component="z",
        method="path",
        direction=direction,
        mlps=mlps,
        receivers=receivers if receivers == "logits" else [list(r) for r in receivers],
    )


def _check_receivers(model: TransformerBridge, receivers: object) -> None:
    if receivers == "logits":
        return
    if not isinstance(receivers, list) or not receivers:
        raise ArithlensError(
            f"receivers={receivers!r}: expected 'logits' or a list of (layer, head, 'q'|'k'|'v')"
        )
    for r in receivers:
        if not isinstance(r, (tuple, list)) or len(r) != 3:
            raise ArithlensError(f"receiver {r!r} is invalid: expected (layer, head, 'q'|'k'|'v')")
        check_choice("receiver input", r[2], ("q", "k", "v"))
    _check_heads(model, [(r[0], r[1]) for r in receivers], "receiver")


def _senders_run(
    model: TransformerBridge,
    runs: PairRuns,
    chunk: list[tuple[int, int]],
    receivers: str | list[Receiver],
    freeze_mlps: bool,
) -> torch.Tensor:
    """Logits of one run per sender in ``chunk``, stacked ``(k * batch, pos, vocab)``: every
    head frozen at the target run except the sender, which carries the source run."""
    k = len(chunk)
    mask = torch.zeros(k, model.cfg.n_layers, model.cfg.n_heads, dtype=torch.bool)
    for i, (layer, h) in enumerate(chunk):
        mask[i, layer, h] = True
    tokens = repeat(runs.target_tokens, "b pos -> (k b) pos", k=k)
    hooks = _frozen_run_hooks(model, mask, runs.source, runs.target, k, freeze_mlps)
    if isinstance(receivers, str):  # "logits"
        return model.run_with_hooks(tokens, fwd_hooks=hooks)
    return _receiver_run(model, tokens, hooks, receivers, runs.target, k)


def _receiver_run(
    model: TransformerBridge,
    tokens: torch.Tensor,
    frozen_hooks: sites.Hooks,
    receivers: list[Receiver],
    tgt: Any,
    k: int,
) -> torch.Tensor:
    """Record receivers' q/k/v under the frozen run, then patch only those into a normal run."""
    names = {sites.hook(x, layer) for layer, _, x in receivers}
    store: dict[str, torch.Tensor] = {}

    def recorder(name: str):
        def rec(act: torch.Tensor, hook: Any = None):
            store[name] = act.clone()
            return act

        return rec

    model.run_with_hooks(tokens, fwd_hooks=frozen_hooks + [(n, recorder(n)) for n in names])
    patch_hooks: sites.Hooks = []
    for name in names:
        heads = [h for layer, h, x in receivers if sites.hook(x, layer) == name]

        def setter(act: torch.Tensor, hook: Any = None, name: str = name, heads: list[int] = heads):
            out = act.clone()
            out[:, :, heads] = store[name][:, :, heads]
            return out

        patch_hooks.append((name, setter))
    first = min(layer for layer, _, _ in receivers)
    if can_resume(model):
        resid = repeat(tgt[sites.hook("resid_pre", first)], "b pos d -> (k b) pos d", k=k)
        with model.hooks(fwd_hooks=patch_hooks):
            return run_from_layer(model, resid, first)
    return model.run_with_hooks(tokens, fwd_hooks=patch_hooks)
