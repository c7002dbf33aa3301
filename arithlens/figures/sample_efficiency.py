"""Sample efficiency by answer format (Lee et al. 2023): held-out exact match against the number
of distinct training examples for plain, reversed and scratchpad 3-digit addition, with a
scaled-down model; where the plain format's errors fall.

Operands are written without zero padding (``12+345=357``), as in Lee et al.: with padded
operands every digit sits at a fixed position and a 2-layer model learns the plain format about
as fast as the reversed one, which hides the effect the paper reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go

from arithlens.analyses.evaluation import evaluate
from arithlens.figures.base import Check, Context, spread
from arithlens.models import TrainConfig, build_model, train
from arithlens.plots import PALETTE
from arithlens.tasks import TaskSpec

NAME = "sample_efficiency"
TITLE = "Exact match vs training examples by answer format, 3-digit addition"
SOURCE = "Lee et al. 2023, Teaching arithmetic to small transformers (Fig. 4)"


def settings(quick: bool) -> dict:
    """Sizes per format, steps, batch and held-out problems, and the long runs that carry the
    paper's claim (full mode: reversed at 4k and plain at 10k examples, 2000 steps each). A
    scratchpad step costs ~2.2 plain steps, so it gets the two smallest sizes."""
    if quick:
        # three short runs: reversed at two sizes, plain at the larger one
        sizes = {"plain": [4000], "reversed": [1000, 4000]}
        return dict(sizes=sizes, steps=160, batch=128, n_eval=300, long={}, long_steps=0)
    sizes = {"plain": [1000, 2000, 4000, 10000], "reversed": [1000, 2000, 4000, 10000]}
    sizes["scratchpad"] = [500, 1000]
    long = {"reversed": 4000, "plain": 10000}
    return dict(sizes=sizes, steps=400, batch=128, n_eval=2000, long=long, long_steps=2000)


def _largest(numbers: dict, fmt: str) -> float:
    return numbers["exact"][fmt][str(numbers["sizes"][fmt][-1])]


def _full_only(numbers: dict, claim: Callable[[dict], bool]) -> bool:
    """A claim that needs the full-mode runs (scratchpad, several sizes, the long runs) holds
    vacuously in quick mode, where those runs are not made."""
    return "scratchpad" not in numbers["exact"] or bool(claim(numbers))


def _seeds(numbers: dict, fmt: str, size: int) -> dict:
    return numbers["exact_seeds"][fmt][str(size)]


def _at_every_size(n: dict) -> bool:
    """Reversed's mean is not below plain's by more than the larger seed standard deviation."""
    for k in n["sizes"]["plain"]:
        rev, plain = _seeds(n, "reversed", k), _seeds(n, "plain", k)
        if rev["mean"] < plain["mean"] - max(rev["std"], plain["std"]):
            return False
    return True


def _long(n: dict, fmt: str) -> dict:
    return n["long"][f"{fmt}@{n['long_sizes'][fmt]}"]


CHECKS = [
    Check(
        "reversed beats plain at the largest sample size in every seed (its worst seed >= "
        "plain's best)",
        lambda n: (
            _seeds(n, "reversed", n["sizes"]["plain"][-1])["min"]
            >= _seeds(n, "plain", n["sizes"]["plain"][-1])["max"]
        ),
    ),
    Check(
        "reversed is at least as accurate as plain at every sample size (means, within one seed "
        "standard deviation)",
        _at_every_size,
    ),
    Check(
        "scratchpad beats reversed at its largest size (full mode, means)",
        lambda n: _full_only(
            n,
            lambda m: (
                _largest(m, "scratchpad")
                > m["exact"]["reversed"][str(m["sizes"]["scratchpad"][-1])]
            ),
        ),
    ),
    Check(
        "sharp transition: one step between sizes raises reversed's mean by >= 0.3 (full mode)",
        lambda n: _full_only(n, lambda m: m["largest_jump_reversed"] >= 0.3),
    ),
    Check(
        "reversed reaches >= 0.95 exact match with 4k examples in the long runs, in every seed "
        "(full mode; Lee et al. 98.2%)",
        lambda n: _full_only(n, lambda m: _long(m, "reversed")["min"] >= 0.95),
    ),
    Check(
        "reversed with 4k examples beats plain with 10k in the long runs: its worst seed above "
        "plain's best (full mode; Lee et al. 98.2% vs 87.4%)",
        lambda n: _full_only(n, lambda m: _long(m, "reversed")["min"] > _long(m, "plain")["max"]),
    ),
]


def _run(fmt: str, size: int, steps: int, s: dict, seed: int, progress: bool):
    task = TaskSpec(op="add", n_digits=3, format=fmt, pad=False)
    cfg = TrainConfig(
        steps=steps,
        batch_size=s["batch"],
        n_train=size,
        n_test=200,
        eval_every=steps,
        seed=seed,
        cascade_fraction=0.0,
    )
    model = train(task, build_model("2L", task, seed=seed), cfg, progress=progress)
    # scratchpad answers are ~3x longer to generate: fewer held-out problems
    n_eval = s["n_eval"] if fmt != "scratchpad" else s["n_eval"] // 4
    return model, float(evaluate(model, n=n_eval, seed=seed + 1).exact_match)


def compute(ctx: Context) -> dict[str, Any]:
    """Train every (format, size) run per seed, then the long runs; where plain's errors fall."""
    s = settings(ctx.quick)
    sizes, steps = s["sizes"], s["steps"]
    runs, long, plain_model = _train_all(ctx, s)
    largest = sizes["plain"][-1]
    # where plain-format errors fall (first seed): problems with a digit pair summing to 9
    res = evaluate(plain_model, n=s["n_eval"], seed=ctx.seeds[0] + 2)
    p = res.problems
    has9 = ((p.a.astype(int) + p.b.astype(int)) == 9).any(1)
    wrong = ~np.asarray(res.exact)
    stats = {f: {str(k): spread(v) for k, v in d.items()} for f, d in runs.items()}
    exact = {f: {k: v["mean"] for k, v in d.items()} for f, d in stats.items()}
    rev = [v["mean"] for v in stats["reversed"].values()]
    return dict(
        sizes={f: v for f, v in sizes.items()},
        steps=steps,
        batch_size=s["batch"],
        seeds=list(ctx.seeds),
        exact=exact,
        exact_seeds=stats,
        reversed_at_largest=exact["reversed"][str(largest)],
        plain_at_largest=exact["plain"][str(largest)],
        scratchpad_at_largest=exact["scratchpad"][str(sizes["scratchpad"][-1])]
        if "scratchpad" in exact
        else "full mode only",
        largest_jump_reversed=float(np.max(np.diff(rev))),
        long_steps=s["long_steps"],
        long_sizes=dict(s["long"]),
        long={k: spread(v) for k, v in long.items()},
        reversed_long_4k=spread(long["reversed@4000"])["mean"] if long else "full mode only",
        plain_long_10k=spread(long["plain@10000"])["mean"] if long else "full mode only",
        plain_errors_with_pair_sum_9=float(has9[wrong].mean()) if wrong.any() else None,
        problems_with_pair_sum_9=float(has9.mean()),
    )


