"""Where attention goes when a model writes an answer digit: does the position predicting
answer digit k attend to the operand digits of place k? A model that aligns digits by absolute
position loses this alignment past its trained length; one that aligns them by place keeps it.

Example:
    >>> frame = digit_alignment(model, al.tasks.sample(model.task.at_width(12), 200))  # doctest: +SKIP
    >>> frame.groupby("place").mass.max()                                             # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd
import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models import sites
from arithlens.models.contract import check_task
from arithlens.tasks import Problems


@torch.no_grad()
def digit_alignment(model: TransformerBridge, problems: Problems) -> pd.DataFrame:
    """For every layer, head and answer place k: the mean attention that the position
    predicting answer digit k pays to the operand digits of place k (a's and b's together),
    over the problems whose answer has digit k and at least one operand has place k.

    Returns a frame with columns ``layer``, ``head``, ``place`` and ``mass`` (in [0, 1]: the
    pattern's weight on those one or two key positions) and ``n`` (problems counted).

    ``problems`` may be of the model's task at another width (length generalization).
    """
    encoder = check_task(model, problems.task, any_width=True)
    batch = encoder.encode(problems)
    if batch.operand_pos is None:
        raise ArithlensError(
            "digit_alignment needs each operand digit's token position: the model's encoder "
            f"({type(encoder).__name__}) does not give them; use an arithlens model"
        )
    names = sites.layers("pattern", model.cfg.n_layers)
    _, cache = model.run_with_cache(batch.tokens, names_filter=lambda n: n in names)
    rows = torch.arange(len(batch))
    rows_out = []
    for k in range(min(batch.answer_pos.shape[1], batch.operand_pos.shape[2])):
        query = batch.answer_pos[:, k] - 1
        keys = batch.operand_pos[:, :, k]  # (batch, 2)
        use = (batch.answer_pos[:, k] >= 0) & (keys >= 0).any(1)
        if not use.any():
            continue
        for layer, name in enumerate(names):
            pattern = cache[name][rows, :, query.clamp(min=0)]  # (batch, head, kpos)
            mass = torch.zeros(pattern.shape[:2])
            for j in range(2):  # a's and b's digit of place k, where the operand has one
                key = keys[:, j]
                mass += torch.where(key[:, None] >= 0, pattern[rows, :, key.clamp(min=0)], 0.0)
            for head in range(pattern.shape[1]):
                rows_out.append(
                    dict(
                        layer=layer,
                        head=head,
                        place=k,
                        mass=float(mass[use, head].mean()),
                        n=int(use.sum()),
                    )
                )
    return pd.DataFrame(rows_out)
