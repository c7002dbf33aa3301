"""How a model reads problems: the one interface analyses use to turn problems into tokens.

An *encoder* has a ``task``, and can ``sample`` problems that share one token layout, ``encode``
them into a :class:`~arithlens.tokenizer.TokenBatch` (answer digit k at ``answer_pos[:, k]``),
label positions, and name the token of each digit. Arithlens models use :class:`CharEncoder`
(one character per token, padded layouts); pretrained LLMs use
:class:`arithlens.llm.PromptBuilder` (a Hugging Face tokenizer and a prompt template), attached
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
from typing import TYPE_CHECKING, Protocol

import torch

from arithlens.errors import ArithlensError
from arithlens.tasks import Problems, TaskSpec, corrupt_pairs, position_labels, sample
from arithlens.tokenizer import CharTokenizer, TokenBatch, encode

if TYPE_CHECKING:
    from arithlens.patching.metrics import PairBatch


class Encoder(Protocol):
    task: TaskSpec

    def sample(self, n: int, seed: int = 0, *, strategy: str = "uniform") -> Problems: ...

    def encode(self, problems: Problems) -> TokenBatch: ...

    def position_labels(self, batch: TokenBatch) -> list[str]: ...

    def digit_token_ids(self) -> torch.Tensor | None: ...

    def pairs(self, n: int, change: str = "a.units", seed: int = 0) -> PairBatch: ...


@dataclass(frozen=True)
class CharEncoder:
    """The arithlens character encoder for ``task`` (digit token id == digit value)."""

    task: TaskSpec
    tokenizer: CharTokenizer = CharTokenizer()

    def sample(self, n: int, seed: int = 0, *, strategy: str = "uniform") -> Problems:
        """``n`` distinct problems (padded tasks share one layout by construction)."""
        return sample(self.task, n, seed=seed, strategy=strategy, unique=True)

    def encode(self, problems: Problems) -> TokenBatch:
        return encode(problems, self.tokenizer)

    def position_labels(self, batch: TokenBatch) -> list[str]:
        """``"pos:role"`` labels (``"8:c0"``); positions must line up across problems."""
        return position_labels(self.task)

    def digit_token_ids(self) -> torch.Tensor:
        """Token id of each digit 0-9 where it stands alone in an answer."""
        return torch.tensor([self.tokenizer.encode(str(d))[0] for d in range(10)])

    def pairs(self, n: int, change: str = "a.units", seed: int = 0) -> PairBatch:
        """``n`` clean/corrupt pairs (see :func:`arithlens.tasks.corrupt_pairs`), encoded."""
        from arithlens.patching.metrics import encode_pairs

        return encode_pairs(corrupt_pairs(self.task, n, change=change, seed=seed), self)


def encoder_of(model) -> Encoder:
    """The model's encoder: ``model.encoder`` if set, else the character encoder of
    ``model.task``."""
    enc = getattr(model, "encoder", None)
    if enc is not None:
        return enc
    task = getattr(model, "task", None)
    if not isinstance(task, TaskSpec):
        raise ArithlensError(
            "model has neither .encoder nor .task: load it with arithlens.load (zoo name, "
            "checkpoint folder, or a Hugging Face model with a prompt template)"
        )
    return CharEncoder(task)