PAPER = {
    "reversed_at_largest": "98.2% at 4k and 99.8% at 5k samples",
    "plain_at_largest": "87.4% at 10k samples",
    "reversed_long_4k": "98.2% at 4k samples",
    "plain_long_10k": "87.4% at 10k samples",
    "scratchpad_at_largest": "detailed scratchpad 99.8% at 1k samples",
    "plain_errors_with_pair_sum_9": "plain-format errors concentrate where a digit pair sums to 9",
}


def _train_all(ctx: Context, s: dict) -> tuple[dict, dict, Any]:
    """Exact match of every (format, size) run and of the long runs, per seed, and the first
    seed's plain model at the largest size."""
    sizes = s["sizes"]
    runs: dict[str, dict[int, list[float]]] = {f: {k: [] for k in v} for f, v in sizes.items()}
    long: dict[str, list[float]] = {f"{f}@{k}": [] for f, k in s["long"].items()}
    largest, plain_model = sizes["plain"][-1], None
    for seed in ctx.seeds:
        for fmt, fmt_sizes in sizes.items():
            for size in fmt_sizes:
                model, acc = _run(fmt, size, s["steps"], s, seed, ctx.progress)
                runs[fmt][size].append(acc)
                if (fmt, size, seed) == ("plain", largest, ctx.seeds[0]):
                    plain_model = model
        for fmt, size in s["long"].items():
            long[f"{fmt}@{size}"].append(_run(fmt, size, s["long_steps"], s, seed, ctx.progress)[1])
    return runs, long, plain_model


def draw(numbers: dict[str, Any]) -> go.Figure:
    """Exact match against sample size per format (error bars: sd over seeds), long runs as
    stars."""
    fig = go.Figure()
    long, steps, long_steps = numbers["long"], numbers["steps"], numbers["long_steps"]
    for (fmt, d), color in zip(numbers["exact_seeds"].items(), PALETTE):
        fig.add_scatter(
            x=numbers["sizes"][fmt],
            y=[v["mean"] for v in d.values()],
            error_y=dict(type="data", array=[v["std"] for v in d.values()], visible=True),
            name=fmt,
            mode="lines+markers",
            line=dict(color=color),
        )
        key = next((k for k in long if k.startswith(f"{fmt}@")), None)
        if key:
            fig.add_scatter(
                x=[numbers["long_sizes"][fmt]],
                y=[long[key]["mean"]],
                error_y=dict(type="data", array=[long[key]["std"]], visible=True),
                name=f"{fmt}, {long_steps} steps",
                mode="markers",
                marker=dict(color=color, symbol="star", size=13),
            )
    fig.update_xaxes(type="log", title="distinct training examples")
    n_seeds = len(numbers["seeds"])
    seeds_txt = f"mean +- sd over {n_seeds} seeds" if n_seeds > 1 else "1 seed"
    fig.update_layout(
        title=f"3-digit addition, unpadded: held-out exact match by format<br>"
        f"<sup>2-layer model, {steps} steps x {numbers['batch_size']} (stars: {long_steps} "
        f"steps); {seeds_txt}</sup>",
        yaxis=dict(title="exact match", range=[0, 1.05]),
        template="plotly_white",
        width=900,
        height=420,
    )
    return fig


def summarize(numbers: dict[str, Any]) -> list[str]:
    summary = [
        f"Exact match by format and sample size ({numbers['steps']} steps of "
        f"{numbers['batch_size']}; mean over seeds {numbers['seeds']}): {numbers['exact']}.",
        f"Plain-format errors with a digit pair summing to 9: {numbers['plain_errors_with_pair_sum_9']} "
        f"of errors, against {numbers['problems_with_pair_sum_9']:.3f} of all problems.",
    ]
    if numbers["long"]:
        summary.append(
            f"Long runs ({numbers['long_steps']} steps): "
            + "; ".join(
                f"{k}: {v['mean']:.3f} +- {v['std']:.3f} (seeds {[round(x, 3) for x in v['values']]})"
                for k, v in numbers["long"].items()
            )
            + " — Lee et al.: reversed 98.2% at 4k, plain 87.4% at 10k."
        )
    return summary
