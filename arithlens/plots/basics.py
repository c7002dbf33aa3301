"""Drawing primitives every result and figure shares: heatmap rows of layer grids, the mean line
with a seed band, one standalone HTML page, attention and histogram panels.

Example:
    >>> fig = go.Figure()
    >>> error_band(fig, [0, 10], np.array([[0.2, 0.9], [0.4, 1.0]]), "units", PALETTE[0])
    >>> [t.name for t in fig.data]
    ['units max', 'units min', 'units']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

#: a qualitative palette for per-digit / per-format lines
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def error_band(fig: go.Figure, x: Any, runs: np.ndarray, name: str, color: str, **kw: Any) -> None:
    """Add ``runs`` (seeds x points) to ``fig`` as its mean line with a shaded min-max band
    (the band only when there is more than one seed)."""
    runs = np.asarray(runs, dtype=np.float64)
    x = list(x)
    if len(runs) > 1:
        # the max line, then the min line filled up to it
        for edge, fill in (
            ("max", {}),
            ("min", dict(fill="tonexty", fillcolor=_rgba(color, 0.18))),
        ):
            fig.add_scatter(
                x=x,
                y=runs.max(0) if edge == "max" else runs.min(0),
                name=f"{name} {edge}",
                mode="lines",
                line=dict(width=0),
                showlegend=False,
                legendgroup=name,
                hoverinfo="skip",
                **fill,
                **kw,
            )
    fig.add_scatter(
        x=x,
        y=runs.mean(0),
        name=name,
        mode="lines",
        line=dict(color=color),
        legendgroup=name,
        **kw,
    )


def band_figure(
    x: Any,
    series: dict[str, Any],
    title: str,
    *,
    yaxis: str | None = None,
    log_y: bool = False,
) -> go.Figure:
    """One :func:`error_band` per series (``name -> seeds x points``) over ``x`` (steps), in
    the palette's order: the per-digit curves of the training figures."""
    fig = go.Figure()
    for k, (name, runs) in enumerate(series.items()):
        error_band(fig, x, np.asarray(runs), name, PALETTE[k % len(PALETTE)])
    if log_y:
        fig.update_yaxes(type="log")
    fig.update_layout(
        title=title,
        xaxis_title="step",
        yaxis_title=yaxis,
        template="plotly_white",
        width=900,
        height=420,
    )
    return fig


def _rgba(color: str, alpha: float) -> str:
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def layer_rows(v: np.ndarray, layer_labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Heatmap rows of a ``(layer, pos)`` grid, or of a ``(layer, pos, head)`` grid as one row
    per ``layer.head`` (labels ``L1H3``)."""
    if v.ndim == 2:
        return v, list(layer_labels)
    rows = [f"{lab}H{h}" for lab in layer_labels for h in range(v.shape[2])]
    return v.transpose(0, 2, 1).reshape(-1, v.shape[1]), rows


def cell_at(
    axes: tuple[str, ...], row: int, col: int, n_heads: int
) -> tuple[int, int | None, int | None]:
    """``(layer, pos, head)`` of the heatmap cell at ``row``, ``col`` drawn from a grid with
    ``axes`` (the inverse of :func:`layer_rows`; None for an axis the grid does not have).

    Example:
        >>> cell_at(("layer", "pos", "head"), row=5, col=7, n_heads=4)
        (1, 7, 1)
    """
    if axes == ("layer", "pos"):
        return row, col, None
    if axes == ("layer", "head"):
        return row, None, col
    return row // n_heads, col, row % n_heads


def figures_html(figs: list[go.Figure], title: str = "arithlens") -> str:
    """One standalone HTML page holding ``figs`` (plotly.js embedded once, works offline)."""
    parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs)]
    body = "\n".join(parts)
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"


def attention_heatmap(
    pattern: np.ndarray, labels: list[str], title: str = "attention", width: int = 460
) -> go.Figure:
    """One head's attention pattern ``(query, key)`` with token labels on both axes."""
    fig = go.Figure(
        go.Heatmap(
            z=pattern,
            x=labels,
            y=labels,
            zmin=0,
            zmax=1,
            colorscale="Blues",
            colorbar=dict(title="attn"),
            hovertemplate="query %{y} -> key %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", title="query")
    fig.update_xaxes(title="key")
    fig.update_layout(title=title, template="plotly_white", height=420, width=width)
    return fig


def split_histogram(
    values: np.ndarray,
    groups: np.ndarray,
    title: str,
    xaxis: str,
    group_name: str = "label",
    vline: float | None = None,
    width: int = 520,
) -> go.Figure:
    """Overlaid histograms of ``values``, one per distinct value of ``groups`` (probe
    projections by label; patching effects by whether the clean answer changed)."""
    fig = go.Figure()
    for g in np.unique(groups):
        fig.add_trace(
            go.Histogram(
                x=values[groups == g],
                name=f"{group_name}={g}" if group_name else str(g),
                opacity=0.6,
                nbinsx=40,
            )
        )
    shapes = (
        []
        if vline is None
        else [
            dict(
                type="line",
                x0=vline,
                x1=vline,
                y0=0,
                y1=1,
                yref="paper",
                line=dict(dash="dash", color="gray"),
            )
        ]
    )
    fig.update_layout(
        shapes=shapes,
        title=title,
        barmode="overlay",
        xaxis_title=xaxis,
        yaxis_title="examples",
        template="plotly_white",
        height=360,
        width=width,
        legend=dict(orientation="h", y=-0.3, x=0),
    )
    return fig
