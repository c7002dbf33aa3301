"""The task-family seam: every spec implements the protocol, capabilities guard analyses by name,
sorting pairs change what they claim, problems of every family round-trip, and patching plus
its explorer run on a numeracy model and a sorter (one cell against a hand-written hook loop)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.models.contract import encoder_of
from arithlens.patching import activation_patch
from arithlens.tasks import (
    CAPABILITIES,
    NumeracySpec,
    SortSpec,
    TaskFamily,
    TaskSpec,
    changes_for,
    family_pairs,
    has,
    problems_from_record,
    require,
    sample_problems,
    sort_pairs,
)
from arithlens.tokens.tokenizer import encode_pairs

SPECS = [
    TaskSpec(op="add", n_digits=5, min_digits=2, pad=False),
    SortSpec(min_len=3, max_len=10),
    NumeracySpec(task="max", repr="float", n_digits=3),
]


@pytest.mark.parametrize("task", SPECS, ids=lambda t: t.name)
def test_every_spec_is_a_task_family_whose_widths_say_what_was_trained(task):
    assert isinstance(task, TaskFamily)
    lo = {"arithmetic": 2, "sort": 3, "numeracy": 1}[task.family]
    for w in range(1, 13):
        assert task.trained_at(w) == (lo <= w <= task.width), w
    other = task.at_width(12)
    assert task.same_but_width(other) and other.width == 12
    # the longest text is what the longest problems render to (and no problem is longer)
    texts = al.tasks.render_problems(sample_problems(task, 400, seed=1)).texts
    assert max(len(t) for t in texts) <= task.text_length()


def test_capabilities_guard_by_name_and_list_the_families_that_have_them():
    for cap in CAPABILITIES:
        owners = [t.family for t in SPECS if has(t, cap)]
        for t in SPECS:
            if t.family in owners:
                require(t, cap, "x")
            else:
                with pytest.raises(ArithlensError, match=f"capability '{cap}'") as e:
                    require(t, cap, "the analysis")
                assert f"{t.name} is {t.family}" in str(e.value)
                assert " or ".join(owners) in str(e.value)
    with pytest.raises(ArithlensError, match="capability 'wings' is unknown"):
        has(SPECS[0], "wings")
    with pytest.raises(ArithlensError, match="needs a task spec: got a str"):
        require("add3", "pairs", "patching")


@pytest.mark.parametrize("length", [4, 10])
def test_sort_pairs_change_exactly_the_named_element_to_a_uniform_other_value(length):
    task = SortSpec(min_len=2, max_len=10, n_values=5)
    n = 5000
    pairs = sort_pairs(task, n, change="elem.2", seed=3, length=length)
    clean, corrupt = np.array(pairs.clean.lists()), np.array(pairs.corrupt.lists())
    assert clean.shape == corrupt.shape == (n, length)
    differs = clean != corrupt
    assert differs[:, 2].all() and differs.sum() == n  # element 2, and only it
    # the new value is uniform over the four other values: chi-square, 3 dof, p ~ 0.001 at 16.3
    shift = (corrupt[:, 2] - clean[:, 2]) % 5
    counts = np.bincount(shift, minlength=5)[1:]
    assert ((counts - n / 4) ** 2 / (n / 4)).sum() < 16.3
    last = sort_pairs(task, 50, change="elem.last", seed=0, length=length)
    a, b = np.array(last.clean.lists()), np.array(last.corrupt.lists())
    assert (a[:, -1] != b[:, -1]).all() and (a[:, :-1] == b[:, :-1]).all()
    with pytest.raises(ArithlensError, match="out of range"):
        sort_pairs(task, 4, change=f"elem.{length}", length=length)
    with pytest.raises(ArithlensError, match="unknown for sorting"):
        sort_pairs(task, 4, change="a.units")


@pytest.mark.parametrize("task", SPECS, ids=lambda t: t.name)
def test_problems_of_every_family_round_trip_through_their_record(task):
    import json

    problems = sample_problems(task, 20, seed=2)
    back = problems_from_record(json.loads(json.dumps(problems.to_record())))
    assert back.task == task and list(back.keys()) == list(problems.keys())
    assert changes_for(task)[0] == family_pairs(task, 2, seed=0).change
    with pytest.raises(ArithlensError, match="problems record"):
        problems_from_record({"task": task.to_dict()})


def _one_head_by_hand(model, pairs, layer, head, read_pos, clean_tok, corrupt_tok):
    """Logit difference (clean minus corrupt answer token, mean over the read slots and rows)
    with one head's z from the clean run patched into the corrupt run: run_with_hooks."""
    batch = encode_pairs(pairs)
    name = f"blocks.{layer}.attn.hook_z"
    _, cache = model.run_with_cache(batch.clean.tokens, names_filter=lambda n: n == name)

    def put(act, hook=None):
        act = act.clone()
        act[:, :, head] = cache[name][:, :, head]
        return act

    logits = model.run_with_hooks(batch.corrupt.tokens, fwd_hooks=[(name, put)])
    rows = torch.arange(len(pairs))[:, None]
    lg = logits[rows, read_pos]
    diff = lg.gather(-1, clean_tok[..., None]) - lg.gather(-1, corrupt_tok[..., None])
    return diff.mean().item()


