"""The main job in one page: what ``arithlens demo`` writes for the default model.

``out/index.html`` (one self-contained page, plotly.js inlined once, no CDN) shows, for the
model: accuracy by answer digit and by cascade class, the head x position patching heatmap
(``a.units`` changed) with the attention of the top head, the carry-probe overview with its
controls and causal flips, and the false-cascade minimal pairs (real carry chains beside the
same run of sum-9 pairs with no carry source). The same numbers go to ``summary.json`` and the
tables to CSV; ``report.md`` and ``accuracy.csv`` are the accuracy report of
:func:`arithlens.faces.report.write_report`.

Example:
    >>> paths = write_demo(al.load("add3-2L"), "out")   # doctest: +SKIP
    >>> paths["page"]                                       # doctest: +SKIP
    PosixPath('out/index.html')
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from transformer_lens.model_bridge import TransformerBridge

from arithlens._atomic import write_text
from arithlens.analyses.circuits import score_edges
from arithlens.analyses.evaluation import evaluate, false_cascade_accuracy
from arithlens.analyses.lens import trace
from arithlens.faces.report import write_report
from arithlens.models.contract import encoder_of
from arithlens.patching import activation_patch
from arithlens.patching.results import PatchResult
from arithlens.plots import probe_overview
from arithlens.probes import causal_flip, fit


def _minimal_pairs(model: TransformerBridge, n: int, seed: int) -> tuple[dict, go.Figure]:
    """Exact match on real carry chains from the units and on their false-cascade twins."""
    chains, twins = false_cascade_accuracy(model, n, seed=seed)
    lengths = [int(k) for k in chains]
    fig = go.Figure()
    fig.add_scatter(x=lengths, y=list(chains.values()), name="real carry chains")
    fig.add_scatter(
        x=lengths, y=list(twins.values()), name="false-cascade twins", line=dict(dash="dash")
    )
    fig.update_layout(
        title=f"minimal pairs ({n} per length): a run of sum-9 pairs with and without a carry "
        "source",
        xaxis_title="chain length (sum-9 run + 1)",
        yaxis=dict(title="exact match", range=[0, 1.05]),
        template="plotly_white",
    )
    return {"chains": chains, "twins": twins}, fig


def _top_head_attention(model: TransformerBridge, layer: int, head: int, pos_label: str):
    t = trace(model, "123+456")
    fig = go.Figure(
        go.Heatmap(z=t.pattern[layer, head], x=t.token_labels, y=t.token_labels, colorscale="Blues")
    )
    fig.update_yaxes(autorange="reversed", title="query")
    fig.update_layout(
        title=f"attention of the top patching cell's head L{layer}H{head} (top cell at "
        f"{pos_label}) on 123+456",
        xaxis_title="key",
        template="plotly_white",
    )
    return fig


def _page(title: str, sections: list[tuple[str, str, go.Figure]]) -> str:
    parts, first = [], True
    for heading, text, fig in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2><p>{html.escape(text)}</p>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=first))
        first = False
    body = "\n".join(parts)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:1400px;margin:auto}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _summary(
    name: str,
    task_name: str,
    accuracy: dict,
    n_pairs: int,
    patch: PatchResult,
    top: Any,
    probes: Any,
    flips: Any,
    minimal: dict,
) -> dict:
    """The page's numbers, as written to ``demo.json``."""
    pbest, fbest = probes.best().set_index("target"), flips.best().set_index("target")
    summary = {
        "model": name,
        "task": task_name,
        "accuracy": accuracy,
        "patching": {
            "pairs": n_pairs,
            "change": "a.units",
            "top_cells": [
                {
                    "layer": int(r["layer"]),
                    "head": int(r["head"]),
                    "pos": patch.pos_labels[int(r["pos"])],
                    "restored": float(r["value"]),
                }
                for _, r in top.iterrows()
            ],
        },
        "probes": {
            t: {
                "best_site": f"{pbest.loc[t, 'layer']} @ {pbest.loc[t, 'pos_label']}",
                "accuracy": float(pbest.loc[t, "score"]),
                "control_coverage": float(pbest.loc[t, "control_coverage"]),
                "selectivity": None
                if math.isnan(float(pbest.loc[t, "selectivity"]))
                else float(pbest.loc[t, "selectivity"]),
                "flip": float(fbest.loc[t, "flip"]),
                "random_flip": float(fbest.loc[t, "random"]),
                "carry_is_answer": bool(fbest.loc[t, "carry_is_answer"]),
            }
            for t in probes.targets
        },
        "minimal_pairs": minimal,
    }
    return summary


