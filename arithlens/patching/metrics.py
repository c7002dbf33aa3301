"""Patching metrics: functions of the logits at the answer-digit positions, per example.

A :class:`Metric` is built from a :class:`PairBatch` and the answer digits to score (named:
``"units"``, ``"tens"``, ``2``, or ``"all"``; for numeracy tasks answer characters by index or
by a per-problem name, ``"decision"``, ``"first"``, ``"last"``: see
:func:`~arithlens.tasks.answer_index`), so nobody indexes token positions by hand. Calling it
on logits ``(batch, pos, d_vocab)`` returns one value per example, shape ``(batch,)``.

- ``answer_logprob``: mean log-probability of the clean answer digits.
- ``logit_diff``: mean logit of the clean digit minus the logit of the corrupt run's digit.
- ``exact_match``: 1.0 where the argmax at every chosen digit is the clean digit.

:func:`normalized` maps any of them to ``(patched - corrupt) / (clean - corrupt)``.

Example:
    >>> metric = make_metric("answer_logprob", batch, digits="units")   # doctest: +SKIP
    >>> metric(model(batch.corrupt.tokens)).shape                       # doctest: +SKIP
    torch.Size([256])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float, Int

from arithlens.errors import ArithlensError, check_choice
from arithlens.models.contract import check_task
from arithlens.tasks import Pairs, has
from arithlens.tasks.numeracy import answer_index
from arithlens.tasks.numeracy.pairs import POSITIONS
from arithlens.tokens.tokenizer import PairBatch, encode_pairs

__all__ = ["Metric", "PairBatch", "encode_pairs", "make_metric", "normalized", "prepare"]


def digit_indices(batch: PairBatch, digits: str | int | list[str | int]) -> list[int]:
    """Answer digit indices for ``digits`` (``"all"``, a name, an index, or a list of them)."""
    task = batch.pairs.clean.task
    if isinstance(digits, str) and digits == "all":
        # every answer digit present, one per answer token (digits sharing a token count once)
        pos = batch.clean.answer_pos[0].tolist()
        return [k for k, p in enumerate(pos) if p >= 0 and p not in pos[:k]]
    items = list(digits) if isinstance(digits, (list, tuple)) else [digits]
    if not items:
        raise ArithlensError(
            f"digits={digits!r} is empty: expected 'all', a digit name ('units'), an index, or a "
            "non-empty list of them"
        )
    out = [task.answer_digit(d) for d in items]
    pos = batch.clean.answer_pos[0].tolist()
    absent = [d for d, k in zip(items, out) if pos[k] < 0]
    if absent:
        raise ArithlensError(f"answer digit {absent[0]!r} is absent from these prompts' answers")
    return out


def check_layers(layers: list[int] | None, n_layers: int) -> list[int]:
    """``layers`` (all when None) checked: a non-empty list of distinct indices 0..n_layers-1."""
    if layers is None:
        return list(range(n_layers))
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise ArithlensError(f"layers={layers!r} is invalid: expected a list of layer indices")
    out = list(layers)
    bad = [x for x in out if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < n_layers]
    if not out or bad or len(set(out)) != len(out):
        what = f"layer {bad[0]!r} is out of range" if bad else f"layers={out!r} is invalid"
        raise ArithlensError(
            f"{what}: expected a non-empty list of distinct layers (the model has layers "
            f"0..{n_layers - 1})"
        )
    return out


def check_grid(by: object, grids: set[tuple[str, ...]]) -> tuple[str, ...]:
    """``by`` as a tuple, checked to be one of ``grids``."""
    ok = isinstance(by, (tuple, list)) and all(isinstance(a, str) for a in by)
    if not ok or tuple(by) not in grids:  # type: ignore[arg-type]  # a sequence when ok
        raise ArithlensError(f"by={by!r} is unknown: expected one of {sorted(grids)}")
    return tuple(by)  # type: ignore[arg-type]  # a sequence of str, checked above


MetricFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _logprob(
    lg: torch.Tensor, pos: torch.Tensor, clean_t: torch.Tensor, corrupt_t: torch.Tensor
) -> torch.Tensor:
    return lg.log_softmax(-1).gather(-1, clean_t[..., None])[..., 0].mean(-1)


def _logit_diff(
    lg: torch.Tensor, pos: torch.Tensor, clean_t: torch.Tensor, corrupt_t: torch.Tensor
) -> torch.Tensor:
    return (lg.gather(-1, clean_t[..., None]) - lg.gather(-1, corrupt_t[..., None]))[..., 0].mean(
        -1
    )


def _exact(
    lg: torch.Tensor, pos: torch.Tensor, clean_t: torch.Tensor, corrupt_t: torch.Tensor
) -> torch.Tensor:
    return (lg.argmax(-1) == clean_t).all(-1).to(lg.dtype)


METRICS: dict[str, MetricFn] = {
    "answer_logprob": _logprob,
    "logit_diff": _logit_diff,
    "exact_match": _exact,
}


@dataclass(frozen=True)
class Metric:
    """A per-example metric on the logits at chosen answer-digit positions.

    Attributes:
        name: one of :data:`METRICS`.
        digits: answer digit indices scored (or the per-problem name, e.g. ``["decision"]``).
        pos: ``(batch, digit)`` positions whose logits predict those digits.
        clean_tokens: ``(batch, digit)`` clean answer tokens.
        corrupt_tokens: ``(batch, digit)`` corrupt answer tokens.
    """

    name: str
    digits: list[int] | list[str]
    pos: Int[torch.Tensor, "batch digit"]
    clean_tokens: Int[torch.Tensor, "batch digit"]
    corrupt_tokens: Int[torch.Tensor, "batch digit"]

    @property
    def last_pos(self) -> int:
        """Latest position the metric reads; patches after it cannot change it (causality)."""
        return int(self.pos.max())

    def __call__(
        self, logits: Float[torch.Tensor, "rows pos d_vocab"]
    ) -> Float[torch.Tensor, " rows"]:
        """Per-row values; ``rows`` may be ``k * batch`` (k stacked copies of the batch)."""
        rows, b = logits.shape[0], self.pos.shape[0]
        if rows % b:
            raise ArithlensError(
                f"logits have {rows} rows: expected a multiple of the batch size {b}"
            )
        k = rows // b
        pos = self.pos.repeat(k, 1)
        lg = logits[torch.arange(rows)[:, None], pos]
        return METRICS[self.name](
            lg, pos, self.clean_tokens.repeat(k, 1), self.corrupt_tokens.repeat(k, 1)
        )


def make_metric(name: str, batch: PairBatch, digits: str | int | list[str | int] = "all") -> Metric:
    """Build metric ``name`` for ``batch`` scoring answer ``digits``."""
    check_choice("metric", name, tuple(METRICS))
    task = batch.pairs.clean.task
    if has(task, "decision") and isinstance(digits, str) and digits in POSITIONS:
        return _named_metric(name, batch, digits)
    idx = digit_indices(batch, digits)
    pos = torch.stack([batch.clean.predict_pos(k) for k in idx], 1)
    clean_t = batch.clean.answer_tokens()[:, idx]
    corrupt_t = batch.corrupt.answer_tokens()[:, idx]
    return Metric(name, idx, pos, clean_t, corrupt_t)


def _named_metric(name: str, batch: PairBatch, which: str) -> Metric:
    """A metric on one answer character per problem, named (``"decision"``): each row's own."""
    idx = torch.from_numpy(answer_index(batch.pairs.clean, which))[:, None]  # type: ignore[arg-type]
    pos = torch.gather(
        batch.clean.answer_pos, 1, idx.clamp(max=batch.clean.answer_pos.shape[1] - 1)
    )
    absent = torch.nonzero((pos < 0) | (idx >= batch.clean.answer_pos.shape[1]))[:, 0]
    if len(absent):
        r = int(absent[0])
        raise ArithlensError(
            f"answer character {which!r} of {batch.clean.texts[r]!r} is its end mark, not a "
            "character of the answer: use pairs whose operands are not prefixes of each other"
        )
    clean_t = torch.gather(batch.clean.tokens, 1, pos)
    corrupt_t = torch.gather(batch.corrupt.tokens, 1, pos)
    return Metric(name, [which], pos - 1, clean_t, corrupt_t)


