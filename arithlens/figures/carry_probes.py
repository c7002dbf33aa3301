"""Carry probes: held-out accuracy and selectivity by layer x position, random-init control,
and the causal flip rate, on the 2-layer addition model.

Probe sites where the carry is given by a teacher-forced answer token, and flips at the
embeddings (which edit an input token), are left out of the best sites. Selectivity is reported
only where the control task's types recur between training and test (coverage >= 0.9). The
carry into the top digit is that digit itself, so its flips are not evidence of an internal
carry variable: the flip check leaves it out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from arithlens.figures.base import Check, Context
from arithlens.models import loading
from arithlens.plots import probe_grid, probe_panels
from arithlens.probes import causal_flip, fit

NAME = "carry_probes"
TITLE = "Carry probes with controls and the causal flip, add3-2L"
SOURCE = (
    "linear probes with Hewitt & Liang 2019 control tasks; causal check as in Marks & Tegmark 2023"
)
PAPER = {
    "best_score": "carry bits are linearly decodable at the positions that need them",
    "best_flip_rate": "moving along the carry direction changes the carried digit",
}


def _beats_random(n: dict, target: str) -> bool:
    p, q, m = (
        n["best_flip_rate"][target],
        n["random_flip_at_best"][target],
        n["flip_examples"][target],
    )
    se = math.sqrt((p * (1 - p) + q * (1 - q)) / max(m, 1))
    return p - q > max(0.1, 3 * se)


CHECKS = [
    Check(
        "every carry is decoded better than the majority baseline by 0.1",
        lambda n: all(n["best_score"][t] > n["majority"][t] + 0.1 for t in n["best_score"]),
    ),
    Check(
        "at its best site (embeddings excluded) each carry that is not itself an answer digit "
        "flips the carried digit more often than a random direction of the same norm, by more "
        "than 0.1 and than 3 binomial standard errors",
        lambda n: all(
            _beats_random(n, t) for t in n["best_flip_rate"] if t not in n["carry_is_answer"]
        ),
    ),
]


def compute(ctx: Context) -> dict[str, Any]:
    """The probes (held-out score, selectivity, random-init control) and causal flips."""
    model = loading.load("add3-2L")
    n, n_causal = (1500, 256) if ctx.quick else (10000, 512)
    res = fit(model, "carry", n=n, progress=ctx.progress)
    flips = causal_flip(model, res, n=n_causal, progress=ctx.progress)
    best = res.best("score").set_index("target")
    fbest = flips.best().set_index("target")
    return dict(
        n=n,
        best_score={t: float(best.loc[t, "score"]) for t in res.targets},
        best_site={t: f"{best.loc[t, 'layer']} @ {best.loc[t, 'pos_label']}" for t in res.targets},
        control_coverage={
            t: float(c) for t, c in zip(res.targets, np.asarray(res.control_coverage, dtype=float))
        },
        # None where the control types do not recur enough for selectivity to mean anything
        selectivity_at_best={
            t: None if math.isnan(v) else v
            for t in res.targets
            for v in [float(best.loc[t, "selectivity"])]
        },
        random_init_at_best={t: float(best.loc[t, "random_init"]) for t in res.targets},
        majority={t: float(res.majority[i]) for i, t in enumerate(res.targets)},
        best_flip_rate={t: float(fbest.loc[t, "flip"]) for t in res.targets},
        random_flip_at_best={t: float(fbest.loc[t, "random"]) for t in res.targets},
        best_flip_site={
            t: f"{fbest.loc[t, 'layer']} @ {fbest.loc[t, 'pos_label']}" for t in res.targets
        },
        carry_is_answer=flips.answer_targets,
        flip_examples={t: int(m) for t, m in zip(flips.targets, flips.n_examples)},
        panels=probe_panels(res, flips),  # the plotted grids
    )


def draw(numbers: dict[str, Any]) -> go.Figure:
    """One row per carry: held-out score, selectivity, random init and flip rate by site."""
    return probe_grid(numbers["panels"])


def summarize(numbers: dict[str, Any]) -> list[str]:
    return [
        f"Best probe per carry: {numbers['best_site']} (accuracy {numbers['best_score']}); "
        f"best causal flip rates {numbers['best_flip_rate']}."
    ]
