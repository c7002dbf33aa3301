"""Activation patching, batched: many patches per forward pass, resumed from the patched layer.

Denoising runs the corrupt input and patches in clean activations; noising runs the clean input
and patches in corrupt ones. For each layer, the patches (one per position, head, or both) are
stacked along the batch axis, ``k`` copies of the batch at a time, so one forward serves ``k``
patches; chunks are sized to a row budget. On native arithlens models and Hugging Face bridges
where :func:`~arithlens.models.run.can_resume` holds (GPT-2, GPT-NeoX, Llama/Qwen) the forward
resumes from the patched layer (blocks before it are not re-run: their output is the cached
residual), and
positions after the last metric position are never run (causal attention makes their effect
exactly zero, so they are filled with the unpatched value). The numbers equal
``transformer_lens.patching`` (tests compare them); only fewer, cheaper forwards are run.

Example:
    >>> pairs = al.tasks.corrupt_pairs(model.task, 256, change="a.units")          # doctest: +SKIP
    >>> res = activation_patch(model, pairs, "z", by=("layer", "pos", "head"))  # doctest: +SKIP
    >>> res.top(5); res.plot()                                                  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from einops import rearrange, repeat
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens.choices import Direction
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.models import sites
from arithlens.models.run import can_resume, run_from_layer
from arithlens.models.sites import SITES, Site
from arithlens.patching import _fast_z
from arithlens.patching.checks import check_grid, check_layers
from arithlens.patching.direction import baseline, check_direction
from arithlens.patching.metrics import Metric, PairBatch, checked_values, normalized
from arithlens.patching.results import PatchResult
from arithlens.patching.runs import PairRuns, prepare, run_pairs
from arithlens.patching.store import SweepStore, fingerprint
from arithlens.tasks import Pairs

COMPONENTS: dict[str, Site] = SITES
"""Every site of :mod:`arithlens.models.sites` can be patched."""
GRIDS = {("layer", "pos"), ("layer", "head"), ("layer", "pos", "head")}
# Named (component, grid) choices offered by the CLI and the widgets.
GRANULARITIES = {
    "heads": ("z", ("layer", "head")),
    "heads_by_pos": ("z", ("layer", "pos", "head")),
    "resid_pre": ("resid_pre", ("layer", "pos")),
    "resid_mid": ("resid_mid", ("layer", "pos")),
    "resid_post": ("resid_post", ("layer", "pos")),
    "attn_out": ("attn_out", ("layer", "pos")),
    "mlp_out": ("mlp_out", ("layer", "pos")),
    "q": ("q", ("layer", "pos", "head")),
    "k": ("k", ("layer", "pos", "head")),
    "v": ("v", ("layer", "pos", "head")),
    "pattern": ("pattern", ("layer", "head")),
}


def _masks(
    comp: Site, by: tuple[str, ...], n_pos: int, n_heads: int, last_pos: int
) -> tuple[list[tuple[int, ...]], torch.Tensor]:
    """Grid cells to run (excluding positions after ``last_pos``) and a mask per cell.

    Masks have the activation's (pos, head) shape: ``(cells, pos, head)``; for residual-like
    activations the head axis has size 1; for patterns pos means the query position.
    """
    heads = n_heads if comp.layout != "pos d" else 1
    cells: list[tuple[int, ...]] = []
    masks = []
    positions = range(min(n_pos, last_pos + 1))
    if by == ("layer", "pos"):
        for p in positions:
            m = torch.zeros(n_pos, heads, dtype=torch.bool)
            m[p, :] = True
            cells.append((p,))
            masks.append(m)
    elif by == ("layer", "head"):
        for h in range(heads):
            m = torch.zeros(n_pos, heads, dtype=torch.bool)
            m[:, h] = True
            cells.append((h,))
            masks.append(m)
    else:
        for p in positions:
            for h in range(heads):
                m = torch.zeros(n_pos, heads, dtype=torch.bool)
                m[p, h] = True
                cells.append((p, h))
                masks.append(m)
    return cells, torch.stack(masks)


def _expand(mask: torch.Tensor, comp: Site, act: torch.Tensor) -> torch.Tensor:
    """Broadcast ``(k, pos, head)`` masks to ``(k, 1, *activation dims)``."""
    if comp.layout == "pos d":
        return mask[:, None, :, 0, None]
    if comp.layout == "pos head d":
        return mask[:, None, :, :, None]
    return rearrange(mask, "k pos head -> k 1 head pos 1")


def _changed(comp: Site, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """``(pos, head)`` True where the source and target activations differ in any example."""
    if comp.layout == "pos d":
        return (src != tgt).any(0).any(-1)[:, None]
    if comp.layout == "pos head d":
        return (src != tgt).any(0).any(-1)
    return rearrange((src != tgt).any(0).any(-1), "head q -> q head")


def _chunks(cells: list[tuple[int, ...]], size: int, *, by_position: bool) -> list[tuple[int, int]]:
    """``(start, stop)`` slices of ``cells`` of at most ``size``; with ``by_position`` a chunk
    never mixes positions (the partial forward then starts at that position)."""
    bounds = [0]
    for i in range(1, len(cells) + 1):
        if (
            i == len(cells)
            or i - bounds[-1] >= size
            or (by_position and cells[i][0] != cells[i - 1][0])
        ):
            bounds.append(i)
    return list(zip(bounds[:-1], bounds[1:]))


@torch.no_grad()
def activation_patch(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    component: str = "z",
    *,
    by: tuple[str, ...] = ("layer", "pos", "head"),
    metric: str | Metric = "answer_logprob",
    digits: str | int | list = "all",
    direction: Direction = "denoise",
    max_rows: int = 2048,
    layers: list[int] | None = None,
    progress: bool = True,
    resume_dir: str | Path | None = None,
) -> PatchResult:
    """Patch ``component`` at every cell of the grid ``by`` and record the metric.

    Args:
        model: any TransformerBridge with the standard ``blocks`` hooks.
        pairs: clean/corrupt pairs (or their :class:`PairBatch`).
        component: one of :data:`COMPONENTS`.
        by: ``("layer", "pos")``, ``("layer", "head")`` or ``("layer", "pos", "head")``.
        metric: metric name (see :mod:`arithlens.patching.metrics`) or a :class:`Metric`.
        digits: answer digits the metric scores (``"all"``, a name, an index or a list).
        direction: ``"denoise"`` (corrupt run, clean patched in) or ``"noise"`` (the reverse).
        max_rows: rows per forward (copies x batch); bounds memory.
        layers: restrict to these layers (default: all).
        progress: show a tqdm bar.
        resume_dir: write each finished layer here and skip layers already there (see
            :mod:`arithlens.patching.store`): an interrupted sweep resumes.

    Returns:
        A :class:`PatchResult` of the mean metric per cell (``.normalized()`` for 0..1 scores).
    """
    comp = COMPONENTS[check_choice("component", component, tuple(COMPONENTS))]
    by = check_grid(by, GRIDS)
    if comp.layout == "pos d" and "head" in by:
        raise ArithlensError(f"component {component!r} has no heads: use by=('layer', 'pos')")
    check_direction(direction)
    check_int("max_rows", max_rows, minimum=1)
    batch, met = prepare(pairs, metric, digits, model)
    if "pos" in by:
        batch.check_aligned(met.pos)
    layers = check_layers(layers, model.cfg.n_layers)
    sweep = _Sweep.start(model, comp, by, batch, met, direction, layers)
    store = None
    if resume_dir is not None:
        store = _store(resume_dir, model, batch, met, component, by, direction)
    cells, masks = _masks(comp, by, batch.n_pos, sweep.n_heads, met.last_pos)
    shape = [model.cfg.n_layers] + [batch.n_pos if a == "pos" else sweep.n_heads for a in by[1:]]
    values = torch.full(shape, sweep.baseline)
    bar = tqdm(total=len(layers) * len(cells), desc=f"patch {component}", disable=not progress)
    for layer in layers:
        done = store.get(layer) if store else None
        if done is not None:
            values[layer] = done
            bar.update(len(cells))
            continue
        sweep.layer(layer, cells, masks, values, max(1, max_rows // len(batch)), bar)
        if store:
            store.put(layer, values[layer])
    bar.close()
    return PatchResult.of(
        values,
        by,
        batch,
        met,
        sweep.clean_value,
        sweep.corrupt_value,
        component=component,
        method="activation",
        direction=direction,
        layers=layers,
    )


def _store(
    folder: str | Path,
    model: TransformerBridge,
    batch: PairBatch,
    met: Metric,
    component: str,
    by: tuple[str, ...],
    direction: str,
) -> SweepStore:
    """The resumable store of this sweep, keyed by every weight and every input."""
    inputs = [batch.clean.tokens, batch.corrupt.tokens, met.pos, met.clean_tokens]
    key = fingerprint(
        model,
        [*inputs, met.corrupt_tokens],
        component=component,
        by=by,
        metric=met.name,
        digits=met.digits,
        direction=direction,
    )
    return SweepStore(folder, key)


@dataclass
class _Sweep:
    """One activation-patching sweep: the cached runs and how each patch is run (resumed from
    the patched layer, through the fast z path, or as a whole forward)."""

    model: TransformerBridge
    comp: Site
    met: Metric
    runs: PairRuns
    b: int
    n_heads: int
    resume: bool
    fast: bool
    clean_value: float
    corrupt_value: float
    baseline: float

    @classmethod
    def start(
        cls,
        model: TransformerBridge,
        comp: Any,
        by: tuple[str, ...],
        batch: PairBatch,
        met: Metric,
        direction: str,
        layers: list[int],
    ) -> _Sweep:
        """Run clean and corrupt once, caching what the patches need; check every hook."""
        hooks = [comp.at(layer) for layer in layers]
        resume = can_resume(model)
        fast = resume and comp.name == "z" and by == ("layer", "pos", "head")
        fast = fast and _fast_z.applies(model)
        names = set(hooks) | (set(sites.hook("resid_pre", i) for i in layers) if resume else set())
        if fast:
            names |= {n for layer in layers for n in _fast_z.needed_hooks(model, layer)}
        runs = run_pairs(model, batch, names, direction)
        for hook in hooks:
            if hook not in runs.source:
                why = (
                    "never fired in a forward pass" if hook in model.hook_dict else "does not exist"
                )
                raise ArithlensError(f"hook {hook!r} {why} on this model: it cannot be patched")
        clean, corrupt = (
            met(runs.clean_logits).mean().item(),
            met(runs.corrupt_logits).mean().item(),
        )
        # grouped-query attention: k and v have fewer (key-value) heads than q and z
        n_heads = (
            runs.source[hooks[0]].shape[2] if comp.layout == "pos head d" else model.cfg.n_heads
        )
        return cls(
            model=model,
            comp=comp,
            met=met,
            runs=runs,
            b=len(batch),
            n_heads=n_heads,
            resume=resume,
            fast=fast,
            clean_value=clean,
            corrupt_value=corrupt,
            baseline=baseline(direction, clean=clean, corrupt=corrupt),
        )

    def layer(
        self, layer: int, cells: Any, masks: Any, values: torch.Tensor, per_chunk: int, bar: Any
    ) -> None:
        """Fill ``values[layer]`` for every cell whose patch changes anything (a patch that
        copies identical values is exactly the baseline: skipped)."""
        hook = self.comp.at(layer)
        src = self.runs.source[hook]
        active = (masks & _changed(self.comp, src, self.runs.target[hook])[None]).flatten(1).any(1)
        idx = torch.nonzero(active).flatten()
        layer_cells, layer_masks = [cells[i] for i in idx.tolist()], masks[idx]
        bar.update(len(cells) - len(layer_cells))
        for start, stop in _chunks(layer_cells, per_chunk, by_position=self.fast):
            chunk = layer_cells[start:stop]
            logits = self._logits(layer, chunk, layer_masks[start:stop])
            vals = checked_values(self.met, logits, len(chunk) * self.b)
            for cell, v in zip(chunk, vals.reshape(len(chunk), self.b).mean(1)):
                values[(layer,) + tuple(cell)] = v
            bar.update(len(chunk))

    def _logits(self, layer: int, chunk: list[tuple[int, ...]], masks: torch.Tensor):
        """Logits of the ``k`` patched runs of ``chunk``, stacked ``(k * batch, pos, vocab)``."""
        hook, tgt, k = self.comp.at(layer), self.runs.target, len(chunk)
        src = self.runs.source[hook]
        if self.fast:
            return _fast_z.cell_logits(
                self.model,
                layer,
                chunk,
                src,
                tgt[hook],
                tgt,
                self.runs.target_logits,
                torch.unique(self.met.pos),
            )
        fired = []

        def patch_hook(act: torch.Tensor, hook: Any = None) -> torch.Tensor:
            fired.append(True)
            view = act.reshape(k, self.b, *act.shape[1:])
            return torch.where(_expand(masks, self.comp, act), src[None], view).reshape(act.shape)

        if self.resume:
            resid = repeat(tgt[sites.hook("resid_pre", layer)], "b pos d -> (k b) pos d", k=k)
            with self.model.hooks(fwd_hooks=[(hook, patch_hook)]):
                logits = run_from_layer(self.model, resid, layer)
        else:
            tokens = repeat(self.runs.target_tokens, "b pos -> (k b) pos", k=k)
            logits = self.model.run_with_hooks(tokens, fwd_hooks=[(hook, patch_hook)])
        if not fired:
            raise ArithlensError(f"hook {hook!r} never fired: the model does not expose it")
        return logits


__all__ = [
    "COMPONENTS",
    "activation_patch",
    "can_resume",
    "normalized",
    "run_from_layer",
]