def checked_values(metric: Metric, logits: torch.Tensor, rows: int) -> torch.Tensor:
    """``metric(logits)``, checked to give one value per row."""
    out = metric(logits)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (rows,):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ArithlensError(
            f"metric {metric.name!r} returned shape {shape}: expected ({rows},), one value per row"
        )
    return out


def _same_first_row(encoder, batch: PairBatch) -> bool:
    """Whether ``encoder`` tokenizes the batch's first clean problem as the batch holds it
    (alone it may be shorter: rows of unpadded tasks are right-padded to the longest)."""
    one = encoder.encode(batch.pairs.clean[:1]).tokens[0]
    return len(one) <= batch.n_pos and torch.equal(one, batch.clean.tokens[0, : len(one)])


def prepare(
    pairs: Pairs | PairBatch,
    metric: str | Metric,
    digits: str | int | list = "all",
    model=None,
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


def run_pairs(model, batch: PairBatch, names: set[str], direction: str) -> PairRuns:
    """Run clean and corrupt once each, caching ``names``; orient them for ``direction``."""
    clean_logits, clean_cache = model.run_with_cache(
        batch.clean.tokens, names_filter=lambda n: n in names
    )
    corrupt_logits, corrupt_cache = model.run_with_cache(
        batch.corrupt.tokens, names_filter=lambda n: n in names
    )
    if direction == "denoise":
        return PairRuns(
            clean_logits,
            corrupt_logits,
            clean_cache,
            corrupt_cache,
            batch.corrupt.tokens,
            corrupt_logits,
        )
    return PairRuns(
        clean_logits, corrupt_logits, corrupt_cache, clean_cache, batch.clean.tokens, clean_logits
    )


def normalized(patched: torch.Tensor, clean: float, corrupt: float) -> torch.Tensor:
    """``(patched - corrupt) / (clean - corrupt)``: 0 = no effect, 1 = fully restored."""
    denom = clean - corrupt
    if abs(denom) < 1e-12:
        raise ArithlensError(
            f"clean and corrupt metric values are equal ({clean:.6g}): the change does not "
            "affect this metric, so a normalized score is undefined"
        )
    return (patched - corrupt) / denom
