"""Edge-level circuit scoring: speed at GPT-2 scale, and how well EAP-IG ranks edges.

(a) EAP-IG-inputs (5 steps, MIB's default) over every edge of a GPT-2-small-shaped native model
    (12 layers, 12 heads, d_model 768, d_mlp 3072, random weights; 32,491 edges, position-summed
    as MIB scores GPT-2) with 32 pairs of 4-digit additions (16 tokens), timed on
    ``--threads`` CPU threads (default 2).
(b) ``exact`` position-aware scoring (one forward pass per edge and position where the sender's
    output moved) of the zoo's add3-2L on 32 pairs, timed.
(c) Spearman correlation between EAP-IG (inputs and activations, 5 steps) and ``exact``
    position-summed scores of add3-2L's edges on the same 32 pairs.

Last line: ``circuit_eapig_gpt2shape_s=<s> circuit_exact_small_s=<s>
eapig_vs_exact_spearman_small=<r> eapig_act_vs_exact_spearman_small=<r> n_edges_gpt2shape=<n>``.
Goal: (a) <= 120 s; (c) >= 0.8 for EAP-IG-inputs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr

import arithlens as al
from arithlens.models import ModelSpec, boot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    task = al.TaskSpec(op="add", n_digits=4)
    spec = ModelSpec(n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072, n_ctx=16, seed=0)
    big = boot(spec, task)
    pairs = al.tasks.corrupt_pairs(task, args.pairs, change="a.units", seed=0)
    start = time.perf_counter()
    scored = al.circuits.score_edges(big, pairs, "eap-ig-inputs", ig_steps=5)
    big_s = time.perf_counter() - start
    n_edges = scored.graph.n_edges
    print(f"(a) GPT-2 shape: {n_edges} edges, EAP-IG-inputs 5 steps, {big_s:.1f} s")
    del big, scored

    small = al.load("add3-2L")
    pairs = al.tasks.corrupt_pairs(small.task, args.pairs, change="a.units", seed=0)
    start = time.perf_counter()
    per_pos = al.circuits.score_edges(small, pairs, "exact", positions=True)
    exact_s = time.perf_counter() - start
    print(f"(b) add3-2L exact position-aware: {per_pos.scores.size} cells, {exact_s:.1f} s")

    mask = per_pos.graph.mask.numpy()
    exact = al.circuits.score_edges(small, pairs, "exact", progress=False).scores[mask]
    rho = {}
    for method in ("eap", "eap-ig-inputs", "eap-ig-activations"):
        c = al.circuits.score_edges(small, pairs, method, ig_steps=5, progress=False)
        rho[method] = float(spearmanr(exact, c.scores[mask]).statistic)
        l1 = float(np.abs(exact - c.scores[mask]).sum())
        print(f"(c) {method}: Spearman vs exact {rho[method]:.3f}, L1 {l1:.2f}")
    print(
        f"circuit_eapig_gpt2shape_s={big_s:.1f} circuit_exact_small_s={exact_s:.1f} "
        f"eapig_vs_exact_spearman_small={rho['eap-ig-inputs']:.3f} "
        f"eapig_act_vs_exact_spearman_small={rho['eap-ig-activations']:.3f} "
        f"n_edges_gpt2shape={n_edges}"
    )


if __name__ == "__main__":
    main()
