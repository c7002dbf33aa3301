"""The figure gallery rows of docs/figures.md, built from the figures' JSON committed beside their PNGs.

    python scripts/figure_rows.py            # print the rows
    python scripts/figure_rows.py --write    # replace the gallery and full-mode rows in docs/figures.md

`tests/test_figures.py` checks that docs/figures.md holds exactly these rows, so no number in the
gallery can drift from the data under `assets/figures/`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from arithlens.figures import ORDER

ROOT = Path(__file__).resolve().parents[1]
WHAT = {
    "sample_efficiency": "Lee et al. 2023: exact match vs distinct training examples for plain / "
    "reversed / scratchpad 3-digit addition, operands unpadded as in the paper.",
    "digit_phases": "Nanda et al. 2023 (5-digit addition appendix): held-out loss per answer digit "
    "of a 1-layer model on uniform problems, as in the paper.",
    "carry_taxonomy": "Quirke & Barez 2024: exact match by cascade class (uniform and "
    "class-balanced problems) and accuracy by digit class, 1 vs 2 layers, real carry chains beside "
    "their false-cascade twins, and the 1-layer model's attention staircase.",
    "head_patching": "head x position patching on add3-2L (a.units changed) and the top heads' "
    "attention.",
    "carry_probes": "carry probes on add3-2L with majority / control-task / random-init controls "
    "and the causal flip.",
    "mul_digits": "Qiu et al. 2024: per-output-digit accuracy of mul2-3L over its training; the "
    "paper learns the end digits first and the middle ones last.",
    "key_heads": "Zhang et al. 2024: cumulative share of the path-patching effect (Wang et al.'s "
    "variant: other heads frozen, MLPs recomputed) by the top-k heads; the paper's \"under 5% of "
    "heads\" is about 7B LLMs (pass one with `--model`); the zoo's Hugging Face stand-in "
    "add2-gpt2 (16 heads) is ranked beside the arithmetic models, and precise fine-tuning of its "
    "key heads on a template it never saw is set against full fine-tuning.",
    "circuits": "Mueller et al. 2025 (MIB) / Hanna et al. 2024: every edge of add3-2L, add5-2L, "
    "add5-plain-2L and the stand-in add2-gpt2 scored by exact patching, EAP, EAP-IG-inputs and "
    "EAP-IG-activations (5 steps) on a.units pairs; MIB's faithfulness curve on held-out pairs, "
    "CMD / CPR beside the random ranking's; edges that keep 90% of the logit difference; the top "
    "position-aware edges.",
    "mechanism_maps": "Quirke & Barez 2024: the useful position-resolved nodes of the zoo's "
    "adders (full mode: also add5-plain-2L and mul2-3L) as quanta maps, the complement-ablation "
    "test of each map, and the sub-tasks found by strong interventions (base add, make carry) "
    "checked against Quirke & Barez's account as clauses.",
    "number_representations": "Zhou et al. 2024 / Kantamneni & Tegmark 2025 / Nikankin et al. "
    "2024 on the stand-in add2-gpt2 (numbers 0-99 single tokens): Fourier spectra of a's "
    "activation beside a shuffled null, the best helix and the logit difference its fit restores "
    "beside the full activation, PCA, circle, polynomial and shuffled fits, the fitted subspace "
    "ablated beside random ones, Fourier filters in the number-token basis beside random bands, "
    "and the MLP's heuristic neurons (full mode: every layer, and add3-2L's digits).",
    "length_generalization": "Shen et al. 2023 / McLeish et al. 2024 / Ruoss et al. 2023: exact "
    "match by operand length of the four add1to8 zoo models (Abacus / position-coupling ids, "
    "randomized positions, NoPE, learned absolute positions), all trained on operands of 1-8 "
    "digits with one budget, and the attention each pays to the operand digits of the place it "
    "writes at 12 digits; task hinting (Awasthi & Gupta 2023): two sorters of 1-10 values of 36 "
    "(NoPE, one budget), without and with the successor hint, by sequence length, and the "
    "successor probe per layer on repeat positions.",
    "nupa_table": "Yang et al. 2024 (Number Cookbook): exact match of the zoo's numeracy models "
    "by task / representation and length of the longest number; where the float comparer "
    "decides (the winner probe before '=' and before the decision character, patching of "
    "minimal pairs decided at the tenths by position) and whether changing the deciding digit, "
    "and not a later one, changes its choice; the counter's running-count probe.",
}


def _r(d: dict, digits: int = 3) -> str:
    return ", ".join(f"{k} {v:.{digits}f}" for k, v in d.items())


def _pm(v: dict, digits: int = 2) -> str:
    """A seeds' spread as ``mean +- sd`` (just the mean for one seed)."""
    if len(v["values"]) == 1:
        return f"{v['mean']:.{digits}f}"
    return f"{v['mean']:.{digits}f} +- {v['std']:.{digits}f}"


