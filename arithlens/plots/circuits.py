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
from arithlens.errors import ArithlensError
from arithlens.plots.basics import PALETTE

COLOURS = {"q": "#8e44ad", "k": "#27ae60", "v": "#2980b9", "other": "#7f8c8d"}
NEGATIVE = "#d62728"


def _place(node: str, n_layers: int, n_heads: int, n_kv: int = 0) -> tuple[float, float]:
    """(x, y) of a node: heads spread on their layer's attention row, MLPs centred above; a
    key-value group (``a1.g0``) in the middle of its heads."""
    if node == "input":
        return (n_heads - 1) / 2, 0.0
    if node == "logits":
        return (n_heads - 1) / 2, 2.0 * n_layers + 1
    layer = int(node[1:].split(".")[0])
    if node.startswith("m"):
        return (n_heads - 1) / 2, 2.0 * layer + 2
    unit = node.split(".")[1]
    if unit.startswith("g"):
        size = n_heads // (n_kv or n_heads)
        return int(unit[1:]) * size + (size - 1) / 2, 2.0 * layer + 1
    return float(unit[1:]), 2.0 * layer + 1


def _shown(circuit: Any, top: int, by_position: bool) -> Any:
    """The edges to draw (the chosen ones, else the ``top`` by |score|), summed over positions
    unless ``by_position``."""
    frame = circuit.to_frame()
    if circuit.positions and not by_position:
        frame = (
            frame.groupby(["edge", "sender", "receiver"], sort=False)
            .agg(score=("score", "sum"), in_circuit=("in_circuit", "any"))
            .reset_index()
        )
    shown = frame[frame.in_circuit] if frame.in_circuit.any() else frame
    return frame, shown.loc[shown.score.abs().sort_values(ascending=False).index[:top]]


@plotter("Circuit")
def circuit_figure(
    circuit: Any, top: int = 40, title: str | None = None, by_position: bool | None = None
) -> go.Figure:
    """The circuit's edges (its chosen ones, or the ``top`` edges by |score| when none is
    chosen) as a layered graph: input at the bottom, logits at the top; with ``by_position``
    (default: when the circuit is position-resolved) positions run left to right and each node
    is labelled in the task's language (``L0H2 @ a1``)."""
    by_position = circuit.positions if by_position is None else by_position
    if by_position and not circuit.positions:
        raise ArithlensError(
            "by_position=True needs a position-resolved circuit: expected "
            "score_edges(..., positions=True)"
        )
    frame, shown = _shown(circuit, top, by_position)
    L, H, G = circuit.n_layers, circuit.n_heads, circuit.n_kv_heads
    used: list[Any] = sorted({int(p) for p in shown.pos}) if by_position else [None]
    width = H + 1.5  # one position's column; only positions with a drawn edge get one

    def at(node: str, pos: int | None) -> tuple[float, float]:
        x, y = _place(node, L, H, G)
        return (x + used.index(pos) * width, y) if pos is not None else (x, y)

    fig = go.Figure()
    ends = _edge_lines(fig, shown, by_position, at)
    if by_position:
        _attention_links(fig, shown, at)
        nodes = list(ends)
        roles = [lab.split(":")[-1] for lab in circuit.pos_labels]
        hover = [f"{_label(n)} @ {roles[p]}" for n, p in nodes]
        fig.update_xaxes(
            tickvals=[i * width + (H - 1) / 2 for i in range(len(used))],
            ticktext=[roles[p] for p in used],
            title="position (role)",
            showgrid=False,
            zeroline=False,
        )
    else:
        nodes = [(n, None) for n in ["input", *[f"a{i}.h{h}" for i in range(L) for h in range(H)]]]
        nodes += [(f"m{i}", None) for i in range(L)] + [("logits", None)]
        hover = [_label(n) for n, _ in nodes]
        fig.update_xaxes(visible=False)
    _nodes(fig, nodes, hover, at, by_position)
    fig.update_yaxes(visible=False)
    chosen = int(frame.in_circuit.sum())
    what = f"{chosen} chosen edges" if chosen else f"top {len(shown)} edges by |score|"
    fig.update_layout(
        title=title or f"{circuit.method} circuit ({what}; width: |score|)",
        template="plotly_white",
        width=min(int(110 * width * len(used)) + 260, 2400),
        height=110 * L + 260,
    )
    return fig


def _nodes(fig: go.Figure, nodes: list, hover: list[str], at: Any, by_position: bool) -> None:
    """The nodes as labelled markers (their names in ``customdata``, for clicks)."""
    xy = np.array([at(*n) for n in nodes]).reshape(-1, 2)
    fig.add_scatter(
        x=xy[:, 0],
        y=xy[:, 1],
        mode="markers+text",
        text=[_label(n) for n, _ in nodes],
        customdata=[n for n, _ in nodes],
        hovertext=hover,
        textposition="top center" if by_position else "middle right",
        textfont=dict(size=9 if by_position else 12),
        marker=dict(size=12, color="white", line=dict(width=1.5, color="#34495e")),
        hoverinfo="text",
        showlegend=False,
    )


