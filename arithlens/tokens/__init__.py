"""Tokens: problems to token ids, for arithlens's character models and for Hugging Face LLMs.

- :mod:`~arithlens.tokens.tokenizer`: the character tokenizer, :class:`TokenBatch` (tokens,
  answer positions, position labels) and :class:`PairBatch` / :func:`encode_pairs` (clean and
  corrupt batches for patching).
- :mod:`~arithlens.tokens.prompts`: :class:`PromptBuilder`, a Hugging Face tokenizer with a
  prompt template and few-shot examples, giving the same batches.
- :mod:`~arithlens.tokens.encoders`: the :class:`Encoder` protocol both follow (the encoder
  attached to a model is :func:`arithlens.models.encoder_of`, part of the model contract).
- :mod:`~arithlens.tokens.numbers`: how an LLM's tokenizer splits numbers.

Example:
    >>> from arithlens.tasks import Problems, TaskSpec
    >>> from arithlens.tokens import encode
    >>> batch = encode(Problems.from_ints(TaskSpec(op="add", n_digits=2), [(12, 34)]))
    >>> batch.texts, batch.tokens.shape       # reversed answer: 46 written 640
    (['12+34=640.'], torch.Size([1, 10]))
"""

from arithlens.tokens.encoders import CharEncoder, Encoder
from arithlens.tokens.numbers import number_tokenization, tokenization_summary
from arithlens.tokens.prompts import PromptBuilder
from arithlens.tokens.tokenizer import (
    DEFAULT_VOCAB,
    CharTokenizer,
    PairBatch,
    TokenBatch,
    encode,
    encode_pairs,
    vocab_for,
)

__all__ = [
    "DEFAULT_VOCAB",
    "CharEncoder",
    "CharTokenizer",
    "Encoder",
    "PairBatch",
    "PromptBuilder",
    "TokenBatch",
    "encode",
    "encode_pairs",
    "number_tokenization",
    "tokenization_summary",
    "vocab_for",
]


MOVED = {
    "encoder_of": "arithlens.models.encoder_of",
    "check_task": "arithlens.models.check_task",
}
"""Names that moved to the model contract (a model is above tokens in the floors)."""


def __getattr__(name: str):
    if name in MOVED:
        raise AttributeError(f"arithlens.tokens.{name} moved: use {MOVED[name]}")
    raise AttributeError(f"module 'arithlens.tokens' has no attribute {name!r}")
