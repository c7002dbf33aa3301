"""Where examples fall along a probe's direction, by their true label.

A probe's accuracy is one number; the histogram of ``act @ u + c`` split by label shows whether
the classes are cleanly separated, overlapping, or separated only by a few outliers.

Example:
    >>> res = al.probes.fit(model, "carry", n=2000)                               # doctest: +SKIP
    >>> al.probes.projections(model, res, "carry.tens", "L0", pos=7).groupby("label").mean()  # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import check_int
from arithlens.models.contract import arithmetic_encoder, check_task
from arithlens.probes.activations import collect
from arithlens.probes.results import ProbeResult
from arithlens.probes.targets import resolve
from arithlens.tasks import Problems


def projections(
    model: TransformerBridge,
    res: ProbeResult,
    target: str,
    layer: int | str,
    pos: int,
    head: int | None = None,
    *,
    problems: Problems | None = None,
    n: int = 1000,
    seed: int = 1,
    kind: str = "probe",
) -> pd.DataFrame:
    """``act @ u + c`` at one probed site for ``problems`` (default: ``n`` problems drawn with
    ``seed``, a different draw from the fit's) with each problem's label of ``target``.

    Args:
        model: the model the probes were fitted on.
        res: the fitted probes.
        target: a target of ``res`` (``"carry.tens"``).
        layer: layer label (``"L0"``) or index into ``res.layer_labels``.
        pos: a probed token position.
        head: the head, for per-head activations.
        kind: ``"probe"`` (the probe's logit; 0 is its decision boundary) or ``"mean_diff"``
            (signed distance from the midpoint of the class means).

    Returns:
        One row per problem: ``projection`` and ``label``.
    """
    u, c = res.direction(target, layer, pos, head, kind=kind)
    li = res.layer_labels.index(layer) if isinstance(layer, str) else layer
    encoder = arithmetic_encoder(model)
    if problems is None:
        check_int("n", n, minimum=1)
        problems = encoder.sample(n, seed)
    else:
        check_task(model, problems.task)
    batch = encoder.encode(problems)
    acts = collect(model, batch.tokens, [res.hooks[li]], [pos])[0, 0]
    if head is not None:
        acts = acts[head]
    proj = acts @ u.to(acts.dtype) + c
    labels = resolve(encoder.task, target)[0].values(problems)
    return pd.DataFrame({"projection": proj.numpy(), "label": labels})
