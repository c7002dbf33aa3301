"""Widget latency: how long an interaction takes to re-render, driven from Python.

Builds the four widgets on the zoo's 2-layer 3-digit model and drives their controls the way a
researcher would: typing problems and switching heads (ProblemExplorer); switching corruption,
granularity, direction, metric and digits, each new combination computed once and then revisited,
and clicking cells (PatchingExplorer, 32 pairs); switching target, value and activation and
clicking cells (ProbeExplorer, probes fitted at construction); redrawing at each evaluation of a
live training run (TrainingMonitor). Each interaction is timed from the control change to the
figures being updated in Python (the browser's own drawing is not included).

``uncached_ms_p95``: interactions that ran a new analysis (a patching sweep, a new problem's
trace). ``cached_ms_p95``: interactions that only redraw. ``construct_s``: building each widget
(probe fitting dominates). Goal: every interaction under 250 ms.

Last line: ``widget_latency_ms_p95=<ms>`` over all interactions.
"""

from __future__ import annotations

import time

import numpy as np
import torch

import arithlens as al
from arithlens.widgets._base import Explorer


def drive(w: Explorer, steps: list) -> list[float]:
    """Apply ``steps`` (``(control, value)`` or a callable) and return their latencies."""
    start = len(w.latencies_ms)
    for s in steps:
        if callable(s):
            s()
        else:
            s[0].value = s[1]
    return w.latencies_ms[start:]


def main() -> None:
    torch.set_num_threads(2)
    model = al.load("add3-2L")
    built = {}
    t = time.perf_counter()
    pe = al.widgets.ProblemExplorer(model, "123+456")
    built["problem"] = time.perf_counter() - t
    t = time.perf_counter()
    px = al.widgets.PatchingExplorer(model, n=32)
    built["patching"] = time.perf_counter() - t
    t = time.perf_counter()
    pr = al.widgets.ProbeExplorer(model, n=2000, activations=("resid", "attn_out", "mlp_out"))
    built["probe"] = time.perf_counter() - t

    rng = np.random.default_rng(0)
    problems = [f"{a}+{b}" for a, b in rng.integers(0, 1000, size=(20, 2))]
    uncached = drive(pe, [(pe.text, p) for p in problems])
    heads = list(pe.head.options)
    cached = drive(pe, [(pe.head, heads[i % len(heads)]) for i in range(1, 17)])

    combos = [
        (px.granularity, "heads"),
        (px.direction, "noise"),
        (px.metric, "answer_logprob"),
        (px.change, "b.tens"),
        (px.granularity, "resid_pre"),
        (px.digits, "tens"),
    ]
    uncached += drive(px, combos)
    back = [
        (px.digits, "all"),
        (px.granularity, "heads"),
        (px.change, "a.units"),
        (px.metric, "logit_diff"),
        (px.direction, "denoise"),
    ]
    cached += drive(px, back)
    cells = [lambda li=li, h=h: px.select_cell(li, None, h) for li in range(2) for h in range(4)]
    uncached += drive(px, cells)  # first visit of each cell: one patched forward
    cached += drive(px, cells)

    targets = list(pr.target.options)
    steps = [(pr.target, t) for t in targets[1:] + targets[:1]]
    steps += [(pr.value, "selectivity"), (pr.activation, "attn_out"), (pr.activation, "mlp_out")]
    steps += [(pr.value, "score"), (pr.activation, "resid")]
    cached += drive(pr, steps)
    sites = [lambda p=p: pr.select_site("L0", p) for p in range(6, 12)]
    uncached += drive(pr, sites)  # projections of 400 new problems
    cached += drive(pr, sites)

    mon = al.widgets.TrainingMonitor()
    mon.train(
        al.TaskSpec(op="add", n_digits=3),
        "2L",
        al.TrainConfig(steps=100, eval_every=10, n_test=500),
        progress=False,
    )
    cached += mon.latencies_ms

    def p95(x: list[float]) -> float:
        return float(np.percentile(x, 95))

    every = uncached + cached
    print("construct_s: " + ", ".join(f"{k}={v:.2f}" for k, v in built.items()))
    print(f"interactions={len(every)} uncached={len(uncached)} cached={len(cached)}")
    print(f"uncached_ms_p50={np.median(uncached):.0f} uncached_ms_p95={p95(uncached):.0f}")
    print(f"cached_ms_p50={np.median(cached):.0f} cached_ms_p95={p95(cached):.0f}")
    print(f"max_ms={max(every):.0f} share_under_250ms={np.mean(np.array(every) < 250):.3f}")
    print(f"widget_latency_ms_p95={p95(every):.0f}")


if __name__ == "__main__":
    main()