def _seeds(n: dict) -> str:
    k = len(n.get("seeds", [0]))
    return f"{k} seeds, mean +- sd" if k > 1 else "1 seed"


def _per_seed(values: list) -> str:
    return "/".join(str(v) for v in values)


def _sample_efficiency(n: dict) -> str:
    ex = n["exact_seeds"]
    parts = [f"{fmt} " + ", ".join(f"{_pm(v)} at {k}" for k, v in ex[fmt].items()) for fmt in ex]
    text = (
        f"{n['steps']} steps x {n['batch_size']} ({_seeds(n)}); exact match by examples: "
        + "; ".join(parts)
    )
    if n["long"]:
        text += f"; {n['long_steps']} steps: " + ", ".join(
            f"{k.replace('@', ' at ')} {_pm(v, 3)}" for k, v in n["long"].items()
        )
    if n.get("plain_errors_with_pair_sum_9") is not None:
        text += (
            f"; {n['plain_errors_with_pair_sum_9']:.0%} of plain errors have a digit pair summing "
            f"to 9 ({n['problems_with_pair_sum_9']:.0%} of problems)"
        )
    return text


def _digit_phases(n: dict) -> str:
    steps = ", ".join(f"{k} {_per_seed(v)}" for k, v in n["phase_change_step"].items())
    drops = ", ".join(f"{k} {_pm(v, 0)}" for k, v in n["steepest_drop_step"].items())
    return (
        f"{n['steps']} steps x {n['batch_size']} ({_seeds(n)}); first step below "
        f"{n['phase_loss']} nats (per seed): {steps}; steepest log-loss drop: {drops}"
    )


def _carry_taxonomy(n: dict) -> str:
    one, two = "add5-plain-1L", "add5-plain-2L"
    twins = {m: " / ".join(f"{v:.3f}" for v in n["twins"][m].values()) for m in (one, two)}
    stair = ", ".join(f"{h} {v}" for h, v in n["staircase_offset"].items())
    return (
        f"{one} on uniform problems: {_r(n['cascade_uniform'][one])}; digit classes "
        f"{_r(n['digit_class_uniform'][one])}; false-cascade twins of length 1-5: {twins[one]} "
        f"({two}: {twins[two]}); staircase (attended column minus predicted place): {stair}"
        + "".join(
            f"; {m} retrained ({_seeds(n)}): twins "
            + " / ".join(_pm(v, 3) for v in over["twins"].values())
            for m, over in n.get("retrained", {}).items()
        )
    )


def _head_patching(n: dict) -> str:
    tops = ", ".join(
        f"L{h['layer']}H{h['head']} at {h['pos']} restores {h['restored']:.2f}"
        for h in n["top_heads"]
    )
    reads = ", ".join(f"{k} reads {v}" for k, v in n["top_head_reads"].items())
    return f"{tops}; {reads}"


