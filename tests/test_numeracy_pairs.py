"""Numeracy minimal pairs, named answer characters, parsing, and patching on numeracy models.

References: comparison through the exact values (``fractions``) and each task's ground truth
(``answer``), never the pairs module's own helpers; patching against a hand-written
``run_with_hooks`` loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.patching import activation_patch
from arithlens.tasks import NumeracySpec, answer_index, numeracy_pairs, parse_problem
from arithlens.tasks.numeracy import answer, prompt, sample_numeracy, value
from arithlens.tasks.numeracy.pairs import CHANGES
from arithlens.tokens.tokenizer import encode_pairs

PAIRED = [
    ("max", "float"),
    ("max", "int"),
    ("min", "float"),
    ("min", "int"),
    ("get_digit", "int"),
    ("count", "int"),
    ("count_letter", "word"),
]


def _winner(a: str, b: str) -> int:
    va, vb = value(a), value(b)
    return 0 if va > vb else 1 if vb > va else 2


def _aligned(a: str, b: str) -> tuple[str, str]:
    """Both numbers' digits aligned at the point (padded with zeros)."""
    (ai, _, af), (bi, _, bf) = a.partition("."), b.partition(".")
    w, f = max(len(ai), len(bi)), max(len(af), len(bf))
    return ai.rjust(w, "0") + af.ljust(f, "0"), bi.rjust(w, "0") + bf.ljust(f, "0")


def _deciding(a: str, b: str) -> int:
    x, y = _aligned(a, b)
    return next(i for i, (p, q) in enumerate(zip(x, y)) if p != q)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), which=st.sampled_from(PAIRED), n_digits=st.integers(1, 4))
def test_minimal_pairs_change_what_they_claim(seed, which, n_digits):
    task = NumeracySpec(task=which[0], repr=which[1], n_digits=n_digits, decimals=2)
    for change in CHANGES[task.task]:
        if change in ("later", "other") and n_digits == 1 and task.repr != "float":
            with pytest.raises(ArithlensError, match="at least two digits"):
                numeracy_pairs(task, 4, change=change, seed=seed)
            continue
        pairs = numeracy_pairs(task, 12, change=change, seed=seed)
        for c, k in zip(pairs.clean.operands, pairs.corrupt.operands):
            # exactly one character of the problem changed, and texts keep their lengths
            diff = [
                (i, j)
                for i, (x, y) in enumerate(zip(c, k))
                for j, (p, q) in enumerate(zip(x, y))
                if p != q
            ]
            assert len(diff) == 1 and [len(x) for x in c] == [len(x) for x in k]
            same_answer = answer(task, c) == answer(task, k)
            if task.task in ("max", "min"):
                assert len(c[0]) == len(c[1])  # one shape: answers of one length
                wc, wk = _winner(*c), _winner(*k)
                place = _deciding(*c)
                assert wc != 2 and wk != 2 and place == _deciding(*k)
                changed = _aligned(*k)[diff[0][0]] != _aligned(*c)[diff[0][0]]
                assert changed
                at = diff[0][1] - (diff[0][1] > c[0].find(".") >= 0)  # aligned digit index
                if change == "deciding":
                    assert wc != wk and at == place
                else:
                    assert wc == wk and at > place
            elif change in ("target", "match"):
                assert not same_answer
                if task.task != "get_digit":
                    assert int(answer(task, k)) == int(answer(task, c)) - 1
            else:
                assert same_answer


def test_the_deciding_place_is_uniform_over_the_digits_of_a_shape():
    task = NumeracySpec(task="max", repr="float", n_digits=2, decimals=2)
    pairs = numeracy_pairs(task, 2000, change="deciding", shape="12.34", seed=3)
    assert {len(a) for a, _ in pairs.clean.operands} == {5}
    at = [_deciding(a, b) for a, b in pairs.clean.operands]
    counts = np.bincount(at, minlength=4)
    assert chisquare(counts).pvalue > 1e-3, counts
    with pytest.raises(ArithlensError, match="not a float"):
        numeracy_pairs(task, 4, change="deciding", shape="123.4")


def test_the_decision_character_is_where_the_larger_and_the_smaller_answers_part():
    """answer_index(.., "decision") against the first character where max's and min's exact
    answers differ (ties: the first)."""
    task = NumeracySpec(task="max", repr="float", n_digits=2, decimals=3)
    problems = sample_numeracy(task, 600, 4)
    low = NumeracySpec(task="min", repr="float", n_digits=2, decimals=3)
    got = answer_index(problems, "decision")
    for r, ops in enumerate(problems.operands):
        hi, lo = answer(task, ops), answer(low, ops)
        ref = next((i for i, (x, y) in enumerate(zip(hi, lo)) if x != y), min(len(hi), len(lo)))
        assert got[r] == (0 if hi == lo else min(ref, len(hi))), ops
    assert answer_index(problems[:1], "decision")[0] >= 0
    assert answer_index(problems, "last").tolist() == [
        len(answer(task, o)) - 1 for o in problems.operands
    ]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_parse_problem_reads_every_task_prompt_back(seed):
    from arithlens.tasks.numeracy import SUPPORTED

    for t, reprs in SUPPORTED.items():
        for r in reprs:
            task = NumeracySpec(task=t, repr=r, n_digits=3, decimals=2)
            ops = sample_numeracy(task, 1, seed).operands[0]
            text = prompt(task, ops)
            spaced = " ".join(text[:-1]) + " ="  # spaces anywhere, the '=' optional
            assert parse_problem(task, spaced).operands == [ops]
            assert parse_problem(task, text[:-1]).operands == [ops]


