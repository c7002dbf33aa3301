"""Where attention goes when a model writes an answer digit: does the position predicting
answer digit k attend to the operand digits of place k? A model that aligns digits by absolute
position loses this alignment past its trained length; one that aligns them by place keeps it.

:func:`patterns` is the one place arithlens reads attention patterns (the lens, the widgets and
the figures call it).

Example:
    >>> frame = digit_alignment(model, al.tasks.sample(model.task.at_width(12), 200))  # doctest: +SKIP
    >>> frame.groupby("place").mass.max()                                             # doctest: +SKIP
    >>> patterns(model, batch.tokens).shape      # (layer, batch, head, query, key)  # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd
import torch
from jaxtyping import Float, Int
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models import sites
from arithlens.models.contract import check_task
from arithlens.patching.checks import check_layers
from arithlens.tasks import Problems


@torch.no_grad()
def patterns(
    model: TransformerBridge,
    tokens: Int[torch.Tensor, "batch pos"],
    *,
    layers: list[int] | None = None,
) -> Float[torch.Tensor, "layer batch head_index query_pos key_pos"]:
    """Every head's attention pattern on ``tokens`` (softmaxed, each query row sums to 1), for
    ``layers`` (default all), stacked in the order given.

    Example:
        >>> from arithlens.models import build_model
        >>> from arithlens.tasks import TaskSpec
        >>> model = build_model("2L", TaskSpec(op="add", n_digits=2))
        >>> patterns(model, torch.zeros(3, 10, dtype=torch.long), layers=[1]).shape
        torch.Size([1, 3, 4, 10, 10])
    """
    chosen = (
        list(range(model.cfg.n_layers))
        if layers is None
        else check_layers(layers, model.cfg.n_layers)
    )
    names = [sites.hook("pattern", layer) for layer in chosen]
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    return torch.stack([cache[name] for name in names])


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
    every = patterns(model, batch.tokens)
    rows = torch.arange(len(batch))
    rows_out = []
    for k in range(min(batch.answer_pos.shape[1], batch.operand_pos.shape[2])):
        query = batch.answer_pos[:, k] - 1
        keys = batch.operand_pos[:, :, k]  # (batch, 2)
        use = (batch.answer_pos[:, k] >= 0) & (keys >= 0).any(1)
        if not use.any():
            continue
        for layer in range(len(every)):
            pattern = every[layer][rows, :, query.clamp(min=0)]  # (batch, head, kpos)
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
