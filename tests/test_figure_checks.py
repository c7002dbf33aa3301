"""Every figure check can fail: each is fed numbers where its claim holds and a counter-example
where it does not (plain beating reversed, all digits learned at once, a model whose heads share
the effect evenly, ...), and must say so."""

from __future__ import annotations

import copy
import importlib

import pytest

from arithlens.figures import ORDER

FIGURES = {name: importlib.import_module(f"arithlens.figures.{name}") for name in ORDER}

CT = {c: 0.99 for c in ("S0", "S1", "S2", "S3", "S4", "S5")}
TAXONOMY = dict(
    cascade_balanced={
        "add5-plain-1L": {**CT, "S0": 0.9, "S3": 0.8},
        "add5-plain-2L": CT,
        "add3-1L": {c: 1.0 for c in ("S0", "S1", "S2", "S3")},
        "add3-2L": {c: 1.0 for c in ("S0", "S1", "S2", "S3")},
    },
    digit_class_uniform={
        "add5-plain-1L": {"BA": 0.98, "MC": 0.97, "MS": 0.98, "UC": 1, "US": 0.87},
        "add5-plain-2L": {"BA": 1, "MC": 1, "MS": 1, "UC": 1, "US": 1},
    },
    digit_class_balanced={
        "add5-plain-1L": {"BA": 0.98, "MC": 0.98, "MS": 0.97, "UC": 1, "US": 0.96},
        "add5-plain-2L": {"BA": 1, "MC": 1, "MS": 1, "UC": 1, "US": 1},
    },
    twins={"add5-plain-1L": {"5": 0.0}, "add5-plain-2L": {"5": 0.83}},
    staircase_place=[4, 3, 2, 1, 0],
    staircase_offset={"H0": [-1, -1, -1, -1, 0], "H1": [0, 0, 0, 0, 0], "H2": [0, 0, 0, 0, 0]},
)


NUMBERS = dict(  # add2-gpt2's quick-mode numbers, trimmed
    spectra={
        "embed": {"top": [[100.0, 0.15], [50.0, 0.14]], "ratio": {"2": 0.1, "5": 0.2, "10": 1.3}},
        "resid_post L0": {
            "top": [[50.0, 0.21], [100.0, 0.17]],
            "ratio": {"2": 0.09, "5": 0.21, "10": 0.8},
        },
    },
    causal={
        "full": [12.8, 12.6],
        "helix": [5.4, 5.4],
        "helix-shuffled": [1.9, 1.8],
        "fit_drop": [1.7, 1.6],
        "random_drop": [-0.006, 0.0],
    },
    filter={"mlp all low": 0.0, "mlp all random": 0.1},
)


def _seeded(zoo_numbers: dict, *others: dict) -> dict:
    """``retrained`` spreads for the plain pair: the zoo model's numbers and other seeds'."""
    from arithlens.figures.base import spread

    runs = [zoo_numbers, *others]
    return {
        name: {
            key: {item: spread([r[key][name][item] for r in runs]) for item in runs[0][key][name]}
            for key in ("cascade_balanced", "digit_class_uniform", "digit_class_balanced", "twins")
        }
        for name in ("add5-plain-1L", "add5-plain-2L")
    }


def _set(numbers: dict, path: str, value) -> dict:
    out = copy.deepcopy(numbers)
    *keys, last = path.split("/")
    d = out
    for k in keys:
        d = d[k]
    d[last] = value
    return out


# (module, index of its check, numbers where it holds, [(path, value) that break it, ...])
def _sp(*values: float) -> dict:
    """A seeds' spread as the figures write it."""
    from arithlens.figures.base import spread

    return spread(list(values))


LONG = dict(
    exact={"scratchpad": {}},
    long_sizes={"reversed": 4000, "plain": 10000},
    long={"reversed@4000": _sp(0.97, 0.99, 0.98), "plain@10000": _sp(0.85, 0.9, 0.88)},
)