def _sections(
    model: TransformerBridge,
    summary: dict,
    n: int,
    shown: Any,
    patch: PatchResult,
    top_cell: tuple[int, int, int],
    probes: Any,
    flips: Any,
    minimal_fig: go.Figure,
) -> list:
    """``(title, text, figure)`` of each section of the page."""
    layer, head, pos = top_cell
    accuracy = summary["accuracy"]
    n_pairs = summary["patching"]["pairs"]
    top_text = "; ".join(
        f"L{c['layer']}H{c['head']} at {c['pos']} restores {c['restored']:.2f}"
        for c in summary["patching"]["top_cells"]
    )
    probe_text = "; ".join(
        f"{t}: accuracy {v['accuracy']:.2f} at {v['best_site']}, selectivity "
        f"{'n/a' if v['selectivity'] is None else format(v['selectivity'], '.2f')}, causal flip "
        f"{v['flip']:.2f} (random {v['random_flip']:.2f})"
        + (" - this carry is the answer digit itself" if v["carry_is_answer"] else "")
        for t, v in summary["probes"].items()
    )
    sections = [
        (
            "Accuracy by digit and cascade class",
            f"Exact match {accuracy['uniform']['exact_match']:.4f} on {n} uniform problems; "
            "below, problems balanced over the carry cascade classes.",
            shown.plot(),
        ),
        (
            "Which heads move the changed digit (activation patching)",
            f"Share of the logit difference restored by patching each head's output at each "
            f"position, {n_pairs} pairs that change a.units. Top cells: {top_text}.",
            patch.plot(),
        ),
        (
            "The top head's attention",
            "Where the top cell's head looks, query by key.",
            _top_head_attention(model, layer, head, patch.pos_labels[pos]),
        ),
        (
            "Where the carry is, and whether the model uses it (probes)",
            "Held-out accuracy, selectivity against a control task (n/a where control types do "
            "not recur), an untrained model, and the causal flip rate along the carry direction "
            f"(embeddings excluded). {probe_text}.",
            probe_overview(probes, flips),
        ),
        (
            "Minimal pairs: real carry chains and false cascades",
            "Exact match by chain length; a model that carries whenever it sees a run of 9s fails "
            "the twins.",
            minimal_fig,
        ),
    ]
    return sections


def write_demo(
    model: TransformerBridge,
    out: str | Path,
    *,
    name: str = "model",
    n: int = 4000,
    n_pairs: int = 256,
    n_probe: int = 4000,
    n_causal: int = 128,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Path]:
    """Write the demo page, its numbers and tables for an addition or subtraction ``model``.

    Returns the paths by kind: ``page``, ``summary``, ``patching``, ``probes``, and the accuracy
    report's ``markdown``, ``csv``, ``json``, ``figure``.
    """
    out = Path(out)
    task = encoder_of(model).task
    paths = write_report(model, out, n=n, seed=seed, name=name)
    accuracy = json.loads(paths["json"].read_text())
    shown = evaluate(model, n=n, seed=seed + 1, strategy="cascade")
    pairs = encoder_of(model).pairs(n_pairs, "a.units", seed=seed)
    patch = activation_patch(
        model, pairs, "z", by=("layer", "pos", "head"), metric="logit_diff", progress=progress
    ).normalized()
    top = patch.top(3)
    best = top.iloc[0]
    layer, head, pos = int(best["layer"]), int(best["head"]), int(best["pos"])
    probes = fit(model, "carry", n=n_probe, seed=seed, progress=progress)
    flips = causal_flip(model, probes, n=n_causal, seed=seed + 1, progress=progress)
    minimal, minimal_fig = _minimal_pairs(model, 300, seed)
    summary = _summary(name, task.name, accuracy, n_pairs, patch, top, probes, flips, minimal)
    circuit, summary["circuit"] = _circuit(model, pairs, n_pairs, seed, progress)
    sections = _sections(
        model, summary, n, shown, patch, (layer, head, pos), probes, flips, minimal_fig
    )
    sections.append(_circuit_section(summary["circuit"], circuit))
    paths["page"] = write_text(out / "index.html", _page(f"arithlens: {name}", sections))
    paths["summary"] = write_text(out / "demo.json", json.dumps(summary, indent=1))
    paths["patching"] = write_text(out / "patching.csv", patch.to_frame().to_csv(index=False))
    paths["probes"] = write_text(out / "probes.csv", probes.to_frame().to_csv(index=False))
    paths["circuit"] = write_text(out / "circuit_mib.json", json.dumps(circuit.to_mib(), indent=1))
    return paths


def _circuit(model: TransformerBridge, pairs: Any, n_pairs: int, seed: int, progress: bool):
    """The EAP-IG circuit (top 5% of edges) of ``pairs`` and MIB's curve on held-out pairs."""
    scored = score_edges(model, pairs, "eap-ig-inputs", progress=progress)
    held_out = encoder_of(model).pairs(n_pairs, "a.units", seed=seed + 7)
    curve = scored.curve(model, held_out)
    circuit = scored.select(0.05)
    numbers = dict(
        method="eap-ig-inputs (5 steps)",
        edges=scored.graph.n_edges,
        in_circuit=circuit.n_in_circuit,
        fractions=list(curve.fractions),
        faithfulness=[round(f, 4) for f in curve.faithfulness],
        cpr=round(curve.cpr, 4),
        log_area=round(curve.log_area, 4),
        top_edges=scored.top(5).edge.tolist(),
    )
    return circuit, numbers


def _circuit_section(numbers: dict, circuit: Any) -> tuple[str, str, go.Figure]:
    f10 = numbers["faithfulness"][numbers["fractions"].index(0.1)]
    return (
        "The circuit: which edges carry the changed digit (EAP-IG, as MIB scores it)",
        f"{numbers['in_circuit']} of {numbers['edges']} edges (top 5% by EAP-IG score, "
        f"unconnected edges pruned). On held-out pairs 10% of the edges keep {f10:.2f} of the "
        f"logit difference; CPR {numbers['cpr']:.2f} (area under faithfulness, MIB). Top edges: "
        f"{', '.join(numbers['top_edges'])}.",
        circuit.plot(),
    )
