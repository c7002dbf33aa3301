"""How a tokenizer splits numbers: the first thing to check before analysing arithmetic in an LLM.

GPT-2's BPE merges digits irregularly (``1035`` may be ``10`` + ``35`` while ``1036`` is one
token), Llama-3 splits numbers left to right into chunks of up to three digits, Llama-2 and
many digit-aware tokenizers give every digit its own token. Patching and probing by answer
digit only make sense once this is known.

Example:
    >>> number_tokenization(tokenizer, [7, 42, 1035])        # doctest: +SKIP
    >>> tokenization_summary(tokenizer)["scheme"]             # doctest: +SKIP
    'single digits'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


def _digit_tokens(tokenizer: Any, text: str) -> list[str]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    toks = tokenizer.convert_ids_to_tokens(ids)
    return [t for t in toks if any(c.isdigit() for c in t)]


def number_tokenization(tokenizer: Any, numbers: Iterable[int], context: str = "") -> pd.DataFrame:
    """One row per number: its tokens (after ``context``), token count, digits per token."""
    rows = []
    for x in numbers:
        toks = _digit_tokens(tokenizer, f"{context}{x}")
        digits = ["".join(c for c in t if c.isdigit()) for t in toks]
        rows.append(
            {
                "number": int(x),
                "digits": len(str(abs(int(x)))),
                "tokens": digits,
                "n_tokens": len(toks),
                "max_digits_per_token": max((len(d) for d in digits), default=0),
            }
        )
    return pd.DataFrame(rows)


def _chunks_left(s: str, k: int) -> list[str]:
    return [s[i : i + k] for i in range(0, len(s), k)]


def tokenization_summary(tokenizer: Any, max_digits: int = 6, n: int = 200, seed: int = 0) -> dict:
    """Classify how ``tokenizer`` writes numbers of 1..``max_digits`` digits.

    ``scheme`` is ``"single digits"``, ``"left-to-right chunks of k"`` or ``"irregular"``;
    ``tokens_by_digits`` the mean token count per number length; ``max_digits_per_token``.
    """
    rng = np.random.default_rng(seed)
    nums = [
        int(rng.integers(10 ** (d - 1) if d > 1 else 0, 10**d))
        for d in range(1, max_digits + 1)
        for _ in range(n)
    ]
    frame = number_tokenization(tokenizer, nums, context=" = ")
    widest = int(frame["max_digits_per_token"].max())
    if widest <= 1:
        scheme = "single digits"
    elif all(row.tokens == _chunks_left(str(row.number), widest) for row in frame.itertuples()):
        scheme = f"left-to-right chunks of {widest}"
    else:
        scheme = "irregular"
    return {
        "scheme": scheme,
        "max_digits_per_token": widest,
        "tokens_by_digits": frame.groupby("digits")["n_tokens"].mean().round(2).to_dict(),
    }


def word_tokenization(
    tokenizer: Any, words: Iterable[str], letter: str, context: str = " "
) -> pd.DataFrame:
    """How ``tokenizer`` splits each word (after ``context``) and where ``letter`` ends up: the
    reason LLMs miscount letters (LLM The Genius Paradox; "how many r's in strawberry").

    One row per word: ``word``, ``tokens`` (each token's text, the context's stripped),
    ``n_tokens``, ``count`` (true occurrences of ``letter``), ``per_token`` (occurrences inside
    each token) and ``hidden``: how many occurrences sit inside a token of more than one
    character, where the model never sees the letter on its own.

    Example:
        >>> word_tokenization(tokenizer, ["strawberry"], "r")            # doctest: +SKIP
    """
    rows = []
    for word in words:
        ids = tokenizer(f"{context}{word}", add_special_tokens=False)["input_ids"]
        pieces = [tokenizer.decode([i]) for i in ids]
        start = len(context)
        texts, seen = [], 0
        for p in pieces:  # drop the context's characters from the first tokens
            cut = max(0, min(len(p), start - seen))
            seen += len(p)
            if p[cut:]:
                texts.append(p[cut:])
        per = [t.count(letter) for t in texts]
        rows.append(
            dict(
                word=word,
                tokens=texts,
                n_tokens=len(texts),
                count=word.count(letter),
                per_token=per,
                hidden=sum(c for c, t in zip(per, texts) if len(t) > 1),
            )
        )
    return pd.DataFrame(rows)
