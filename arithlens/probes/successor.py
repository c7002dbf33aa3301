"""Where a sorting model holds the successor: the probe of Awasthi & Gupta's task hinting.

While a sorting model writes its answer, the token it is about to write is either the current
value again (copies are left) or the current value's *successor*, the smallest larger value in
the input. The successor hint task trains exactly that map. This probe reads, at every answer
position, the residual stream of each layer and fits a multinomial logistic probe (whitened,
L2; :mod:`arithlens.probes.linear`) for the successor of the value just written (``n_values``
codes "none"). Its accuracy is also reported on the *repeat* positions, where the next token
is the current value again: there the successor is not what the model writes next, so a probe
that only recovers the next token fails, and only a stream that computes the successor passes.

Example:
    >>> import arithlens as al
    >>> table = al.probes.successor(al.load("sort1to10-hint-2L"), length=10)   # doctest: +SKIP
    >>> table[["site", "accuracy", "accuracy_repeat", "majority"]]              # doctest: +SKIP
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError, check_float, check_int
from arithlens.models.contract import any_task_of
from arithlens.probes import linear
from arithlens.probes.activations import collect, hooks
from arithlens.tasks import require
from arithlens.tasks.sorting import Sequences, SortSpec, sample_sequences
from arithlens.tokens.tokenizer import encode


def successor_targets(seqs: Sequences) -> tuple[np.ndarray, np.ndarray]:
    """For sequences of one length ``L``: per answer element ``t < L-1`` (columns), the
    successor of the ``t``-th smallest value (``n_values`` if none), and whether element
    ``t+1`` repeats element ``t``. Shapes ``(batch, L-1)``.

    Example:
        >>> from arithlens.tasks import SortSpec
        >>> s = Sequences.from_lists(SortSpec(min_len=4, max_len=4), [[3, 1, 3, 2]])
        >>> [a.tolist() for a in successor_targets(s)]
        [[[2, 3, 10]], [[False, False, True]]]
    """
    lengths = seqs.lengths
    if len(seqs) == 0 or (lengths != lengths[0]).any():
        raise ArithlensError("successor targets need a non-empty batch of one sequence length")
    L = int(lengths[0])
    ys = seqs.sorted()[:, :L].astype(np.int16)
    nv = seqs.task.n_values
    greater = ys[:, None, :] > ys[:, :-1, None]  # (batch, t, j): y_j > y_t
    succ = np.where(greater, ys[:, None, :], nv).min(2)
    return succ.astype(np.int64), ys[:, 1:] == ys[:, :-1]


def _encoded(model: TransformerBridge, task: SortSpec, L: int, n: int, seed: int) -> tuple:
    """``n`` sequences of length ``L`` and their tokens, which must fit the model's context."""
    seqs = sample_sequences(task.at_width(L), n, seed)
    batch = encode(seqs)
    if batch.tokens.shape[1] > model.cfg.n_ctx:
        raise ArithlensError(
            f"length={L} needs {batch.tokens.shape[1]} tokens but the model's context is "
            f"n_ctx={model.cfg.n_ctx}"
        )
    return seqs, batch


@torch.no_grad()
def successor(
    model: TransformerBridge,
    *,
    length: int | None = None,
    n: int = 2000,
    activation: str = "resid",  # any of probes.ACTIVATIONS but the per-head "z"
    test_fraction: float = 0.25,
    l2: float = 1e-3,
    seed: int = 0,
) -> pd.DataFrame:
    """Held-out accuracy of a linear probe for the successor of the value just written, at
    every layer of a sorting model, on ``n`` sequences of ``length`` elements (default: the
    longest trained). Examples are the answer positions ``t < length - 1`` of each sequence;
    train and test split by sequence.

    Returns one row per site: ``site``, ``accuracy``, ``accuracy_repeat`` (on positions where
    the next token repeats the current value, so the successor is not the next token),
    ``majority`` (the training majority class's held-out accuracy), ``majority_repeat``,
    ``n_test``.
    """
    task = cast(SortSpec, any_task_of(model))
    require(task, "successor", "the successor probe")
    L = task.max_len if length is None else check_int("length", length, minimum=2)
    check_int("n", n, minimum=8)
    check_float("test_fraction", test_fraction, above=0, maximum=0.9)
    if activation == "z":
        raise ArithlensError("activation='z' is per head: the successor probe reads whole streams")
    seqs, batch = _encoded(model, task, L, n, seed)
    y, repeat = successor_targets(seqs)
    positions = [L + 2 + t for t in range(L - 1)]  # the token of answer element t
    labels, names = zip(*hooks(model, activation))
    acts = collect(model, batch.tokens, list(names), positions)  # (site, pos, n, d)
    n_test = max(1, int(round(n * test_fraction)))
    tr, te = slice(0, n - n_test), slice(n - n_test, n)

    def flat(a: torch.Tensor) -> torch.Tensor:  # (site, pos, rows, d) -> (site, rows*pos, d)
        return a.transpose(1, 2).reshape(a.shape[0], -1, a.shape[-1])

    Xtr, Xte = flat(acts[:, :, tr]), flat(acts[:, :, te])
    ytr, yte = torch.from_numpy(y[tr].reshape(-1)), torch.from_numpy(y[te].reshape(-1))
    rep = torch.from_numpy(repeat[te].reshape(-1))
    C = task.n_values + 1
    pred = linear.fit_predict(Xtr, ytr, Xte, C, l2=l2)
    hit = (pred == yte[None]).float()
    majority = int(np.bincount(ytr.numpy(), minlength=C).argmax())
    return pd.DataFrame(
        dict(
            site=list(labels),
            accuracy=hit.mean(1).numpy(),
            accuracy_repeat=hit[:, rep].mean(1).numpy() if rep.any() else np.nan,
            majority=float((yte == majority).float().mean()),
            majority_repeat=float((yte[rep] == majority).float().mean()) if rep.any() else np.nan,
            n_test=len(yte),
        )
    )
