"""Edge-level circuits scored as the MIB benchmark scores them (Mueller et al. 2025): every edge
of add3-2L, add5-2L, its plain-format twin add5-plain-2L and the Hugging Face stand-in
add2-gpt2, scored by exact patching, EAP, EAP-IG-inputs and EAP-IG-activations on pairs that
change a's units digit; MIB's faithfulness curve on held-out pairs with CPR (signed ranking)
and CMD (absolute ranking) beside the random ranking's; how many edges carry 90% of the logit
difference; and what summing over positions hides (position-aware EAP, Haklay et al. 2025).

MIB's arithmetic numbers are of Llama-3.1-8B with a random counterfactual; these models are
tiny and the counterfactual changes one digit, so they are shown beside ours, not claimed
equal."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.stats import spearmanr

from arithlens.analyses.circuits import Circuit, score_edges
from arithlens.figures.base import Check, Context
from arithlens.models import loading
from arithlens.models.contract import encoder_of
from arithlens.plots.basics import PALETTE

NAME = "circuits"
TITLE = "Edge-level circuits: MIB's faithfulness curves, CPR and CMD by method"
SOURCE = "Mueller et al. 2025 (MIB); Hanna et al. 2024 (EAP-IG); Haklay et al. 2025 (PEAP)"
PAPER = {
    "cpr": "MIB arithmetic (Llama-3.1-8B, counterfactual patching): EAP-IG-inputs 0.99, "
    "EAP-IG-activations 0.98, EAP 0.55, exact (EActP) 0.85, random 0.25",
    "cmd": "the same: EAP-IG-inputs 0.00, EAP-IG-activations 0.00, EAP 0.01, exact 0.36, "
    "random 0.75",
    "position_aware": "summing over positions changes ~17% of the top-1% edges on IOI "
    "(Haklay et al. 2025)",
}
MODELS = ("add3-2L", "add5-2L", "add5-plain-2L", "add2-gpt2")
QUICK_MODELS = ("add3-2L", "add5-plain-2L", "add2-gpt2")
"""Quick mode leaves out add5-2L (the reversed twin of add5-plain-2L: full mode has both)."""
STAND_IN = "add2-gpt2"
METHODS = ("exact", "eap", "eap-ig-inputs", "eap-ig-activations")
CHANGE = "a.units"
POSITION_MODEL = "add3-2L"
TOP = 0.1
"""The share of edges whose position-summed and position-aware rankings are compared."""

BEATS_RANDOM, AGREES, HALF, STAND_IN_SHARE = 0.3, 0.6, 0.5, 0.1

CHECKS = [
    Check(
        f"EAP-IG-inputs' CPR exceeds the random ranking's by at least {BEATS_RANDOM} on every "
        "model (MIB: 0.99 vs 0.25)",
        lambda n: all(
            n["cpr"][m]["eap-ig-inputs"] >= n["random_cpr"][m] + BEATS_RANDOM for m in n["cpr"]
        ),
    ),
    Check(
        f"EAP-IG-inputs ranks edges like exact patching: Spearman >= {AGREES} on average over "
        "the models",
        lambda n: (
            float(np.mean([v["eap-ig-inputs"] for v in n["spearman_vs_exact"].values()])) >= AGREES
        ),
    ),
    Check(
        "EAP-IG-inputs' CPR is at least EAP's on average over the models (MIB arithmetic: "
        "0.99 vs 0.55)",
        lambda n: float(np.mean([v["eap-ig-inputs"] - v["eap"] for v in n["cpr"].values()])) >= 0,
    ),
    Check(
        f"exact patching's circuits keep 90% of the logit difference with at most {HALF:.0%} "
        f"of the edges on every model, and with at most {STAND_IN_SHARE:.0%} on the stand-in",
        lambda n: (
            all(f is not None and f <= HALF for f in n["fraction_for_90pct"].values())
            and (n["fraction_for_90pct"].get(STAND_IN) or 1.0) <= STAND_IN_SHARE
        ),
    ),
    Check(
        f"{POSITION_MODEL}'s top position-aware edges sit at the changed digit (a0) or at the "
        "answer's positions ('=' onward), none at the operand positions between: the digit is "
        "read where it is and moved to where the answer is written",
        lambda n: all(
            role == "a0" or role == "=" or role.startswith("c")
            for role in n["position_aware"]["top_roles"]
        ),
    ),
]


def compute(ctx: Context) -> dict[str, Any]:
    """Scores by every method on every model, curves on held-out pairs, the position-aware
    comparison."""
    n = 16 if ctx.quick else 128
    numbers: dict[str, Any] = dict(n_pairs=n, change=CHANGE, fractions=None, ig_steps=5)
    numbers["random_seeds"] = 1 if ctx.quick else 3
    for key in ("n_edges", "cpr", "cmd", "log_area", "curves", "spearman_vs_exact"):
        numbers[key] = {}
    for key in ("random_cpr", "random_cmd", "random_curve", "fraction_for_90pct"):
        numbers[key] = {}
    numbers["edges_for_90pct"], numbers["top_edges"] = {}, {}
    for name in QUICK_MODELS if ctx.quick else MODELS:
        _measure(numbers, name, loading.load(name), n, ctx)
    numbers["position_aware"] = _positions(loading.load(POSITION_MODEL), n, ctx)
    return numbers


def _measure(numbers: dict, name: str, model: Any, n: int, ctx: Context) -> None:
    """One model: scores by each method, curves (signed and absolute) on held-out pairs."""
    enc = encoder_of(model)
    pairs, held_out = enc.pairs(n, CHANGE, ctx.seed), enc.pairs(n, CHANGE, ctx.seed + 1)
    scored = {m: score_edges(model, pairs, m, progress=ctx.progress) for m in METHODS}
    mask = scored["exact"].graph.mask.numpy()
    numbers["n_edges"][name] = int(mask.sum())
    for key in ("cpr", "cmd", "log_area", "curves", "spearman_vs_exact"):
        numbers[key][name] = {}
    for method, c in scored.items():
        signed, absolute = c.curve(model, held_out), c.curve(model, held_out, absolute=True)
        numbers["fractions"] = list(signed.fractions)
        numbers["cpr"][name][method] = signed.cpr
        numbers["cmd"][name][method] = absolute.cmd
        numbers["log_area"][name][method] = signed.log_area
        numbers["curves"][name][method] = list(signed.faithfulness)
        rho = spearmanr(scored["exact"].scores[mask], c.scores[mask]).statistic
        numbers["spearman_vs_exact"][name][method] = float(rho)
        if method == "exact":
            _smallest(numbers, name, signed)
    base = scored["exact"].random_baseline(model, held_out, seeds=1 if ctx.quick else 3)
    numbers["random_cpr"][name] = base.cpr
    numbers["random_cmd"][name] = base.cmd
    numbers["random_curve"][name] = list(base.faithfulness)
    numbers["top_edges"][name] = scored["eap-ig-inputs"].top(5).edge.tolist()


def _smallest(numbers: dict, name: str, curve: Any) -> None:
    """The smallest MIB fraction whose circuit keeps 90% of the logit difference."""
    at = next((k for k, f in enumerate(curve.faithfulness) if f >= 0.9), None)
    numbers["fraction_for_90pct"][name] = None if at is None else curve.fractions[at]
    numbers["edges_for_90pct"][name] = None if at is None else curve.n_edges[at]


def _positions(model: Any, n: int, ctx: Context) -> dict[str, Any]:
    """Position-aware EAP-IG-inputs scores: the top edges by |sum over positions| against the
    top by the sum of |per-position scores| (no cancellation), and the edges that cancel."""
    pairs = encoder_of(model).pairs(n, CHANGE, ctx.seed)
    c: Circuit = score_edges(model, pairs, "eap-ig-inputs", positions=True, progress=False)
    mask = c.graph.mask.numpy()
    summed = np.abs(c.scores.sum(-1))[mask]
    magnitude = np.abs(c.scores).sum(-1)[mask]
    k = math.ceil(TOP * int(mask.sum()))
    top_summed = set(np.argsort(-summed, kind="stable")[:k].tolist())
    top_aware = set(np.argsort(-magnitude, kind="stable")[:k].tolist())
    names = np.array(c.graph.edge_names())
    cancel = (summed < 0.5 * magnitude) & (magnitude > 0.1 * magnitude.max())
    frame = c.top(8)
    return dict(
        model=POSITION_MODEL,
        method="eap-ig-inputs",
        k=k,
        top_differ=len(top_aware - top_summed),
        only_position_aware=sorted(names[sorted(top_aware - top_summed)].tolist()),
        cancelling=sorted(names[cancel].tolist()),
        top_edge_positions=[
            f"{e} @ {lab.split(':')[-1]}: {s:.3f}"
            for e, lab, s in zip(frame.edge, frame.pos_label, frame.score)
        ],
        top_roles=[lab.split(":")[-1] for lab in frame.pos_label],
    )


def draw(numbers: dict[str, Any]) -> go.Figure:
    """One panel per model: faithfulness by share of edges (log x) for each method, the random
    ranking dashed."""
    models = list(numbers["curves"])
    fig = make_subplots(
        rows=1,
        cols=len(models),
        subplot_titles=[f"{m} ({numbers['n_edges'][m]} edges)" for m in models],
        shared_yaxes=True,
    )
    x = [100 * f for f in numbers["fractions"]]
    for col, m in enumerate(models, start=1):
        for i, (method, y) in enumerate(numbers["curves"][m].items()):
            fig.add_scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=method,
                legendgroup=method,
                showlegend=col == 1,
                line=dict(color=PALETTE[i % len(PALETTE)]),
                hovertemplate=f"{method}: %{{x}}% of edges, f = %{{y:.3f}}<extra></extra>",
                row=1,
                col=col,
            )
        fig.add_scatter(
            x=x,
            y=numbers["random_curve"][m],
            mode="lines",
            name="random ranking",
            legendgroup="random",
            showlegend=col == 1,
            line=dict(color="#7f8c8d", dash="dash"),
            row=1,
            col=col,
        )
        fig.update_xaxes(type="log", title="edges kept (%)", row=1, col=col)
    fig.update_yaxes(title="faithfulness", row=1, col=1)
    fig.update_layout(
        title=f"MIB faithfulness curves ({numbers['change']}, {numbers['n_pairs']} pairs, "
        "held-out evaluation; counterfactual patching)",
        template="plotly_white",
        width=300 * len(models) + 200,
        height=420,
    )
    return fig


def summarize(numbers: dict[str, Any]) -> list[str]:
    def row(m: str) -> str:
        cells = ", ".join(
            f"{meth} {numbers['cmd'][m][meth]:.2f} / {numbers['cpr'][m][meth]:.2f}"
            for meth in numbers["cpr"][m]
        )
        return (
            f"{m}: {cells}; random {numbers['random_cmd'][m]:.2f} / {numbers['random_cpr'][m]:.2f}"
        )

    pa = numbers["position_aware"]
    return [
        "CMD / CPR by method (MIB's areas, linear x):",
        *[row(m) for m in numbers["cpr"]],
        "MIB on Llama-3.1-8B arithmetic, CMD / CPR: EAP-IG-inputs 0.00 / 0.99, "
        "EAP-IG-activations 0.00 / 0.98, EAP 0.01 / 0.55, exact 0.36 / 0.85, random 0.75 / 0.25.",
        "Spearman with exact patching over edges: "
        + "; ".join(
            f"{m}: " + ", ".join(f"{k} {v:.2f}" for k, v in d.items() if k != "exact")
            for m, d in numbers["spearman_vs_exact"].items()
        ),
        f"Edges that keep 90% of the logit difference (exact ranking): "
        f"{numbers['edges_for_90pct']} of {numbers['n_edges']}.",
        f"Position-aware vs summed ({pa['model']}, {pa['method']}): {pa['top_differ']} of the "
        f"top {pa['k']} edges differ ({pa['only_position_aware']}); edges whose positions "
        f"cancel: {pa['cancelling']}. Top edge-positions: {pa['top_edge_positions'][:4]}.",
        f"Top EAP-IG edges: {numbers['top_edges']}.",
    ]
