"""Pairs ready to patch: tokenized by the model's encoder with the metric built (:func:`prepare`),
and the clean and corrupt runs cached once and oriented by the direction (:func:`run_pairs`).

Example:
    >>> batch, metric = prepare(pairs, "logit_diff", "units", model)   # doctest: +SKIP
    >>> runs = run_pairs(model, batch, {"blocks.0.attn.hook_z"}, "denoise")   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models.contract import check_task
from arithlens.patching.direction import orient
from arithlens.patching.metrics import Metric, make_metric
from arithlens.tasks import Pairs
from arithlens.tokens.encoders import Encoder
from arithlens.tokens.tokenizer import PairBatch, encode_pairs


def _same_first_row(encoder: Encoder, batch: PairBatch) -> bool:
    """Whether ``encoder`` tokenizes the batch's first clean problem as the batch holds it
    (alone it may be shorter: rows of unpadded tasks are right-padded to the longest)."""
    one = encoder.encode(batch.pairs.clean[:1]).tokens[0]
    return len(one) <= batch.n_pos and torch.equal(one, batch.clean.tokens[0, : len(one)])


def prepare(
    pairs: Pairs | PairBatch,
    metric: str | Metric,
    digits: str | int | list = "all",
    model: TransformerBridge | None = None,
) -> tuple[PairBatch, Metric]:
    """Tokenized pairs (by ``model``'s encoder) and the metric object, from whatever the caller
    passed."""
    batch: PairBatch | None
    if isinstance(pairs, PairBatch):
        batch, raw = pairs, pairs.pairs
    elif isinstance(pairs, Pairs):
        batch, raw = None, pairs
    else:
        raise ArithlensError(
            f"pairs is a {type(pairs).__name__}: expected arithlens.tasks.Pairs (from "
            "corrupt_pairs) or a PairBatch (from model.encoder.pairs / encode_pairs)"
        )
    task = raw.clean.task
    if model is None:
        if batch is None:
            batch = encode_pairs(raw)
    else:
        encoder = check_task(model, task, "pairs", any_width=True)
        if batch is None:
            batch = encode_pairs(raw, encoder)
        elif not _same_first_row(encoder, batch):
            raise ArithlensError(
                "the PairBatch was tokenized by another encoder than the model's: build it with "
                "model.encoder.pairs(...) or encode_pairs(pairs, encoder_of(model))"
            )
        if batch.n_pos > model.cfg.n_ctx:
            raise ArithlensError(
                f"pairs of {task.name} have {batch.n_pos} tokens but the model (of "
                f"{encoder.task.name}) has a context of n_ctx={model.cfg.n_ctx}: use pairs of "
                "its task, or build it with a longer n_ctx to patch longer problems"
            )
    return batch, metric if isinstance(metric, Metric) else make_metric(metric, batch, digits)


@dataclass(frozen=True)
class PairRuns:
    """Cached clean and corrupt runs, oriented for a patching direction.

    Attributes:
        clean_logits, corrupt_logits: logits of the two unpatched runs.
        source: cache patched *from* (clean when denoising, corrupt when noising).
        target: cache of the run patched *into*.
        target_tokens: tokens of that run.
        target_logits: its logits.
    """

    clean_logits: torch.Tensor
    corrupt_logits: torch.Tensor
    source: Any  # transformer_lens ActivationCache: hook name -> tensor
    target: Any
    target_tokens: torch.Tensor
    target_logits: torch.Tensor


def run_pairs(
    model: TransformerBridge, batch: PairBatch, names: set[str], direction: str
) -> PairRuns:
    """Run clean and corrupt once each, caching ``names``; orient them for ``direction``."""
    clean_logits, clean_cache = model.run_with_cache(
        batch.clean.tokens, names_filter=lambda n: n in names
    )
    corrupt_logits, corrupt_cache = model.run_with_cache(
        batch.corrupt.tokens, names_filter=lambda n: n in names
    )
    source, target = orient(direction, clean_cache, corrupt_cache)
    tokens, logits = orient(
        direction, (batch.clean.tokens, clean_logits), (batch.corrupt.tokens, corrupt_logits)
    )[1]
    return PairRuns(clean_logits, corrupt_logits, source, target, tokens, logits)