def test_parse_problem_names_what_is_wrong():
    task = NumeracySpec(task="max", repr="float")
    with pytest.raises(ArithlensError, match="not of the form of max-float3.2: expected e.g."):
        parse_problem(task, "min(9.11,9.9)")
    with pytest.raises(ArithlensError, match="'9.10' is not a float"):
        parse_problem(task, "max(9.10,9.9)")
    with pytest.raises(ArithlensError, match="empty"):
        parse_problem(task, "  ")
    count = NumeracySpec(task="count", n_digits=5)
    assert parse_problem(count, "count(4, 44827)=").operands == [("44827", "4")]


@torch.no_grad()
def test_patching_numeracy_pairs_at_the_decision_equals_a_hand_written_hook_loop():
    """Head patching (z, by layer x head) of 'deciding' pairs on the zoo's float comparer,
    scored at each pair's own decision character, against run_with_hooks one head at a time."""
    model = al.load("max-float3.3-2L")
    pairs = numeracy_pairs(model.task, 48, change="deciding", seed=5)
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
    idx = answer_index(pairs.clean, "decision")
    rows = torch.arange(len(pairs))
    pos = batch.clean.answer_pos[rows, torch.from_numpy(idx)]
    good, bad = batch.clean.tokens[rows, pos], batch.corrupt.tokens[rows, pos]
    assert not torch.equal(good, bad)  # the decision character differs on every pair
    _, clean = model.run_with_cache(batch.clean.tokens)

    def diff(logits):
        lg = logits[rows, pos - 1]
        return (lg[rows, good] - lg[rows, bad]).mean().item()

    assert res.clean == pytest.approx(diff(model(batch.clean.tokens)), abs=1e-4)
    assert res.corrupt == pytest.approx(diff(model(batch.corrupt.tokens)), abs=1e-4)
    for layer in range(model.cfg.n_layers):
        name = f"blocks.{layer}.attn.hook_z"
        for head in range(model.cfg.n_heads):

            def put(act, hook=None, head=head, name=name):
                act = act.clone()
                act[:, :, head] = clean[name][:, :, head]
                return act

            ref = diff(model.run_with_hooks(batch.corrupt.tokens, fwd_hooks=[(name, put)]))
            assert res.values[layer, head].item() == pytest.approx(ref, abs=1e-3)
    assert res.clean > 2 and res.corrupt < -2  # the model gets both sides right


@torch.no_grad()
def test_deciding_pairs_flip_the_models_choice_and_later_ones_do_not():
    """The claim the two changes make, on the zoo's float comparer trained with close pairs:
    changing the deciding digit changes the character the model writes at the decision;
    changing a later one does not."""
    model = al.load("max-float3.3-close-3L")
    out = {}
    for change in ("deciding", "later"):
        batch = encode_pairs(numeracy_pairs(model.task, 300, change=change, seed=1))
        idx = torch.from_numpy(answer_index(batch.pairs.clean, "decision"))
        rows = torch.arange(len(batch))
        pos = batch.clean.answer_pos[rows, idx] - 1
        pick_clean = model(batch.clean.tokens)[rows, pos].argmax(-1)
        pick_corrupt = model(batch.corrupt.tokens)[rows, pos].argmax(-1)
        out[change] = (pick_clean != pick_corrupt).float().mean().item()
    assert out["deciding"] >= 0.95 and out["later"] <= 0.05, out  # measured 0.99 / 0.00
    from arithlens.analyses.evaluation import choice_changes

    for change in ("deciding", "later"):  # the library's share equals this reference loop
        pairs = numeracy_pairs(model.task, 300, change=change, seed=1)
        assert choice_changes(model, pairs) == pytest.approx(out[change])


def test_patching_by_position_needs_one_layout_read_at_one_place():
    model = al.load("max-float3.3-2L")
    mixed = numeracy_pairs(model.task, 32, change="deciding", seed=0)
    with pytest.raises(ArithlensError, match="layouts"):
        activation_patch(model, mixed, "resid_pre", by=("layer", "pos"), digits="decision")
    shaped = numeracy_pairs(model.task, 32, change="deciding", shape="9.11", seed=0)
    with pytest.raises(ArithlensError, match="reads each row at another position"):
        activation_patch(model, shaped, "resid_pre", by=("layer", "pos"), digits="decision")
    one = numeracy_pairs(model.task, 32, change="deciding", shape="9.11", place=-1, seed=0)
    res = activation_patch(
        model, one, "resid_pre", by=("layer", "pos"), digits="decision", progress=False
    )
    assert res.pos_labels[4:6] == ["4:" + one.clean.operands[0][0][0], "5:."]
    # by head the positions are summed over, so any pairs will do
    activation_patch(model, shaped, "z", by=("layer", "head"), digits="decision", progress=False)


