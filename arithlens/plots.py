"""Pure plotting functions: results in, ``plotly.graph_objects.Figure`` out.

Example:
    >>> fig = training_figure(TrainRecord(config={}, train_loss=[1.0, 0.5]))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arithlens._plotting import plotter
from arithlens.tasks import place_name

if TYPE_CHECKING:
    from arithlens.evaluation import EvalResult
    from arithlens.models.records import TrainRecord


@plotter("EvalResult")
def eval_figure(res: EvalResult, title: str | None = None) -> go.Figure:
    """Three panels: accuracy per answer digit, per digit by carry-in, exact match by cascade."""
    has_cascade = res.problems.task.op != "mul"
    titles = ["accuracy per answer digit", "digit accuracy by carry in"]
    if has_cascade:
        titles.append("exact match by cascade class")
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles)
    pd_ = res.per_digit()
    fig.add_bar(x=list(pd_.index), y=pd_.values, name="per digit", row=1, col=1, showlegend=False)
    bc = res.by_carry()
    for v, grp in bc.groupby("carry_in"):
        fig.add_bar(
            x=grp.digit,
            y=grp.accuracy,
            name=f"carry in = {v}",
            row=1,
            col=2,
            customdata=grp["count"],
            hovertemplate="%{x}: %{y:.4f} (n=%{customdata})",
        )
    if has_cascade:
        ca = res.by_cascade()
        fig.add_bar(
            x=ca.cascade,
            y=ca.exact_match,
            name="by cascade",
            row=1,
            col=3,
            showlegend=False,
            customdata=ca["count"],
            hovertemplate="%{x}: %{y:.4f} (n=%{customdata})",
        )
    fig.update_yaxes(range=[0, 1.02])
    fig.update_layout(
        title=title
        or f"{res.problems.task.name}: exact match {res.exact_match:.4f} on {len(res.problems)} problems",
        barmode="group",
        template="plotly_white",
        height=380,
    )
    return fig


def training_figure(record: TrainRecord, title: str | None = None) -> go.Figure:
    """Training loss and per-answer-digit held-out loss and accuracy over steps."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=["loss per answer digit (held out)", "accuracy per answer digit (held out)"],
    )
    fig.add_scatter(
        y=record.train_loss,
        x=list(range(1, len(record.train_loss) + 1)),
        name="train loss",
        line=dict(color="lightgray"),
        row=1,
        col=1,
    )
    n_digits = len(record.eval_digit_loss[0]) if record.eval_digit_loss else 0
    colors = px.colors.qualitative.Plotly
    for k in range(n_digits):
        style = dict(color=colors[k % len(colors)])
        fig.add_scatter(
            x=record.eval_steps,
            y=[r[k] for r in record.eval_digit_loss],
            name=f"{place_name(k)} loss",
            legendgroup=place_name(k),
            line=style,
            row=1,
            col=1,
        )
        fig.add_scatter(
            x=record.eval_steps,
            y=[r[k] for r in record.eval_digit_acc],
            name=f"{place_name(k)} acc",
            legendgroup=place_name(k),
            line=dict(style, dash="dot"),
            row=1,
            col=2,
        )
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(
        title=title or "training", template="plotly_white", height=380, xaxis_title="step"
    )
    return fig


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


@plotter("PatchResult")
def patch_heatmap(res: Any, title: str | None = None) -> go.Figure:
    """Heatmap of a :class:`~arithlens.patching.PatchResult` (rows layer or layer.head)."""
    v = res.values.numpy()
    axes = res.axes
    if axes == ("layer", "pos"):
        z, y, x = v, [f"L{i}" for i in range(v.shape[0])], res.pos_labels[: v.shape[1]]
    elif axes == ("layer", "head"):
        z, y, x = v, [f"L{i}" for i in range(v.shape[0])], [f"H{h}" for h in range(v.shape[1])]
    else:
        z, y = layer_rows(v, [f"L{i}" for i in range(v.shape[0])])
        x = res.pos_labels[: v.shape[1]]
    center = res.baseline  # white: the unpatched run
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=y,
            colorscale="RdBu",
            zmid=center,
            colorbar=dict(title=res.metric),
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(
        title=title
        or f"{res.direction} {res.method} patching of {res.component} ({res.change}, {res.n_pairs} pairs)",
        xaxis_title="position",
        template="plotly_white",
        height=max(300, 22 * len(y) + 120),
    )
    return fig


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


def figures_html(figs: list[go.Figure], title: str = "arithlens") -> str:
    """One standalone HTML page holding ``figs`` (plotly.js embedded once, works offline)."""
    parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs)]
    body = "\n".join(parts)
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"


def probe_overview(res: Any, flips: Any = None, targets: list[str] | None = None) -> go.Figure:
    """One row per target: held-out accuracy, selectivity, random-init accuracy and (when a
    :class:`~arithlens.probes.CausalResult` is given) the causal flip rate, layer x position."""
    names = _probe_targets(res, targets)
    panels = [
        ("held-out score", lambda k: res.score[k], (0, 1), "Viridis"),
        ("selectivity", lambda k: res.selectivity[k], (-1, 1), "RdBu"),
        ("random-init score", lambda k: res.random_init[k], (0, 1), "Viridis"),
    ]
    if flips is not None:
        panels.append(
            (
                "causal flip rate",
                lambda k: flips.flip[flips.target_index(res.targets[k])],
                (0, 1),
                "Viridis",
            )
        )
    fig = make_subplots(
        rows=len(names),
        cols=len(panels),
        subplot_titles=[f"{t}: {p[0]}" for t in names for p in panels],
        horizontal_spacing=0.05,
        vertical_spacing=0.35 / max(len(names), 1),
    )
    x = [label.split(":", 1)[1] for label in res.pos_labels]
    for r, t in enumerate(names, start=1):
        k = res.target_index(t)
        for c, (title, get, (lo, hi), scale) in enumerate(panels, start=1):
            z, y = layer_rows(get(k), res.layer_labels)
            fig.add_trace(
                go.Heatmap(
                    z=z,
                    x=x,
                    y=y,
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
        title=f"probes on {res.activation}: held-out n={res.n_test} (blank = not run: after the predicting position)",
        template="plotly_white",
        width=380 * len(panels) + 120,
        height=210 * len(names) + 100,
        margin=dict(l=40, r=90, t=80, b=30),
    )
    return fig


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


def length_figure(tables: dict, title: str = "exact match by operand length") -> go.Figure:
    """Exact match by operand width (sequence length, for sorters), one line per model, the
    trained widths shaded: ``tables`` maps a name to a :func:`arithlens.length_generalization`
    frame."""
    fig = go.Figure()
    trained: set[int] = set()
    sorting = False
    for name, frame in tables.items():
        sorting = "length" in frame
        x = frame["length" if sorting else "n_digits"]
        fig.add_scatter(x=x, y=frame.exact_match, mode="lines+markers", name=name)
        trained |= set(x[frame.trained].tolist())
    if trained:
        fig.add_vrect(
            x0=min(trained) - 0.5,
            x1=max(trained) + 0.5,
            fillcolor="grey",
            opacity=0.12,
            line_width=0,
            annotation_text="trained",
            annotation_position="top left",
        )
    fig.update_layout(
        title=title,
        xaxis_title="sequence length" if sorting else "digits per operand",
        yaxis=dict(title="exact match", range=[0, 1.02]),
        template="plotly_white",
        width=720,
        height=400,
    )
    return fig
