"""Per-digit phase transitions (Nanda et al. 2023, 5-digit addition appendix): the held-out loss
of each answer digit over training; each digit drops at its own step."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from arithlens.figures.base import Context, FigureOutput, register
from arithlens.models import TrainConfig, build_model, train
from arithlens.tasks import TaskSpec, place_name


@register(
    "digit_phases",
    "Per-answer-digit loss over training, 5-digit addition",
    "Nanda et al. 2023, Progress measures for grokking (5-digit addition appendix)",
)
def make(ctx: Context) -> FigureOutput:
    task = TaskSpec(op="add", n_digits=5, format="reversed")
    steps, every = (200, 10) if ctx.quick else (800, 10)
    cfg = TrainConfig(
        steps=steps,
        eval_every=every,
        n_test=500,
        batch_size=128 if ctx.quick else 256,
        seed=ctx.seed,
    )
    record = train(task, build_model("2L", task, seed=cfg.seed), cfg, progress=ctx.progress).record
    loss = np.asarray(record.eval_digit_loss)
    fig = go.Figure()
    for k in range(loss.shape[1]):
        fig.add_scatter(x=record.eval_steps, y=loss[:, k], name=place_name(k), mode="lines")
    fig.update_yaxes(type="log", title="held-out loss")
    fig.update_layout(
        title=f"5-digit addition: loss per answer digit ({steps} steps, 2 layers)",
        xaxis_title="step",
        template="plotly_white",
        width=900,
        height=420,
    )
    # phase change of a digit: the step of its steepest loss drop (log scale)
    drops = np.diff(np.log(np.maximum(loss, 1e-8)), axis=0)
    steepest = [
        int(record.eval_steps[int(np.argmin(drops[:, k])) + 1]) for k in range(loss.shape[1])
    ]
    numbers = dict(
        steps=steps,
        steepest_drop_step={place_name(k): s for k, s in enumerate(steepest)},
        start_loss={place_name(k): float(loss[0, k]) for k in range(loss.shape[1])},
        end_loss={place_name(k): float(loss[-1, k]) for k in range(loss.shape[1])},
        learned_at_0_95={place_name(k): s for k, s in enumerate(record.learned_at(0.95))},
    )
    checks = {
        "each per-digit loss curve ends below where it started": bool((loss[-1] < loss[0]).all()),
        "the digits do not all change at one step": len(set(steepest)) > 1,
    }
    paper = {"steepest_drop_step": "each digit's loss has its own phase change, at different steps"}
    summary = [f"Steepest loss drop per digit: {numbers['steepest_drop_step']}."]
    return FigureOutput(fig, numbers, paper, checks, summary)
