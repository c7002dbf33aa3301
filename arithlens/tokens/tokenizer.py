"""Character-level tokenizer and the token view of a batch of problems.

One vocabulary covers every format: digits are tokens 0-9 (so token id == digit value),
then the operators, the scratchpad's markers, the end mark ``.`` and the padding token ``_``.
:func:`encode` turns :class:`~arithlens.tasks.Problems` into a :class:`TokenBatch` that knows
which token positions hold (and which positions predict) every answer digit.

Example:
    >>> from arithlens.tasks import Problems, TaskSpec
    >>> tok = CharTokenizer()
    >>> tok.decode(tok.encode("12+3="))
    '12+3='
    >>> batch = encode(Problems.from_ints(TaskSpec(op="add", n_digits=3), [(123, 456)]))
    >>> batch.predict_pos("units").tolist()   # the logits at position 7 predict the units digit
    [7]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from jaxtyping import Bool, Int

from arithlens.errors import ArithlensError
from arithlens.tasks import Pairs, ProblemSet, render_problems, role_labels
from arithlens.tasks.arithmetic.spec import HINTS, place_index
from arithlens.tasks.numeracy import NUMERACY_VOCAB
from arithlens.tasks.numeracy.pairs import shape_of
from arithlens.tasks.sorting import HINT_MARK, NONE_MARK, SORT_MARK, VALUE_CHARS

DEFAULT_VOCAB = "0123456789+-*=AC,>._"
PAD = "_"
EXTRA_VOCAB = {
    "random_spaces": " ",
    "index_hints": HINTS,
    "sort": SORT_MARK + HINT_MARK + NONE_MARK,
}
"""Characters a format adds after :data:`DEFAULT_VOCAB` (so digits, ``=`` and the rest keep
their ids)."""


def vocab_for(format: str) -> str:
    """The character vocabulary of tasks written in ``format``.

    Example:
        >>> vocab_for("random_spaces")[-1], vocab_for("reversed") == DEFAULT_VOCAB
        (' ', True)

    Sorting with more than ten values (format ``sort<n>``) adds its value letters after the
    sort marks.
    """
    if format == "numeracy":
        return NUMERACY_VOCAB
    if format.startswith("sort") and format[4:].isdigit():
        return DEFAULT_VOCAB + EXTRA_VOCAB["sort"] + VALUE_CHARS[10 : int(format[4:])]
    return DEFAULT_VOCAB + EXTRA_VOCAB.get(format, "")


@dataclass(frozen=True)
class CharTokenizer:
    """Maps characters to ids and back.

    Attributes:
        vocab: the characters, in id order; must contain the padding character ``_``.
    """

    vocab: str = DEFAULT_VOCAB

    def __post_init__(self) -> None:
        if len(set(self.vocab)) != len(self.vocab) or PAD not in self.vocab:
            raise ArithlensError(
                f"vocab {self.vocab!r} is invalid: expected unique characters including {PAD!r}"
            )

    @property
    def size(self) -> int:
        """Number of tokens."""
        return len(self.vocab)

    @property
    def pad_id(self) -> int:
        """Id of the padding token."""
        return self.vocab.index(PAD)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``; names the first character outside the vocabulary and its position."""
        index = {c: i for i, c in enumerate(self.vocab)}
        ids = []
        for pos, ch in enumerate(text):
            if ch not in index:
                raise ArithlensError(
                    f"character {ch!r} at position {pos} of {text!r} is not in the vocabulary "
                    f"{self.vocab!r}"
                )
            ids.append(index[ch])
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Text of ``ids`` (padding dropped)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        out = []
        for i in ids:
            if not 0 <= int(i) < self.size:
                raise ArithlensError(f"token id {i} is out of range: expected 0..{self.size - 1}")
            out.append(self.vocab[int(i)])
        return "".join(out).replace(PAD, "")

    def encode_batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ``(batch, pos)`` ids and ``(batch,)`` lengths."""
        ids = [self.encode(t) for t in texts]
        length = max(len(i) for i in ids)
        out = torch.full((len(ids), length), self.pad_id, dtype=torch.long)
        for r, row in enumerate(ids):
            out[r, : len(row)] = torch.tensor(row)
        return out, torch.tensor([len(i) for i in ids])


@dataclass(frozen=True)
class TokenBatch:
    """A batch of problems as tokens.

    Attributes:
        problems: the problems (or the sequences of a sorting task).
        tokens: ``(batch, pos)`` token ids, right-padded.
        lengths: ``(batch,)`` unpadded lengths.
        prompt_len: ``(batch,)`` tokens up to and including ``=``.
        answer_pos: ``(batch, digit)`` position of answer digit k (0 = units); -1 if absent.
        texts: the rendered strings.
        operand_pos: ``(batch, 2, place)`` position of operand a's (row 0) and b's (row 1)
            digit of place k (0 = units); -1 if absent; None where the encoder does not know
            (a Hugging Face tokenizer's chunks).
    """

    problems: ProblemSet
    tokens: Int[torch.Tensor, "batch pos"]
    lengths: Int[torch.Tensor, " batch"]
    prompt_len: Int[torch.Tensor, " batch"]
    answer_pos: Int[torch.Tensor, "batch digit"]
    texts: list[str]
    operand_pos: Int[torch.Tensor, "batch operand place"] | None = None

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def target_mask(self) -> Bool[torch.Tensor, "batch pos"]:
        """True at positions whose *next* token is part of the completion (loss positions).

        The logits at position ``t`` predict token ``t + 1``; the mask is over ``t``.
        """
        pos = torch.arange(self.tokens.shape[1] - 1)[None, :]
        nxt = pos + 1
        return (nxt >= self.prompt_len[:, None]) & (nxt < self.lengths[:, None])

    def answer_token_pos(self, digit: str | int) -> Int[torch.Tensor, " batch"]:
        """Position of the token holding answer digit ``digit`` (name or index)."""
        k = self.problems.task.answer_digit(digit)
        pos = self.answer_pos[:, k]
        if (pos < 0).any():
            raise ArithlensError(
                f"answer digit {digit!r} is absent in some problems (unpadded answers); "
                "use a padded task"
            )
        return pos

    def predict_pos(self, digit: str | int) -> Int[torch.Tensor, " batch"]:
        """Position whose logits predict answer digit ``digit`` (its token position - 1)."""
        return self.answer_token_pos(digit) - 1

    def answer_tokens(self) -> Int[torch.Tensor, "batch digit"]:
        """The correct answer digit tokens, ``(batch, digit)``; -1 where absent."""
        safe = self.answer_pos.clamp(min=0)
        out = torch.gather(self.tokens, 1, safe)
        return torch.where(self.answer_pos >= 0, out, torch.full_like(out, -1))

    def __getitem__(self, idx: slice | torch.Tensor | np.ndarray) -> TokenBatch:
        np_idx = idx.numpy() if isinstance(idx, torch.Tensor) else idx
        return TokenBatch(
            self.problems[np_idx],
            self.tokens[idx],
            self.lengths[idx],
            self.prompt_len[idx],
            self.answer_pos[idx],
            [self.texts[i] for i in np.arange(len(self.texts))[np_idx]],
            None if self.operand_pos is None else self.operand_pos[idx],
        )


def encode(
    problems: ProblemSet,
    tokenizer: CharTokenizer | None = None,
    *,
    hint: bool = False,
) -> TokenBatch:
    """Render ``problems`` in their task's format and tokenize them; sorting sequences as the
    sort task, or as its successor hint with ``hint=True`` (answer k: input element k's
    successor)."""
    tokenizer = tokenizer or CharTokenizer(vocab_for(problems.task.format))
    r = render_problems(problems, hint=hint)
    tokens, lengths = tokenizer.encode_batch(r.texts)
    return TokenBatch(
        problems,
        tokens,
        lengths,
        torch.from_numpy(r.prompt_len),
        torch.from_numpy(r.answer_pos),
        r.texts,
        torch.from_numpy(r.operand_pos),
    )


def concat_batches(parts: list[TokenBatch], pad_id: int | None = None) -> TokenBatch:
    """One batch of ``parts`` (one task; e.g. sort and hint rows), right-padded to the
    longest with ``pad_id`` (default: the padding token of the task's vocabulary).

    Example:
        >>> from arithlens.tasks import SortSpec, sample_sequences
        >>> seqs = sample_sequences(SortSpec(max_len=4), 2, seed=0)
        >>> both = concat_batches([encode(seqs), encode(seqs, hint=True)])
        >>> len(both), both.texts[2][0]
        (4, 'H')
    """
    if not parts:
        raise ArithlensError("cannot concatenate an empty list of token batches")
    task = parts[0].problems.task
    if pad_id is None:
        pad_id = CharTokenizer(vocab_for(task.format)).pad_id
    width = max(int(p.tokens.shape[1]) for p in parts)
    tokens = torch.cat(
        [
            torch.nn.functional.pad(p.tokens, (0, width - p.tokens.shape[1]), value=pad_id)
            for p in parts
        ]
    )
    ops = [p.operand_pos for p in parts]
    return TokenBatch(
        type(parts[0].problems).concat([p.problems for p in parts]),  # type: ignore[attr-defined]
        tokens,
        torch.cat([p.lengths for p in parts]),
        torch.cat([p.prompt_len for p in parts]),
        torch.cat([p.answer_pos for p in parts]),
        [t for p in parts for t in p.texts],
        None if any(o is None for o in ops) else torch.cat(ops),  # type: ignore[arg-type]
    )


__all__ = [
    "CharTokenizer",
    "DEFAULT_VOCAB",
    "TokenBatch",
    "concat_batches",
    "encode",
    "place_index",
    "vocab_for",
]


@dataclass(frozen=True)
class PairBatch:
    """Clean and corrupt tokens of a :class:`~arithlens.tasks.Pairs`, checked to align.

    Attributes:
        pairs: the problem pairs.
        clean: clean tokens and positions.
        corrupt: corrupt tokens and positions.
    """

    pairs: Pairs
    clean: TokenBatch
    corrupt: TokenBatch
    pos_labels: list[str] | None = None

    def __len__(self) -> int:
        return len(self.clean)

    @property
    def n_pos(self) -> int:
        return int(self.clean.tokens.shape[1])

    def labels(self) -> list[str]:
        """One label per position: ``"pos:role"`` (``"9:c1"``, see ``position_labels``); for an
        unpadded task ``"pos:char"`` of the first clean problem."""
        if self.pos_labels is not None:
            return self.pos_labels
        task = self.pairs.clean.task
        roles = role_labels(task)
        if roles is not None and self.n_pos == len(roles):
            return roles
        return [f"{i}:{c}" for i, c in enumerate(self.clean.texts[0].ljust(self.n_pos, "_"))]

    def check_aligned(self, read_pos: torch.Tensor) -> None:
        """Raise unless position k plays one role in every row up to the last position read
        (``read_pos``, ``(batch, k)``: what patching by position averages over): true of padded
        tasks and of prompt builders' pairs by construction; otherwise every prompt must have
        one shape (digits as ``d``, letters as ``w``) and every row must be read at the same
        positions."""
        task = self.pairs.clean.task
        if self.pos_labels is not None or task.fixed_layout:
            return
        shapes = {shape_of(t[: int(p)]) for t, p in zip(self.clean.texts, self.clean.prompt_len)}
        same_reads = bool((read_pos == read_pos[:1]).all())
        if len(shapes) > 1 or not same_reads:
            what = (
                f"{len(shapes)} layouts (e.g. {sorted(shapes)[0]!r} and {sorted(shapes)[1]!r})"
                if len(shapes) > 1
                else "one layout but the metric reads each row at another position"
            )
            raise ArithlensError(
                f"the pairs' prompts have {what}, so a position means different things in "
                "different rows: patch by ('layer', 'head'), or draw pairs of one layout read at "
                "one place (numeracy_pairs(..., shape='9.11', place=-1), problems of one width)"
            )


def encode_pairs(pairs: Pairs, encoder: Any = None) -> PairBatch:
    """Tokenize ``pairs`` (with ``encoder``, default the character encoder); clean and corrupt
    must have equal token lengths and answer positions."""
    if len(pairs) == 0:
        raise ArithlensError("the pair set is empty: expected at least one clean/corrupt pair")
    if encoder is None:
        clean, corrupt = encode(pairs.clean), encode(pairs.corrupt)
    else:
        clean, corrupt = encoder.encode(pairs.clean), encoder.encode(pairs.corrupt)
    bad = torch.nonzero(clean.lengths != corrupt.lengths).flatten()
    if len(bad) or clean.tokens.shape != corrupt.tokens.shape:
        i = int(bad[0]) if len(bad) else 0
        a, b = clean.texts[i], corrupt.texts[i]
        first = next((j for j, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        raise ArithlensError(
            f"clean {a!r} has {len(a)} tokens but corrupt {b!r} has {len(b)}; they first differ "
            f"at position {first}: use a padded task or a change that keeps lengths equal"
        )
    if not torch.equal(clean.answer_pos, corrupt.answer_pos):
        raise ArithlensError("clean and corrupt answer digits sit at different positions")
    return PairBatch(pairs, clean, corrupt)
