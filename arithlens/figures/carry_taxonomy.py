"""Carry taxonomy (Quirke & Barez 2024): exact match by cascade class and per-digit accuracy by
digit class, 1-layer vs 2-layer addition models, in the plain (most significant digit first)
format of the paper and, for contrast, the reversed format — each on uniform problems and on
problems balanced over the cascade classes (uniform within each class). For the plain pair, the
minimal pairs of :mod:`arithlens.tasks.arithmetic.minimal`: real carry chains of length 1-5 from the units,
and their false-cascade twins (the same run of sum-9 pairs, no carry source).

The bars and lines are the zoo models. With several seeds (full mode: three), the plain pair is
also retrained from its zoo recipe with each other seed (the zoo models are seed 0) and every
class, chain and twin number is reported as mean, sd and range over the seeds (``retrained``);
the checks on the plain pair then hold in every seed or on the seeds' means."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses import attention
from arithlens.analyses.evaluation import evaluate, false_cascade_accuracy
from arithlens.choices import Strategy
from arithlens.figures.base import Check, Context, spread
from arithlens.models import loading, zoo
from arithlens.tasks import position_labels, sample
from arithlens.tokens.tokenizer import encode

NAME = "carry_taxonomy"
TITLE = "Accuracy by carry cascade class and digit class, 1 vs 2 layers"
SOURCE = "Quirke & Barez 2024, Understanding addition in transformers"
PAPER = {
    "plain_1L_worst_class_uniform": "1-layer model fails cascading use-sum-9 cases (445+555)",
    "cascade_balanced": "2-layer models: 99.999%+ on every class",
    "twins": "(not in the paper) a run of 9s with no carry source must not carry",
}

# format -> (1-layer model, 2-layer model)
PAIRS = {
    "plain": ("add5-plain-1L", "add5-plain-2L"),
    "reversed": ("add3-1L", "add3-2L"),
}
COLORS = {
    "add5-plain-1L": "#d62728",
    "add5-plain-2L": "#2ca02c",
    "add3-1L": "#ff9896",
    "add3-2L": "#98df8a",
}
# the 2-layer model may trail the 1-layer one by this much on a class (sampling noise)
TOLERANCE = 0.01
ONE, TWO = PAIRS["plain"]
KEYS = (
    "cascade_balanced",
    "cascade_uniform",
    "digit_class_balanced",
    "digit_class_uniform",
    "chains",
    "twins",
)


def _means(numbers: dict, key: str, name: str) -> dict:
    """The seeds' means of ``numbers[key][name]`` where the plain pair was retrained over seeds,
    else the zoo model's numbers."""
    over = numbers.get("retrained", {}).get(name)
    return {k: v["mean"] for k, v in over[key].items()} if over else numbers[key][name]


def _range(numbers: dict, key: str, name: str, item: str) -> tuple[float, float]:
    """(lowest, highest) of one number over the seeds (the zoo model's value with one seed)."""
    over = numbers.get("retrained", {}).get(name)
    if over:
        return over[key][item]["min"], over[key][item]["max"]
    v = numbers[key][name][item]
    return v, v


def _two_beats_one(numbers: dict) -> bool:
    return all(
        _means(numbers, "cascade_balanced", b)[c]
        >= _means(numbers, "cascade_balanced", a)[c] - TOLERANCE
        for a, b in PAIRS.values()
        for c in numbers["cascade_balanced"][a]
    )


def _worst(values: dict) -> str:
    return min(values, key=lambda k: values[k])


CHECKS = [
    Check(
        f"the 2-layer model is at least as accurate as the 1-layer one on every cascade class "
        f"(balanced problems, both formats, means over seeds, within {TOLERANCE})",
        _two_beats_one,
    ),
    Check(
        "the 1-layer plain model is worst on use-sum-9 (US) digits, on uniform and on balanced "
        "problems (zoo model and means over seeds)",
        lambda n: all(
            _worst(src) == "US"
            for key in ("digit_class_uniform", "digit_class_balanced")
            for src in (n[key][ONE], _means(n, key, ONE))
        ),
    ),
    Check(
        "the 1-layer plain model's worst cascade class is a cascading one (S2-S5, balanced; zoo "
        "model and means over seeds)",
        lambda n: all(
            _worst(src) not in ("S0", "S1")
            for src in (n["cascade_balanced"][ONE], _means(n, "cascade_balanced", ONE))
        ),
    ),
    Check(
        "in every seed the 1-layer plain model fails the longest false cascade (twins of length 5 "
        "below 0.5) and trails the 2-layer model's worst seed there by at least 0.3",
        lambda n: (
            _range(n, "twins", ONE, "5")[1] < 0.5
            and _range(n, "twins", TWO, "5")[0] >= _range(n, "twins", ONE, "5")[1] + 0.3
        ),
    ),
]


