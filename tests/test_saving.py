"""Every public result saves and loads: what comes back has the same fields, arrays and
tables as what was saved."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import arithlens as al
from arithlens.analyses.evaluation import EvalResult
from arithlens.analyses.lens import Trace, trace
from arithlens.errors import ArithlensError
from arithlens.llm import Faithfulness, KeyHeads, faithfulness, key_heads
from arithlens.models.contract import encoder_of
from arithlens.patching import (
    Agreement,
    CellEffect,
    PatchResult,
    activation_patch,
    agreement,
    patch_cell,
    path_patch,
)
from arithlens.probes import CausalResult, ProbeResult, causal_flip


def _same(a, b) -> None:
    assert type(a) is type(b)
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y), f.name
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (
                f.name
            )
        elif isinstance(x, dict) and x and all(isinstance(v, torch.Tensor) for v in x.values()):
            assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), f.name
        elif isinstance(x, al.tasks.Problems):
            assert x.task == y.task and x.ints() == y.ints(), f.name
        else:
            assert x == y, f.name


@pytest.fixture(scope="module")
def results(zoo_add3_2l):
    m = zoo_add3_2l
    pairs = encoder_of(m).pairs(32, "a.units", seed=0)
    kh = key_heads(m, pairs, progress=False)
    exact = activation_patch(m, pairs, "z", by=("layer", "head"), progress=False)
    est = al.patching.attribution_patch(m, pairs, "z", by=("layer", "head"))
    probes = al.probes.fit(m, "carry", n=300, layers=[1, 2], progress=False)
    return {
        "PatchResult": path_patch(m, pairs, progress=False),
        "ProbeResult": probes,
        "CausalResult": causal_flip(m, probes, n=64, progress=False),
        "EvalResult": al.evaluate(m, n=64),
        "KeyHeads": kh,
        "Faithfulness": faithfulness(m, pairs, [*kh.heads[:3], ("mlp", 1)], ablate="heads+mlps"),
        "Agreement": agreement(est, exact),
        "CellEffect": patch_cell(m, pairs, "z", 0, pos=7, head=2),
        "Trace": trace(m, "123+456"),
    }


CLASSES = [
    PatchResult,
    ProbeResult,
    CausalResult,
    EvalResult,
    KeyHeads,
    Faithfulness,
    Agreement,
    CellEffect,
    Trace,
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_a_result_comes_back_as_it_was_saved(results, cls, tmp_path):
    res = results[cls.__name__]
    back = cls.load(res.save(tmp_path / "r"))
    _same(res, back)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "result.json",
        "result.safetensors",
    ]


def test_loading_the_wrong_kind_of_result_is_refused(results, tmp_path):
    results["KeyHeads"].save(tmp_path / "kh")
    with pytest.raises(ArithlensError, match="holds a 'KeyHeads': expected a saved Trace"):
        Trace.load(tmp_path / "kh")
    with pytest.raises(ArithlensError, match="is not a saved result"):
        Trace.load(tmp_path / "nothing")
