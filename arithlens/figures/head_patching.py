"""Head x position activation patching on the 2-layer addition model, with the attention
patterns of the top heads: which operand digits each head reads."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arithlens.analyses.lens import trace
from arithlens.figures.base import Check, Context
from arithlens.models import loading
from arithlens.patching import activation_patch
from arithlens.plots import patch_grid
from arithlens.tasks import corrupt_pairs

NAME = "head_patching"
TITLE = "Head x position patching and the top heads' attention, add3-2L"
SOURCE = "activation patching (Meng et al. 2022; Heimersheim & Nanda 2024) on our zoo model"
PAPER = {
    "top_heads": "a few heads move each operand digit to the position that predicts its answer digit"
}
PROBLEM = "123+456"
"""The problem whose attention the top heads' panels show."""

CHECKS = [
    Check(
        "the top cell restores at least 0.1 of the clean logit difference",
        lambda n: n["top_heads"][0]["restored"] > 0.1,
    ),
    Check(
        "the top cells sit at or after '=' (where answer digits are predicted)",
        lambda n: all(int(h["pos"].split(":")[0]) >= n["equals_pos"] for h in n["top_heads"]),
    ),
    Check(
        "a top head attends to the changed digit a.units at its position",
        lambda n: any(v == n["a_units_label"] for v in n["top_head_reads"].values()),
    ),
]


def compute(ctx: Context) -> dict[str, Any]:
    """Patch every head at every position (a.units pairs); the top three cells' attention on
    :data:`PROBLEM` and the token each reads most from the position that matters."""
    model = loading.load("add3-2L")
    n = 64 if ctx.quick else 512
    pairs = corrupt_pairs(model.task, n, change="a.units", seed=ctx.seed)
    res = activation_patch(
        model, pairs, "z", by=("layer", "pos", "head"), metric="logit_diff", progress=ctx.progress
    ).normalized()
    t = trace(model, PROBLEM)
    labels = res.pos_labels
    top, patterns, reads = [], {}, {}
    for _, r in res.top(3).iterrows():
        layer, head, pos = int(r["layer"]), int(r["head"]), int(r["pos"])
        key = f"L{layer}H{head}@{labels[pos]}"
        top.append(dict(layer=layer, head=head, pos=labels[pos], restored=float(r["value"])))
        patterns[key] = np.asarray(t.pattern[layer, head], dtype=np.float64).round(5).tolist()
        # what the head reads from the query position that matters
        reads[key] = t.token_labels[int(np.argmax(t.pattern[layer, head][pos]))]
    return dict(
        n_pairs=n,
        top_heads=top,
        top_head_reads=reads,
        equals_pos=model.task.n_digits * 2 + 1,
        a_units_label=t.token_labels[2],
        # the plotted series: the patching grid and the top heads' attention on PROBLEM
        patching=dict(
            values=res.values.numpy().round(5).tolist(),
            axes=list(res.axes),
            pos_labels=list(labels),
            baseline=float(res.baseline),
            metric=res.metric,
        ),
        token_labels=list(t.token_labels),
        patterns=patterns,
    )


def draw(numbers: dict[str, Any]) -> go.Figure:
    """The head x position grid on top, one attention heatmap per top cell below."""
    p = numbers["patching"]
    top = numbers["patterns"]
    fig = make_subplots(
        2,
        3,
        specs=[[{"colspan": 3}, None, None], [{}, {}, {}]],
        row_heights=[0.45, 0.55],
        vertical_spacing=0.15,
        subplot_titles=["normalized logit difference restored (a.units)"]
        + [key.replace("@", " @ ") for key in top],
    )
    grid = patch_grid(
        p["values"], tuple(p["axes"]), p["pos_labels"], baseline=p["baseline"], metric=p["metric"]
    )
    fig.add_trace(grid.data[0], row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    labels = numbers["token_labels"]
    for i, pattern in enumerate(top.values(), start=1):
        fig.add_heatmap(
            z=pattern,
            x=labels,
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            row=2,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", row=2, col=i)
    fig.update_layout(
        title=f"add3-2L head x position patching ({numbers['n_pairs']} a.units pairs) and top "
        f"heads' attention on {PROBLEM}",
        template="plotly_white",
        width=1100,
        height=800,
    )
    return fig


def summarize(numbers: dict[str, Any]) -> list[str]:
    return [f"Top cells: {numbers['top_heads']}; what each reads: {numbers['top_head_reads']}."]
