"""Number understanding (the Number Cookbook, NUPA; Yang et al. 2024): exact match of the zoo's
numeracy models by task x representation x number length in one table-like heatmap, and where
the float comparer decides which number is larger.

Panel 1: exact match (greedy answers, the end mark included) on held-out problems of each
model's own training distribution, grouped by the length of the longest number in the problem
(integer digits for floats, letters for words); a cell with fewer than 20 problems is left
empty. Panel 2, left: exact match of the two float comparers (trained with and without close pairs,
:class:`~arithlens.tasks.NumeracySpec` ``close``) by deciding place, on the clean side of
``deciding`` minimal pairs (every digit of the first number equally likely to decide). Right:
the decision probe (:func:`arithlens.probes.decision`, label ``winner``) at
every residual stream and every position counted back from ``=``, with the majority class.
Panel 3 (bottom): activation patching of the residual stream (each block's input, resid_pre) by
position, ``deciding`` minimal pairs (:func:`arithlens.tasks.numeracy.pairs`) whose
operands have the shape ``12.34``, scored by the logit difference at each pair's decision
character, normalized (1 = the clean answer restored).

Quick mode: 1000 problems per model, 600 probe problems, 200 pairs (800 for the places); full
mode: 5000, 3000, 1000 (4000).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses.evaluation import accuracy_by_label, choice_changes, text_scores
from arithlens.figures.base import Check, Context
from arithlens.models import loading
from arithlens.patching import activation_patch
from arithlens.plots import PALETTE, patch_grid
from arithlens.probes import decision, random_init_like, running_count
from arithlens.tasks import Pairs
from arithlens.tasks.numeracy import NumeracyProblems, NumeracySpec, numeracy_pairs, sample_numeracy
from arithlens.tokens.tokenizer import encode_pairs

NAME = "nupa_table"
TITLE = "Numeracy: exact match by task x representation x length; where 9.11 vs 9.9 is decided"
SOURCE = "Yang et al. 2024, Number Cookbook (NUPA); comparison decision by probes and patching"
PAPER = {
    "exact": "NUPA: models that pass arithmetic benchmarks fail comparison, digit retrieval "
    "and counting; small models trained on a task learn it within the trained lengths",
    "probe": "9.11 vs 9.9: the comparison must be decided at the first differing digit",
}
COUNTER = "count-int8-3L"
MODELS = ("max-float3.3-close-3L", "max-float3.3-2L", "get_digit-int6-2L", "count-int8-3L")
COMPARER = "max-float3.3-close-3L"  # trained with close pairs: every place decides
INDEPENDENT = "max-float3.3-2L"  # trained on independent numbers only
SHAPE = "12.34"
MIN_CELL = 20
FLOOR = 0.9


def length_of(task: NumeracySpec, operands: tuple[str, ...]) -> int:
    """The length that groups a problem: its longest number's integer digits (letters)."""
    numbers = operands if task.task in ("max", "min", "add", "sub") else operands[:1]
    return max(len(x.split(".")[0].split("/")[0].split("e")[0]) for x in numbers)


def exact_by_length(model: TransformerBridge, n: int, seed: int) -> dict[str, Any]:
    """Exact match and problem count per length (see :func:`length_of`) on ``n`` held-out
    problems of the model's task."""
    task = model.task
    problems = sample_numeracy(task, n, seed + 12345)
    _, exact = text_scores(model, problems)
    lengths = np.array([length_of(task, o) for o in problems.operands])
    out: dict[str, Any] = {"exact": {}, "count": {}}
    for d in range(1, task.n_digits + 1):
        hit = lengths == d
        out["count"][str(d)] = int(hit.sum())
        out["exact"][str(d)] = float(exact[hit].mean()) if hit.sum() >= MIN_CELL else None
    out["overall"] = float(exact.mean())
    return out