CASES = [
    (
        "sample_efficiency",
        0,
        dict(
            sizes={"plain": [1000, 4000]},
            exact_seeds={"reversed": {"4000": _sp(0.95, 0.97)}, "plain": {"4000": _sp(0.7, 0.8)}},
        ),
        [
            ("exact_seeds/plain/4000", _sp(0.6, 0.97)),  # one plain seed beats a reversed one
            ("exact_seeds/reversed/4000", _sp(0.5, 0.99)),
        ],
    ),
    (
        "sample_efficiency",
        1,
        dict(
            sizes={"plain": [1000, 4000]},
            exact_seeds={
                "reversed": {"1000": _sp(0.4, 0.42), "4000": _sp(0.9, 0.96)},
                "plain": {"1000": _sp(0.3, 0.43), "4000": _sp(0.7, 0.8)},
            },
        ),
        # plain beats reversed at one size by more than a seed sd
        [("exact_seeds/plain/1000", _sp(0.6, 0.62))],
    ),
    (
        "sample_efficiency",
        2,
        dict(
            sizes={"scratchpad": [500, 1000]},
            exact={"scratchpad": {"1000": 0.9}, "reversed": {"1000": 0.4}},
        ),
        [("exact/scratchpad/1000", 0.3)],
    ),
    (
        "sample_efficiency",
        3,
        dict(exact={"scratchpad": {}}, largest_jump_reversed=0.5),
        [("largest_jump_reversed", 0.1)],  # no sharp transition
    ),
    (
        "sample_efficiency",
        4,
        LONG,
        [("long/reversed@4000", _sp(0.99, 0.99, 0.93))],  # one seed short of 0.95
    ),
    (
        "sample_efficiency",
        5,
        LONG,
        [("long/plain@10000", _sp(0.85, 0.975, 0.88))],  # a plain seed above reversed's worst
    ),
    (
        "carry_probes",
        0,
        dict(best_score={"carry.tens": 0.99}, majority={"carry.tens": 0.55}),
        [("best_score/carry.tens", 0.6)],
    ),
    (
        "carry_probes",
        1,
        dict(
            best_flip_rate={"carry.tens": 0.25, "carry.thousands": 1.0},
            random_flip_at_best={"carry.tens": 0.0, "carry.thousands": 0.0},
            flip_examples={"carry.tens": 512, "carry.thousands": 512},
            carry_is_answer=["carry.thousands"],
        ),
        [
            ("random_flip_at_best/carry.tens", 0.2),  # not 0.1 above random
            ("flip_examples/carry.tens", 8),  # 0.25 of 8 examples: within 3 standard errors
        ],
    ),
    (
        "head_patching",
        0,
        dict(top_heads=[{"pos": "7:=", "restored": 0.3}]),
        [("top_heads", [{"pos": "7:=", "restored": 0.05}])],
    ),
    (
        "head_patching",
        1,
        dict(top_heads=[{"pos": "7:="}, {"pos": "8:c0"}], equals_pos=7),
        [("top_heads", [{"pos": "7:="}, {"pos": "2:a0"}])],  # a cell before '='
    ),
    (
        "head_patching",
        2,
        dict(top_head_reads={"L0H2@7:=": "2:3", "L0H3@7:=": "6:6"}, a_units_label="2:3"),
        [("top_head_reads", {"L0H2@7:=": "5:4", "L0H3@7:=": "6:6"})],
    ),
    (
        "key_heads",
        0,
        dict(
            top1_share={"add3-1L": 0.44, "add3-2L": 0.25, "add5-2L": 0.38},
            n_heads={"add3-1L": 3, "add3-2L": 8, "add5-2L": 8},
        ),
        [("top1_share/add3-2L", 0.125)],  # every head an equal share
    ),
    (
        "key_heads",
        1,
        dict(
            heads_for_80pct={"add3-1L": 3, "add3-2L": 5, "add5-2L": 5},
            n_heads={"add3-1L": 3, "add3-2L": 8, "add5-2L": 8},
        ),
        [("heads_for_80pct/add5-2L", 8)],
    ),
    (
        "key_heads",
        2,
        dict(
            fraction_for_80pct={"add2-gpt2": 0.375},
            faithfulness_80pct={"add2-gpt2": 0.9},
        ),
        [  # the effect spread over most heads; few heads that do not keep it
            ("fraction_for_80pct/add2-gpt2", 0.75),
            ("faithfulness_80pct/add2-gpt2", 0.4),
        ],
    ),
    (
        "key_heads",
        3,
        dict(
            precise_sft=dict(
                before=0.13,
                precise=dict(after=0.92, trained_templates_lost=0.12, control_kl=0.7),
                full=dict(after=0.83, trained_templates_lost=0.18, control_kl=2.3),
            )
        ),
        [  # the template not learned; the rest harmed more than by full tuning; drift larger
            ("precise_sft/precise/after", 0.4),
            ("precise_sft/precise/trained_templates_lost", 0.3),
            ("precise_sft/precise/control_kl", 3.0),
        ],
    ),
    (
        "circuits",
        0,
        dict(
            cpr={"add3-2L": {"eap-ig-inputs": 0.85}, "add2-gpt2": {"eap-ig-inputs": 0.96}},
            random_cpr={"add3-2L": 0.35, "add2-gpt2": 0.25},
        ),
        [("cpr/add2-gpt2/eap-ig-inputs", 0.4)],  # barely above chance on one model
    ),
    (
        "circuits",
        1,
        dict(
            spearman_vs_exact={
                "add3-2L": {"eap-ig-inputs": 0.85},
                "add5-2L": {"eap-ig-inputs": 0.7},
            }
        ),
        [("spearman_vs_exact/add5-2L/eap-ig-inputs", 0.2)],  # mean 0.525
    ),
    (
        "circuits",
        2,
        dict(
            cpr={
                "add3-2L": {"eap": 0.75, "eap-ig-inputs": 0.85},
                "add2-gpt2": {"eap": 0.98, "eap-ig-inputs": 0.96},
            }
        ),
        [("cpr/add3-2L/eap", 0.95)],  # EAP ahead on average
    ),
    (
        "circuits",
        3,
        dict(fraction_for_90pct={"add3-2L": 0.5, "add2-gpt2": 0.1}),
        [
            ("fraction_for_90pct/add3-2L", 1.0),  # needs every edge
            ("fraction_for_90pct/add3-2L", None),  # never reaches 90%
            ("fraction_for_90pct/add2-gpt2", 0.2),  # the stand-in needs more
        ],
    ),
    (
        "circuits",
        4,
        dict(position_aware={"top_roles": ["=", "a0", "c0", "="]}),
        [("position_aware/top_roles", ["=", "b1", "c0", "="])],  # an edge at an operand between
    ),
    (
        "mechanism_maps",
        0,
        dict(
            subtasks={
                "add5-2L": {
                    "MC.c0": ["P12L0H0"],
                    "MC.c1": ["P13L0H0"],
                    "MC.c2": ["P14L0H0"],
                    "MC.c3": ["P15L0H0"],
                }
            },
            mc_reads_column={"add5-2L": [True, True, True, True, False]},
        ),
        [
            ("subtasks/add5-2L/MC.c2", ["P14L0M"]),  # an MLP, not a head
            ("subtasks/add5-2L/MC.c1", ["P13L0H0+P13L0H1"]),  # only a pair of heads
            ("subtasks/add5-2L/MC.c3", ["P15L1H0"]),  # a layer-1 head
            ("mc_reads_column/add5-2L", [True, False, True, True, False]),  # reads elsewhere
        ],
    ),
    (
        "mechanism_maps",
        1,
        dict(n_problems=2000, complement_exact={"add3-2L": 0.9995, "add5-2L": 0.989}),
        [("complement_exact/add5-2L", 0.9)],  # the map misses nodes the model needs
    ),
    (
        "mechanism_maps",
        1,
        dict(n_problems=300, complement_exact={"add3-2L": 0.88, "add5-2L": 0.89}),
        [
            ("complement_exact/add3-2L", 0.8),  # below even the quick run's bar
            ("complement_exact", {"mul2-3L": 0.99}),  # no adder mapped at all
        ],
    ),
    (
        "mechanism_maps",
        2,
        dict(
            subtasks={
                "add3-2L": {"BA.c1": ["P8L0M"], "MC.c0": []},
                "add5-2L": {"BA.c1": ["P12L0M"], "MC.c0": ["P12L0H0"]},
            }
        ),
        [
            ("subtasks/add5-2L/BA.c1", ["P12L0H0"]),  # one node does both
            ("subtasks", {}),  # nothing searched
        ],
    ),
    (
        "mul_digits",
        0,
        dict(
            learned_at_0_9={
                "units": [100, 150],
                "tens": [900, 800],
                "hundreds": [700, 600],
                "thousands": [200, 300],
            }
        ),
        [
            (  # all at once
                "learned_at_0_9",
                {
                    "units": [100, 100],
                    "tens": [100, 800],
                    "hundreds": [100, 600],
                    "thousands": [1, 1],
                },
            ),
            ("learned_at_0_9/thousands", [200, None]),  # one seed never learns an end digit
            ("learned_at_0_9/tens", [900, 250]),  # one seed learns a middle digit early
        ],
    ),
    (
        "mul_digits",
        1,
        dict(
            final_accuracy={"units": 1.0, "tens": 0.95},
            final_accuracy_min={"units": 1.0, "tens": 0.93},
            start_accuracy={"units": 0.1, "tens": 0.0},
        ),
        [("final_accuracy_min/tens", 0.8), ("start_accuracy/tens", 0.97)],
    ),
    (
        "digit_phases",
        0,
        dict(phase_change_step={"units": [250, 200], "tens": [None, 90], "hundreds": [40, 30]}),
        [
            ("phase_change_step", {"units": [40, 10], "tens": [40, 20], "hundreds": [40, 30]}),
            # the second seed: all at once
            ("phase_change_step", {"units": [250, 30], "tens": [None, 30], "hundreds": [40, 30]}),
        ],
    ),
    (
        "digit_phases",
        1,
        dict(
            full=True,
            phase_change_step={"units": [250, 300], "tens": [600, None], "hundreds": [40, 50]},
        ),
        [("phase_change_step/hundreds", [40, 260])],  # the second seed: one drop
    ),
    (
        "digit_phases",
        2,
        dict(
            full=True,
            phase_change_step={"units": [250, 300], "tens": [600, 500], "hundreds": [40, 50]},
        ),
        [("phase_change_step/tens", [600, None])],  # one digit of one seed never does
    ),
    (
        "digit_phases",
        3,
        dict(steepest_drop_step={"units": _sp(100, 120), "tens": _sp(400, 380)}),
        [
            ("steepest_drop_step/tens", _sp(110, 110)),  # the same step
            ("steepest_drop_step/tens", _sp(100, 700)),  # apart less than the seeds' spread
        ],
    ),
    ("carry_taxonomy", 0, TAXONOMY, [("cascade_balanced/add5-plain-2L/S3", 0.7)]),
    (
        "carry_taxonomy",
        1,
        TAXONOMY,
        [
            ("digit_class_uniform/add5-plain-1L/MC", 0.5),
            ("digit_class_balanced/add5-plain-1L/US", 0.999),
        ],
    ),
    ("carry_taxonomy", 2, TAXONOMY, [("cascade_balanced/add5-plain-1L/S0", 0.5)]),
    (  # over seeds: the zoo models agree with the claims, the seeds' numbers do not
        "carry_taxonomy",
        0,
        {**TAXONOMY, "retrained": _seeded(TAXONOMY, TAXONOMY)},
        [
            (
                "retrained",
                _seeded(TAXONOMY, _set(TAXONOMY, "cascade_balanced/add5-plain-2L/S3", 0.5)),
            )
        ],
    ),
    (
        "carry_taxonomy",
        1,
        {**TAXONOMY, "retrained": _seeded(TAXONOMY, TAXONOMY)},
        [
            (
                "retrained",
                _seeded(TAXONOMY, _set(TAXONOMY, "digit_class_uniform/add5-plain-1L/BA", 0.6)),
            )
        ],
    ),
    (
        "carry_taxonomy",
        2,
        {**TAXONOMY, "retrained": _seeded(TAXONOMY, TAXONOMY)},
        [
            (
                "retrained",
                _seeded(TAXONOMY, _set(TAXONOMY, "cascade_balanced/add5-plain-1L/S1", 0.2)),
            )
        ],
    ),
    (
        "carry_taxonomy",
        3,
        {**TAXONOMY, "retrained": _seeded(TAXONOMY, TAXONOMY)},
        [
            ("retrained", _seeded(TAXONOMY, _set(TAXONOMY, "twins/add5-plain-1L/5", 0.6))),
            ("retrained", _seeded(TAXONOMY, _set(TAXONOMY, "twins/add5-plain-2L/5", 0.2))),
        ],
    ),
    (
        "carry_taxonomy",
        3,
        TAXONOMY,
        [("twins/add5-plain-1L/5", 0.9), ("twins/add5-plain-2L/5", 0.1)],
    ),
    (
        "carry_taxonomy",
        4,
        TAXONOMY,
        [
            ("staircase_offset/H0", [-1, 0, -1, -1, 0]),  # no fixed offset: not a staircase
            ("staircase_offset/H0", [0, 0, 0, 0, 0]),  # every head on the same column
        ],
    ),
]


