"""Where a numeracy model decides: linear probes for a label at positions counted back from
the ``=`` of the prompt (prompts differ in length, so positions are aligned at their end).

The labels are the task's :func:`~arithlens.tasks.numeracy.labels`: for comparison (max / min)
``winner`` (which operand is larger, or equal) and ``place`` (where the first differing digit
is); ``carry`` across the point for float add / sub; ``place`` for get_digit; ``count`` for
counting; ``answer`` (the first answer character) for every task. :func:`running_count` probes
the count so far at each character of a counted number. Held-out accuracy by layer and offset shows at which token and layer the decision becomes
linearly readable; the majority class is the floor.

Example:
    >>> import arithlens as al
    >>> table = al.probes.decision(al.load("max-float3.3-2L"), "winner")   # doctest: +SKIP
    >>> table.pivot(index="site", columns="offset", values="accuracy")       # doctest: +SKIP
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.models.contract import any_task_of
from arithlens.probes import linear
from arithlens.probes.activations import hooks
from arithlens.tasks import require
from arithlens.tasks.numeracy import NumeracySpec, answer_index, number_start, sample_numeracy
from arithlens.tasks.numeracy import labels as task_labels
from arithlens.tasks.numeracy import running_count as running_counts
from arithlens.tokens.tokenizer import encode


@torch.no_grad()
def decision(
    model: TransformerBridge,
    label: str = "winner",
    *,
    offsets: int = 6,
    anchor: str = "=",
    n: int = 2000,
    test_fraction: float = 0.25,
    l2: float = 1e-3,
    seed: int = 0,
) -> pd.DataFrame:
    """Held-out accuracy of a probe for ``label`` at every residual stream (``site``) and every
    position ``offset`` tokens before the anchor (0 = the anchor itself), on ``n`` problems of
    a numeracy model's task (their texts with the right answers); split by problem.

    ``anchor``: ``"="`` (the prompt's end) or ``"decision"`` (max / min: the position whose
    logits write the decision character, :func:`~arithlens.tasks.answer_index`; a model that
    copies the common prefix first may decide only there).

    Returns one row per site and offset: ``site``, ``offset``, ``token`` (the character at that
    offset in the first problem, for orientation), ``accuracy``, ``majority``.
    """
    task = cast(NumeracySpec, any_task_of(model))
    require(task, "decision", "decision probes")
    check_int("offsets", offsets, minimum=1)
    check_int("n", n, minimum=8)
    problems = sample_numeracy(task, n, seed)
    every = task_labels(problems)
    check_choice("label", label, tuple(every))
    y_raw = every[label]
    classes, y = np.unique(y_raw, return_inverse=True)
    check_choice("anchor", anchor, ("=", "decision"))
    batch = encode(problems)
    eq = batch.prompt_len - 1  # position of "="
    if anchor == "decision":
        if task.task not in ("max", "min"):
            raise ArithlensError(f"anchor='decision' is for max / min, not {task.task}")
        idx = torch.from_numpy(answer_index(problems, "decision"))
        eq = eq + idx  # the position predicting answer character idx (the "=" predicts the first)
    if int(eq.min()) - offsets + 1 < 0:
        raise ArithlensError(f"offsets={offsets} reaches before the shortest prompt's start")
    rows = torch.arange(n)[:, None]
    pos = eq[:, None] - torch.arange(offsets)[None, :]  # (n, offset)
    labels, names = zip(*hooks(model, "resid"))
    _, cache = model.run_with_cache(batch.tokens, names_filter=lambda h: h in names)
    X = torch.stack([cache[h][rows, pos].float() for h in names])  # (site, n, offset, d)
    X = X.permute(0, 2, 1, 3).reshape(-1, n, X.shape[-1])  # (site*offset, n, d)
    n_test = max(1, int(round(n * test_fraction)))
    tr, te = slice(0, n - n_test), slice(n - n_test, n)
    yt = torch.from_numpy(y).long()

    C = max(int(len(classes)), 2)
    pred = linear.fit_predict(X[:, tr], yt[tr], X[:, te], C, l2=l2)
    acc = (pred == yt[None, te]).float().mean(1).numpy()
    majority = float(np.mean(y[te] == np.bincount(y[tr]).argmax()))
    first = batch.texts[0]
    out = [
        dict(
            site=site,
            offset=k,
            token=first[int(eq[0]) - k],
            accuracy=float(acc[i * offsets + k]),
            majority=majority,
        )
        for i, site in enumerate(labels)
        for k in range(offsets)
    ]
    return pd.DataFrame(out)


@torch.no_grad()
def running_count(
    model: TransformerBridge,
    *,
    n: int = 2000,
    test_fraction: float = 0.25,
    l2: float = 1e-3,
    seed: int = 0,
) -> pd.DataFrame:
    """For a count / count_letter model: held-out accuracy of a probe for the running count
    (:func:`~arithlens.tasks.numeracy.running_count`: occurrences so far of the queried
    character) at every residual stream and every character ``k`` of the number, on the
    problems whose number has that character (the digit is written first, so the number
    starts at one position in every prompt). Split by problem.

    Returns one row per site and character: ``site``, ``char``, ``accuracy``, ``majority``,
    ``n`` (problems with that character).

    Example:
        >>> al.probes.running_count(al.load("count-int8-3L"))     # doctest: +SKIP
    """
    task = cast(NumeracySpec, any_task_of(model))
    require(task, "decision", "running counts")
    if task.task not in ("count", "count_letter"):
        raise ArithlensError(f"model solves {task.name}: running counts need a count model")
    check_int("n", n, minimum=8)
    problems = sample_numeracy(task, n, seed)
    counts = running_counts(problems)
    batch = encode(problems)
    start = number_start(task, problems.operands[0])
    labels, names = zip(*hooks(model, "resid"))
    _, cache = model.run_with_cache(batch.tokens, names_filter=lambda h: h in names)
    n_test = max(1, int(round(n * test_fraction)))
    is_test = np.arange(n) >= n - n_test
    out = []
    for k in range(task.n_digits):
        rows = np.array([len(c) > k for c in counts])
        if rows[~is_test].sum() < 8 or rows[is_test].sum() < 2:
            continue
        y = np.array([c[k] for c, keep in zip(counts, rows) if keep])
        tr, te = ~is_test[rows], is_test[rows]
        X = torch.stack([cache[h][torch.from_numpy(rows), start + k].float() for h in names])
        yt = torch.from_numpy(y).long()
        C = max(int(y.max()) + 1, 2)
        pred = linear.fit_predict(
            X[:, torch.from_numpy(tr)], yt[tr], X[:, torch.from_numpy(te)], C, l2=l2
        )
        acc = (pred == yt[None, te]).float().mean(1).numpy()
        majority = float(np.mean(y[te] == np.bincount(y[tr]).argmax()))
        out += [
            dict(site=s, char=k, accuracy=float(acc[i]), majority=majority, n=int(rows.sum()))
            for i, s in enumerate(labels)
        ]
    return pd.DataFrame(out)