def by_place(model: TransformerBridge, n: int, seed: int) -> dict[str, float]:
    """Exact match by deciding place (0 = units, -1 = tenths, ...) on the clean side of
    ``deciding`` pairs (the deciding digit uniform over the first number's digits)."""
    problems = cast(
        NumeracyProblems, numeracy_pairs(model.task, n, change="deciding", seed=seed).clean
    )
    table = accuracy_by_label(model, "place", problems=problems)
    return {str(int(r.value)): float(r.exact_match) for r in table.itertuples() if r.n >= MIN_CELL}


def flips(model: TransformerBridge, n: int, seed: int) -> dict[str, float]:
    """Share of minimal pairs whose decision character the model writes differently on the two
    sides, for ``deciding`` and ``later`` pairs."""
    return {
        change: choice_changes(model, numeracy_pairs(model.task, n, change=change, seed=seed))
        for change in ("deciding", "later")
    }


def tenths_pairs(model: TransformerBridge, n: int, seed: int) -> Pairs:
    """``n`` deciding pairs of shape :data:`SHAPE` decided at the tenths (the 9.11 vs 9.9
    kind): one layout, one decision character for every pair."""
    return numeracy_pairs(model.task, n, change="deciding", shape=SHAPE, place=-1, seed=seed)


def _last_site(table: pd.DataFrame) -> dict[str, list[float]]:
    """A probe table's accuracy by offset, per site."""
    at = table.set_index(["site", "offset"]).accuracy
    return {
        s: [float(at[s, k]) for k in sorted(set(table.offset))] for s in dict.fromkeys(table.site)
    }


CHECKS = [
    Check(
        f"every model is >= {FLOOR:.2f} exact on held-out problems at every length it was "
        "trained on (cells of at least 20 problems)",
        lambda n: all(
            v >= FLOOR for m in n["exact"].values() for v in m["exact"].values() if v is not None
        ),
    ),
    Check(
        "the comparer trained with close pairs is >= 0.95 exact at every deciding place, and "
        "the one trained on independent numbers is >= 0.15 worse at its worst decimal place",
        lambda n: (
            min(n["by_place"][COMPARER].values()) >= 0.95
            and min(v for k, v in n["by_place"][INDEPENDENT].items() if int(k) < 0)
            <= min(n["by_place"][COMPARER].values()) - 0.15
        ),
    ),
    Check(
        "the counter keeps a running count: after its last block the count so far is read "
        "from the 3rd-8th characters of the number >= 0.1 better than in an untrained twin",
        lambda n: (
            np.mean(list(n["running_count"]["trained"].values())[2:])
            >= np.mean(list(n["running_count"]["untrained"].values())[2:]) + 0.1
        ),
    ),
    Check(
        "the comparer trained on independent numbers decides at '=': its winner is linearly "
        "readable there after its last block (probe >= majority + 0.3)",
        lambda n: (
            list(n["probe"][INDEPENDENT]["="].values())[-1][0]
            >= n["probe"][INDEPENDENT]["majority"] + 0.3
        ),
    ),
    Check(
        "neither comparer's winner is readable from the embeddings at '=' (probe <= majority + "
        "0.15): the comparison is computed by the blocks",
        lambda n: all(
            n["probe"][m]["="]["emb"][0] <= n["probe"][m]["majority"] + 0.15
            for m in (COMPARER, INDEPENDENT)
        ),
    ),
    Check(
        "changing the deciding digit changes the close-trained comparer's choice in >= 90% of "
        "pairs, changing a later digit in <= 5%",
        lambda n: n["flips"]["deciding"] >= 0.9 and n["flips"]["later"] <= 0.05,
    ),
    Check(
        "on pairs decided at the tenths, the last block's input holds the decision at the "
        "position that writes the decision character (restoring it alone restores >= 0.8, any "
        "other position <= 0.1)",
        lambda n: (
            n["patching"]["values"][-1][n["patching"]["decision_pos"]] >= 0.8
            and max(
                abs(v)
                for i, v in enumerate(n["patching"]["values"][-1])
                if i != n["patching"]["decision_pos"]
            )
            <= 0.1
        ),
    ),
    Check(
        "one head, at the position that writes the decision character, restores >= 0.25 of the "
        "decision alone (the head that reads the deciding digits)",
        lambda n: (
            n["patching"]["top_head"]["restores"] >= 0.25
            and n["patching"]["top_head"]["pos"] == n["patching"]["decision_pos"]
        ),
    ),
]


