"""Sweep jobs (:mod:`arithlens.sweeps`) the figures, benchmarks and tests fan out: each a pure
function of JSON arguments that returns a dict of JSON values.

Example:
    >>> from arithlens.sweeps import grid, run_sweep                          # doctest: +SKIP
    >>> run_sweep(grid("arithlens.figures.jobs:train_and_score", seed=[0, 1], fmt=["plain"]),
    ...           backend="local", workers=2).table                            # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any


def train_and_score(
    seed: int, fmt: str = "reversed", digits: int = 2, steps: int = 60, preset: str = "1L"
) -> dict[str, Any]:
    """Train a ``preset`` adder of ``digits`` digits in format ``fmt`` for ``steps`` steps from
    ``seed``; its final training loss and exact match on 400 uniform problems (seed ``seed``)."""
    import torch

    from arithlens.analyses.evaluation import evaluate
    from arithlens.models import TrainConfig, build_model, train
    from arithlens.tasks import TaskSpec

    torch.set_num_threads(1)
    task = TaskSpec(op="add", n_digits=digits, format=fmt)
    model = build_model(preset, task, seed=seed)
    cfg = TrainConfig(steps=steps, batch_size=64, seed=seed, eval_every=steps)
    model = train(task, model, cfg, progress=False)
    res = evaluate(model, n=400, seed=seed)
    return {
        "exact": float(res.exact_match),
        "loss": float(model.record.train_loss[-1]),
        "pid": os.getpid(),
    }


def figure_job(name: str, out: str, quick: bool, seeds: int | None, png: bool) -> dict[str, Any]:
    """Make one figure into ``out`` (what ``arithlens figures --jobs N`` runs per worker)."""
    from arithlens.figures.runner import run

    r = run(out, [name], quick=quick, seeds=seeds, png=png, progress=False)[name]
    return {"folder": str(r.folder), "checks": r.checks, "seconds": r.seconds}