def _carry_probes(n: dict) -> str:
    sel = ", ".join(
        f"{t} {'n/a' if v is None else f'{v:.2f}'}" for t, v in n["selectivity_at_best"].items()
    )
    flips = ", ".join(
        f"{t} {v:.2f}" + (" (is the answer digit)" if t in n.get("carry_is_answer", []) else "")
        for t, v in n["best_flip_rate"].items()
    )
    return (
        f"best probe accuracy {_r(n['best_score'], 2)} (teacher-forced answer tokens excluded); "
        f"control coverage {_r(n['control_coverage'], 2)}; selectivity at best {sel} (n/a: "
        f"coverage below 0.9); best flip rate, embeddings excluded, {flips} (random direction "
        f"{_r(n['random_flip_at_best'], 2)})"
    )


def _mul_digits(n: dict) -> str:
    steps = ", ".join(f"{k} {_per_seed(v)}" for k, v in n["learned_at_0_9"].items())
    return (
        f"step each digit first stays >= 90% (per seed): {steps}; final {_r(n['final_accuracy'])}"
        + (f" (mean of {len(n['seeds'])} seeds)" if len(n.get("seeds", [0])) > 1 else "")
    )


def _key_heads(n: dict) -> str:
    heads = ", ".join(f"{m} {k} of {n['n_heads'][m]}" for m, k in n["heads_for_80pct"].items())
    text = f"heads for 80% of the effect: {heads}; top head's share {_r(n['top1_share'], 2)}"
    if "top3" in n:
        top = "; ".join(f"{m} {' '.join(v)}" for m, v in n["top3"].items())
        direct = "; ".join(f"{m} {' '.join(v)}" for m, v in n["top3_direct_paths"].items())
        text += f"; top three heads {top} (MLPs frozen, direct paths only: {direct})"
        faith = "; ".join(
            f"{m} {v['recompute']:.3f} ({v['freeze']:.3f})"
            for m, v in n["faithfulness_top5"].items()
        )
        text += f"; normalized faithfulness of the top five heads {faith}"
    if "faithfulness_80pct" in n:
        text += f"; of the heads for 80% {_r(n['faithfulness_80pct'], 2)}"
    if "precise_sft" in n:
        p = n["precise_sft"]
        text += (
            f"; precise fine-tuning of add2-gpt2's key heads {' '.join(p['heads'])} on the unseen "
            f"template `{p['template']}`: {p['before']:.2f} -> {p['precise']['after']:.2f} (full "
            f"{p['full']['after']:.2f}), trained templates lose {p['precise']['trained_templates_lost']:.2f} "
            f"(full {p['full']['trained_templates_lost']:.2f}), control KL "
            f"{p['precise']['control_kl']:.2f} (full {p['full']['control_kl']:.2f})"
        )
    return text


def _circuits(n: dict) -> str:
    areas = "; ".join(
        f"{m} "
        + ", ".join(f"{k} {n['cmd'][m][k]:.2f} / {v:.2f}" for k, v in n["cpr"][m].items())
        + f", random {n['random_cmd'][m]:.2f} / {n['random_cpr'][m]:.2f}"
        for m in n["cpr"]
    )
    rho = "; ".join(
        f"{m} " + ", ".join(f"{k} {v:.2f}" for k, v in d.items() if k != "exact")
        for m, d in n["spearman_vs_exact"].items()
    )
    ninety = ", ".join(f"{m} {k} of {n['n_edges'][m]}" for m, k in n["edges_for_90pct"].items())
    pa = n["position_aware"]
    return (
        f"CMD / CPR ({n['n_pairs']} pairs): {areas}. Spearman with exact: {rho}. Edges for 90% "
        f"(exact ranking): {ninety}. Top position-aware edges of {pa['model']}: "
        f"{'; '.join(pa['top_edge_positions'][:4])}; {pa['top_differ']} of the top {pa['k']} "
        f"differ from the position-summed ranking"
    )


def _mechanism_maps(n: dict) -> str:
    parts = []
    for m in n["maps"]:
        text = (
            f"{m} {n['n_nodes'][m]} useful nodes, complement {n['complement_exact'][m]:.4f} "
            f"(model {n['base_exact'][m]:.4f})"
        )
        if m in n["clauses"]:
            c = n["clauses"][m]
            mc = ", ".join(" ".join(v) or "-" for k, v in n["subtasks"][m].items() if k[:2] == "MC")
            text += f", clauses {c['held']}/{c['total']}, make carry {mc}"
        parts.append(text)
    return f"{n['n_problems']} problems, {n['n_pairs']} pairs per sub-task: " + "; ".join(parts)


