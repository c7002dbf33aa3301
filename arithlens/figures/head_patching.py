"""Head x position activation patching on the 2-layer addition model, with the attention
patterns of the top heads: which operand digits each head reads."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arithlens.figures.base import Check, Context, FigureOutput, register, run_checks
from arithlens.lens import trace
from arithlens.models import loading
from arithlens.patching import activation_patch
from arithlens.tasks import corrupt_pairs

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


def _attention_panels(fig: go.Figure, t: Any, top: Any, labels: list[str]) -> dict[str, str]:
    """One attention heatmap per top cell (row 2), on the traced problem; returns the token each
    top head reads most from the query position that matters."""
    reads = {}
    for i, (_, r) in enumerate(top.iterrows(), start=1):
        layer, head, pos = int(r["layer"]), int(r["head"]), int(r["pos"])
        pat = t.pattern[layer, head]
        fig.add_heatmap(
            z=pat,
            x=t.token_labels,
            y=t.token_labels,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            showscale=False,
            row=2,
            col=i,
        )
        fig.update_yaxes(autorange="reversed", row=2, col=i)
        # what the head reads from the query position that matters (mean over the pairs' layout)
        reads[f"L{layer}H{head}@{labels[pos]}"] = t.token_labels[int(np.argmax(pat[pos]))]
    return reads


@register(
    "head_patching",
    "Head x position patching and the top heads' attention, add3-2L",
    "activation patching (Meng et al. 2022; Heimersheim & Nanda 2024) on our zoo model",
)
def make(ctx: Context) -> FigureOutput:
    model = loading.load("add3-2L")
    n = 64 if ctx.quick else 512
    pairs = corrupt_pairs(model.task, n, change="a.units", seed=ctx.seed)
    res = activation_patch(
        model, pairs, "z", by=("layer", "pos", "head"), metric="logit_diff", progress=ctx.progress
    ).normalized()
    top = res.top(3)
    t = trace(model, "123+456")
    labels = res.pos_labels
    fig = make_subplots(
        2,
        3,
        specs=[[{"colspan": 3}, None, None], [{}, {}, {}]],
        row_heights=[0.45, 0.55],
        vertical_spacing=0.15,
        subplot_titles=["normalized logit difference restored (a.units)"]
        + [
            f"L{int(r['layer'])}H{int(r['head'])} @ {labels[int(r['pos'])]}"
            for _, r in top.iterrows()
        ],
    )
    heat = res.plot().data[0]
    fig.add_trace(heat, row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    reads = _attention_panels(fig, t, top, labels)
    fig.update_layout(
        title=f"add3-2L head x position patching ({n} a.units pairs) and top heads' attention on 123+456",
        template="plotly_white",
        width=1100,
        height=800,
    )
    numbers = dict(
        n_pairs=n,
        top_heads=[
            dict(
                layer=int(r["layer"]),
                head=int(r["head"]),
                pos=labels[int(r["pos"])],
                restored=float(r["value"]),
            )
            for _, r in top.iterrows()
        ],
        top_head_reads=reads,
        equals_pos=model.task.n_digits * 2 + 1,
        a_units_label=t.token_labels[2],
    )
    paper = {
        "top_heads": "a few heads move each operand digit to the position that predicts its answer digit"
    }
    summary = [f"Top cells: {numbers['top_heads']}; what each reads: {reads}."]
    return FigureOutput(fig, numbers, paper, run_checks(CHECKS, numbers), summary)