@torch.no_grad()
def test_patching_a_sorter_equals_a_hand_written_hook_loop_and_its_explorer_opens():
    model = al.load("sort1to10-v36-2L")
    pairs = sort_pairs(model.task, 32, change="elem.0", seed=1, length=8)
    res = activation_patch(
        model, pairs, "z", by=("layer", "head"), metric="logit_diff", progress=False
    )
    # every answer element, read where it is predicted (one position earlier), by hand
    texts = [al.tasks.render_problems(p).texts for p in (pairs.clean, pairs.corrupt)]
    prompt = 1 + 8 + 1  # "S" + eight values + "="
    read_pos = torch.arange(prompt - 1, prompt - 1 + 8)[None].repeat(len(pairs), 1)
    tok = encoder_of(model).tokenizer
    clean_tok = torch.tensor([tok.encode(t[prompt : prompt + 8]) for t in texts[0]])
    corrupt_tok = torch.tensor([tok.encode(t[prompt : prompt + 8]) for t in texts[1]])
    layer, head = (int(x) for x in res.top(1)[["layer", "head"]].iloc[0])
    ref = _one_head_by_hand(model, pairs, layer, head, read_pos, clean_tok, corrupt_tok)
    assert res.values[layer, head].item() == pytest.approx(ref, abs=1e-3)
    assert abs(ref - res.corrupt) > 0.05  # the cell moves the metric: not a no-op compared
    px = al.widgets.PatchingExplorer(model, n=8, granularity="heads")
    assert px.change.value == "elem.0" and px.result is not None
    assert px.cell == (int(px.result.top(1)["layer"].iloc[0]), None, px.cell[2])


@torch.no_grad()
def test_patching_the_close_comparer_equals_a_hand_written_hook_loop_and_its_explorer_opens():
    model = al.load("max-float3.3-close-3L")
    pairs = al.tasks.numeracy_pairs(model.task, 32, change="deciding", seed=2)
    res = activation_patch(
        model,
        pairs,
        "z",
        by=("layer", "head"),
        metric="logit_diff",
        digits="decision",
        progress=False,
    )
    batch = encode_pairs(pairs)
    idx = torch.from_numpy(al.tasks.answer_index(pairs.clean, "decision"))
    rows = torch.arange(len(pairs))
    pos = batch.clean.answer_pos[rows, idx]
    clean_tok = batch.clean.tokens[rows, pos][:, None]
    corrupt_tok = batch.corrupt.tokens[rows, pos][:, None]
    assert (clean_tok != corrupt_tok).all()
    layer, head = (int(x) for x in res.top(1)[["layer", "head"]].iloc[0])
    ref = _one_head_by_hand(model, pairs, layer, head, (pos - 1)[:, None], clean_tok, corrupt_tok)
    assert res.values[layer, head].item() == pytest.approx(ref, abs=1e-3)
    assert res.clean > 2 and res.corrupt < -2  # the model decides both sides right
    px = al.widgets.PatchingExplorer(model, n=8, granularity="heads")
    assert (px.change.value, px.digits.value) == ("deciding", "decision")
    assert px.result is not None and px.result.clean > 0
    shown = px.result
    px.clean_problem = "max(1.5,2.25)"  # only arithmetic corrupts one typed problem: named
    assert "corruptions of a typed problem needs a task of family arithmetic" in px.status.value
    assert px.result is shown


def test_moved_names_are_accepted_or_name_their_new_place():
    """Names that moved keep working (al.tasks.NumeracySpec is al.tasks.numeracy.NumeracySpec)
    or fail naming the new place (al.tokens.encoder_of now lives with the model contract)."""
    assert al.tasks.NumeracySpec is al.tasks.numeracy.NumeracySpec
    assert al.tasks.SortSpec is al.tasks.sorting.SortSpec
    assert al.tasks.sample_text is al.tasks.sample_problems
    with pytest.raises(AttributeError, match="use arithlens.models.encoder_of"):
        al.tokens.encoder_of  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        al.tasks.nothing  # noqa: B018


def test_moved_modules_import_from_their_old_paths_as_the_same_module():
    # issue 29's layout moved the loose analyses and faces into folders; an old import path
    # gives the module itself, so a monkeypatch through either name reaches both
    import importlib

    from arithlens._moved import MOVED

    assert len(MOVED) == 8
    for old, new in MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    import arithlens.evaluation as old_evaluation

    assert old_evaluation.evaluate is al.evaluate
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("arithlens.no_such_module")