def _edge_lines(fig: go.Figure, shown: Any, by_position: bool, at: Any) -> dict:
    """One line per edge (width |score|, colour by what it feeds); the nodes it joins."""
    biggest = float(shown.score.abs().max()) if len(shown) else 1.0
    ends: dict[tuple[str, int | None], tuple[float, float]] = {}
    for row in shown.itertuples():
        pos = int(row.pos) if by_position else None
        a, b = (row.sender, pos), (row.receiver.split("<")[0], pos)
        ends[a], ends[b] = at(*a), at(*b)
        kind = row.receiver[-2] if row.receiver.endswith(">") else "other"
        where = f" @ {row.pos_label}" if by_position else ""
        fig.add_scatter(
            x=[ends[a][0], ends[b][0]],
            y=[ends[a][1], ends[b][1]],
            mode="lines",
            line=dict(
                width=1 + 7 * abs(row.score) / max(biggest, 1e-12),
                color=COLOURS[kind] if row.score >= 0 else NEGATIVE,
            ),
            opacity=0.75,
            hovertext=f"{row.edge}{where}: {row.score:.4f}",
            hoverinfo="text",
            showlegend=False,
        )
    return ends


def _attention_links(fig: go.Figure, shown: Any, at: Any) -> None:
    """Dotted lines for what attention moves across positions: from a head's key/value input
    at one position to the same head's output at each later position where it sends."""
    reads = {
        (r.receiver.split("<")[0], int(r.pos))
        for r in shown.itertuples()
        if r.receiver[-2:] in ("k>", "v>")
    }
    writes = {(r.sender, int(r.pos)) for r in shown.itertuples() if r.sender.startswith("a")}
    for head, p in sorted(reads):
        for sender, q in sorted(writes):
            if sender == head and q > p:
                (x0, y0), (x1, y1) = at(head, p), at(head, q)
                fig.add_scatter(
                    x=[x0, x1],
                    y=[y0, y1],
                    mode="lines",
                    line=dict(width=1, color="#7f8c8d", dash="dot"),
                    hovertext=f"{head} attends from here",
                    hoverinfo="text",
                    showlegend=False,
                )


def _label(node: str) -> str:
    """``L0H2`` for a head, ``L1G0`` for a key-value group, ``MLP0`` for an MLP, else the
    node's name."""
    if node.startswith("a"):
        layer, unit = node[1:].split(".")
        return f"L{layer}{unit[0].upper()}{unit[1:]}"
    if node.startswith("m"):
        return f"MLP{node[1:]}"
    return node


@plotter("Curve")
def curve_figure(
    curves: Any,
    baseline: Any = None,
    mark: float | None = None,
    title: str = "faithfulness by circuit size (MIB)",
    width: int = 520,
) -> go.Figure:
    """MIB's faithfulness curves (``{name: Curve}``, or one Curve) on a log x-axis, with the
    random-ranking ``baseline`` dashed and the circuit size ``mark`` marked on each curve."""
    curves = curves if isinstance(curves, dict) else {"circuit": curves}
    fig = go.Figure()
    for i, (name, c) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        fig.add_scatter(
            x=[100 * f for f in c.fractions],
            y=list(c.faithfulness),
            mode="lines+markers",
            name=f"{name} (CPR {c.cpr:.2f}, CMD {c.cmd:.2f})",
            line=dict(color=colour),
            customdata=list(c.n_edges),
            hovertemplate="%{x}% of edges (%{customdata} kept): f = %{y:.3f}<extra></extra>",
        )
        if mark is not None and mark in c.fractions:
            k = c.fractions.index(mark)
            fig.add_scatter(
                x=[100 * mark],
                y=[c.faithfulness[k]],
                mode="markers",
                marker=dict(size=14, color=colour, symbol="circle-open", line=dict(width=3)),
                name=f"{name}: {c.n_edges[k]} edges, f = {c.faithfulness[k]:.2f}",
            )
    if baseline is not None:
        fig.add_scatter(
            x=[100 * f for f in baseline.fractions],
            y=list(baseline.faithfulness),
            mode="lines",
            line=dict(color="#7f8c8d", dash="dash"),
            name=f"random ranking (CPR {baseline.cpr:.2f})",
        )
    fig.add_hline(y=1.0, line=dict(color="#bbb", width=1))
    fig.update_xaxes(type="log", title="edges kept (%)")
    fig.update_yaxes(title="faithfulness")
    fig.update_layout(
        title=title,
        template="plotly_white",
        width=width,
        height=440,
        legend=dict(orientation="h", yanchor="top", y=-0.25, x=0),
    )
    return fig