def _number_representations(n: dict) -> str:
    c, f = n["causal"], n["filter"]
    top = "; ".join(
        f"{site} " + ", ".join(f"{p:g}" for p, _ in n["spectra"][site]["top"][:3])
        for site in ("embed", "resid_post L0")
    )
    ld = ", ".join(
        f"{k} {c[k][0]:.2f}"
        for k in ("full", "helix", "pca", "circle", "poly", "helix-shuffled", "mean")
    )
    filt = ", ".join(
        f"{m} {b} {f[f'{m} all {b}']:.3f}" for m in ("attn", "mlp") for b in ("low", "random")
    )
    last = max(n["neurons"], key=int)
    eff = n["neurons"][last]["effect"]
    return (
        f"{n['model']}: top periods {top}; layer 0 helix {tuple(c['periods'][0])} (held-out R^2 "
        f"{c['cv_r2'][0]:.3f}), LD restored over {c['n_pairs']} pairs: {ld}; subspace ablation "
        f"drop {c['fit_drop'][0]:.2f} vs random {c['random_drop'][0]:.3f}; filters (accuracy "
        f"{f['none']:.3f} unfiltered): {filt}; MLP L{last} keeping result-range neurons "
        f"{eff.get('result range', float('nan')):.3f} vs random "
        f"{eff.get('random result range', float('nan')):.3f}"
    )


def _length_generalization(n: dict) -> str:
    ex = "; ".join(
        f"{v} " + ", ".join(f"{w} {n['exact'][v][w]:.3f}" for w in ("8", "9", "12", "16", "24"))
        for v in n["exact"]
    )
    sort = "; ".join(
        f"{v} " + ", ".join(f"{k} {n['sort_exact'][v][k]:.3f}" for k in ("10", "15", "20", "30"))
        for v in n["sort_exact"]
    )
    probe = "; ".join(
        f"{v} "
        + " / ".join(
            f"{list(n['successor_probe_repeat'][v][k].values())[-1]:.3f}" for k in ("10", "20")
        )
        for v in n["successor_probe_repeat"]
    )
    return (
        f"exact match by digits ({n['n_per_width']} problems per length, {_seeds(n)}): {ex}. "
        f"Sorting, exact match by length: {sort}; successor probe at the last layer on repeat "
        f"positions, 10 / 20 elements: {probe}"
    )


def _nupa_table(n: dict) -> str:
    ex = "; ".join(
        f"{m} " + ", ".join(f"{d} {v:.3f}" for d, v in e["exact"].items() if v is not None)
        for m, e in n["exact"].items()
    )
    places = "; ".join(
        f"{m} " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(acc.items(), key=lambda x: int(x[0])))
        for m, acc in n["by_place"].items()
    )
    rc = n["running_count"]
    running = " / ".join(
        f"{rc['trained'][k]:.2f} ({rc['untrained'][k]:.2f})" for k in rc["trained"] if k in "037"
    )
    probe = "; ".join(
        f"{m} {list(p['='].values())[-1][0]:.3f} / {list(p['decision'].values())[-1][0]:.3f} "
        f"(majority {p['majority']:.3f})"
        for m, p in n["probe"].items()
    )
    th = n["patching"]["top_head"]
    return (
        f"exact match by length ({n['n']['eval']} problems per model): {ex}. Comparison by "
        f"deciding place (0 = units): {places}. Winner probe after the last block at '=' / at "
        f"the decision character: {probe}; the choice changes on {n['flips']['deciding']:.3f} "
        f"of deciding pairs and {n['flips']['later']:.3f} of later-digit pairs; on pairs decided "
        f"at the tenths the last block's input holds the decision at "
        f"{n['patching']['pos_labels'][n['patching']['decision_pos']]} (restores "
        f"{n['patching']['values'][-1][n['patching']['decision_pos']]:.2f}), head "
        f"L{th['layer']}H{th['head']} there restores {th['restores']:.2f} alone. Running-count "
        f"probe after the last block at the 1st / 4th / 8th character: {running} (untrained twin)"
    )


