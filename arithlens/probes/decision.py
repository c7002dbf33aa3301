"""Where a numeracy model decides: linear probes for a label at positions counted back from
the ``=`` of the prompt (prompts differ in length, so positions are aligned at their end).

For comparison (max / min) the labels are :func:`~arithlens.tasks.numeracy.comparison_labels`:
``winner`` (which operand is larger, or equal) and ``place`` (where the first differing digit
is). Held-out accuracy by layer and offset shows at which token and layer the decision becomes
linearly readable; the majority class is the floor.

Example:
    >>> import arithlens as al
    >>> table = al.probes.decision(al.load("max-float3.3-2L"), "winner")   # doctest: +SKIP
    >>> table.pivot(index="site", columns="offset", values="accuracy")       # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.contract import any_task_of
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.probes import linear
from arithlens.probes.activations import hooks
from arithlens.tasks import NumeracySpec, sample_numeracy
from arithlens.tasks.numeracy import comparison_labels
from arithlens.tokens.tokenizer import encode

LABELS = ("winner", "place")


@torch.no_grad()
def decision(
    model: TransformerBridge,
    label: str = "winner",
    *,
    offsets: int = 6,
    n: int = 2000,
    test_fraction: float = 0.25,
    l2: float = 1e-3,
    seed: int = 0,
) -> pd.DataFrame:
    """Held-out accuracy of a probe for ``label`` at every residual stream (``site``) and every
    position ``offset`` tokens before the prompt's ``=`` (0 = the ``=`` itself), on ``n``
    problems of a max / min model's task; split by problem.

    Returns one row per site and offset: ``site``, ``offset``, ``token`` (the character at that
    offset in the first problem, for orientation), ``accuracy``, ``majority``.
    """
    task = any_task_of(model)
    if not isinstance(task, NumeracySpec) or task.task not in ("max", "min"):
        raise ArithlensError(f"model solves {task.name}: decision probes need a max / min model")
    check_choice("label", label, LABELS)
    check_int("offsets", offsets, minimum=1)
    check_int("n", n, minimum=8)
    problems = sample_numeracy(task, n, seed)
    y_raw = comparison_labels(problems)[label]
    classes, y = np.unique(y_raw, return_inverse=True)
    batch = encode(problems)
    eq = batch.prompt_len - 1  # position of "="
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
