"""Per-digit phase transitions (Nanda et al. 2023, 5-digit addition appendix): the held-out loss
of each answer digit over training; each digit drops at its own step.

As in the paper: a one-layer model, problems drawn uniformly (no cascade-balanced share)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from arithlens.figures.base import Check, Context, FigureOutput, register, run_checks
from arithlens.models import TrainConfig, build_model, train
from arithlens.tasks import TaskSpec, place_name

PHASE_LOSS = 0.1
"""Held-out loss (nats) below which a digit's phase change counts as done."""


def _reached(numbers: dict) -> list[int]:
    return [s for s in numbers["phase_change_step"].values() if s is not None]


CHECKS = [
    Check(
        f"the digits reach loss {PHASE_LOSS} at different steps (Nanda et al.: a phase change "
        "per digit, not one for all)",
        lambda n: len(set(_reached(n))) > 1,
    ),
    Check(
        f"full mode: every digit reaches loss {PHASE_LOSS}, and the last does so at least twice as "
        "late as the first (separate phases, not one drop)",
        lambda n: (
            not n["full"]
            or (
                len(_reached(n)) == len(n["phase_change_step"])
                and max(_reached(n)) >= 2 * min(_reached(n))
            )
        ),
    ),
]


@register(
    "digit_phases",
    "Per-answer-digit loss over training, 5-digit addition",
    "Nanda et al. 2023, Progress measures for grokking (5-digit addition appendix)",
)
def make(ctx: Context) -> FigureOutput:
    task = TaskSpec(op="add", n_digits=5, format="reversed")
    steps, batch = (300, 128) if ctx.quick else (1000, 256)
    cfg = TrainConfig(
        steps=steps,
        eval_every=10,
        n_test=500,
        batch_size=batch,
        seed=ctx.seed,
        cascade_fraction=0.0,
    )
    record = train(task, build_model("1L", task, seed=cfg.seed), cfg, progress=ctx.progress).record
    loss = np.asarray(record.eval_digit_loss)
    fig = go.Figure()
    for k in range(loss.shape[1]):
        fig.add_scatter(x=record.eval_steps, y=loss[:, k], name=place_name(k), mode="lines")
    fig.update_yaxes(type="log", title="held-out loss")
    fig.update_layout(
        title=f"5-digit addition: loss per answer digit ({steps} steps of {batch}, 1 layer)",
        xaxis_title="step",
        template="plotly_white",
        width=900,
        height=420,
    )
    # a digit's phase change: the first evaluation where its loss is below PHASE_LOSS nats
    names = [place_name(k) for k in range(loss.shape[1])]
    phase = [
        next((int(record.eval_steps[i]) for i in range(len(loss)) if loss[i, k] < PHASE_LOSS), None)
        for k in range(loss.shape[1])
    ]
    numbers = dict(
        steps=steps,
        batch_size=batch,
        phase_loss=PHASE_LOSS,
        phase_change_step=dict(zip(names, phase)),
        learned_at_0_95=dict(zip(names, record.learned_at(0.95))),
        start_loss=dict(zip(names, loss[0].tolist())),
        end_loss=dict(zip(names, loss[-1].tolist())),
        full=not ctx.quick,
    )
    paper = {"phase_change_step": "each digit's loss has its own phase change, at different steps"}
    summary = [
        f"First step with each digit's held-out loss below {PHASE_LOSS} (None: not within "
        f"{steps} steps): {numbers['phase_change_step']}.",
        f"First step each digit stays >= 95% accurate: {numbers['learned_at_0_95']}.",
    ]
    return FigureOutput(fig, numbers, paper, run_checks(CHECKS, numbers), summary)