_W = {"4": 1.0, "8": 0.995, "9": 0.99, "12": 0.95, "16": 0.6}
LENGTHS = dict(
    exact_min={"abacus": _W, "learned absolute": {"4": 1.0, "8": 0.93, "9": 0.2, "12": 0.0}},
    exact_max={"abacus": _W, "learned absolute": {"4": 1.0, "8": 0.95, "9": 0.3, "12": 0.0}},
    alignment={"abacus": [0.9] * 12, "learned absolute": [0.9] * 8 + [0.3, 0.2, 0.1, 0.1]},
)
LENGTHS["exact_max"]["learned absolute"]["16"] = 0.0
LENGTHS["exact_min"]["learned absolute"]["24"] = LENGTHS["exact_max"]["learned absolute"]["24"] = 0
LENGTHS["exact_min"]["abacus"] = {**_W, "24": 0.01}
_S = {"5": 1.0, "10": 0.99, "20": 0.9, "30": 0.4}
_H = {"5": 1.0, "10": 0.97, "20": 0.0, "30": 0.0}
_P = {"10": {"emb": 0.2, "L0": 0.9, "L1": 0.99}, "20": {"emb": 0.4, "L0": 0.9, "L1": 0.98}}
_R = {"10": {"emb": 0.2, "L0": 0.6, "L1": 0.6}, "20": {"emb": 0.4, "L0": 0.6, "L1": 0.7}}
LENGTHS.update(
    sort_exact_min={"no hint": _S, "successor hint": _H},
    sort_exact_max={"no hint": _S, "successor hint": {**_H, "20": 0.1}},
    successor_probe_repeat={"no hint": _P, "successor hint": _P, "random init": _R},
)
CASES += [
    ("length_generalization", 0, LENGTHS, [("exact_min/abacus/12", 0.85)]),
    (
        "length_generalization",
        1,
        LENGTHS,
        [
            ("exact_max/learned absolute/9", 0.995),  # the best baseline seed wins at 9
            ("exact_min/abacus/16", 0.0),  # a tie at 16 is no win
        ],
    ),
    (  # past 2x the trained length a tie does not matter
        "length_generalization",
        1,
        _set(LENGTHS, "exact_min/abacus/24", 0.0),
        [("exact_min/abacus/12", 0.0)],
    ),
    (
        "length_generalization",
        2,
        LENGTHS,
        [("exact_min/abacus/8", 0.95)],  # short of its own lengths
    ),
    (
        "length_generalization",
        3,
        LENGTHS,
        [
            ("alignment/abacus", [0.9] * 8 + [0.2, 0.9, 0.9, 0.9]),  # loses place 8
            ("alignment/learned absolute", [0.1] * 8 + [1.0, 1.0, 0.9, 0.9]),  # aligned too
        ],
    ),
    (
        "length_generalization",
        4,
        LENGTHS,
        [
            ("sort_exact_min/successor hint/10", 0.9),  # short of its own lengths
            ("sort_exact_min/no hint/5", 0.5),
        ],
    ),
    (
        "length_generalization",
        5,
        LENGTHS,
        [
            ("sort_exact_max/successor hint/20", 0.95),  # the hint helps at 2x
            ("sort_exact_max/successor hint/20", 0.9),  # a tie is no failure of the hint
            ("sort_exact_min/no hint/20", 0.05),
        ],
    ),
    (
        "length_generalization",
        6,
        LENGTHS,
        [
            ("successor_probe_repeat/successor hint/20/L1", 0.8),  # lost at 2x
            ("successor_probe_repeat/no hint/10/L1", 0.9),
            ("successor_probe_repeat/random init/20/L1", 0.85),  # no better than untrained
        ],
    ),
]

