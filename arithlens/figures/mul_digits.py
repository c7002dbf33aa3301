"""Multiplication per-digit learning (Qiu et al. 2024): held-out accuracy of each output digit
over training; the end digits are learned first, the middle ones last.

Quick mode reads the zoo model's own training record; full mode retrains its recipe once per
seed (seed 0 is the recipe's) and draws the mean with the seeds' range as a band."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from arithlens.figures.base import Check, Context
from arithlens.models import loading, zoo
from arithlens.plots import band_figure
from arithlens.tasks import place_name

NAME = "mul_digits"
TITLE = "Per-output-digit accuracy over training, 2-digit multiplication"
SOURCE = "Qiu et al. 2024, Dissecting multiplication in transformers"
PAPER = {"learned_at_0_9": "first and last digits learned first, middle digits last"}


def _each_seed(numbers: dict) -> list[list[float]]:
    """Per seed, the learned-at step of every digit (units first); never learned counts as
    infinitely late."""
    per_digit = list(numbers["learned_at_0_9"].values())
    return [[float("inf") if s is None else s for s in col] for col in zip(*per_digit)]


CHECKS = [
    Check(
        "in every seed the middle digits are learned after both end digits (Qiu et al.)",
        lambda n: all(min(s[1:-1]) > max(s[0], s[-1]) for s in _each_seed(n)),
    ),
    Check(
        "every digit ends at >= 90% in every seed, and no worse on average than it started",
        lambda n: all(
            n["final_accuracy_min"][d] >= 0.9 and n["final_accuracy"][d] >= n["start_accuracy"][d]
            for d in n["final_accuracy"]
        ),
    ),
]


def compute(ctx: Context) -> dict[str, Any]:
    """Quick: the zoo model's recorded curves; full: the recipe retrained once per seed."""
    if ctx.quick:  # the zoo model's own recorded training curves
        records, seeds = [loading.load("mul2-3L").record], [zoo.RECIPES["mul2-3L"].config.seed]
        source = "zoo mul2-3L training record (2000 steps)"
    else:  # retrain from the zoo recipe with denser evaluation, once per seed
        seeds = list(ctx.seeds)
        records = [
            zoo.retrain("mul2-3L", seed=seed, eval_every=50, progress=ctx.progress).record
            for seed in seeds
        ]
        source = f"mul2-3L recipe retrained with seeds {seeds}, evaluated every 50 steps"
    runs = np.stack([np.asarray(r.eval_digit_acc) for r in records])  # seeds x evals x digits
    names = [place_name(k) for k in range(runs.shape[2])]
    learned = [r.learned_at(0.9) for r in records]
    return dict(
        seeds=seeds,
        learned_at_0_9={d: [s[k] for s in learned] for k, d in enumerate(names)},
        final_accuracy={d: float(runs[:, -1, k].mean()) for k, d in enumerate(names)},
        final_accuracy_min={d: float(runs[:, -1, k].min()) for k, d in enumerate(names)},
        start_accuracy={d: float(runs[:, 0, k].mean()) for k, d in enumerate(names)},
        source=source,
        # the plotted series: per digit, seeds x evaluations
        steps=[int(s) for s in records[0].eval_steps],
        accuracy={d: runs[:, :, k].tolist() for k, d in enumerate(names)},
    )


def draw(numbers: dict[str, Any]) -> go.Figure:
    """Accuracy per output digit over training: the seeds' mean, their range as a band."""
    title = f"2-digit multiplication: accuracy per output digit ({numbers['source']})"
    return band_figure(numbers["steps"], numbers["accuracy"], title, yaxis="held-out accuracy")


def summarize(numbers: dict[str, Any]) -> list[str]:
    return [
        f"Step at which each digit first stays >= 90% accurate, per seed {numbers['seeds']}: "
        f"{numbers['learned_at_0_9']}."
    ]
