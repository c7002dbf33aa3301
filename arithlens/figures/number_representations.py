"""Number representations (Zhou et al. 2024; Kantamneni & Tegmark 2025; Nikankin et al. 2024) on
the zoo's Hugging Face stand-in add2-gpt2 (numbers 0-99 are single tokens): the Fourier spectrum
of a's activation at the embedding and after each layer beside its shuffled null, the best helix
(held-out R^2) and the logit difference restored by patching its fit of the clean number beside
the full activation, PCA, circle, polynomial and shuffled-helix fits of equal dimension, the
fitted subspace ablated beside random ones, Fourier filters of the attention / MLP outputs in
the number-token basis beside random bands, and the MLP's heuristic neurons. Full mode adds the
digit-level adder add3-2L (digits 0-9 at a's units)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from arithlens.analyses import numbers as nb
from arithlens.figures.base import Check, Context
from arithlens.models import loading
from arithlens.plots.basics import PALETTE
from arithlens.plots.numbers import REPLACEMENTS

NAME = "number_representations"
TITLE = "Number representations: spectra, helix fits and whether the model uses them"
SOURCE = (
    "Zhou et al. 2024 (NeurIPS), Pre-trained LLMs use Fourier features to compute addition; "
    "Kantamneni & Tegmark 2025, Language models use trigonometry to do addition; Nikankin et "
    "al. 2024, Arithmetic without algorithms"
)
PAPER = {
    "top_periods": "outlier periods 2, 2.5, 5 and 10 in the number-token logits of pretrained LLMs "
    "(Zhou); sparse peaks at T = 2, 5, 10 after layer 0 of GPT-J (Kantamneni)",
    "causal_layer0": "GPT-J a+b, best layer: full 8.34, helix 7.21, circle 6.83, PCA 6.13, poly 3.09 "
    "(Kantamneni); a helix fitted to shuffled a is not causally relevant",
    "filter_all_layers": "removing low frequencies from the MLPs: 99.74% -> 35.89% (Zhou), errors off by "
    "10, 50 or 100; no random-band control reported",
    "neuron_classes": "heuristic neurons (operand / result ranges and residues) carry the MLPs' effect "
    "(Nikankin)",
}
MODEL = "add2-gpt2"
SPECTRUM_RATIO = 2.0

CHECKS = [
    Check(
        f"{MODEL} holds its numbers slowly varying, not on the papers' circles: the top period "
        "at the embedding and after layer 0 is 20 or more, and none of periods 2, 5, 10 reaches "
        f"{SPECTRUM_RATIO}x its shuffled null there",
        lambda n: all(
            n["spectra"][site]["top"][0][0] >= 20
            and all(n["spectra"][site]["ratio"][str(t)] < SPECTRUM_RATIO for t in (2, 5, 10))
            for site in ("embed", "resid_post L0")
        ),
    ),
    Check(
        "the number's activation is used and a 3-term fit carries part of it: at layer 0 the "
        "full activation restores an LD of 5 or more, the helix more than the shuffled helix "
        "(by 1 or more) and less than the full activation",
        lambda n: (
            n["causal"]["full"][0] >= 5
            and n["causal"]["helix"][0] >= n["causal"]["helix-shuffled"][0] + 1
            and n["causal"]["helix"][0] < n["causal"]["full"][0]
        ),
    ),
    Check(
        "the fitted subspace is where the number is used: mean-ablating it at layer 0 drops the "
        "answer's logit at least 5x more than a random subspace of equal dimension",
        lambda n: n["causal"]["fit_drop"][0] >= 5 * max(n["causal"]["random_drop"][0], 1e-3),
    ),
    Check(
        "the MLPs' low frequencies carry the answer: removing them from every MLP leaves a lower "
        "accuracy than removing a random band of equal size (by 0.05 or more)",
        lambda n: n["filter"]["mlp all low"] <= n["filter"]["mlp all random"] - 0.05,
    ),
]


def _spectra(model: Any, layers: list[int], n_context: int) -> dict[str, Any]:
    out = {}
    sites = [("embed", 0)] + [("resid_post", layer) for layer in layers]
    for site, layer in sites:
        acts = nb.number_activations(model, site, layer, n_context=n_context)
        s = nb.spectrum(acts.values, acts.numbers, site=acts.label)
        key = "embed" if site == "embed" else f"resid_post L{layer}"
        ratio = s.ratio_to_null()
        n = len(acts.numbers)
        out[key] = dict(
            periods=[round(float(p), 4) for p in s.periods],
            share=[round(float(x), 5) for x in s.share],
            null=[round(float(x), 5) for x in s.null**2 / (s.magnitude**2).sum()],
            top=s.top(5),
            ratio={str(t): round(float(ratio[n // t - 1]), 3) for t in (2, 5, 10) if n % t == 0},
        )
    return out


def compute(ctx: Context) -> dict[str, Any]:
    """Spectra, helix fits and the causal table per layer, filters and neurons of add2-gpt2."""
    model = loading.load(MODEL)
    L = model.cfg.n_layers
    quick = ctx.quick
    layers = [0, 1] if quick else list(range(L))
    n_pairs, n_filter = (40, 120) if quick else (100, 300)
    numbers: dict[str, Any] = dict(model=MODEL, n_pairs=n_pairs, n_filter=n_filter)
    numbers["spectra"] = _spectra(model, layers, 2)
    table = nb.causal_table(model, layers, n_pairs=n_pairs, seed=ctx.seed, progress=ctx.progress)
    numbers["causal"] = {
        k: [round(float(v), 4) for v in table[k]]
        for k in [*REPLACEMENTS, "r2", "cv_r2", "fit_drop", "random_drop", "whole_drop"]
        + ["fit_acc", "random_acc", "whole_acc"]
    }
    numbers["causal"]["layer"] = [int(x) for x in table["layer"]]
    numbers["causal"]["periods"] = [list(p) for p in table["periods"]]
    numbers["causal"]["n_pairs"] = int(table["n_pairs"].iloc[0])
    ft = nb.filter_table(model, n=n_filter, seed=ctx.seed, progress=ctx.progress)
    numbers["filter"] = {
        f"{r.module} {r.layer} {r.band}" if r.band != "none" else "none": round(r.accuracy, 4)
        for r in ft.itertuples()
    }
    numbers["filter_errors"] = {
        f"{r.module} {r.layer} {r.band}": dict(
            small=round(r.off_small, 4), tens=round(r.off_tens, 4), other=round(r.off_other, 4)
        )
        for r in ft.itertuples()
        if r.layer == "all"
    }
    grid = range(0, 100, 3) if quick else range(100)
    numbers["neurons"] = {}
    for layer in [L - 1] if quick else range(L):
        res = nb.classify_neurons(model, layer, numbers=grid, seed=ctx.seed)
        numbers["neurons"][str(layer)] = dict(
            counts={k: int(v) for k, v in res.labels.value_counts().items()},
            effect={r.kept: round(r.accuracy, 4) for r in res.effect.itertuples()},
        )
    if not quick:
        numbers["digits"] = _digits(ctx)
    # the lines set beside the papers' numbers
    numbers["top_periods"] = {
        k: v["top"][:3] for k, v in numbers["spectra"].items() if k in ("embed", "resid_post L0")
    }
    numbers["causal_layer0"] = {k: numbers["causal"][k][0] for k in REPLACEMENTS}
    numbers["filter_all_layers"] = {k: v for k, v in numbers["filter"].items() if " all " in k}
    last = str(max(int(k) for k in numbers["neurons"]))
    numbers["neuron_classes"] = {f"MLP L{last}": numbers["neurons"][last]["effect"]}
    return numbers


def _digits(ctx: Context) -> dict[str, Any]:
    """add3-2L: a's units digit (0-9) at the embedding and after each layer."""
    model = loading.load("add3-2L")
    out: dict[str, Any] = {"model": "add3-2L"}
    acts = nb.number_activations(model, "resid_pre", 0)
    out["spectrum_top"] = nb.spectrum(acts.values, acts.numbers).top(3)
    table = nb.causal_table(
        model, [0], periods=(2, 5, 10), n_pairs=100, site="resid_pre", progress=ctx.progress
    )
    out["causal"] = {k: round(float(table[k].iloc[0]), 4) for k in (*REPLACEMENTS, "cv_r2")}
    out["causal"]["periods"] = list(table["periods"].iloc[0])
    return out


