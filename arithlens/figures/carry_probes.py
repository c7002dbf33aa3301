"""Carry probes: held-out accuracy and selectivity by layer x position, random-init control,
and the causal flip rate, on the 2-layer addition model."""

from __future__ import annotations

from arithlens.figures.base import Check, Context, FigureOutput, register, run_checks
from arithlens.models import zoo
from arithlens.plots import probe_overview
from arithlens.probes import causal_flip, fit

CHECKS = [
    Check(
        "every carry is decoded better than the majority baseline by 0.1",
        lambda n: all(n["best_score"][t] > n["majority"][t] + 0.1 for t in n["best_score"]),
    ),
    Check(
        "at its best site each carry's flip rate beats a random direction's by 0.2",
        lambda n: all(
            n["best_flip_rate"][t] > n["random_flip_at_best"][t] + 0.2 for t in n["best_flip_rate"]
        ),
    ),
]


@register(
    "carry_probes",
    "Carry probes with controls and the causal flip, add3-2L",
    "linear probes with Hewitt & Liang 2019 control tasks; causal check as in Marks & Tegmark 2023",
)
def make(ctx: Context) -> FigureOutput:
    model = zoo.load("add3-2L")
    n, n_causal = (1500, 64) if ctx.quick else (10000, 512)
    res = fit(model, "carry", n=n, progress=ctx.progress)
    flips = causal_flip(model, res, n=n_causal, progress=ctx.progress)
    best = res.best("score").set_index("target")
    fbest = flips.best().set_index("target")
    numbers = dict(
        n=n,
        best_score={t: float(best.loc[t, "score"]) for t in res.targets},
        best_site={t: f"{best.loc[t, 'layer']} @ {best.loc[t, 'pos_label']}" for t in res.targets},
        selectivity_at_best={t: float(best.loc[t, "selectivity"]) for t in res.targets},
        random_init_at_best={t: float(best.loc[t, "random_init"]) for t in res.targets},
        majority={t: float(res.majority[i]) for i, t in enumerate(res.targets)},
        best_flip_rate={t: float(fbest.loc[t, "flip"]) for t in res.targets},
        random_flip_at_best={t: float(fbest.loc[t, "random"]) for t in res.targets},
    )
    paper = {
        "best_score": "carry bits are linearly decodable at the positions that need them",
        "best_flip_rate": "moving along the carry direction changes the carried digit",
    }
    summary = [
        f"Best probe per carry: {numbers['best_site']} (accuracy {numbers['best_score']}); "
        f"best causal flip rates {numbers['best_flip_rate']}."
    ]
    return FigureOutput(
        probe_overview(res, flips), numbers, paper, run_checks(CHECKS, numbers), summary
    )
