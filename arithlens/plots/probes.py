"""Probe pictures: held-out score, selectivity, random-init control and causal flip rate over
layer x position, per target.

Example:
    >>> al.plots.probe_overview(al.probes.fit(model, "carry"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arithlens._plotting import plotter
from arithlens.plots.basics import layer_rows


def _site_title(res: Any, value: str) -> str:
    """A probe result's heatmap title (held-out size) or a causal result's (examples used)."""
    if hasattr(res, "n_test"):
        return f"probe {value} on {res.activation} (held-out, n={res.n_test})"
    used = ", ".join(f"{t} {int(k)}" for t, k in zip(res.targets, res.n_examples))
    return f"causal {value} along {res.along} on {res.activation} ({res.mode}; examples: {used})"


def _probe_targets(res: Any, targets: list[str] | None) -> list[str]:
    names = targets or res.targets
    for t in names:
        res.target_index(t)
    return names


@plotter("ProbeResult", "heatmap")
@plotter("CausalResult")
def probe_heatmap(res: Any, value: str = "score", targets: list[str] | None = None) -> go.Figure:
    """Layer x position heatmaps of a :class:`~arithlens.probes.ProbeResult`, one per target
    (rows ``layer.head`` for per-head activations)."""
    names = _probe_targets(res, targets)
    data = res.values(value)
    fig = make_subplots(rows=len(names), cols=1, subplot_titles=names, vertical_spacing=0.08)
    diverging = value == "selectivity"
    for row, t in enumerate(names, start=1):
        v, y = layer_rows(data[res.target_index(t)], res.layer_labels)
        fig.add_trace(
            go.Heatmap(
                z=v,
                x=res.pos_labels,
                y=y,
                zmin=-1 if diverging else 0,
                zmax=1,
                colorscale="RdBu" if diverging else "Viridis",
                coloraxis=None,
                showscale=row == 1,
                colorbar=dict(title=value),
                hovertemplate="%{y} %{x}: %{z:.3f}<extra>" + t + "</extra>",
            ),
            row=row,
            col=1,
        )
        fig.update_yaxes(autorange="reversed", row=row, col=1)
    fig.update_layout(
        title=_site_title(res, value),
        template="plotly_white",
        height=max(300, len(names) * (22 * len(y) + 90) + 80),
    )
    return fig


@plotter("ProbeResult", "layers")
def probe_layers(res: Any, value: str = "score", targets: list[str] | None = None) -> go.Figure:
    """Per target: the best position's ``value`` at each layer, with the random-init control
    (dotted) and the majority baseline (dashed)."""
    names = _probe_targets(res, targets)
    fig = go.Figure()
    colors = px.colors.qualitative.Plotly
    for i, t in enumerate(names):
        k, color = res.target_index(t), colors[i % len(colors)]
        best = lambda a: a.reshape(a.shape[0], -1).max(1)  # noqa: E731
        fig.add_trace(
            go.Scatter(
                x=res.layer_labels, y=best(res.values(value)[k]), name=t, line=dict(color=color)
            )
        )
        if value == "score" and not np.isnan(res.random_init[k]).all():
            fig.add_trace(
                go.Scatter(
                    x=res.layer_labels,
                    y=best(res.random_init[k]),
                    name=f"{t} random init",
                    line=dict(color=color, dash="dot"),
                )
            )
        if value == "score" and not np.isnan(res.majority[k]):
            fig.add_hline(y=float(res.majority[k]), line=dict(color=color, dash="dash", width=1))
    fig.update_layout(
        title=f"probe {value} by layer (best position; dashed: majority baseline)",
        xaxis_title="layer",
        yaxis_title=value,
        template="plotly_white",
        height=380,
    )
    return fig


#: the overview's panels: title, value range, colour scale
PANELS = {
    "held-out score": ((0, 1), "Viridis"),
    "selectivity": ((-1, 1), "RdBu"),
    "random-init score": ((0, 1), "Viridis"),
    "causal flip rate": ((0, 1), "Viridis"),
}


def probe_panels(res: Any, flips: Any = None, targets: list[str] | None = None) -> dict[str, Any]:
    """The numbers :func:`probe_grid` draws, JSON-ready: per target and panel a layer x position
    grid (NaN as None: not run), with the axes' labels and the held-out size."""
    names = _probe_targets(res, targets)

    def grid(a: Any) -> list:
        return [[None if np.isnan(x) else float(x) for x in row] for row in np.asarray(a)]

    out: dict[str, Any] = dict(
        activation=res.activation,
        n_test=int(res.n_test),
        pos_labels=[label.split(":", 1)[1] for label in res.pos_labels],
        layer_labels=list(res.layer_labels),
        grids={},
    )
    for t in names:
        k = res.target_index(t)
        out["rows"] = layer_rows(res.score[k], res.layer_labels)[1]
        panels = {"held-out score": res.score[k], "selectivity": res.selectivity[k]}
        panels["random-init score"] = res.random_init[k]
        if flips is not None:
            panels["causal flip rate"] = flips.flip[flips.target_index(t)]
        out["grids"][t] = {p: grid(layer_rows(v, res.layer_labels)[0]) for p, v in panels.items()}
    return out


def probe_grid(panels: dict[str, Any]) -> go.Figure:
    """One row per target, one heatmap per panel of :func:`probe_panels` (the saved form)."""
    names = list(panels["grids"])
    kinds = list(panels["grids"][names[0]])
    fig = make_subplots(
        rows=len(names),
        cols=len(kinds),
        subplot_titles=[f"{t}: {p}" for t in names for p in kinds],
        horizontal_spacing=0.05,
        vertical_spacing=0.35 / max(len(names), 1),
    )
    for r, t in enumerate(names, start=1):
        for c, title in enumerate(kinds, start=1):
            (lo, hi), scale = PANELS[title]
            z = np.array(panels["grids"][t][title], dtype=np.float64)  # None -> NaN: blank
            fig.add_trace(
                go.Heatmap(
                    z=z,
                    x=panels["pos_labels"],
                    y=panels["rows"],
                    zmin=lo,
                    zmax=hi,
                    colorscale=scale,
                    showscale=r == 1 and c <= 2,
                    colorbar=dict(
                        x=1.0 + 0.04 * (c - 1),
                        len=0.5,
                        y=0.75,
                        thickness=12,
                        title=title if c == 1 else "sel.",
                    ),
                    hovertemplate="%{y} %{x}: %{z:.3f}<extra>" + title + "</extra>",
                ),
                row=r,
                col=c,
            )
            fig.update_yaxes(autorange="reversed", row=r, col=c)
    fig.update_annotations(font_size=11)
    fig.update_layout(
        title=f"probes on {panels['activation']}: held-out n={panels['n_test']} (blank = not run: "
        "after the predicting position)",
        template="plotly_white",
        width=380 * len(kinds) + 120,
        height=210 * len(names) + 100,
        margin=dict(l=40, r=90, t=80, b=30),
    )
    return fig


def probe_overview(res: Any, flips: Any = None, targets: list[str] | None = None) -> go.Figure:
    """One row per target: held-out accuracy, selectivity, random-init accuracy and (when a
    :class:`~arithlens.probes.CausalResult` is given) the causal flip rate, layer x position."""
    return probe_grid(probe_panels(res, flips, targets))
