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
        "add5-plain-1L": {"BA": 0.98, "MC": 0.97, "MS": 0.98, "UC": 1, "US": 0.87}
    },
    digit_class_balanced={
        "add5-plain-1L": {"BA": 0.98, "MC": 0.98, "MS": 0.97, "UC": 1, "US": 0.96}
    },
    twins={"add5-plain-1L": {"5": 0.0}, "add5-plain-2L": {"5": 0.83}},
    staircase_place=[4, 3, 2, 1, 0],
    staircase_offset={"H0": [-1, -1, -1, -1, 0], "H1": [0, 0, 0, 0, 0], "H2": [0, 0, 0, 0, 0]},
)


def _set(numbers: dict, path: str, value) -> dict:
    out = copy.deepcopy(numbers)
    *keys, last = path.split("/")
    d = out
    for k in keys:
        d = d[k]
    d[last] = value
    return out


# (module, index of its check, numbers where it holds, [(path, value) that break it, ...])
CASES = [
    (
        "sample_efficiency",
        0,
        dict(reversed_at_largest=0.96, plain_at_largest=0.70),
        [("plain_at_largest", 0.97)],
    ),
    (
        "sample_efficiency",
        1,
        dict(
            sizes={"plain": [1000, 4000]},
            exact={"reversed": {"1000": 0.4, "4000": 0.96}, "plain": {"1000": 0.3, "4000": 0.7}},
        ),
        [("exact/plain/1000", 0.5)],  # plain beats reversed at one size
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
        "carry_probes",
        0,
        dict(best_score={"carry.tens": 0.99}, majority={"carry.tens": 0.55}),
        [("best_score/carry.tens", 0.6)],
    ),
    (
        "carry_probes",
        1,
        dict(best_flip_rate={"carry.tens": 0.6}, random_flip_at_best={"carry.tens": 0.01}),
        [("random_flip_at_best/carry.tens", 0.5)],
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
        "mul_digits",
        0,
        dict(learned_at_0_9={"units": 100, "tens": 900, "hundreds": 700, "thousands": 200}),
        [
            ("learned_at_0_9", {"units": 100, "tens": 100, "hundreds": 100, "thousands": 100}),
            ("learned_at_0_9", {"units": 100, "tens": 900, "hundreds": 700, "thousands": None}),
        ],
    ),
    (
        "mul_digits",
        1,
        dict(
            final_accuracy={"units": 1.0, "tens": 0.95}, start_accuracy={"units": 0.1, "tens": 0.0}
        ),
        [("final_accuracy/tens", 0.8)],
    ),
    (
        "digit_phases",
        0,
        dict(phase_change_step={"units": 250, "tens": None, "hundreds": 40}),
        [("phase_change_step", {"units": 40, "tens": 40, "hundreds": 40})],  # all at once
    ),
    (
        "digit_phases",
        1,
        dict(full=True, phase_change_step={"units": 250, "tens": 600, "hundreds": 40}),
        [
            ("phase_change_step", {"units": 250, "tens": None, "hundreds": 40}),  # one never does
            ("phase_change_step", {"units": 300, "tens": 250, "hundreds": 200}),  # one drop
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


@pytest.mark.parametrize(
    "module, index, holds, breaks",
    CASES,
    ids=[f"{m}-{i}" for m, i, _, _ in CASES],
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
