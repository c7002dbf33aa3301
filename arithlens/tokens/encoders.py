"""How a model reads problems: the one interface analyses use to turn problems into tokens.

An *encoder* has a ``task``, and can ``sample`` problems that share one token layout, ``encode``
them into a :class:`~arithlens.tokens.tokenizer.TokenBatch` (answer digit k at ``answer_pos[:, k]``),
label positions, and name the token of each digit. Arithlens models use :class:`CharEncoder`
(one character per token, padded layouts); pretrained LLMs use
:class:`arithlens.tokens.prompts.PromptBuilder` (a Hugging Face tokenizer and a prompt template), attached
as ``model.encoder``. :func:`encoder_of` picks the right one, so probes, patching and
evaluation run unchanged on both.

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> enc = CharEncoder(TaskSpec(op="add", n_digits=2))
    >>> batch = enc.encode(enc.sample(4, seed=0))
    >>> batch.tokens.shape, enc.position_labels(batch)[:3]
    (torch.Size([4, 10]), ['0:a1', '1:a0', '2:+'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from jaxtyping import Int

from arithlens.choices import Strategy
from arithlens.errors import ArithlensError
from arithlens.tasks import AnyTask, Problems, family_pairs, has, role_labels, sample_problems
from arithlens.tokens.tokenizer import (
    CharTokenizer,
    PairBatch,
    TokenBatch,
    encode,
    encode_pairs,
    vocab_for,
)


@runtime_checkable
class Encoder(Protocol):
    @property
    def task(self) -> AnyTask: ...

    @property
    def tokenizer(self) -> Any: ...

    def sample(self, n: int, seed: int = 0, *, strategy: Strategy = "uniform") -> Problems: ...

    def encode(self, problems: Problems) -> TokenBatch: ...

    def position_labels(self, batch: TokenBatch) -> list[str]: ...

    def digit_token_ids(self) -> torch.Tensor | None: ...

    def read_digits(
        self, batch: TokenBatch, predicted: Int[torch.Tensor, "batch digit"]
    ) -> Int[np.ndarray, "batch digit"]: ...

    def pairs(self, n: int, change: str = "a.units", seed: int = 0) -> PairBatch: ...


@dataclass(frozen=True)
class CharEncoder:
    """The arithlens character encoder for ``task`` (digit token id == digit value); sorting
    and numeracy tasks too (one character per token, unpadded texts)."""

    task: AnyTask
    tokenizer: CharTokenizer = None  # type: ignore[assignment]  # set from the task's format

    def __post_init__(self) -> None:
        if self.tokenizer is None:
            object.__setattr__(self, "tokenizer", CharTokenizer(vocab_for(self.task.format)))

    def sample(self, n: int, seed: int = 0, *, strategy: Strategy = "uniform") -> Problems:
        """``n`` distinct problems (padded tasks share one layout by construction); sorting and
        numeracy tasks: ``n`` problems of their sampler (``strategy`` is for arithmetic)."""
        return sample_problems(self.task, n, seed, strategy=strategy, unique=True)

    def encode(self, problems: Problems) -> TokenBatch:
        return encode(problems, self.tokenizer)

    def position_labels(self, batch: TokenBatch) -> list[str]:
        """``"pos:role"`` labels (``"8:c0"``); positions must line up across problems (for
        unpadded tasks: operands of one width, e.g. ``task.at_width(12)``; an answer digit
        that only some problems have is labelled by its character)."""
        task = batch.problems.task
        roles = role_labels(task)
        if roles is not None:
            return roles
        if has(task, "digits"):
            return unpadded_labels(batch)
        # sorting, numeracy: one length per batch, labelled by character
        return [f"{i}:{c}" for i, c in enumerate(batch.texts[0].ljust(batch.tokens.shape[1], "_"))]

    def digit_token_ids(self) -> torch.Tensor:
        """Token id of each digit 0-9 where it stands alone in an answer."""
        return torch.tensor([self.tokenizer.encode(str(d))[0] for d in range(10)])

    def read_digits(
        self, batch: TokenBatch, predicted: Int[torch.Tensor, "batch digit"]
    ) -> Int[np.ndarray, "batch digit"]:
        """Digit values of ``predicted`` token ids, one per answer digit (-1 where the token is
        not a digit or the digit is absent)."""
        table = torch.tensor([int(c) if c.isdigit() else -1 for c in self.tokenizer.vocab])
        ids = predicted.clamp(0, len(table) - 1)
        out = torch.where((predicted >= 0) & (predicted < len(table)), table[ids], -1)
        return torch.where(batch.answer_pos >= 0, out, -1).numpy()

    def pairs(self, n: int, change: str | None = None, seed: int = 0) -> PairBatch:
        """``n`` clean/corrupt pairs, encoded (:func:`arithlens.tasks.family_pairs`:
        ``corrupt_pairs`` for arithmetic, ``numeracy_pairs`` for numeracy, ``sort_pairs`` for
        sorting; ``change`` one of its family's, default the family's first: ``"a.units"``,
        the numeracy task's deciding change, ``"elem.0"``)."""
        return encode_pairs(family_pairs(self.task, n, change=change, seed=seed), self)


def unpadded_labels(batch: TokenBatch) -> list[str]:
    """``"pos:role"`` labels of a batch of unpadded problems whose operands share one layout
    (roles as in :func:`~arithlens.tasks.position_labels`)."""
    if batch.operand_pos is None or not bool((batch.operand_pos == batch.operand_pos[:1]).all()):
        raise ArithlensError(
            f"the problems of {batch.problems.task.name} have operands of different lengths (or "
            "random spaces), so their positions have no common labels: use problems of one "
            "width (al.tasks.sample(model.task.at_width(n_digits), n)) laid out alike"
        )
    n_pos = batch.tokens.shape[1]
    roles = [f"{c}" for c in batch.texts[int(torch.argmax(batch.lengths))].ljust(n_pos, "_")]
    for j, name in enumerate("ab"):
        for k, p in enumerate(batch.operand_pos[0, j].tolist()):
            if p >= 0:
                roles[p] = f"{name}{k}"
    for k in range(batch.answer_pos.shape[1]):
        col = batch.answer_pos[:, k]
        if bool((col == col[0]).all()) and int(col[0]) >= 0:
            roles[int(col[0])] = f"c{k}"
    return [f"{i}:{role}" for i, role in enumerate(roles)]
