"""One patch, every example: the distribution behind one cell of a patching heatmap.

A heatmap cell is a mean over pairs; :func:`patch_cell` returns the metric of each pair with
that one cell patched, beside its clean and corrupt values, so a researcher can see whether a
mean effect of 0.5 is every pair half-restored or half the pairs fully restored.

Example:
    >>> cell = patch_cell(model, pairs, "z", layer=1, head=0)      # doctest: +SKIP
    >>> cell.effect.shape                                          # doctest: +SKIP
    torch.Size([256])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from transformer_lens.model_bridge import TransformerBridge

from arithlens._saving import Saveable
from arithlens.choices import Direction
from arithlens.errors import ArithlensError, check_choice
from arithlens.patching.activation import COMPONENTS
from arithlens.patching.direction import check_direction, orient
from arithlens.patching.metrics import Metric, PairBatch, checked_values
from arithlens.patching.runs import prepare, run_pairs
from arithlens.tasks import Pairs


@dataclass(frozen=True)
class CellEffect(Saveable):
    """Per-pair metric values for one patched cell.

    Attributes:
        patched: ``(pair,)`` metric with the cell patched.
        clean, corrupt: ``(pair,)`` metric of the unpatched clean and corrupt runs.
        direction: ``"denoise"`` or ``"noise"``.
    """

    patched: Float[torch.Tensor, " pair"]
    clean: Float[torch.Tensor, " pair"]
    corrupt: Float[torch.Tensor, " pair"]
    direction: str

    @property
    def effect(self) -> Float[torch.Tensor, " pair"]:
        """Change from the run patched into (corrupt when denoising, clean when noising)."""
        return self.patched - orient(self.direction, self.clean, self.corrupt)[1]


def _cell_hook(
    layout: str, src: torch.Tensor, pos: int | None, head: int | None
) -> Callable[..., torch.Tensor]:
    """A hook writing the source activation ``src`` at ``pos`` and ``head`` (every one when
    None) of a component with ``layout``."""

    def hook_fn(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
        idx: list = [slice(None)] * act.dim()
        if layout == "head qpos kpos":
            idx[1], idx[2] = (
                (slice(None) if head is None else head),
                (slice(None) if pos is None else pos),
            )
        else:
            idx[1] = slice(None) if pos is None else pos
            if layout == "pos head d":
                idx[2] = slice(None) if head is None else head
        act = act.clone()
        act[tuple(idx)] = src[tuple(idx)]
        return act

    return hook_fn


@torch.no_grad()
def patch_cell(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    component: str,
    layer: int,
    *,
    pos: int | None = None,
    head: int | None = None,
    metric: str | Metric = "answer_logprob",
    digits: str | int | list = "all",
    direction: Direction = "denoise",
) -> CellEffect:
    """Patch ``component`` of ``layer`` at ``pos`` (all positions when None) and ``head`` (all
    heads when None) from the source run into the target run; the metric per pair.

    The mean of ``patched`` equals the matching cell of
    :func:`~arithlens.patching.activation_patch`.
    """
    comp = COMPONENTS[check_choice("component", component, tuple(COMPONENTS))]
    check_direction(direction)
    if not 0 <= layer < model.cfg.n_layers:
        raise ArithlensError(
            f"layer {layer} is out of range: the model has layers 0..{model.cfg.n_layers - 1}"
        )
    if comp.layout == "pos d" and head is not None:
        raise ArithlensError(f"component {component!r} has no heads: use head=None")
    batch, met = prepare(pairs, metric, digits, model)
    hook = comp.at(layer)
    runs = run_pairs(model, batch, {hook}, direction)
    if hook not in runs.source:
        raise ArithlensError(f"hook {hook!r} never fired on this model: it cannot be patched")
    src = runs.source[hook]
    n_pos = batch.n_pos
    if pos is not None and not 0 <= pos < n_pos:
        raise ArithlensError(f"pos={pos} is out of range: expected 0..{n_pos - 1}")
    head_axis = 1 if comp.layout == "head qpos kpos" else 2
    if head is not None and not 0 <= head < src.shape[head_axis]:
        raise ArithlensError(f"head={head} is out of range: expected 0..{src.shape[head_axis] - 1}")
    hook_fn = _cell_hook(comp.layout, src, pos, head)
    logits = model.run_with_hooks(runs.target_tokens, fwd_hooks=[(hook, hook_fn)])
    b = len(batch)
    return CellEffect(
        patched=checked_values(met, logits, b).float(),
        clean=checked_values(met, runs.clean_logits, b).float(),
        corrupt=checked_values(met, runs.corrupt_logits, b).float(),
        direction=direction,
    )