def test_accuracy_by_label_groups_exact_match_by_the_deciding_place():
    """On problems whose deciding place is uniform (the clean side of deciding pairs), the
    comparer trained on independent numbers only is right when an integer digit decides and
    near chance when a decimal does: the groups against a reference grouping by hand."""
    from arithlens.analyses.evaluation import accuracy_by_label, text_scores

    model = al.load("max-float3.3-2L")
    problems = numeracy_pairs(model.task, 900, change="deciding", seed=4).clean
    table = accuracy_by_label(model, "place", problems=problems).set_index("value")
    exact = text_scores(model, problems)[1]
    # aligned digit i of a number with L integer digits is the place L - 1 - i (0 = units)
    place = np.array([len(a.split(".")[0]) - 1 - _deciding(a, b) for a, b in problems.operands])
    for v in np.unique(place):
        assert table.loc[v, "n"] == (place == v).sum()
        assert table.loc[v, "exact_match"] == pytest.approx(exact[place == v].mean())
    assert table.loc[2, "exact_match"] >= 0.95 and table.loc[-2, "exact_match"] <= 0.8
    with pytest.raises(
        ArithlensError, match="accuracy by label .* needs a task of family numeracy"
    ):
        accuracy_by_label(al.load("add3-1L"), "place")


@pytest.mark.parametrize("mlps", ["recompute", "freeze"])
def test_path_and_attribution_patching_take_numeracy_pairs_at_the_decision(mlps):
    """Path patching (Wang et al.'s variant and the direct-path one) of deciding pairs, scored at
    each pair's decision character, against tests/_reference.py's one-sender-at-a-time loop; and
    attribution patching of head outputs against activation patching (a linear estimate: it
    must rank the heads alike)."""
    from _reference import reference_path_patch

    from arithlens.patching import attribution_patch, path_patch
    from arithlens.patching.metrics import make_metric

    model = al.load("max-float3.3-2L")
    batch = encode_pairs(numeracy_pairs(model.task, 32, change="deciding", seed=6))
    metric = make_metric("logit_diff", batch, "decision")
    assert metric.digits == ["decision"]
    ours = path_patch(model, batch, metric=metric, mlps=mlps, progress=False)
    ref = reference_path_patch(model, batch, metric, mlps=mlps)
    assert torch.allclose(ours.values, ref, atol=1e-4), (ours.values - ref).abs().max()
    assert ours.effect().abs().max() > 0.1
    if mlps == "recompute":
        act = activation_patch(
            model, batch, "z", by=("layer", "head"), metric=metric, progress=False
        ).effect()
        est = attribution_patch(model, batch, "z", by=("layer", "head"), metric=metric).effect()
        top_act = set(act.flatten().topk(2).indices.tolist())
        assert int(est.flatten().argmax()) in top_act


def test_pairs_decided_at_one_place_and_the_probe_anchored_at_the_decision():
    """place= keeps pairs decided at that place (by the reference alignment here); the
    decision-anchored probe reads the residual at the position that writes each problem's
    decision character (against scikit-learn on a hand-read residual there)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from arithlens.models.sites import stream
    from arithlens.tasks.numeracy import comparison_labels
    from arithlens.tokens import encode

    model = al.load("max-float3.3-2L")
    pairs = numeracy_pairs(model.task, 40, change="deciding", shape="12.34", place=-1, seed=1)
    for a, b in pairs.clean.operands:
        assert len(a.split(".")[0]) - 1 - _deciding(a, b) == -1
    assert set(answer_index(pairs.clean, "decision")) == {3}
    with pytest.raises(ArithlensError, match="place=-1 is for max / min"):
        numeracy_pairs(NumeracySpec(task="count"), 4, change="match", place=-1)
    n = 800
    table = al.probes.decision(model, "winner", n=n, offsets=2, anchor="decision", seed=1)
    at = table.set_index(["site", "offset"]).accuracy
    problems = sample_numeracy(model.task, n, 1)
    y = comparison_labels(problems)["winner"]
    batch = encode(problems)
    where = batch.prompt_len - 1 + torch.from_numpy(answer_index(problems, "decision"))
    _, cache = model.run_with_cache(batch.tokens)
    X = cache[dict(stream(model.cfg.n_layers))["L1"]][torch.arange(n), where].detach().numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
    ref = clf.fit(X[:600], y[:600]).score(X[600:], y[600:])
    assert abs(at["L1", 0] - ref) < 0.03, (at["L1", 0], ref)
    with pytest.raises(ArithlensError, match="anchor='decision' is for max / min"):
        al.probes.decision(al.load("get_digit-int6-2L"), "answer", anchor="decision")
