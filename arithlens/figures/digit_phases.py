"""Per-digit phase transitions (Nanda et al. 2023, 5-digit addition appendix): the held-out loss
of each answer digit over training; each digit drops at its own step.

As in the paper: a one-layer model, problems drawn uniformly (no cascade-balanced share). A
digit's phase change is located two ways: the first evaluation with its loss below
:data:`PHASE_LOSS`, and the step of the steepest drop of its (lightly smoothed) log-loss. Full
mode repeats the run over three seeds: the lines are the means, the bands the seeds' range."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from arithlens.errors import ArithlensError
from arithlens.figures.base import Check, Context, spread
from arithlens.models import TrainConfig, build_model, train
from arithlens.plots import band_figure
from arithlens.tasks import TaskSpec, place_name

NAME = "digit_phases"
TITLE = "Per-answer-digit loss over training, 5-digit addition"
SOURCE = "Nanda et al. 2023, Progress measures for grokking (5-digit addition appendix)"
PAPER = {"phase_change_step": "each digit's loss has its own phase change, at different steps"}

PHASE_LOSS = 0.1
"""Held-out loss (nats) below which a digit's phase change counts as done."""


def steepest_drop(steps: list[int], loss: np.ndarray, window: int = 3) -> int:
    """The step where ``log(loss)`` falls fastest: the midpoint of the two evaluations between
    which the ``window``-point moving average of the log-loss drops most.

    Example:
        >>> steepest_drop([0, 10, 20, 30, 40, 50], np.array([2.0, 2.0, 1.9, 0.1, 0.09, 0.09]))
        25
    """
    at = np.asarray(steps)
    loss = np.asarray(loss, dtype=np.float64)
    if loss.ndim != 1 or len(loss) != len(at) or len(loss) < window + 1:
        raise ArithlensError(
            f"steepest_drop needs one loss per step and more than window={window} of them, got "
            f"{len(at)} steps and loss of shape {loss.shape}"
        )
    smooth = np.convolve(np.log(np.maximum(loss, 1e-12)), np.ones(window) / window, mode="valid")
    i = int(np.argmin(np.diff(smooth)))  # between smoothed points i and i+1
    centre = (window - 1) / 2  # smoothed point i is centred on evaluation i + centre
    return int(round((at[int(i + centre)] + at[int(i + centre + 1)]) / 2))


def _each_seed(numbers: dict) -> list[list[int | None]]:
    """Per seed, the first-below-PHASE_LOSS step of every digit."""
    per_digit = list(numbers["phase_change_step"].values())
    return [list(col) for col in zip(*per_digit)]


def _separate_drops(n: dict) -> bool:
    drops = n["steepest_drop_step"]
    first = min(drops, key=lambda d: drops[d]["mean"])
    last = max(drops, key=lambda d: drops[d]["mean"])
    gap = drops[last]["mean"] - drops[first]["mean"]
    return gap > drops[first]["std"] + drops[last]["std"] and gap > 0


CHECKS = [
    Check(
        f"in every seed the digits reach loss {PHASE_LOSS} at different steps (Nanda et al.: a "
        "phase change per digit, not one for all)",
        lambda n: all(len({s for s in seed if s is not None}) > 1 for seed in _each_seed(n)),
    ),
    Check(
        f"full mode: in every seed the last digit to reach loss {PHASE_LOSS} does so at least "
        "twice as late as the first (separate phases, not one drop)",
        lambda n: (
            not n["full"]
            or all(
                max(r) >= 2 * min(r)
                for r in ([s for s in seed if s is not None] for seed in _each_seed(n))
            )
        ),
    ),
    Check(
        f"full mode: in every seed every digit reaches loss {PHASE_LOSS} within the training budget",
        lambda n: not n["full"] or all(None not in seed for seed in _each_seed(n)),
    ),
    Check(
        "the earliest and the latest digit's steepest log-loss drops (means over seeds) are "
        "further apart than the sum of their seed standard deviations",
        _separate_drops,
    ),
]


def compute(ctx: Context) -> dict[str, Any]:
    """Train the 1-layer model once per seed; each digit's loss curve and phase change."""
    task = TaskSpec(op="add", n_digits=5, format="reversed")
    steps, batch = (300, 128) if ctx.quick else (1000, 256)
    losses, phases, drops, learned = [], [], [], []
    for seed in ctx.seeds:
        cfg = TrainConfig(
            steps=steps,
            eval_every=10,
            n_test=500,
            batch_size=batch,
            seed=seed,
            cascade_fraction=0.0,
        )
        record = train(task, build_model("1L", task, seed=seed), cfg, progress=ctx.progress).record
        loss = np.asarray(record.eval_digit_loss)
        eval_steps = [int(s) for s in record.eval_steps]
        losses.append(loss)
        # first evaluation where a digit's loss is below PHASE_LOSS nats
        phases.append(
            [
                next((eval_steps[i] for i in range(len(loss)) if loss[i, k] < PHASE_LOSS), None)
                for k in range(loss.shape[1])
            ]
        )
        drops.append([steepest_drop(eval_steps, loss[:, k]) for k in range(loss.shape[1])])
        learned.append(record.learned_at(0.95))
    runs = np.stack(losses)  # seeds x evaluations x digits
    names = [place_name(k) for k in range(runs.shape[2])]
    return dict(
        steps=steps,
        batch_size=batch,
        seeds=list(ctx.seeds),
        phase_loss=PHASE_LOSS,
        phase_change_step={d: [p[k] for p in phases] for k, d in enumerate(names)},
        steepest_drop_step={d: spread([p[k] for p in drops]) for k, d in enumerate(names)},
        learned_at_0_95={d: [p[k] for p in learned] for k, d in enumerate(names)},
        start_loss=dict(zip(names, runs[:, 0].mean(0).tolist())),
        end_loss=dict(zip(names, runs[:, -1].mean(0).tolist())),
        full=not ctx.quick,
        # the plotted series: per digit, seeds x evaluations
        eval_steps=eval_steps,
        loss={d: runs[:, :, k].tolist() for k, d in enumerate(names)},
    )


def draw(numbers: dict[str, Any]) -> go.Figure:
    """Held-out loss per answer digit (log scale): the seeds' mean, their range as a band."""
    n_seeds = len(numbers["seeds"])
    seeds_txt = f"mean and range over {n_seeds} seeds" if n_seeds > 1 else "1 seed"
    title = (
        f"5-digit addition: loss per answer digit ({numbers['steps']} steps of "
        f"{numbers['batch_size']}, 1 layer; {seeds_txt})"
    )
    return band_figure(
        numbers["eval_steps"], numbers["loss"], title, yaxis="held-out loss", log_y=True
    )


def summarize(numbers: dict[str, Any]) -> list[str]:
    return [
        f"Per seed {numbers['seeds']}, first step with each digit's held-out loss below "
        f"{PHASE_LOSS} (None: not within {numbers['steps']} steps): "
        f"{numbers['phase_change_step']}.",
        "Steepest log-loss drop per digit, mean +- sd over seeds: "
        + ", ".join(
            f"{d} {v['mean']:.0f} +- {v['std']:.0f}"
            for d, v in numbers["steepest_drop_step"].items()
        )
        + ".",
        f"First step each digit stays >= 95% accurate, per seed: {numbers['learned_at_0_95']}.",
    ]