def _fixed_offsets(numbers: dict) -> bool:
    """Each head keeps one offset d (its commonest) wherever column place + d exists, and the
    heads do not all share one d."""
    places, width = numbers["staircase_place"], len(numbers["staircase_place"])
    ds = []
    for offsets in numbers["staircase_offset"].values():
        d = max(set(offsets), key=offsets.count)
        if any(o != d for o, p in zip(offsets, places) if 0 <= p + d < width):
            return False
        ds.append(d)
    return len(set(ds)) > 1


CHECKS.append(
    Check(
        "the 1-layer plain model's heads each attend to a fixed column offset from the digit they "
        "predict (a staircase), and not all at the same offset (Quirke & Barez)",
        _fixed_offsets,
    )
)


@torch.no_grad()
def _staircase(model: TransformerBridge, n: int, seed: int) -> dict[str, list[int]]:
    """Per head: the operand column (both digits' attention summed) that each answer position
    attends to most, for the answer digits that have a column; mean attention over ``n``
    uniform problems."""
    labels = [lab.split(":", 1)[1] for lab in position_labels(model.task)]
    tokens = encode(sample(model.task, n, seed)).tokens
    pattern = attention.patterns(model, tokens, layers=[0])[0].mean(0)  # (head, query, key)
    columns = range(model.task.n_digits)
    where = {c: [labels.index(f"a{c}"), labels.index(f"b{c}")] for c in columns}
    out: dict[str, list[int]] = {}
    for h in range(pattern.shape[0]):
        attended = []
        for q in range(len(labels) - 1):
            nxt = labels[q + 1]
            if nxt.startswith("c") and int(nxt[1:]) in where:
                scores = [float(pattern[h, q, where[c]].sum()) for c in columns]
                attended.append(int(np.argmax(scores)))
        out[f"H{h}"] = attended
    return out


def _by_class(model: TransformerBridge, n: int, seed: int, strategy: Strategy) -> tuple[dict, dict]:
    res = evaluate(model, n=n, strategy=strategy, seed=seed)
    by_cascade, by_class = res.by_cascade(), res.by_class()
    return (
        dict(zip(by_cascade.cascade, by_cascade.exact_match)),
        dict(zip(by_class.digit_class, by_class.accuracy)),
    )


def _measure(
    model: TransformerBridge, n: int, n_pairs: int, seed: int, plain: bool
) -> dict[str, dict]:
    """Every number the figure shows for one model (chains and twins for the plain format)."""
    out: dict[str, dict] = {}
    strategies: tuple[tuple[Strategy, str], ...] = (("cascade", "balanced"), ("uniform", "uniform"))
    for strategy, tag in strategies:
        out[f"cascade_{tag}"], out[f"digit_class_{tag}"] = _by_class(model, n, seed, strategy)
    if plain:
        out["chains"], out["twins"] = false_cascade_accuracy(model, n_pairs, seed=seed)
    return out


def compute(ctx: Context) -> dict[str, Any]:
    """Every model's classes, chains and twins (the plain pair retrained over seeds), and the
    1-layer model's staircase."""
    n, n_pairs = (1000, 300) if ctx.quick else (20000, 2000)
    numbers: dict = dict(n=n, n_pairs=n_pairs, seeds=list(ctx.seeds))
    for key in KEYS:
        numbers[key] = {}
    retrained: dict[str, dict] = {}
    for name in COLORS:
        plain = name in PAIRS["plain"]
        for key, values in _measure(loading.load(name), n, n_pairs, ctx.seed, plain).items():
            numbers[key][name] = values
        if plain and len(ctx.seeds) > 1:
            zoo_seed = zoo.RECIPES[name].config.seed
            runs = [
                _measure(
                    zoo.retrain(name, seed=s, progress=ctx.progress), n, n_pairs, ctx.seed, True
                )
                if s != zoo_seed
                else {k: numbers[k][name] for k in KEYS}
                for s in ctx.seeds
            ]
            retrained[name] = {
                k: {item: spread([r[k][item] for r in runs]) for item in runs[0][k]} for k in KEYS
            }
    if retrained:
        numbers["retrained"] = retrained
    stair = _staircase(loading.load(ONE), min(n, 2000), ctx.seed)
    places = list(
        range(loading.load(ONE).task.n_digits - 1, -1, -1)
    )  # digits with a column, in order
    numbers["staircase_column"] = stair
    numbers["staircase_place"] = places
    numbers["staircase_offset"] = {h: [c - p for c, p in zip(v, places)] for h, v in stair.items()}
    numbers["plain_1L_worst_class_uniform"] = _worst(numbers["digit_class_uniform"][ONE])
    numbers["plain_1L_worst_cascade_balanced"] = _worst(numbers["cascade_balanced"][ONE])
    return numbers


