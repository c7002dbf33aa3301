"""One problem seen through the model: its answer token by token, and the logit lens.

Example:
    >>> al.plots.lens_heatmap(al.trace(model, "123+456"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go


def answer_bars(trace: Any, title: str | None = None) -> go.Figure:
    """The model's answer to one problem, token by token: probability of each predicted token
    (green when correct, red when not; hover shows the correct token's probability)."""
    ok = [p == c for p, c in zip(trace.predicted, trace.correct)]
    fig = go.Figure(
        go.Bar(
            x=trace.answer_names,
            y=trace.prob,
            text=trace.predicted,
            textposition="outside",
            marker_color=["#2ca02c" if o else "#d62728" for o in ok],
            customdata=np.stack([trace.correct, trace.prob_correct], 1),
            hovertemplate="%{x}: predicted %{text} (p=%{y:.3f}); correct %{customdata[0]} "
            "(p=%{customdata[1]:.3f})<extra></extra>",
        )
    )
    fig.update_layout(
        title=title or f"answer {trace.answer!r} ({'correct' if all(ok) else 'wrong'})",
        yaxis=dict(range=[0, 1.15], title="probability"),
        xaxis_title="answer digit (generation order)",
        template="plotly_white",
        height=300,
        width=480,
    )
    return fig


def lens_heatmap(trace: Any, title: str | None = None) -> go.Figure:
    """Logit lens of one problem: probability of each finally predicted answer token read from
    the residual stream after the embeddings and after each block; the lens's top token as text."""
    fig = go.Figure(
        go.Heatmap(
            z=trace.lens_prob,
            x=trace.answer_names,
            y=trace.layer_labels,
            zmin=0,
            zmax=1,
            colorscale="Viridis",
            text=trace.lens_top,
            texttemplate="%{text}",
            colorbar=dict(title="p(final)"),
            hovertemplate="%{y} -> %{x}: p=%{z:.3f}, top %{text}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=title or "logit lens (text: top token at each stream)",
        xaxis_title="answer digit",
        template="plotly_white",
        height=160 + 40 * len(trace.layer_labels),
        width=480,
    )
    return fig
