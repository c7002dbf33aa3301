"""Numeracy tasks (Number Cookbook): ground truth, labels and texts against references written
here with Python's exact arithmetic (fractions, integer and string operations), samplers
against the distributions they claim, and every task through training and evaluation."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import arithlens as al
from arithlens.analyses.evaluation import text_scores
from arithlens.errors import ArithlensError
from arithlens.models import save
from arithlens.models.train import TrainConfig, train
from arithlens.tasks import NumeracyProblems, NumeracySpec, max_length, sample_numeracy
from arithlens.tasks.numeracy import (
    SUPPORTED,
    answer,
    comparison_labels,
    point_labels,
    render_numeracy,
    running_count,
)
from arithlens.tokens import encode
from arithlens.tokens.tokenizer import CharTokenizer, vocab_for

ALL = [(t, r) for t, rs in SUPPORTED.items() for r in rs]


def _frac(text: str) -> Fraction:
    """Reference parser: no Decimal, only integers."""
    if "/" in text:
        p, q = text.split("/")
        return Fraction(int(p), int(q))
    if "e" in text:
        m, e = text.split("e")
        return _frac(m) * Fraction(10) ** int(e)
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    return sign * (int(whole) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0))


def _canonical_decimal(text: str) -> bool:
    body = text.lstrip("-")
    if "." in body:
        return (
            not body.endswith("0") and not body.endswith(".") and (body[0] != "0" or body[1] == ".")
        )
    return body == "0" or body[0] != "0"


def _sig_reference(x: Fraction, k: int) -> Fraction:
    if x == 0:
        return x
    e = math.floor(math.log10(abs(x)))  # exact enough: corrected below
    while Fraction(10) ** e > abs(x):
        e -= 1
    while Fraction(10) ** (e + 1) <= abs(x):
        e += 1
    scale = Fraction(10) ** (k - 1 - e)
    return Fraction(math.floor(x * scale + Fraction(1, 2))) / scale


def _reference(task: NumeracySpec, ops: tuple[str, ...], got: str) -> None:
    t = task.task
    x = ops[0]
    if t in ("add", "sub"):
        exact = _frac(x) + _frac(ops[1]) if t == "add" else _frac(x) - _frac(ops[1])
        assert _frac(got) == exact
        if task.repr == "frac":
            p, q = got.split("/")
            assert math.gcd(int(p), int(q)) == 1 and int(q) > 0
        else:
            assert _canonical_decimal(got), got
    elif t == "floordiv":
        assert got == str(int(x) // int(ops[1]))
    elif t == "mod":
        assert got == str(int(x) % int(ops[1]))
    elif t in ("max", "min"):
        a, b = _frac(x), _frac(ops[1])
        want = max(a, b) if t == "max" else min(a, b)
        assert _frac(got) == want and got in ops
    elif t == "get_digit":
        assert got == x[::-1][int(ops[1])]
    elif t == "length":
        assert got == str(len(x))
    elif t in ("count", "count_letter"):
        assert got == str(sum(c == ops[1] for c in x))
    elif t == "sig_round":
        assert _frac(got) == _sig_reference(_frac(x), int(ops[1])) and _canonical_decimal(got)
    elif t == "to_sci":
        m, e = got.split("e")
        assert 1 <= _frac(m) < 10 and not (("." in m) and m.endswith("0"))
        assert _frac(m) * Fraction(10) ** int(e) == _frac(x)
    else:  # from_sci
        assert _frac(got) == _frac(x) and _canonical_decimal(got)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 3))
def test_every_task_answers_match_exact_python_arithmetic(seed, n_digits, decimals):
    for task_name, rep in ALL:
        task = NumeracySpec(task=task_name, repr=rep, n_digits=n_digits, decimals=decimals)
        p = sample_numeracy(task, 8, seed)
        r = render_numeracy(p)
        for ops, text, apos, plen in zip(p.operands, r.texts, r.answer_pos, r.prompt_len):
            got = answer(task, ops)
            _reference(task, ops, got)
            assert text[: int(plen)].endswith("=") and text.endswith(";")
            assert "".join(text[i] for i in apos if i >= 0) == got
            assert len(text) <= max_length(task)
            NumeracyProblems.from_strings(task, [ops])  # the sampler's operands pass the checks


@pytest.mark.parametrize(
    "task, ops, want",
    [
        (("max", "float"), ("9.11", "9.9"), "9.9"),
        (("min", "float"), ("9.11", "9.9"), "9.11"),
        (("max", "float"), ("0.5", "0.45"), "0.5"),
        (("add", "float"), ("0.75", "0.25"), "1"),
        (("sub", "float"), ("1.2", "3.45"), "-2.25"),
        (("add", "frac"), ("1/2", "1/3"), "5/6"),
        (("sub", "frac"), ("2/4", "1/2"), "0/1"),
        (("sig_round", "int"), ("999", "1"), "1000"),
        (("sig_round", "float"), ("0.04567", "2"), "0.046"),
        (("sig_round", "int"), ("125", "2"), "130"),  # half up, not half even
        (("to_sci", "float"), ("0.05",), "5e-2"),
        (("from_sci", "sci"), ("1.23e1",), "12.3"),
        (("get_digit", "int"), ("4827", "2"), "8"),
        (("count", "int"), ("44827", "4"), "2"),
        (("count_letter", "word"), ("strawberry", "r"), "3"),
    ],
)
def test_worked_examples(task, ops, want):
    spec = NumeracySpec(task=task[0], repr=task[1], n_digits=10, decimals=5)
    assert answer(spec, NumeracyProblems.from_strings(spec, [ops]).operands[0]) == want


def test_unsupported_combinations_and_bad_operands_are_named():
    with pytest.raises(ArithlensError, match="get_digit/int"):
        NumeracySpec(task="get_digit", repr="float")
    with pytest.raises(ArithlensError, match="not a float"):
        NumeracyProblems.from_strings(NumeracySpec(task="max", repr="float"), [("9.10", "1.5")])
    with pytest.raises(ArithlensError, match="not a int"):
        NumeracyProblems.from_strings(NumeracySpec(task="length", n_digits=3), [("1234",)])
    with pytest.raises(ArithlensError, match="out of range"):
        NumeracyProblems.from_strings(NumeracySpec(task="get_digit"), [("12", "2")])
    with pytest.raises(ArithlensError, match="takes 2"):
        NumeracyProblems(NumeracySpec(task="max"), [("1",)])


def test_numbers_are_drawn_as_claimed():
    p = sample_numeracy(NumeracySpec(task="length", n_digits=4), 8000, seed=2)
    lengths = np.array([len(o[0]) for o in p.operands])
    counts = np.bincount(lengths, minlength=5)[1:]
    assert ((counts - 2000) ** 2 / 2000).sum() < 16.3, counts  # 3 dof, p = 0.001
    assert all(o[0] == "0" or o[0][0] != "0" for o in p.operands)
    lead = np.bincount([int(o[0][0]) for o in p.operands if len(o[0]) > 1], minlength=10)[1:]
    assert ((lead - lead.mean()) ** 2 / lead.mean()).sum() < 26.1, lead  # 8 dof
    f = sample_numeracy(NumeracySpec(task="max", repr="float", n_digits=2, decimals=3), 6000, 3)
    decs = np.bincount([len(x.split(".")[1]) for o in f.operands for x in o], minlength=4)[1:]
    assert ((decs - 4000) ** 2 / 4000).sum() < 13.8, decs  # 2 dof
    assert all(x[-1] != "0" for o in f.operands for x in o)


def test_comparison_labels_match_a_digit_by_digit_reference():
    p = sample_numeracy(NumeracySpec(task="max", repr="float", n_digits=2, decimals=3), 400, 5)
    lab = comparison_labels(p)
    for (a, b), place, winner in zip(p.operands, lab["place"], lab["winner"]):
        va, vb = _frac(a), _frac(b)
        assert winner == (0 if va > vb else 1 if vb > va else 2)
        # reference: the highest place (10^k) at which the two numbers' digits differ
        digit = lambda v, k: int(v / Fraction(10) ** k) % 10  # noqa: E731
        places = [k for k in range(3, -5, -1) if digit(va, k) != digit(vb, k)]
        if va != vb:
            assert place == places[0] or (
                place == max(len(a.split(".")[0]), len(b.split(".")[0])) - 1
            )
    assert comparison_labels(
        NumeracyProblems.from_strings(
            NumeracySpec(task="max", repr="float", n_digits=1), [("9.11", "9.9")]
        )
    )["place"].tolist() == [-1]


def test_running_count_and_decimal_point_carry_match_references():
    p = sample_numeracy(NumeracySpec(task="count", n_digits=6), 100, 1)
    for (x, d), counts in zip(p.operands, running_count(p)):
        assert counts == [x[: i + 1].count(d) for i in range(len(x))]
    f = sample_numeracy(NumeracySpec(task="add", repr="float", decimals=3), 300, 2)
    lab = point_labels(f)
    for (a, b), carry in zip(f.operands, lab["carry"]):
        fa, fb = _frac(a) - int(_frac(a)), _frac(b) - int(_frac(b))
        assert carry == (fa + fb >= 1)


def test_texts_use_the_numeracy_vocabulary():
    tok = CharTokenizer(vocab_for("numeracy"))
    for task_name, rep in ALL:
        task = NumeracySpec(task=task_name, repr=rep, n_digits=4, decimals=3)
        batch = encode(sample_numeracy(task, 50, 0))
        assert [tok.decode(row) for row in batch.tokens] == batch.texts
        assert tok.encode("0123456789") == list(range(10))  # digits keep ids 0-9


@pytest.mark.parametrize("task_name, rep", ALL, ids=[f"{t}-{r}" for t, r in ALL])
def test_every_task_trains_saves_and_evaluates_a_tiny_model(task_name, rep, tmp_path):
    task = NumeracySpec(task=task_name, repr=rep, n_digits=2, decimals=1)
    model = train(
        task, "1L", TrainConfig(steps=40, batch_size=32, lr=3e-3, eval_every=40), progress=False
    )
    save(model, tmp_path / "m")
    back = al.load(tmp_path / "m")
    assert back.task == task
    problems = sample_numeracy(task, 64, 9)
    correct, exact = text_scores(back, problems)
    # reference: the first wrong answer character read off one forward pass by hand
    batch = encode(problems)
    with torch.no_grad():
        pred = back(batch.tokens).argmax(-1)
    for r in range(len(problems)):
        chars = [int(p) for p in batch.answer_pos[r] if p >= 0]
        right = [int(pred[r, p - 1]) == int(batch.tokens[r, p]) for p in chars]
        end = int(batch.lengths[r]) - 1
        assert correct[r, : len(chars)].tolist() == right
        assert exact[r] == (all(right) and int(pred[r, end - 1]) == int(batch.tokens[r, end]))
    table = al.length_generalization(back, [1, 2], n=50)
    assert table["trained"].tolist() == [True, True]
    with pytest.raises(ArithlensError, match="numeracy task"):
        al.evaluate(back, n=10)
    _traces_probes_and_patches(back, problems)


@torch.no_grad()
def _traces_probes_and_patches(model, problems):
    """The lens, the ProblemExplorer, the decision probe and patching on a tiny model of any
    numeracy task, each against a reference computed here."""
    from arithlens.patching import activation_patch
    from arithlens.tasks import numeracy_pairs
    from arithlens.tasks.numeracy import labels, prompt
    from arithlens.tasks.numeracy.pairs import CHANGES
    from arithlens.widgets import ProblemExplorer

    task = model.task
    ops = problems.operands[0]
    text = prompt(task, ops)[:-1]
    t = al.lens.trace(model, text)
    truth = answer(task, ops)
    assert "".join(t.correct) == truth
    seq = encode(problems[:1]).tokens[0, : len(text) + 1].tolist()  # greedy, by hand
    for _ in truth:
        seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    tok = CharTokenizer(vocab_for("numeracy"))
    assert t.answer == tok.decode(seq[len(text) + 1 :])
    pe = ProblemExplorer(model, text)
    assert pe.problem == text and pe.trace.answer == t.answer
    with pytest.raises(ArithlensError):
        ProblemExplorer(model, text + ")")
    n = 48
    table = al.probes.decision(model, "answer", n=n, offsets=1, seed=2)
    y = labels(sample_numeracy(task, n, 2))["answer"]
    tr, te = y[: n - 12], y[n - 12 :]
    values, counts = np.unique(tr, return_counts=True)
    assert table.majority.iloc[0] == pytest.approx(np.mean(te == values[counts.argmax()]))
    if task.task not in CHANGES:
        return
    change = CHANGES[task.task][0]
    shape = {"int": "12", "float": "1.2", "word": "ab"}[task.repr]
    place = {"int": 0, "float": -1}[task.repr] if task.task in ("max", "min") else None
    pairs = numeracy_pairs(task, 16, change=change, shape=shape, place=place, seed=0)
    res = activation_patch(
        model,
        pairs,
        "resid_pre",
        by=("layer", "pos"),
        layers=[0],
        metric="logit_diff",
        digits="decision",
        progress=False,
    )
    batch = al.tokens.tokenizer.encode_pairs(pairs)
    same = (batch.clean.tokens == batch.corrupt.tokens).all(0)
    effect = (res.values[0] - res.corrupt).abs()
    read = int(batch.clean.answer_pos[:, 0].min())  # the first answer token: read before it
    changed = ~same & (torch.arange(len(same)) < read)
    assert effect[same].max() < 1e-4  # equal tokens: an equal activation patched in
    # the changed character carries the difference (a tiny model moves the metric a little)
    assert effect[changed].max() > 10 * effect[same].max() + 1e-7


def test_the_comparison_model_decides_9_11_vs_9_9_and_the_decision_probe_finds_it():
    """The zoo's float comparer answers the Number Cookbook's example, and the winner is
    linearly readable at '=' after its last block (checked against scikit-learn on a hand-read
    residual), far above the majority class and an untrained twin."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from arithlens.models.sites import stream

    model = al.load("max-float3.3-2L")
    case = NumeracyProblems.from_strings(model.task, [("9.11", "9.9"), ("9.9", "9.11")])
    assert text_scores(model, case)[1].all()
    n = 800
    table = al.probes.decision(model, "winner", n=n, offsets=3, seed=1)
    at = table.set_index(["site", "offset"]).accuracy
    problems = sample_numeracy(model.task, n, 1)
    y = comparison_labels(problems)["winner"]
    batch = encode(problems)
    _, cache = model.run_with_cache(batch.tokens)
    X = cache[dict(stream(model.cfg.n_layers))["L1"]][torch.arange(n), batch.prompt_len - 1]
    X = X.detach().numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
    ref = clf.fit(X[:600], y[:600]).score(X[600:], y[600:])
    assert abs(at["L1", 0] - ref) < 0.03, (at["L1", 0], ref)
    assert at["L1", 0] >= 0.9 > table.majority.iloc[0] + 0.3  # measured 0.945, majority ~0.5
    untrained = al.probes.decision(
        al.probes.random_init_like(model), "winner", n=n, offsets=1, seed=1
    )
    assert untrained.set_index("site").accuracy["L1"] < at["L1", 0] - 0.15
    with pytest.raises(ArithlensError, match="decision probes needs a task of family numeracy"):
        al.probes.decision(al.load("add3-1L"))
    with pytest.raises(ArithlensError, match="label='winner' is unknown"):
        al.probes.decision(al.load("get_digit-int6-2L"), "winner")


