"""Arithmetic prompts for a pretrained LLM, with the number-tokenization pitfalls handled.

A :class:`PromptBuilder` renders problems through a template (``"{a}+{b}="``, few-shot
examples, natural-language variants), tokenizes them with the model's own tokenizer and maps
every answer digit to the token that holds it (GPT-2 writes ``1035`` as irregular chunks,
Llama-3 as chunks of up to three digits, Llama-2 and Pythia-style digit tokenizers one digit
per token). Batches must share one token layout (same length, same answer token positions),
so :meth:`PromptBuilder.sample` keeps problems with the commonest layout and
:meth:`PromptBuilder.pairs` keeps clean/corrupt pairs whose layouts are identical. It is the
``encoder`` of a pretrained model, so probes and patching use it unchanged.

Example:
    >>> builder = PromptBuilder(tokenizer, TaskSpec(op="add", n_digits=2, format="plain", pad=False),
    ...                         template="{a}+{b}=", shots=2)               # doctest: +SKIP
    >>> batch = builder.encode(builder.sample(64))                         # doctest: +SKIP
    >>> pairs = builder.pairs(64, change="a.units")                        # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from jaxtyping import Int

from arithlens.errors import ArithlensError, check_int
from arithlens.tasks import Pairs, Problems, TaskSpec
from arithlens.tasks.arithmetic.labels import columns
from arithlens.tasks.arithmetic.ops import SYMBOLS
from arithlens.tasks.arithmetic.pairs import corrupt_problems
from arithlens.tokens.tokenizer import PairBatch, TokenBatch

Layout = tuple[int, int, tuple[int, ...]]  # (n tokens, prompt tokens, answer digit positions)


def _answer_text(problems: Problems) -> list[str]:
    col = columns(problems)
    out = []
    for digits, neg in zip(col.digits, col.negative):
        s = "".join(str(d) for d in digits[::-1]).lstrip("0") or "0"
        out.append(("-" if neg else "") + s)
    return out


@dataclass
class PromptBuilder:
    """Renders, tokenizes and aligns arithmetic prompts for one tokenizer.

    Attributes:
        tokenizer: a Hugging Face *fast* tokenizer (offsets are needed to locate digits).
        task: operation and operand digits; answers are written plainly, unpadded.
        template: prompt text with ``{a}`` and ``{b}`` (and optionally ``{op}``); the answer
            follows it directly.
        shots: few-shot solved examples placed before the question (fixed, seeded).
        separator: text between shots and before the question.
        operand_range: inclusive ``(low, high)`` for both operands (default: exactly
            ``n_digits`` digits, e.g. 10..99).
        seed: seed of the few-shot examples.
    """

    tokenizer: Any
    task: TaskSpec
    template: str = "{a}{op}{b}="
    shots: int = 0
    separator: str = "\n"
    operand_range: tuple[int, int] | None = None
    seed: int = 0
    _shot_text: str = field(init=False, default="")

    def __post_init__(self) -> None:
        if "{a}" not in self.template or "{b}" not in self.template:
            raise ArithlensError(
                f"template {self.template!r} lacks an operand slot: it must contain both "
                "'{a}' and '{b}', e.g. '{a}+{b}=' or 'What is {a} plus {b}? '"
            )
        if not getattr(self.tokenizer, "is_fast", False):
            raise ArithlensError(
                f"tokenizer {type(self.tokenizer).__name__} is not a fast tokenizer: character "
                "offsets are needed to find answer digits"
            )
        check_int("shots", self.shots, minimum=0)
        n = self.task.n_digits
        lo, hi = self.operand_range or (0 if n == 1 else 10 ** (n - 1), 10**n - 1)
        if not 0 <= lo <= hi < 10**n:
            raise ArithlensError(
                f"operand_range=({lo}, {hi}) is invalid: expected 0 <= low <= high < {10**n} "
                f"for {n}-digit operands"
            )
        self.operand_range = (lo, hi)
        if self.shots:
            shots = self._draw(self.shots, np.random.default_rng(self.seed + 10_000))
            self._shot_text = "".join(
                self._question(a, b) + ans + self.separator
                for (a, b), ans in zip(shots.ints(), _answer_text(shots))
            )

    @property
    def bounds(self) -> tuple[int, int]:
        """The inclusive operand range in use (``operand_range``, or its default)."""
        assert self.operand_range is not None  # set in __post_init__
        return self.operand_range

    # ------------------------------------------------------------------ rendering
    def _question(self, a: int, b: int, op: str | None = None) -> str:
        return self.template.format(a=a, b=b, op=SYMBOLS[op or self.task.op])

    def prompts(self, problems: Problems) -> list[str]:
        """The prompt of each problem (few-shot examples included), without the answer."""
        op = problems.task.op
        return [self._shot_text + self._question(a, b, op) for a, b in problems.ints()]

    def texts(self, problems: Problems) -> list[str]:
        """Prompt followed by the answer, as the model should complete it."""
        return [p + ans for p, ans in zip(self.prompts(problems), _answer_text(problems))]

    def _draw(self, n: int, rng: np.random.Generator) -> Problems:
        lo, hi = self.bounds
        a, b = rng.integers(lo, hi + 1, size=n), rng.integers(lo, hi + 1, size=n)
        if self.task.op == "sub" and self.task.nonneg:
            a, b = np.maximum(a, b), np.minimum(a, b)
        return Problems.from_ints(self.task, zip(a.tolist(), b.tolist()))

    # ------------------------------------------------------------------ tokenizing
    def _tokenize(self, problems: Problems) -> tuple[list[list[int]], list[Layout | None]]:
        prompts, texts = self.prompts(problems), self.texts(problems)
        enc = self.tokenizer(texts, return_offsets_mapping=True, add_special_tokens=True)
        layouts: list[Layout | None] = []
        for ids, offsets, prompt, text in zip(
            enc["input_ids"], enc["offset_mapping"], prompts, texts
        ):
            layouts.append(_layout(ids, offsets, len(prompt), text, self.task.answer_width))
        return enc["input_ids"], layouts

    def layouts(self, problems: Problems) -> list[Layout | None]:
        """Token layout per problem; ``None`` where a token spans the prompt/answer boundary."""
        return self._tokenize(problems)[1]

    def encode(self, problems: Problems) -> TokenBatch:
        """Tokens and answer digit positions; every problem must share one layout."""
        if len(problems) == 0:
            raise ArithlensError("no problems to encode: expected at least one")
        ids, layouts = self._tokenize(problems)
        texts = self.texts(problems)
        for i, lay in enumerate(layouts):
            if lay is None:
                raise ArithlensError(
                    f"in {texts[i]!r} a token spans the end of the prompt and the start of the "
                    f"answer ({self.split(texts[i])}): change the template's last character"
                )
            if lay != layouts[0]:
                raise ArithlensError(
                    f"{texts[0]!r} ({self.split(texts[0])}) and {texts[i]!r} "
                    f"({self.split(texts[i])}) tokenize to different layouts: build batches with "
                    "PromptBuilder.sample or PromptBuilder.pairs, which keep one layout"
                )
        first = layouts[0]
        assert first is not None  # every layout was checked above
        n_tok, prompt_len, pos = first
        B = len(problems)
        return TokenBatch(
            problems,
            torch.tensor(ids),
            torch.full((B,), n_tok),
            torch.full((B,), prompt_len),
            torch.tensor([pos] * B),
            texts,
        )

    def split(self, text: str) -> list[str]:
        """How the tokenizer splits ``text`` (token strings)."""
        return self.tokenizer.convert_ids_to_tokens(self.tokenizer(text)["input_ids"])

    def position_labels(self, batch: TokenBatch) -> list[str]:
        """``"pos:token"`` for the first problem of ``batch``."""
        toks = self.tokenizer.convert_ids_to_tokens(batch.tokens[0].tolist())
        return [f"{i}:{t}" for i, t in enumerate(toks)]

    def digit_token_ids(self) -> torch.Tensor | None:
        """Token id of each digit 0-9 when the tokenizer writes numbers one digit per token."""
        probe = self.tokenizer("1234567890", add_special_tokens=False)
        toks = [
            t
            for t in self.tokenizer.convert_ids_to_tokens(probe["input_ids"])
            if any(c.isdigit() for c in t)
        ]
        if len(toks) != 10:
            return None
        ids = [self.tokenizer.convert_tokens_to_ids(t) for t in toks]
        return torch.tensor([ids[(d - 1) % 10] for d in range(10)])

    def read_digits(
        self, batch: TokenBatch, predicted: Int[torch.Tensor, "batch digit"]
    ) -> Int[np.ndarray, "batch digit"]:
        """Digit values read from ``predicted`` token ids, one per answer digit.

        A token may hold several answer digits (GPT-2's ``"46"``), or a sign with a digit: the
        predicted token is read character by character against the correct one, when both
        decode to texts of the same length and the predicted character at the digit's place is
        a digit; otherwise (another width, a space, a letter there) the digit is -1, i.e. wrong.
        """
        pos = batch.answer_pos
        out = np.full(tuple(pos.shape), -1, dtype=np.int64)
        text: dict[int, str] = {}

        def decoded(i: int) -> str:
            if i not in text:
                text[i] = self.tokenizer.decode([i])
            return text[i]

        for r in range(pos.shape[0]):
            for k in range(pos.shape[1]):
                p = int(pos[r, k])
                if p < 0:
                    continue
                true, pred = decoded(int(batch.tokens[r, p])), decoded(int(predicted[r, k]))
                # the token's digits are written most significant first: digit k comes after
                # the digits of higher place held by the same token
                before = sum(int(q) == p for q in pos[r, k + 1 :].tolist())
                places = [j for j, c in enumerate(true) if c.isdigit()]
                if len(pred) == len(true) and before < len(places):
                    c = pred[places[before]]
                    out[r, k] = int(c) if c.isdigit() else -1
        return out

    # ------------------------------------------------------------------ aligned sets
    def sample(self, n: int, seed: int = 0, *, strategy: str = "uniform") -> Problems:
        """``n`` distinct problems within ``operand_range`` that share the commonest layout."""
        check_int("n", n, minimum=1)
        if strategy != "uniform":
            raise ArithlensError(
                f"strategy={strategy!r} is not available for LLM prompts: expected 'uniform' "
                "(operands are drawn from operand_range)"
            )
        rng = np.random.default_rng(seed)
        keep: list[Problems] = []
        seen: set = set()
        target: Layout | None = None
        for _ in range(50):
            cand = self._draw(max(4 * n, 256), rng)
            lays = self._tokenize(cand)[1]
            if target is None:
                counts = Counter(lay for lay in lays if lay is not None)
                if not counts:
                    break
                target = counts.most_common(1)[0][0]
            idx = []
            for i, (key, lay) in enumerate(zip(cand.keys(), lays)):
                if lay == target and key not in seen:
                    seen.add(key)
                    idx.append(i)
            if idx:
                keep.append(cand[np.asarray(idx)])
            if len(seen) >= n:
                return Problems.concat(keep)[:n]
        raise ArithlensError(
            f"could only find {len(seen)} of n={n} distinct problems sharing one token layout "
            f"with operand_range={self.operand_range}: widen the range or lower n"
        )

    def pairs(self, n: int, change: str = "a.units", seed: int = 0) -> PairBatch:
        """``n`` clean/corrupt pairs (``change`` as in :func:`arithlens.tasks.corrupt_pairs`)
        whose prompts tokenize to identical layouts, encoded."""
        check_int("n", n, minimum=1)
        rng = np.random.default_rng(seed + 1)
        lo, hi = self.bounds
        clean = self.sample(4 * n, seed)
        target = self._tokenize(clean[:1])[1][0]
        corrupt = corrupt_problems(self.task, clean, change, rng)
        lays = self._tokenize(corrupt)[1]
        values = np.asarray(corrupt.ints())
        in_range = ((values >= lo) & (values <= hi)).all(1)
        ok = np.array([lay == target for lay in lays]) & in_range
        if ok.sum() < n:
            raise ArithlensError(
                f"only {int(ok.sum())} of {4 * n} clean prompts could be paired with a "
                f"{change!r} corruption of the same token layout and operand range {self.operand_range} "
                f"(n={n} needed): this tokenizer splits the changed numbers differently; try "
                "another change, operand range or template"
            )
        idx = np.nonzero(ok)[0][:n]
        kept, twins = clean[idx], corrupt[idx]
        batch = self.encode(kept)
        return PairBatch(
            Pairs(kept, twins, change), batch, self.encode(twins), self.position_labels(batch)
        )


def _layout(
    ids: list[int], offsets: list, prompt_chars: int, text: str, width: int
) -> Layout | None:
    """Token positions of each answer digit (units first; -1 where the answer is shorter)."""
    pos = [-1] * width
    prompt_tokens = 0
    for j, (s, e) in enumerate(offsets):
        if s < prompt_chars < e:
            return None  # a token straddles the prompt/answer boundary
        if e <= prompt_chars and e > s:
            prompt_tokens = j + 1
    digits = [c for c in range(prompt_chars, len(text)) if text[c].isdigit()]
    for k, c in enumerate(reversed(digits)):
        tok = next((j for j, (s, e) in enumerate(offsets) if s <= c < e), None)
        if tok is None or k >= width:
            return None
        pos[k] = tok
    return len(ids), prompt_tokens, tuple(pos)


__all__ = ["PromptBuilder"]