def draw(numbers: dict[str, Any]) -> go.Figure:
    """Spectrum vs null, LD restored per replacement, filter accuracies, neuron classes."""
    fig = make_subplots(
        rows=2,
        cols=2,
        subplot_titles=[
            "spectrum of a after layer 0 (share of energy)",
            "LD restored at a's token, by layer",
            "accuracy with a band removed from every layer's module",
            f"MLP L{max(numbers['neurons'], key=int)}: accuracy keeping one neuron class",
        ],
        vertical_spacing=0.16,
    )
    s = numbers["spectra"]["resid_post L0"]
    fig.add_scatter(x=s["periods"], y=s["share"], name="numbers in order", row=1, col=1)
    fig.add_scatter(
        x=s["periods"], y=s["null"], name="shuffled (null)", line=dict(dash="dot"), row=1, col=1
    )
    fig.update_xaxes(type="log", title="period", row=1, col=1)
    c = numbers["causal"]
    for i, name in enumerate(REPLACEMENTS):
        fig.add_bar(
            x=[f"L{k}" for k in c["layer"]],
            y=c[name],
            name=name,
            marker_color=PALETTE[i % len(PALETTE)],
            row=1,
            col=2,
        )
    f = numbers["filter"]
    labels = [f"{m} {b}" for m in ("attn", "mlp") for b in ("low", "high", "random")]
    fig.add_bar(
        x=labels,
        y=[f[f"{m} all {b}"] for m in ("attn", "mlp") for b in ("low", "high", "random")],
        name="filtered",
        marker_color="#888",
        showlegend=False,
        row=2,
        col=1,
    )
    fig.add_hline(y=f["none"], line_dash="dot", row=2, col=1)
    last = numbers["neurons"][max(numbers["neurons"], key=int)]
    fig.add_bar(
        x=list(last["effect"]),
        y=list(last["effect"].values()),
        name="neurons kept",
        marker_color="#4c72b0",
        showlegend=False,
        row=2,
        col=2,
    )
    fig.update_layout(
        title=f"{numbers['model']}: how numbers are held, and whether that is used",
        template="plotly_white",
        barmode="group",
        width=1150,
        height=800,
    )
    return fig


