"""Carry taxonomy (Quirke & Barez 2024): exact match by cascade class and per-digit accuracy by
digit class, 1-layer vs 2-layer addition models, in the plain (most significant digit first)
format of the paper and, for contrast, the reversed format."""

from __future__ import annotations

from plotly.subplots import make_subplots

from arithlens.evaluation import evaluate
from arithlens.figures.base import Context, FigureOutput, register
from arithlens.models import zoo

# format -> (1-layer model, 2-layer model)
PAIRS = {
    "plain": ("add5-plain-1L", "add5-plain-2L"),
    "reversed": ("add3-1L", "add3-2L"),
}
COLORS = {
    "add5-plain-1L": "#d62728",
    "add5-plain-2L": "#2ca02c",
    "add3-1L": "#ff9896",
    "add3-2L": "#98df8a",
}
# the 2-layer model may trail the 1-layer one by this much on a class (sampling noise)
TOLERANCE = 0.01


@register(
    "carry_taxonomy",
    "Accuracy by carry cascade class and digit class, 1 vs 2 layers",
    "Quirke & Barez 2024, Understanding addition in transformers",
)
def make(ctx: Context) -> FigureOutput:
    n = 1000 if ctx.quick else 20000
    cascade, klass = {}, {}
    for name in COLORS:
        res = evaluate(zoo.load(name), n=n, strategy="cascade", seed=ctx.seed)
        by_cascade, by_class = res.by_cascade(), res.by_class()
        cascade[name] = dict(zip(by_cascade.cascade, by_cascade.exact_match))
        klass[name] = dict(zip(by_class.digit_class, by_class.accuracy))
    fig = make_subplots(
        1, 2, subplot_titles=["exact match by cascade class", "digit accuracy by class"]
    )
    for name, color in COLORS.items():
        for col, values in ((1, cascade[name]), (2, klass[name])):
            fig.add_bar(
                x=list(values),
                y=list(values.values()),
                name=name,
                marker_color=color,
                showlegend=col == 1,
                row=1,
                col=col,
            )
    fig.update_yaxes(range=[0, 1.05])
    fig.update_layout(
        title=f"carry taxonomy ({n} cascade-balanced problems per model)",
        barmode="group",
        template="plotly_white",
        width=1100,
        height=440,
    )
    one, two = PAIRS["plain"]
    numbers = dict(
        n=n,
        cascade=cascade,
        digit_class=klass,
        plain_1L_worst_class=min(klass[one], key=klass[one].get),
        plain_1L_exact_S0=cascade[one]["S0"],
        plain_1L_worst_cascade=min(cascade[one], key=cascade[one].get),
        plain_2L_min_exact=min(cascade[two].values()),
        reversed_1L_min_exact=min(cascade[PAIRS["reversed"][0]].values()),
    )
    checks = {
        f"the 2-layer model is at least as accurate as the 1-layer one on every cascade class "
        f"({fmt} format, within {TOLERANCE})": all(
            cascade[b][c] >= cascade[a][c] - TOLERANCE for c in cascade[a]
        )
        for fmt, (a, b) in PAIRS.items()
    }
    checks["every cascade class is present (S0-S5 plain, S0-S3 reversed)"] = (
        len(cascade[one]) == 6 and len(cascade[PAIRS["reversed"][0]]) == 4
    )
    checks["the 1-layer plain model is worst on use-sum-9 (US) digits"] = (
        numbers["plain_1L_worst_class"] == "US"
    )
    worst = numbers["plain_1L_worst_cascade"]
    checks["the 1-layer plain model's worst cascade class is a cascading one (S2-S5)"] = (
        worst not in ("S0", "S1")
    )
    paper = {
        "plain_1L_worst_class": "1-layer model fails cascading use-sum-9 cases, e.g. 445+555",
        "plain_2L_min_exact": "2-layer model: 99.999%+ on every class",
        "reversed_1L_min_exact": "(not in the paper: reversed format)",
    }
    summary = [
        f"Plain format, 1 layer: exact match {cascade[one]['S0']:.4f} on S0, worst on "
        f"{numbers['plain_1L_worst_cascade']} "
        f"({cascade[one][numbers['plain_1L_worst_cascade']]:.4f}); its worst digit class is "
        f"{numbers['plain_1L_worst_class']} ({klass[one][numbers['plain_1L_worst_class']]:.4f}).",
        f"Plain format, 2 layers: worst cascade class {numbers['plain_2L_min_exact']:.4f}.",
        f"Reversed format, 1 layer: worst cascade class {numbers['reversed_1L_min_exact']:.4f} - "
        "the lower answer digits are written first and read back, so a cascade needs no lookahead.",
    ]
    return FigureOutput(fig, numbers, paper, checks, summary)
