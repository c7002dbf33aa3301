"""Multiplication per-digit learning (Qiu et al. 2024): held-out accuracy of each output digit
over training; the end digits are learned first, the middle ones last."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from arithlens.figures.base import Check, Context, FigureOutput, register, run_checks
from arithlens.models import TrainConfig, build_model, train, zoo
from arithlens.tasks import place_name


def _steps(numbers: dict) -> list[float]:
    """Learned-at step per digit (units first); never learned counts as infinitely late."""
    return [float("inf") if s is None else s for s in numbers["learned_at_0_9"].values()]


CHECKS = [
    Check(
        "the middle digits are learned after both end digits (Qiu et al.)",
        lambda n: min(_steps(n)[1:-1]) > max(_steps(n)[0], _steps(n)[-1]),
    ),
    Check(
        "every digit ends at >= 90% and no worse than it started",
        lambda n: all(
            n["final_accuracy"][d] >= 0.9 and n["final_accuracy"][d] >= n["start_accuracy"][d]
            for d in n["final_accuracy"]
        ),
    ),
]


@register(
    "mul_digits",
    "Per-output-digit accuracy over training, 2-digit multiplication",
    "Qiu et al. 2024, Dissecting multiplication in transformers",
)
def make(ctx: Context) -> FigureOutput:
    model = zoo.load("mul2-3L")
    if ctx.quick:  # the zoo model's own recorded training curves
        record, source = model.record, "zoo mul2-3L training record (2000 steps)"
    else:  # retrain from the zoo recipe with denser evaluation
        recipe = zoo.RECIPES["mul2-3L"]
        cfg = TrainConfig(**{**recipe.config.to_dict(), "eval_every": 50})
        record = train(
            recipe.task,
            build_model(recipe.preset, recipe.task, seed=cfg.seed),
            cfg,
            progress=ctx.progress,
        ).record
        source = "mul2-3L recipe retrained, evaluated every 50 steps"
    acc = np.asarray(record.eval_digit_acc)
    fig = go.Figure()
    for k in range(acc.shape[1]):
        fig.add_scatter(x=record.eval_steps, y=acc[:, k], name=place_name(k), mode="lines+markers")
    fig.update_layout(
        title=f"2-digit multiplication: accuracy per output digit ({source})",
        xaxis_title="step",
        yaxis_title="held-out accuracy",
        template="plotly_white",
        width=900,
        height=420,
    )
    learned = record.learned_at(0.9)
    numbers = dict(
        learned_at_0_9={place_name(k): s for k, s in enumerate(learned)},
        final_accuracy={place_name(k): float(acc[-1, k]) for k in range(acc.shape[1])},
        start_accuracy={place_name(k): float(acc[0, k]) for k in range(acc.shape[1])},
        source=source,
    )
    paper = {"learned_at_0_9": "first and last digits learned first, middle digits last"}
    summary = [
        f"Step at which each digit first stays >= 90% accurate: {numbers['learned_at_0_9']}."
    ]
    return FigureOutput(fig, numbers, paper, run_checks(CHECKS, numbers), summary)