def summarize(numbers: dict[str, Any]) -> list[str]:
    c = numbers["causal"]
    s = numbers["spectra"]
    f = numbers["filter"]
    lines = [
        f"{numbers['model']}: top periods (share) at the embedding "
        + ", ".join(f"{p:g} ({x:.2f})" for p, x in s["embed"]["top"][:3])
        + "; after layer 0 "
        + ", ".join(f"{p:g} ({x:.2f})" for p, x in s["resid_post L0"]["top"][:3])
        + "; periods 2 / 5 / 10 against the null after layer 0: "
        + " / ".join(f"{v:.2f}x" for v in s["resid_post L0"]["ratio"].values())
        + ".",
        f"Layer 0 (best helix {tuple(c['periods'][0])}, R^2 {c['r2'][0]:.3f}, held-out "
        f"{c['cv_r2'][0]:.3f}), LD restored over {c['n_pairs']} pairs: "
        + ", ".join(f"{k} {c[k][0]:.2f}" for k in REPLACEMENTS)
        + f"; ablating the fitted subspace drops the answer logit by {c['fit_drop'][0]:.2f} "
        f"(accuracy {c['fit_acc'][0]:.2f}), a random one by {c['random_drop'][0]:.3f} "
        f"({c['random_acc'][0]:.2f}), the whole activation by {c['whole_drop'][0]:.2f} "
        f"({c['whole_acc'][0]:.2f}).",
        f"Fourier filters (accuracy {f['none']:.3f} unfiltered): "
        + ", ".join(
            f"{m} {b} {f[f'{m} all {b}']:.3f}"
            for m in ("attn", "mlp")
            for b in ("low", "high", "random")
        )
        + ".",
    ]
    for layer, n in numbers["neurons"].items():
        lines.append(
            f"MLP L{layer} neurons: "
            + ", ".join(f"{k} {v}" for k, v in n["counts"].items())
            + "; accuracy keeping "
            + ", ".join(f"{k} {v:.3f}" for k, v in n["effect"].items())
            + "."
        )
    if "digits" in numbers:
        d = numbers["digits"]
        lines.append(
            f"{d['model']} (digits 0-9 at a's units, embedding): top periods "
            + ", ".join(f"{p:g} ({x:.2f})" for p, x in d["spectrum_top"])
            + "; LD restored: "
            + ", ".join(f"{k} {d['causal'][k]:.2f}" for k in REPLACEMENTS)
            + f" (helix {tuple(d['causal']['periods'])}, held-out R^2 {d['causal']['cv_r2']:.2f})."
        )
    return lines
