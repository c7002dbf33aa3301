"""Circuit pictures: the graph in layers, input at the bottom and the logits at the top, each
edge a line whose width is its |score| and whose colour says what it feeds (EAP-IG's convention:
purple into a query, green into a key, blue into a value, grey into an MLP or the logits; red
when the score is negative).

Example:
    >>> al.circuits.score_edges(model, pairs).select(0.05).plot()          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from arithlens._plotting import plotter

COLOURS = {"q": "#8e44ad", "k": "#27ae60", "v": "#2980b9", "other": "#7f8c8d"}
NEGATIVE = "#d62728"


def _place(node: str, n_layers: int, n_heads: int) -> tuple[float, float]:
    """(x, y) of a node: heads spread on their layer's attention row, MLPs centred above."""
    if node == "input":
        return (n_heads - 1) / 2, 0.0
    if node == "logits":
        return (n_heads - 1) / 2, 2.0 * n_layers + 1
    layer = int(node[1:].split(".")[0])
    if node.startswith("m"):
        return (n_heads - 1) / 2, 2.0 * layer + 2
    return float(node.split(".h")[1]), 2.0 * layer + 1


@plotter("Circuit")
def circuit_figure(circuit: Any, top: int = 40, title: str | None = None) -> go.Figure:
    """The circuit's edges (its chosen ones, or the ``top`` edges by |score| when none is
    chosen), position-summed, as a layered graph."""
    frame = circuit.to_frame()
    if circuit.positions:
        frame = (
            frame.groupby(["edge", "sender", "receiver"], sort=False)
            .agg(score=("score", "sum"), in_circuit=("in_circuit", "any"))
            .reset_index()
        )
    shown = frame[frame.in_circuit] if frame.in_circuit.any() else frame
    shown = shown.loc[shown.score.abs().sort_values(ascending=False).index[:top]]
    L, H = circuit.n_layers, circuit.n_heads
    biggest = float(shown.score.abs().max()) if len(shown) else 1.0
    fig = go.Figure()
    for row in shown.itertuples():
        (x0, y0), (x1, y1) = (
            _place(row.sender, L, H),
            _place(row.receiver.split("<")[0], L, H),
        )
        kind = row.receiver[-2] if row.receiver.endswith(">") else "other"
        fig.add_scatter(
            x=[x0, x1],
            y=[y0, y1],
            mode="lines",
            line=dict(
                width=1 + 7 * abs(row.score) / max(biggest, 1e-12),
                color=COLOURS[kind] if row.score >= 0 else NEGATIVE,
            ),
            opacity=0.75,
            hovertext=f"{row.edge}: {row.score:.4f}",
            hoverinfo="text",
            showlegend=False,
        )
    nodes = ["input", *[f"a{lay}.h{h}" for lay in range(L) for h in range(H)]]
    nodes += [f"m{lay}" for lay in range(L)] + ["logits"]
    xy = np.array([_place(n, L, H) for n in nodes])
    labels = [_label(n) for n in nodes]
    fig.add_scatter(
        x=xy[:, 0],
        y=xy[:, 1],
        mode="markers+text",
        text=labels,
        textposition="middle right",
        marker=dict(size=14, color="white", line=dict(width=1.5, color="#34495e")),
        hoverinfo="text",
        showlegend=False,
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    chosen = int(frame.in_circuit.sum())
    what = f"{chosen} chosen edges" if chosen else f"top {len(shown)} edges by |score|"
    fig.update_layout(
        title=title or f"{circuit.method} circuit ({what}; width: |score|)",
        template="plotly_white",
        width=140 * H + 260,
        height=110 * L + 260,
    )
    return fig


def _label(node: str) -> str:
    """``L0H2`` for a head, ``MLP0`` for an MLP, else the node's name."""
    if node.startswith("a"):
        layer, head = node[1:].split(".h")
        return f"L{layer}H{head}"
    if node.startswith("m"):
        return f"MLP{node[1:]}"
    return node
