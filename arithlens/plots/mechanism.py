"""Mechanism-map heatmaps (Quirke & Barez's quanta maps): rows are the layers' heads and MLPs,
columns the useful positions with their roles; a cell is a useful node's fail share, or the
lowest answer digit it breaks.

Example:
    >>> al.mechanism.mechanism_map(model).plot("impact")              # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from arithlens._plotting import plotter
from arithlens.analyses.mechanism.nodes import compact_digits, parse_node
from arithlens.errors import ArithlensError

SHOWS = ("fail", "impact")


@plotter("MechanismMap")
def mechanism_figure(m: Any, show: str = "fail") -> go.Figure:
    """The useful nodes of map ``m`` as a heatmap of ``show`` (``fail`` or ``impact``)."""
    if show not in SHOWS:
        raise ArithlensError(f"show={show!r} is unknown: expected one of {list(SHOWS)}")
    nodes = [parse_node(d["name"]) for d in m.nodes]
    layers = sorted({n.layer for n in nodes}) or [0]
    heads = max([n.head for n in nodes if n.head is not None], default=-1) + 1
    rows = [f"L{layer}H{h}" for layer in layers for h in range(heads)]
    rows += [f"L{layer}M" for layer in layers]
    cols = m.useful_positions
    z = np.full((len(rows), len(cols)), np.nan)
    text = [["" for _ in cols] for _ in rows]
    digit_index = {name: k for k, name in enumerate(m.digit_names)}
    for node, d in zip(nodes, m.nodes):
        r = rows.index(f"L{node.layer}" + (f"H{node.head}" if node.is_head else "M"))
        c = cols.index(node.pos)
        if show == "fail":
            z[r, c] = 100 * d["fail"]
            text[r][c] = f"{100 * d['fail']:.0f}%"
        else:
            z[r, c] = min((digit_index[x] for x in d["impact"]), default=np.nan)
            text[r][c] = compact_digits(d["impact"])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[m.pos_labels[p] for p in cols],
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale="Reds" if show == "fail" else "Viridis",
            colorbar=dict(title="fail %" if show == "fail" else "lowest digit"),
            hoverongaps=False,
        )
    )
    what = "share of problems failing" if show == "fail" else "answer digits that break"
    fig.update_layout(
        title=f"{m.model}: useful nodes, {what} when mean-ablated ({m.n} problems)",
        template="plotly_white",
        width=max(420, 70 * len(cols) + 220),
        height=max(320, 28 * len(rows) + 200),
        xaxis_title="position (role)",
    )
    fig.update_yaxes(autorange="reversed")
    return fig