def _running(model: TransformerBridge, n: int, seed: int) -> dict[str, dict[str, float]]:
    """The running-count probe after the last block, per character, trained and untrained."""
    out = {}
    for name, m in (("trained", model), ("untrained", random_init_like(model))):
        table = running_count(m, n=n, seed=seed)
        last = table[table.site == table.site.iloc[-1]]
        out[name] = {str(r.char): float(r.accuracy) for r in last.itertuples()}
    return out


def _probes(models: dict, n: int, seed: int) -> dict[str, dict]:
    """The winner probe of both comparers, anchored at '=' and at the decision character."""
    out: dict[str, dict] = {}
    for name in (COMPARER, INDEPENDENT):
        out[name] = {}
        for anchor in ("=", "decision"):
            table = decision(models[name], "winner", n=n, offsets=4, anchor=anchor, seed=seed)
            out[name][anchor] = _last_site(table)
            out[name]["majority"] = float(table.majority.iloc[0])
    return out


def _patching(comparer: TransformerBridge, pairs: Pairs, progress: bool) -> dict[str, Any]:
    """Patch the residual stream by position and every head by position on tenths pairs: the
    normalized grid, the decision position and the head that restores most alone."""
    res, heads = (
        activation_patch(
            comparer,
            pairs,
            component,
            by=by,
            metric="logit_diff",
            digits="decision",
            progress=progress,
        ).normalized()
        for component, by in (("resid_pre", ("layer", "pos")), ("z", ("layer", "pos", "head")))
    )
    hv = heads.values.numpy()
    top = [int(i) for i in np.unravel_index(hv.argmax(), hv.shape)]
    return dict(
        values=res.values.numpy().round(4).tolist(),
        pos_labels=res.pos_labels,
        decision_pos=int(encode_pairs(pairs).clean.answer_pos[0, SHAPE.index(".") + 1]) - 1,
        clean=res.clean,
        corrupt=res.corrupt,
        top_head=dict(layer=top[0], pos=top[1], head=top[2], restores=float(hv[tuple(top)])),
    )


def compute(ctx: Context) -> dict[str, Any]:
    """Exact match by length of every numeracy model; the comparers by deciding place, their
    winner probe, choice flips and tenths patching; the counter's running count."""
    n_eval, n_probe, n_pairs = (1000, 600, 200) if ctx.quick else (5000, 3000, 1000)
    models = {name: loading.load(name) for name in MODELS}
    comparer = models[COMPARER]
    pairs = tenths_pairs(comparer, n_pairs, ctx.seed)
    return dict(
        exact={name: exact_by_length(m, n_eval, ctx.seed) for name, m in models.items()},
        by_place={
            name: by_place(models[name], n_pairs * 4, ctx.seed + 2)
            for name in (COMPARER, INDEPENDENT)
        },
        probe=_probes(models, n_probe, ctx.seed),
        flips=flips(comparer, n_pairs, ctx.seed + 1),
        running_count=_running(models[COUNTER], n_probe * 2, ctx.seed),
        patching=_patching(comparer, pairs, ctx.progress),
        n=dict(eval=n_eval, probe=n_probe, pairs=len(pairs)),
        # the heatmap's rows and columns
        rows={name: f"{m.task.task} / {m.task.repr} ({name})" for name, m in models.items()},
        longest=max(m.task.n_digits for m in models.values()),
    )


