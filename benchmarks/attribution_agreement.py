"""How far attribution patching and integrated gradients agree with activation patching.

On add3-2L and add5-2L (128 ``a.units`` pairs, seed 0, logit difference, denoising), for three
grids (head output ``z`` by layer x position x head and by layer x head, ``resid_pre`` by layer
x position) and ``ig_steps`` 1 (attribution patching) and 8 (integrated gradients along the
clean-corrupt path): Pearson and Spearman over the cells nonzero in either grid, top-k overlap
(k = 1, 5, 10), whether the top cell is the same, and the scale of the estimate
(:func:`arithlens.patching.agreement`).

    python benchmarks/attribution_agreement.py          # measure and print
    python benchmarks/attribution_agreement.py --write  # also save the JSON and the docs/analyses.md rows

``--write`` saves ``assets/measurements/attribution_agreement.json`` and rewrites docs/analyses.md's
table between ``<!-- agreement:start -->`` and ``<!-- agreement:end -->`` from it (a test holds
docs/analyses.md to the JSON).

Last line: ``top_cell_same attribution=<i>/<n> integrated_gradients=<j>/<n> ...``.
Goal: integrated gradients recovers activation patching's top cell where attribution misses it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "assets" / "measurements" / "attribution_agreement.json"
GRIDS = [("z", ["layer", "pos", "head"]), ("z", ["layer", "head"]), ("resid_pre", ["layer", "pos"])]
STEPS = (1, 8)


def measure(models=("add3-2L", "add5-2L"), n: int = 128) -> dict:
    import arithlens as al
    from arithlens.patching import (
        activation_patch,
        agreement,
        attribution_patch,
        encode_pairs,
        make_metric,
    )
    from arithlens.tasks import corrupt_pairs

    rows = []
    for name in models:
        model = al.load(name)
        batch = encode_pairs(corrupt_pairs(model.task, n, change="a.units", seed=0))
        metric = make_metric("logit_diff", batch)
        for component, by in GRIDS:
            exact = activation_patch(
                model, batch, component, by=tuple(by), metric=metric, progress=False
            )
            for steps in STEPS:
                start = time.perf_counter()
                est = attribution_patch(
                    model, batch, component, by=tuple(by), metric=metric, ig_steps=steps
                )
                seconds = time.perf_counter() - start
                ag = agreement(est, exact).to_dict()
                rows.append(
                    dict(
                        model=name,
                        component=component,
                        by=by,
                        ig_steps=steps,
                        seconds=round(seconds, 2),
                        **ag,
                    )
                )
    return dict(pairs=n, change="a.units", metric="logit_diff", direction="denoise", rows=rows)


def table(data: dict) -> list[str]:
    """The docs/analyses.md rows built from the measured data."""
    out = [
        "| model | grid | method | live cells | Pearson | Spearman | top-1 / 5 / 10 overlap | "
        "scale |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        method = "attribution" if r["ig_steps"] == 1 else f"IG, {r['ig_steps']} steps"
        top = " / ".join(f"{r['top_k'][k]:.1f}" for k in ("1", "5", "10"))
        out.append(
            f"| {r['model']} | `{r['component']}` by {' x '.join(r['by'])} | {method} | "
            f"{r['nonzero']} of {r['cells']} | {r['pearson']:.3f} | {r['spearman']:.3f} | {top} "
            f"| {r['scale']:.2f} |"
        )
    return out


def write_readme(data: dict, readme: Path = ROOT / "docs" / "analyses.md") -> None:
    text = readme.read_text()
    head, rest = text.split("<!-- agreement:start -->\n", 1)
    _, tail = rest.split("<!-- agreement:end -->", 1)
    block = "\n".join(table(data)) + "\n"
    readme.write_text(head + "<!-- agreement:start -->\n" + block + "<!-- agreement:end -->" + tail)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="save the JSON and the docs rows")
    a = ap.parse_args()
    data = json.loads(json.dumps(measure()))  # int keys of top_k become strings, as in the file
    print("\n".join(table(data)))
    if a.write:
        from arithlens._atomic import write_text

        write_text(DATA, json.dumps(data, indent=1) + "\n")
        write_readme(data)
    same = {s: [r["top_cell_same"] for r in data["rows"] if r["ig_steps"] == s] for s in STEPS}
    print(
        f"top_cell_same attribution={sum(same[1])}/{len(same[1])} "
        f"integrated_gradients={sum(same[8])}/{len(same[8])} "
        f"median_scale_attribution="
        f"{sorted(r['scale'] for r in data['rows'] if r['ig_steps'] == 1)[len(same[1]) // 2]:.2f} "
        f"median_scale_ig="
        f"{sorted(r['scale'] for r in data['rows'] if r['ig_steps'] == 8)[len(same[8]) // 2]:.2f}"
    )


if __name__ == "__main__":
    main()