FRAGMENTS = {
    "sample_efficiency": _sample_efficiency,
    "digit_phases": _digit_phases,
    "carry_taxonomy": _carry_taxonomy,
    "head_patching": _head_patching,
    "carry_probes": _carry_probes,
    "mul_digits": _mul_digits,
    "key_heads": _key_heads,
    "circuits": _circuits,
    "mechanism_maps": _mechanism_maps,
    "number_representations": _number_representations,
    "length_generalization": _length_generalization,
    "nupa_table": _nupa_table,
}


PAPER = {
    "sample_efficiency": "reversed 98.2% at 4k, plain 87.4% at 10k, scratchpad 99.8% at 1k; plain "
    "errors at sum-9 pairs",
    "digit_phases": "each digit its own phase change",
    "carry_taxonomy": "1-layer fails cascading use-sum-9; 2-layer 99.999%+",
    "head_patching": "-",
    "carry_probes": "-",
    "mul_digits": "ends first, middle digits last",
    "key_heads": "< 5% of heads in 7B LLMs; ~6 heads for +, faithfulness ~0.96 on Llama3-8B "
    "(Nikankin et al.); precise fine-tuning keeps general ability, full harms it",
    "circuits": "MIB arithmetic on Llama-3.1-8B, CMD / CPR: EAP-IG-inputs 0.00 / 0.99, "
    "EAP-IG-activations 0.00 / 0.98, EAP 0.01 / 0.55, exact 0.36 / 0.85, random 0.75 / 0.25",
    "mechanism_maps": "base add, make carry and make sum-9 in separate heads at each answer "
    "position; cascades resolved by the MLPs",
    "number_representations": "GPT-J: peaks at T = 2, 5, 10; LD full 8.34, helix 7.21, circle "
    "6.83, PCA 6.13, poly 3.09; low-frequency MLP removal 99.74% -> 35.89% (no random control)",
    "length_generalization": "Abacus: trained on 20 digits, 99% at 100; standard positions "
    "fail 2 digits past training; sorting trained on <= 20: < 1% at 100 without the hint, "
    "> 92% with it",
    "nupa_table": "LLMs fail 9.11 vs 9.9, digit retrieval and counting; no per-model numbers "
    "for small trained models",
}


def full_rows(root: Path = ROOT) -> dict[str, str]:
    """One row of the full-mode table per figure with ``assets/figures/full/<name>.json``."""
    out = {}
    for name in ORDER:
        path = f"assets/figures/full/{name}.json"
        if not (root / path).is_file():
            continue
        data = json.loads((root / path).read_text())
        out[name] = (
            f"| `{name}` | {data['seconds']:.0f} s | (`{path}`): "
            f"{FRAGMENTS[name](data['numbers'])} | {PAPER[name]} |"
        )
    return out


def rows(root: Path = ROOT) -> dict[str, str]:
    """One gallery row per figure, from ``assets/figures/<name>.json`` (quick mode)."""
    out = {}
    for name in ORDER:
        path = f"assets/figures/{name}.json"
        numbers = json.loads((root / path).read_text())["numbers"]
        out[name] = (
            f"| ![](../assets/figures/{name}.png) `{name}` | {WHAT[name]} Quick mode "
            f"(`{path}`): {FRAGMENTS[name](numbers)} |"
        )
    return out


def write(root: Path = ROOT) -> None:
    readme = root / "docs" / "figures.md"
    lines = readme.read_text().splitlines()
    gallery, full = rows(root), full_rows(root)
    for i, line in enumerate(lines):
        for name, row in gallery.items():
            if line.startswith(f"| ![](../assets/figures/{name}.png) `{name}` |"):
                lines[i] = row
        for name, row in full.items():
            if re.match(rf"\| `{name}` \| \d+ s", line):
                lines[i] = row
    readme.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        print("\n".join(rows().values()))