def draw(numbers: dict[str, Any]) -> go.Figure:
    """Exact match by length (top), by deciding place and the winner probe (middle), the
    tenths patching grid (bottom)."""
    fig = make_subplots(
        rows=3,
        cols=2,
        specs=[[{"colspan": 2}, None], [{}, {}], [{"colspan": 2}, None]],
        vertical_spacing=0.12,
        row_heights=[0.36, 0.32, 0.32],
        subplot_titles=(
            "exact match by task / representation and length of the longest number",
            "comparison: exact match by deciding place",
            "winner probe after the last block, before '=' / the decision character",
            f"patching resid_pre by position ({COMPARER}; pairs of shape {SHAPE} decided at "
            "the tenths; normalized)",
        ),
    )
    lengths = [str(d) for d in range(1, numbers["longest"] + 1)]
    z = [[numbers["exact"][name]["exact"].get(d) for d in lengths] for name in numbers["rows"]]
    fig.add_heatmap(
        z=z,
        x=lengths,
        y=list(numbers["rows"].values()),
        zmin=0,
        zmax=1,
        colorscale="Viridis",
        text=[[("" if v is None else f"{v:.3f}") for v in r] for r in z],
        texttemplate="%{text}",
        colorbar=dict(len=0.33, y=0.84),
        row=1,
        col=1,
    )
    _comparison(fig, numbers)
    p = numbers["patching"]
    grid = patch_grid(p["values"], ("layer", "pos"), p["pos_labels"]).data[0]
    fig.add_trace(
        grid.update(y=[f"L{i} in" for i in range(len(p["values"]))], showscale=False), row=3, col=1
    )
    fig.update_xaxes(title_text="number length (digits)", row=1, col=1)
    fig.update_xaxes(title_text="deciding place (0 = units, -1 = tenths)", row=2, col=1)
    fig.update_yaxes(title_text="exact match", row=2, col=1)
    fig.update_xaxes(title_text="tokens before the anchor", autorange="reversed", row=2, col=2)
    fig.update_yaxes(title_text="held-out accuracy", row=2, col=2)
    fig.update_layout(
        template="plotly_white",
        width=1100,
        height=1100,
        title="Numeracy (NUPA)",
        legend=dict(orientation="h", y=-0.06),
    )
    return fig


def _comparison(fig: go.Figure, numbers: dict[str, Any]) -> None:
    """The comparers' exact match by deciding place and their winner probe by offset."""
    for i, (name, acc) in enumerate(numbers["by_place"].items()):
        fig.add_scatter(
            x=[int(k) for k in acc],
            y=list(acc.values()),
            name=name,
            mode="lines+markers",
            line=dict(color=PALETTE[3 + i]),
            row=2,
            col=1,
        )
    probes = numbers["probe"]
    for i, name in enumerate((COMPARER, INDEPENDENT)):
        for anchor, dash in (("=", "solid"), ("decision", "dot")):
            last = list(probes[name][anchor].values())[-1]
            fig.add_scatter(
                x=list(range(len(last))),
                y=last,
                name=f"{name} before {anchor}",
                mode="lines+markers",
                line=dict(color=PALETTE[3 + i], dash=dash),
                row=2,
                col=2,
            )
    fig.add_hline(y=probes[COMPARER]["majority"], line=dict(dash="dot", color="gray"), row=2, col=2)


def summarize(numbers: dict[str, Any]) -> list[str]:
    probes, th, p = numbers["probe"], numbers["patching"]["top_head"], numbers["patching"]
    worst = {k: round(min(v.values()), 3) for k, v in numbers["by_place"].items()}
    return [
        f"Exact match at the worst deciding place: {worst}.",
        "Exact match by length: "
        + "; ".join(f"{k}: overall {v['overall']:.3f}" for k, v in numbers["exact"].items())
        + ".",
        "Winner probe after the last block at '=' / at the decision character: "
        + "; ".join(
            f"{m} {list(probes[m]['='].values())[-1][0]:.3f} / "
            f"{list(probes[m]['decision'].values())[-1][0]:.3f} (majority "
            f"{probes[m]['majority']:.3f})"
            for m in (COMPARER, INDEPENDENT)
        )
        + ".",
        f"Deciding pairs flip the choice in {numbers['flips']['deciding']:.3f} of pairs, later "
        f"ones in {numbers['flips']['later']:.3f}; on tenths-decided pairs the top head "
        f"L{th['layer']}H{th['head']} at {p['pos_labels'][th['pos']]} restores "
        f"{th['restores']:.2f} alone.",
    ]