NUPA = dict(
    exact={
        "max-float3.3-2L": {"exact": {"1": 0.99, "2": 0.98, "3": 0.97}},
        "count-int8-3L": {"exact": {"1": 1.0, "7": 0.95, "8": None}},  # None: too few problems
    },
    by_place={
        "max-float3.3-close-3L": {"-2": 0.97, "-1": 0.99, "0": 1.0, "1": 1.0},
        "max-float3.3-2L": {"-2": 0.55, "-1": 0.7, "0": 0.85, "1": 0.95},
    },
    probe={
        "max-float3.3-close-3L": {
            "=": {"emb": [0.55, 0.5], "L2": [0.72, 0.6]},
            "decision": {"emb": [0.5, 0.5], "L2": [0.73, 0.6]},
            "majority": 0.5,
        },
        "max-float3.3-2L": {
            "=": {"emb": [0.52, 0.5], "L1": [0.94, 0.8]},
            "decision": {"emb": [0.5, 0.5], "L1": [0.9, 0.8]},
            "majority": 0.45,
        },
    },
    running_count=dict(
        trained={"0": 1.0, "1": 0.9, "2": 0.85, "3": 0.8, "4": 0.7},
        untrained={"0": 1.0, "1": 0.85, "2": 0.6, "3": 0.5, "4": 0.4},
    ),
    flips=dict(deciding=0.99, later=0.0),
    patching=dict(
        values=[[0.0, 0.5, 0.0, 0.4], [0.0, 0.45, 0.02, 0.4], [0.0, 0.0, 1.0, 0.0]],
        decision_pos=2,
        top_head=dict(layer=1, pos=2, head=1, restores=0.42),
    ),
)
CASES += [
    ("nupa_table", 0, NUPA, [("exact/count-int8-3L/exact/7", 0.85)]),  # fails at one length
    (
        "number_representations",
        0,
        NUMBERS,
        [
            ("spectra/resid_post L0/top", [[10.0, 0.3], [50.0, 0.2]]),  # a period-10 peak on top
            ("spectra/embed/ratio", {"2": 0.1, "5": 3.5, "10": 0.8}),  # period 5 over its null
        ],
    ),
    (
        "number_representations",
        1,
        NUMBERS,
        [
            ("causal/full", [3.0, 2.0]),  # the number barely matters
            ("causal/helix-shuffled", [5.0, 4.0]),  # the shuffled fit does as well
            ("causal/helix", [13.5, 5.0]),  # the helix beats the activation itself
        ],
    ),
    (
        "number_representations",
        2,
        NUMBERS,
        [("causal/random_drop", [0.5, 0.4])],  # any subspace of that size hurts as much
    ),
    (
        "number_representations",
        3,
        NUMBERS,
        [("filter/mlp all low", 0.12)],  # no worse than a random band
    ),
    (
        "nupa_table",
        1,
        NUPA,
        [
            ("by_place/max-float3.3-close-3L/-2", 0.9),  # the close-trained one fails a place
            # independent numbers suffice after all
            ("by_place/max-float3.3-2L", {"-2": 0.9, "-1": 0.95, "0": 1.0, "1": 1.0}),
        ],
    ),
    (
        "nupa_table",
        2,
        NUPA,  # the trained counter reads no better than random features
        [("running_count/trained", {"0": 1.0, "1": 0.85, "2": 0.65, "3": 0.55, "4": 0.45})],
    ),
    ("nupa_table", 3, NUPA, [("probe/max-float3.3-2L/=/L1", [0.6, 0.8])]),  # near majority
    (
        "nupa_table",
        4,
        NUPA,
        [
            ("probe/max-float3.3-2L/=/emb", [0.9, 0.5]),  # readable before any block
            ("probe/max-float3.3-close-3L/=/emb", [0.8, 0.5]),
        ],
    ),
    (
        "nupa_table",
        5,
        NUPA,
        [("flips/deciding", 0.6), ("flips/later", 0.3)],  # the deciding digit does not decide
    ),
    (
        "nupa_table",
        6,
        NUPA,
        [
            ("patching/values", [[0.0, 0.5, 0.0, 0.4], [0.0, 0.3, 0.3, 0.3], [0.0, 0.3, 0.5, 0.3]]),
            ("patching/decision_pos", 3),  # the decision sits elsewhere
        ],
    ),
    (
        "nupa_table",
        7,
        NUPA,
        [
            ("patching/top_head", dict(layer=1, pos=2, head=1, restores=0.1)),  # shared thinly
            ("patching/top_head", dict(layer=1, pos=1, head=1, restores=0.5)),  # elsewhere
        ],
    ),
]


@pytest.mark.parametrize(
    "module, index, holds, breaks",
    CASES,
    ids=[f"{m}-{i}" + ("-seeds" if "retrained" in h else "") for m, i, h, _ in CASES],
)
def test_each_check_holds_on_an_example_and_fails_on_a_counter_example(
    module, index, holds, breaks
):
    check = FIGURES[module].CHECKS[index]
    assert check.holds(holds), check.claim
    for path, value in breaks:
        assert not check.holds(_set(holds, path, value)), (check.claim, path, value)


def test_every_check_of_every_figure_has_a_counter_example():
    covered = {(m, i) for m, i, _, _ in CASES}
    every = {(name, i) for name, mod in FIGURES.items() for i in range(len(mod.CHECKS))}
    assert every == covered
