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

import torch
from jaxtyping import Float, Int

from arithlens.errors import ArithlensError, check_choice
from arithlens.tasks import has
from arithlens.tasks.numeracy import answer_index
from arithlens.tasks.numeracy.pairs import POSITIONS
from arithlens.tokens.tokenizer import PairBatch, encode_pairs

__all__ = ["Metric", "PairBatch", "encode_pairs", "make_metric", "normalized"]


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


def normalized(patched: torch.Tensor, clean: float, corrupt: float) -> torch.Tensor:
    """``(patched - corrupt) / (clean - corrupt)``: 0 = no effect, 1 = fully restored."""
    denom = clean - corrupt
    if abs(denom) < 1e-12:
        raise ArithlensError(
            f"clean and corrupt metric values are equal ({clean:.6g}): the change does not "
            "affect this metric, so a normalized score is undefined"
        )
    return (patched - corrupt) / denom
