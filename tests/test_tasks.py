"""Tasks: every label equals what Python integer arithmetic gives (property tests)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arithlens.errors import ArithlensError
from arithlens.tasks import (
    CLASS_NAMES,
    Problems,
    TaskSpec,
    answer_digits,
    carries,
    cascade_class,
    digit_class,
    digit_flags,
    render,
    sample,
    split,
)
from arithlens.tasks.arithmetic.formats import max_length
from arithlens.tasks.arithmetic.spec import FORMATS, HINTS

widths = st.integers(min_value=1, max_value=20)


@st.composite
def problem(draw, op: str):
    n = draw(widths)
    a = draw(st.integers(0, 10**n - 1))
    b = draw(st.integers(0, 10**n - 1))
    if op == "sub":
        a, b = max(a, b), min(a, b)
    return n, a, b


def digits_of(x: int, width: int) -> list[int]:
    return [(x // 10**k) % 10 for k in range(width)]


@settings(max_examples=300, deadline=None)
@given(problem("add"))
def test_addition_digits_and_carries_match_python(p):
    n, a, b = p
    probs = Problems.from_ints(TaskSpec(op="add", n_digits=n), [(a, b)])
    assert answer_digits(probs)[0].tolist() == digits_of(a + b, n + 1)
    expected_carry = [int((a % 10**k) + (b % 10**k) >= 10**k) for k in range(n + 1)]
    assert carries(probs)[0].tolist() == expected_carry


@settings(max_examples=300, deadline=None)
@given(problem("sub"), st.booleans())
def test_subtraction_digits_and_borrows_match_python(p, swap):
    n, a, b = p
    if swap:
        a, b = b, a
    probs = Problems.from_ints(TaskSpec(op="sub", n_digits=n, nonneg=False), [(a, b)])
    top, bottom = max(a, b), min(a, b)
    assert answer_digits(probs)[0].tolist() == digits_of(abs(a - b), n)
    expected_borrow = [int(top % 10**k < bottom % 10**k) for k in range(n)]
    assert carries(probs)[0].tolist() == expected_borrow
    text = render(probs).texts[0]
    assert (
        text.split("=")[1].rstrip(".") == ("-" if a < b else "+") + str(abs(a - b)).zfill(n)[::-1]
    )


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, 10**n - 1), st.integers(0, 10**n - 1))
    )
)
def test_multiplication_digits_and_column_carries_match_python(p):
    n, a, b = p
    probs = Problems.from_ints(TaskSpec(op="mul", n_digits=n), [(a, b)])
    assert answer_digits(probs)[0].tolist() == digits_of(a * b, 2 * n)
    da, db = digits_of(a, n), digits_of(b, n)
    for k in range(2 * n):
        below = sum(da[i] * db[j] * 10 ** (i + j) for i in range(n) for j in range(n) if i + j < k)
        assert carries(probs)[0, k] == below // 10**k


def reference_chain(a: int, b: int, n: int) -> int:
    """Longest carry chain via strings: a carry made at column j travels while columns sum to 9."""
    sa, sb = str(a).zfill(n)[::-1], str(b).zfill(n)[::-1]
    best = 0
    for j in range(n):
        if int(sa[j]) + int(sb[j]) >= 10:
            length, k = 1, j + 1
            while k < n and int(sa[k]) + int(sb[k]) == 9:
                length, k = length + 1, k + 1
            best = max(best, length)
    return min(best, 5)


@settings(max_examples=300, deadline=None)
@given(problem("add"))
def test_cascade_class_matches_string_reference(p):
    n, a, b = p
    probs = Problems.from_ints(TaskSpec(op="add", n_digits=n), [(a, b)])
    assert int(cascade_class(probs)[0]) == reference_chain(a, b, n)


def test_quirke_barez_classes_on_the_papers_cascade_example():
    # 04450 + 05550 = 10000: the carry made in the tens column cascades through two sum-9 columns.
    p = Problems.from_ints(TaskSpec(op="add", n_digits=5), [(4450, 5550), (11111, 22222), (19, 1)])
    names = [[CLASS_NAMES[c] for c in row] for row in digit_class(p)]
    assert names[0] == ["BA", "MC", "UC", "US", "US", "BA"]
    assert names[1] == ["BA"] * 6
    assert names[2][:2] == ["MC", "UC"]
    assert cascade_class(p).tolist() == [3, 0, 1]
    flags = digit_flags(p)
    assert flags["MS"][0].tolist() == [False, False, True, True, False, False]


def test_formats_place_every_answer_digit_where_the_text_has_it():
    for op in ("add", "sub", "mul"):
        for fmt in FORMATS:
            for pad in (True, False):
                task = TaskSpec(op=op, n_digits=4, format=fmt, pad=pad, nonneg=op != "sub")
                p = sample(task, 50, seed=3)
                r = render(p)
                truth = answer_digits(p)
                for i, text in enumerate(r.texts):
                    assert len(text) <= max_length(task)
                    assert text[r.prompt_len[i] - 1] == "=" and text.endswith(".")
                    for k, pos in enumerate(r.answer_pos[i]):
                        if pos >= 0:
                            assert text[pos] == str(truth[i, k])
                    a, b = p.ints()[i]
                    for j, x in enumerate((a, b)):  # operand digits where they are said to be
                        shown = str(x).zfill(4) if pad else str(x)
                        for k, pos in enumerate(r.operand_pos[i, j]):
                            assert (text[pos] == shown[::-1][k]) if k < len(shown) else pos == -1
                    value = {"add": a + b, "sub": a - b, "mul": a * b}[op]
                    ans = text[r.prompt_len[i] :].rstrip(".").split(">")[-1]
                    sign = -1 if ans.startswith("-") else 1
                    ans = ans.lstrip("+-")
                    if fmt == "index_hints":  # letter of the place, then its digit
                        assert ans[::2] == HINTS[: len(ans) // 2]
                        ans = ans[1::2]
                    assert " " not in ans
                    reversed_ = fmt in ("reversed", "random_spaces", "index_hints")
                    assert sign * int(ans[::-1] if reversed_ else ans) == value


def test_plain_and_reversed_render_as_in_lee_et_al():
    p = Problems.from_ints(TaskSpec(op="add", n_digits=3, format="plain"), [(123, 456)])
    assert render(p).texts == ["123+456=0579."]
    p = Problems.from_ints(TaskSpec(op="add", n_digits=3, format="reversed"), [(123, 456)])
    assert render(p).texts == ["123+456=9750."]
    p = Problems.from_ints(TaskSpec(op="add", n_digits=3, format="scratchpad"), [(128, 367)])
    assert render(p).texts == ["128+367=A5C1,A9C0,A4C0,A0C0,>0495."]


def test_shen_et_al_formats_render_as_described():
    p = Problems.from_ints(TaskSpec(op="add", n_digits=3, format="index_hints"), [(123, 456)])
    assert render(p).texts == ["c1b2a3+c4b5a6=a9b7c5d0."]
    task = TaskSpec(op="add", n_digits=6, format="random_spaces", pad=False)
    p = sample(task, 4000, seed=1)
    texts, again = render(p).texts, render(p).texts
    assert texts == again  # a problem always reads the same
    prompts = [t.split("=")[0] for t in texts]
    gaps = sum(len(x) - 1 for t in prompts for x in t.replace(" ", "").split("+"))
    spaces = sum(t.count(" ") for t in prompts)
    # one space per gap between digits with probability 1/2: within 4 standard deviations
    assert abs(spaces - gaps / 2) < 4 * (gaps / 4) ** 0.5, (spaces, gaps)
    assert all("  " not in t and not t.startswith(" ") for t in prompts)
    with pytest.raises(ArithlensError, match="marks places with 26 letters"):
        TaskSpec(op="mul", n_digits=14, format="index_hints")


def test_split_is_disjoint_deterministic_and_seed_dependent():
    task = TaskSpec(op="add", n_digits=3)
    tr, te = split(task, 3000, 500, seed=4)
    assert not set(tr.keys()) & set(te.keys())
    assert len(set(tr.keys())) == 3000 and len(set(te.keys())) == 500
    tr2, te2 = split(task, 3000, 500, seed=4)
    assert np.array_equal(tr.a, tr2.a) and np.array_equal(te.b, te2.b)
    tr3, _ = split(task, 3000, 500, seed=5)
    assert not np.array_equal(tr.a, tr3.a)


def test_cascade_sampler_balances_classes_that_uniform_almost_never_draws():
    task = TaskSpec(op="add", n_digits=5)
    counts = np.bincount(cascade_class(sample(task, 1200, seed=0, strategy="cascade")), minlength=6)
    assert counts.tolist() == [200] * 6
    uniform_s5 = (cascade_class(sample(task, 5000, seed=0)) == 5).mean()
    assert uniform_s5 < 0.005
    sub = sample(TaskSpec(op="sub", n_digits=4), 400, seed=1, strategy="cascade")
    assert sorted(set(cascade_class(sub).tolist())) == [0, 1, 2, 3]
    assert all(a >= b for a, b in sub.ints())


def test_subtraction_nonneg_sampler_never_goes_negative():
    p = sample(TaskSpec(op="sub", n_digits=6), 500, seed=2)
    assert all(a >= b for a, b in p.ints())


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(op="add", n_digits=0), "n_digits=0"),
        (dict(op="pow", n_digits=2), "op='pow'"),
        (dict(op="add", n_digits=2, format="words"), "format='words'"),
        (dict(op="add", n_digits=2.5), "n_digits=2.5"),
    ],
)
def test_bad_task_specs_name_the_value(kwargs, fragment):
    with pytest.raises(ArithlensError, match=fragment.replace("(", r"\(")):
        TaskSpec(**kwargs)


def test_bad_sampler_input_names_the_value():
    task = TaskSpec(op="add", n_digits=2)
    with pytest.raises(ArithlensError, match="seed='x'"):
        sample(task, 3, seed="x")
    with pytest.raises(ArithlensError, match="seed=1.5"):
        split(task, 3, 3, seed=1.5)
    with pytest.raises(ArithlensError, match="strategy='odd'"):
        sample(task, 3, strategy="odd")
    with pytest.raises(ArithlensError, match="n=20000 unique"):
        sample(task, 20000, unique=True)
    with pytest.raises(ArithlensError, match="operand 1234 has 4 digits"):
        Problems.from_ints(task, [(1234, 1)])
    with pytest.raises(ArithlensError, match="'a.hundreds' is out of range"):
        task.operand_digit("a.hundreds")
