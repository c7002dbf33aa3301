"""Patching pictures: a result's values over layer x position (x head) as one diverging heatmap.

Example:
    >>> fig = patch_grid(np.zeros((2, 3)), ("layer", "pos"), ["0:1", "1:+", "2:2"])
    >>> fig.data[0].y
    ('L0', 'L1')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from arithlens._plotting import plotter
from arithlens.plots.basics import layer_rows


def patch_grid(
    values: Any,
    axes: tuple[str, ...],
    pos_labels: list[str],
    *,
    baseline: float = 0.0,
    metric: str = "",
    title: str = "",
) -> go.Figure:
    """Heatmap of patching ``values`` with ``axes`` ``(layer, pos)``, ``(layer, head)`` or
    ``(layer, pos, head)`` (rows ``L1H3``), white at ``baseline`` (the unpatched run); the one
    drawing behind :func:`patch_heatmap` and the saved figures."""
    v = np.asarray(values, dtype=np.float64)
    layers = [f"L{i}" for i in range(v.shape[0])]
    if tuple(axes) == ("layer", "pos"):
        z, y, x = v, layers, list(pos_labels[: v.shape[1]])
    elif tuple(axes) == ("layer", "head"):
        z, y, x = v, layers, [f"H{h}" for h in range(v.shape[1])]
    else:
        z, y = layer_rows(v, layers)
        x = list(pos_labels[: v.shape[1]])
    fig = go.Figure(
        go.Heatmap(z=z, x=x, y=y, colorscale="RdBu", zmid=baseline, colorbar=dict(title=metric))
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=title,
        xaxis_title="position",
        template="plotly_white",
        height=max(300, 22 * len(y) + 120),
    )
    return fig


@plotter("PatchResult")
def patch_heatmap(res: Any, title: str | None = None) -> go.Figure:
    """Heatmap of a :class:`~arithlens.patching.PatchResult` (rows layer or layer.head)."""
    return patch_grid(
        res.values.numpy(),
        res.axes,
        res.pos_labels,
        baseline=res.baseline,
        metric=res.metric,
        title=title
        or f"{res.direction} {res.method} patching of {res.component} ({res.change}, "
        f"{res.n_pairs} pairs)",
    )
