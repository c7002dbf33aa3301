"""Training and evaluation pictures: accuracy by digit, carry and cascade; loss and accuracy per
answer digit over training; exact match by operand length.

Example:
    >>> fig = training_figure(TrainRecord(config={}, train_loss=[1.0, 0.5]))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arithlens._plotting import plotter
from arithlens.tasks import place_name

if TYPE_CHECKING:
    from arithlens.analyses.evaluation import EvalResult
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