def summarize(numbers: dict[str, Any]) -> list[str]:
    one_u, one_b = numbers["cascade_uniform"][ONE], numbers["cascade_balanced"][ONE]
    summary = [
        f"Plain format, 1 layer, uniform problems: exact match by cascade class "
        f"{ {k: round(v, 3) for k, v in one_u.items()} }; digit classes "
        f"{ {k: round(v, 3) for k, v in numbers['digit_class_uniform'][ONE].items()} }.",
        f"Balanced: { ({k: round(v, 3) for k, v in one_b.items()}) }.",
        f"Real carry chains from the units by length (1 layer): {numbers['chains'][ONE]}; "
        f"false-cascade twins: {numbers['twins'][ONE]} (2 layers: {numbers['twins'][TWO]}).",
        f"Staircase (1 layer): attended column minus predicted place per head "
        f"{numbers['staircase_offset']}.",
    ]
    for name, over in numbers.get("retrained", {}).items():
        summary.append(
            f"{name} retrained over seeds {numbers['seeds']} (mean +- sd): uniform cascade classes "
            + ", ".join(
                f"{c} {v['mean']:.3f}+-{v['std']:.3f}" for c, v in over["cascade_uniform"].items()
            )
            + "; twins by length "
            + ", ".join(f"{c} {v['mean']:.3f}+-{v['std']:.3f}" for c, v in over["twins"].items())
            + "."
        )
    return summary


def draw(numbers: dict[str, Any]) -> go.Figure:
    """Bars by class, chain and twin lines, the staircase; error bars when retrained."""
    fig = make_subplots(
        3,
        2,
        subplot_titles=[
            "exact match by cascade class (balanced)",
            "exact match by cascade class (uniform)",
            "digit accuracy by class (uniform)",
            "plain format: real chains (solid) and false-cascade twins (dashed) by length",
            f"{ONE}: operand column each head attends to, by predicted digit (staircase)",
        ],
        vertical_spacing=0.1,
    )
    for head, cols in numbers["staircase_column"].items():
        fig.add_scatter(
            x=numbers["staircase_place"],
            y=cols,
            name=f"{ONE} {head}",
            mode="lines+markers",
            row=3,
            col=1,
        )
    fig.update_xaxes(title_text="place of the predicted digit", autorange="reversed", row=3, col=1)
    fig.update_yaxes(title_text="attended column", row=3, col=1)
    for name, color in COLORS.items():
        _model_traces(fig, numbers, name, color)
    for row, col in ((1, 1), (1, 2), (2, 1), (2, 2)):
        fig.update_yaxes(range=[0, 1.05], row=row, col=col)
    fig.update_xaxes(title_text="chain length (sum-9 run + 1)", row=2, col=2)
    fig.update_layout(
        title=f"carry taxonomy ({numbers['n']} problems per model and sampler, "
        f"{numbers['n_pairs']} pairs per length)",
        barmode="group",
        template="plotly_white",
        width=1200,
        height=1080,
    )
    return fig


def _model_traces(fig: go.Figure, numbers: dict, name: str, color: str) -> None:
    """One model's bars (cascade classes, digit classes) and chain / twin lines, with error bars
    (sd) when the model was retrained over seeds."""
    over = numbers.get("retrained", {})

    def values(key: str, name: str = name) -> tuple[dict, dict | None]:
        """The zoo model's numbers, or the seeds' means and error bars (sd) if retrained."""
        if name not in over:
            return numbers[key][name], None
        spreads = over[name][key]
        errors = dict(type="data", array=[v["std"] for v in spreads.values()], visible=True)
        return {k: v["mean"] for k, v in spreads.items()}, errors

    label = f"{name} (mean +- sd, {len(numbers['seeds'])} seeds)" if name in over else name
    panels = (
        (1, 1, "cascade_balanced"),
        (1, 2, "cascade_uniform"),
        (2, 1, "digit_class_uniform"),
    )
    for row, col, key in panels:
        ys, errors = values(key)
        fig.add_bar(
            x=list(ys),
            y=list(ys.values()),
            error_y=errors,
            name=label,
            marker_color=color,
            showlegend=(row, col) == (1, 1),
            legendgroup=name,
            row=row,
            col=col,
        )
    for kind, dash in (("chains", "solid"), ("twins", "dash")):
        if name in numbers[kind]:
            ys, errors = values(kind)
            fig.add_scatter(
                x=[int(k) for k in ys],
                y=list(ys.values()),
                error_y=errors,
                name=f"{name} {kind}",
                line=dict(color=color, dash=dash),
                row=2,
                col=2,
            )
