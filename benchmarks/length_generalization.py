"""Benchmark: length generalization of addition on 2 CPU threads.

Trains the best variant (zoo recipe ``add1to8-abacus-2L``: Abacus / position-coupling ids,
additions with operands of 1-8 digits) and the baseline (``add1to8-2L``: learned absolute
positions, the same task, budget and seed), then evaluates 2000 problems per length with both
operands of exactly that many digits. Goal: >= 0.90 exact match at 12 digits (1.5x the trained
length), training within 15 minutes.

    python benchmarks/length_generalization.py            # models saved to a temporary folder
    python benchmarks/length_generalization.py --zoo      # ... into the zoo (the committed ones)

Last line: ``lengen_train_s=<s> lengen_exact_12=<acc> lengen_exact_16=<acc>
lengen_exact_24=<acc> baseline_exact_12=<acc>``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from arithlens.analyses.evaluation import length_generalization
from arithlens.faces.zoo_rebuild import build
from arithlens.figures.length_generalization import ABACUS, BASELINE
from arithlens.models import zoo

N = 2000


def main() -> None:
    torch.set_num_threads(2)
    out = zoo.zoo_dir() if "--zoo" in sys.argv else Path(tempfile.mkdtemp())
    best = build(ABACUS, out=out, progress=False)  # trains, scores its held-out set, saves
    train_s = best.record.wall_s
    exact = length_generalization(best, [8, 12, 16, 24], n=N).set_index("n_digits").exact_match
    print(f"{ABACUS}: exact by width {exact.round(4).to_dict()}", flush=True)
    base = build(BASELINE, out=out, progress=False)
    base_exact = length_generalization(base, [8, 12], n=N).set_index("n_digits").exact_match
    print(f"{BASELINE}: exact by width {base_exact.round(4).to_dict()}")
    print(
        f"lengen_train_s={train_s:.1f} lengen_exact_12={exact[12]:.4f} "
        f"lengen_exact_16={exact[16]:.4f} lengen_exact_24={exact[24]:.4f} "
        f"baseline_exact_12={base_exact[12]:.4f}"
    )


if __name__ == "__main__":
    main()
