"""Fourier filters in the number-token basis (Zhou et al. 2024, section 4): a module's output
``o`` at the last prompt position is read as logits over the number tokens, ``z = W^T o`` (``W``
the unembedding's columns of the tokens of ``numbers``; no final layer norm, as Zhou et al.); the
frequencies of a band are removed from ``z`` with the orthonormal real Fourier basis ``F_b`` of
the band, and the change is written back through the pseudo-inverse:

    o' = o - pinv(W^T) F_b F_b^T W^T o

The constant (frequency 0) is never removed. Bands split at a period ``split``: ``low`` holds the
periods above it (the slow, magnitude-like components), ``high`` the periods at or below it
(2, 2.5, 5, 10 for ``split=10``). ``random`` removes as many frequencies as the band, drawn at
random (seeded), the control Zhou et al. do not report.

Example:
    >>> table = filter_table(al.load("add2-gpt2"), n=300)                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses.numbers.activations import is_prompted
from arithlens.errors import ArithlensError, check_int
from arithlens.models import sites
from arithlens.models.contract import encoder_of

BANDS = ("low", "high", "random")


def fourier_basis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n, n)`` orthonormal real Fourier basis, columns ordered by frequency: the constant,
    then cos and sin of frequency 1, 2, ... (a single cos at ``n / 2`` for even ``n``)."""
    t = np.arange(n)
    cols, freqs = [np.ones(n) / np.sqrt(n)], [0]
    for k in range(1, n // 2 + 1):
        c = np.cos(2 * np.pi * k * t / n)
        cols.append(c / np.linalg.norm(c))
        freqs.append(k)
        if 2 * k != n:
            s = np.sin(2 * np.pi * k * t / n)
            cols.append(s / np.linalg.norm(s))
            freqs.append(k)
    return np.stack(cols, 1), np.array(freqs)


def band_frequencies(n: int, band: str, split: float = 10.0, seed: int = 0) -> list[int]:
    """The frequencies ``1 .. n // 2`` a band removes (``random``: as many as ``low`` holds)."""
    if band not in BANDS:
        raise ArithlensError(f"band={band!r} is unknown: expected one of {BANDS}")
    if not split > 0:
        raise ArithlensError(f"split={split!r} is invalid: expected a positive period")
    ks = np.arange(1, n // 2 + 1)
    low = [int(k) for k in ks if n / k > split]
    if band == "low":
        return low
    if band == "high":
        return [int(k) for k in ks if n / k <= split]
    rng = np.random.default_rng(seed)
    return sorted(int(k) for k in rng.choice(ks, size=len(low), replace=False))


def filter_matrix(w: Tensor, freqs: list[int]) -> Tensor:
    """``(d, d)`` the map ``o -> pinv(W^T) F_b F_b^T W^T o`` for ``w`` ``(d, N)``: what the filter
    subtracts."""
    basis, of = fourier_basis(w.shape[1])
    fb = torch.from_numpy(basis[:, np.isin(of, freqs)]).to(w.dtype)
    wt = w.T
    return torch.linalg.pinv(wt) @ fb @ fb.T @ wt


def number_vocab(model: TransformerBridge, upto: int = 1000) -> tuple[list[int], Tensor]:
    """The numbers ``0 ..`` (consecutive, up to the first that is not one token on its own)
    and their token ids: the readout basis. A digit-level model: 0..9."""
    enc = encoder_of(model)
    if not is_prompted(model):
        digit_ids = enc.digit_token_ids()
        if digit_ids is None:
            raise ArithlensError("the model's tokenizer has no single digit tokens")
        return list(range(10)), digit_ids
    nums: list[int] = []
    ids: list[int] = []
    for x in range(upto):
        t = enc.tokenizer(str(x), add_special_tokens=False)["input_ids"]
        if len(t) != 1:
            break
        nums.append(x)
        ids.append(t[0])
    return nums, torch.tensor(ids)


def _prompt_set(
    model: TransformerBridge, n: int, seed: int, value: Tensor
) -> tuple[Tensor, np.ndarray]:
    """``n`` prompts of one length and the value of each one's first answer token (the whole
    answer where it is one number token; prompts whose first answer token is not a number of
    the basis are dropped)."""
    from arithlens.analyses.numbers.causal import _first_answer, _prompts

    enc = encoder_of(model)
    problems = enc.sample(n, seed=seed)
    if is_prompted(model):
        tokens, _ = _prompts(model, problems)
    else:
        batch = enc.encode(problems)
        tokens = batch.tokens[:, : int(batch.prompt_len[0])]
    answers = value[_first_answer(enc, problems)].numpy()
    keep = answers > -(10**9)
    if not keep.any():
        raise ArithlensError("no prompt's first answer token is a number of the readout basis")
    return tokens[torch.from_numpy(keep)], answers[keep]


def run_filtered(
    model: TransformerBridge,
    tokens: Tensor,
    modules: list[tuple[str, int]],
    freqs: list[int],
    w: Tensor,
) -> Tensor:
    """Last-position logits with the band ``freqs`` removed from each ``(module, layer)``'s
    output (``attn_out`` / ``mlp_out``) at the last position."""
    sub = filter_matrix(w, freqs).to(torch.float32)

    def fn(act: Tensor, hook: Any = None) -> Tensor:
        act = act.clone()
        act[:, -1] = act[:, -1] - act[:, -1] @ sub.T.to(act.dtype)
        return act

    hooks: sites.Hooks = [(sites.site(f"{m}_out").at(layer), fn) for m, layer in modules]
    with torch.no_grad():
        return model.run_with_hooks(tokens, fwd_hooks=hooks)[:, -1]


def filter_table(
    model: TransformerBridge,
    n: int = 300,
    split: float = 10.0,
    n_random: int = 3,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Accuracy of the first answer token and its errors with a band removed from the attention
    or MLP outputs of every layer (``layer="all"``) or of one layer; one row per (module,
    layer, band); ``random`` rows are means over ``n_random`` seeded draws.

    Columns: ``accuracy``; ``off_small`` (wrong by 1-9), ``off_tens`` (wrong by a multiple of
    10), ``off_other`` (another number), ``not_number`` (a token that is not a number), as
    shares of the prompts; for a digit-level model, errors of the first digit (mod 10).
    """
    check_int("n", n, minimum=1)
    nums, ids = number_vocab(model)
    if len(nums) < 4:
        raise ArithlensError(f"{len(nums)} number tokens are too few for a Fourier basis")
    w = model.W_U[:, ids].detach().double()
    value = torch.full((model.cfg.d_vocab,), -(10**9), dtype=torch.long)
    value[ids] = torch.tensor(nums)
    tokens, answers = _prompt_set(model, n, seed, value)
    L = model.cfg.n_layers
    configs = [(m, "all") for m in ("attn", "mlp")] + [
        (m, layer) for m in ("attn", "mlp") for layer in range(L)
    ]
    prompted = is_prompted(model)
    with torch.no_grad():
        clean = model(tokens)[:, -1]
    rows = [dict(module="none", layer="-", band="none", **_errors(clean, value, answers, prompted))]
    for module, layer in tqdm(configs, desc="filters", disable=not progress):
        mods = [(module, k) for k in range(L)] if layer == "all" else [(module, layer)]
        for band in BANDS:
            draws = range(n_random) if band == "random" else range(1)
            stats = [
                _errors(
                    run_filtered(
                        model, tokens, mods, band_frequencies(len(nums), band, split, seed + s), w
                    ),
                    value,
                    answers,
                    prompted,
                )
                for s in draws
            ]
            mean = {k: float(np.mean([s[k] for s in stats])) for k in stats[0]}
            rows.append(dict(module=module, layer=str(layer), band=band, **mean))
    return pd.DataFrame(rows)


def _errors(logits: Tensor, value: Tensor, answers: np.ndarray, numbers: bool) -> dict[str, float]:
    with torch.no_grad():
        pred = value[logits.argmax(-1)].numpy()
    ok = pred == answers
    is_num = pred > -(10**9)
    err = np.abs(pred - answers)
    if not numbers:  # digits: the error mod 10
        err = np.minimum(err % 10, 10 - err % 10)
    return dict(
        accuracy=float(ok.mean()),
        off_small=float((is_num & ~ok & (err < 10)).mean()),
        off_tens=float((is_num & ~ok & (err % 10 == 0)).mean()),
        off_other=float((is_num & ~ok & (err >= 10) & (err % 10 != 0)).mean()),
        not_number=float((~is_num).mean()),
    )