def test_the_running_count_probe_matches_scikit_learn_and_beats_an_untrained_twin():
    """The count so far at each character of the number (the digit is written first, so the
    number starts at one position): against scikit-learn on a hand-read residual at one site
    and character, and above an untrained twin of the same architecture further in."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from arithlens.models.sites import stream

    model = al.load("count-int8-3L")
    n, k = 1200, 3
    table = al.probes.running_count(model, n=n, seed=2)
    at = table.set_index(["site", "char"]).accuracy
    problems = sample_numeracy(model.task, n, 2)
    rows = np.array([len(x) > k for x, _ in problems.operands])
    y = np.array([c[k] for c, keep in zip(running_count(problems), rows) if keep])
    test = (np.arange(n) >= n - 300)[rows]
    batch = encode(problems)
    _, cache = model.run_with_cache(batch.tokens)
    X = cache[dict(stream(model.cfg.n_layers))["L2"]][torch.from_numpy(rows), 8 + k].numpy()
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
    ref = clf.fit(X[~test], y[~test]).score(X[test], y[test])
    assert abs(at["L2", k] - ref) < 0.05, (at["L2", k], ref)
    untrained = al.probes.running_count(al.probes.random_init_like(model), n=n, seed=2)
    later = [c for c in range(2, 8) if ("L2", c) in at.index]
    mine = np.mean([at["L2", c] for c in later])
    theirs = np.mean([untrained.set_index(["site", "char"]).accuracy["L2", c] for c in later])
    assert mine > theirs + 0.1, (mine, theirs)  # measured 0.76 vs 0.47
    with pytest.raises(ArithlensError, match="running counts need a count model"):
        al.probes.running_count(al.load("get_digit-int6-2L"))
