"""Pictures of number representations: a spectrum against its shuffled null, a helix fit's
circles (one per period, coloured by a mod T), the causal table (LD restored per replacement and
layer) and the Fourier-filter table (accuracy per module and band).

Example:
    >>> al.numbers.spectrum(acts.values, acts.numbers).plot()          # doctest: +SKIP
    >>> al.plots.causal_figure(al.numbers.causal_table(model))         # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arithlens._plotting import plotter
from arithlens.plots.basics import PALETTE

REPLACEMENTS = ("full", "helix", "pca", "circle", "poly", "helix-shuffled", "mean")


@plotter("Spectrum")
def spectrum_figure(s: Any) -> go.Figure:
    """Energy share by period, the shuffled-order null beside it (log period axis)."""
    null = s.null**2 / (s.magnitude**2).sum()
    fig = go.Figure()
    fig.add_scatter(x=s.periods, y=s.share, mode="lines+markers", name="numbers in order")
    fig.add_scatter(
        x=s.periods, y=null, mode="lines", name="shuffled order (null)", line=dict(dash="dot")
    )
    for period, share in s.top(4):
        fig.add_annotation(x=np.log10(period), y=share, text=f"T={period:g}", showarrow=True)
    fig.update_xaxes(type="log", title="period T (numbers)")
    fig.update_yaxes(title="share of energy")
    fig.update_layout(title=f"Fourier spectrum: {s.site}", template="plotly_white", width=760)
    return fig


@plotter("HelixFit")
def helix_figure(fit: Any, values: np.ndarray | None = None) -> go.Figure:
    """One panel per period: the (cos, sin) terms read with C+ from ``values`` (default the fit's
    reconstruction), each number coloured by ``a mod T``."""
    periods = list(fit.periods) or [0]
    nums = fit.numbers
    proj = fit.project(fit.reconstruct(nums) if values is None else values)
    off = 1 if fit.linear else 0
    fig = make_subplots(rows=1, cols=len(periods), subplot_titles=[f"T = {t:g}" for t in periods])
    for i, t in enumerate(periods):
        if t == 0:
            break
        x, y = proj[:, off + 2 * i], proj[:, off + 2 * i + 1]
        fig.add_scatter(
            x=x,
            y=y,
            mode="markers+text" if len(nums) <= 20 else "markers",
            text=[f"{int(a)}" for a in nums],
            marker=dict(color=np.mod(nums, t), colorscale="HSV", size=7),
            hovertext=[f"a={int(a)}, a mod {t:g} = {np.mod(a, t):g}" for a in nums],
            showlegend=False,
            row=1,
            col=i + 1,
        )
    fig.update_layout(
        title=f"{fit.kind} fit, periods {fit.periods}: R^2 {fit.r2:.3f}, held-out {fit.cv_r2:.3f}",
        template="plotly_white",
        width=300 * len(periods) + 120,
        height=380,
    )
    return fig


def causal_figure(table: pd.DataFrame, title: str = "") -> go.Figure:
    """Mean LD restored per layer by each replacement (grouped bars)."""
    fig = go.Figure()
    for i, name in enumerate(r for r in REPLACEMENTS if r in table):
        fig.add_bar(
            x=[f"L{k}" for k in table["layer"]],
            y=table[name],
            name=name,
            marker_color=PALETTE[i % len(PALETTE)],
        )
    fig.update_layout(
        barmode="group",
        title=title or "Logit difference restored by patching a fit of the clean number",
        yaxis_title="LD restored",
        template="plotly_white",
        width=820,
    )
    return fig


def filter_figure(table: pd.DataFrame, title: str = "") -> go.Figure:
    """Accuracy with each band removed, per module (all layers at once and one at a time)."""
    rows = table[table["band"] != "none"]
    base = float(table.loc[table["band"] == "none", "accuracy"].iloc[0])
    fig = go.Figure()
    for i, band in enumerate(("low", "high", "random")):
        sel = rows[rows["band"] == band]
        fig.add_bar(
            x=[f"{m} {layer}" for m, layer in zip(sel["module"], sel["layer"])],
            y=sel["accuracy"],
            name=f"{band} removed",
            marker_color=PALETTE[i % len(PALETTE)],
        )
    fig.add_hline(y=base, line_dash="dot", annotation_text=f"no filter {base:.3f}")
    fig.update_layout(
        barmode="group",
        title=title or "Fourier filters in the number-token basis",
        yaxis_title="accuracy (first answer token)",
        template="plotly_white",
        width=900,
    )
    return fig
