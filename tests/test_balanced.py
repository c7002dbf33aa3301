"""The class-balanced sampler is uniform within each cascade class: its class sizes equal an
exhaustive count, and per class its statistics equal rejection sampling from uniform problems
(3 and 5 digits, addition and subtraction). The older chain-built sampler fails the same test."""

from __future__ import annotations

import numpy as np
import pytest

from arithlens.tasks import (
    TaskSpec,
    cascade_chained,
    cascade_class,
    class_sizes,
    exact_cascade,
    max_cascade,
    pair_kind,
)
from arithlens.tasks.arithmetic.labels import PASS, carries
from arithlens.tasks.arithmetic.problems import Problems


def _all_problems(task: TaskSpec) -> Problems:
    n = task.n_digits
    a, b = np.divmod(np.arange(100**n), 10**n)
    keep = a >= b if task.op == "sub" and task.nonneg else np.ones(len(a), bool)
    digits = lambda v: np.stack([v // 10**k % 10 for k in range(n)], 1).astype(np.uint8)  # noqa: E731
    return Problems(task, digits(a[keep]), digits(b[keep]))


@pytest.mark.parametrize(
    "task",
    [
        TaskSpec(op="add", n_digits=3),
        TaskSpec(op="sub", n_digits=3),
        TaskSpec(op="sub", n_digits=2, nonneg=False),
    ],
    ids=["add3", "sub3", "sub2-signed"],
)
def test_class_sizes_equal_an_exhaustive_count(task):
    every = cascade_class(_all_problems(task))
    counts = np.bincount(every, minlength=max_cascade(task) + 1)
    assert class_sizes(task).tolist() == counts.astype(float).tolist()


def _stats(p: Problems) -> dict[str, np.ndarray]:
    """Per problem: each column's pair sum (add) or difference (sub), and the number of sum-9
    (equal, for sub) columns that no carry (borrow) enters: 9s off the chain."""
    col = p.a.astype(int) + p.b.astype(int) if p.task.op == "add" else p.a.astype(int) - p.b
    off_chain = (pair_kind(p) == PASS) & (carries(p) == 0)
    return {"column": col, "off_chain_9s": off_chain.sum(1)[:, None]}


def _rejection(task: TaskSpec, cls: int, want: int, seed: int) -> Problems:
    """``want`` uniform problems of class ``cls``: draw uniformly, keep the class."""
    rng = np.random.default_rng(seed)
    parts, have = [], 0
    while have < want:
        n = task.n_digits
        a = rng.integers(0, 10, size=(500_000, n)).astype(np.uint8)
        b = rng.integers(0, 10, size=(500_000, n)).astype(np.uint8)
        if task.op == "sub":  # uniform over a >= b: drop the pairs with a < b
            va, vb = (a * 10 ** np.arange(n)).sum(1), (b * 10 ** np.arange(n)).sum(1)
            a, b = a[va >= vb], b[va >= vb]
        p = Problems(task, a, b)
        p = p[np.nonzero(cascade_class(p) == cls)[0]]
        parts.append(p)
        have += len(p)
    return Problems.concat(parts)[:want]


def _same_distribution(x: np.ndarray, y: np.ndarray) -> float:
    """Largest |z| of the difference of means over the columns of x and y."""
    se = np.sqrt(x.var(0) / len(x) + y.var(0) / len(y)) + 1e-12
    return float(np.max(np.abs(x.mean(0) - y.mean(0)) / se))


CASES = [
    (TaskSpec(op="add", n_digits=3), [0, 1, 2, 3]),
    (TaskSpec(op="sub", n_digits=3), [0, 1, 2]),
    (TaskSpec(op="add", n_digits=5), [0, 2, 4]),
    (TaskSpec(op="sub", n_digits=5), [1, 3]),
]


@pytest.mark.parametrize("task, classes", CASES, ids=["add3", "sub3", "add5", "sub5"])
def test_each_class_matches_rejection_sampling_from_uniform(task, classes):
    for cls in classes:
        ours = exact_cascade(task, cls, 4000, seed=cls + 1)
        assert (cascade_class(ours) == cls).all()
        ref = _rejection(task, cls, 1500, seed=100 + cls)
        for name, x in _stats(ours).items():
            z = _same_distribution(x.astype(float), _stats(ref)[name].astype(float))
            assert z < 5.0, (task.name, cls, name, z)  # 5 standard errors


def test_the_chained_sampler_fails_the_same_test():
    """The old sampler puts no sum-9 column off a chain (S0 is built from pairs summing to at
    most 8), so it differs from uniform problems of the class by many standard errors."""
    task = TaskSpec(op="add", n_digits=5)
    old = cascade_chained(task, 6000, seed=0)
    s0 = old[np.nonzero(cascade_class(old) == 0)[0]]
    ref = _rejection(task, 0, 1500, seed=100)
    z = _same_distribution(
        _stats(s0)["off_chain_9s"].astype(float), _stats(ref)["off_chain_9s"].astype(float)
    )
    assert z > 10.0, z  # measured 42.7 standard errors (the new sampler: < 5 in every class)
    # its S0 problems hold no sum-9 column at all; uniform S0 problems hold some
    assert _stats(s0)["off_chain_9s"].max() == 0 and _stats(ref)["off_chain_9s"].mean() > 0.3


def test_signed_subtraction_draws_both_orders():
    # (the even split over classes is tested in test_tasks)
    signed = exact_cascade(TaskSpec(op="sub", n_digits=3, nonneg=False), 1, 2000, seed=0)
    assert 0.4 < np.mean([a < b for a, b in signed.ints()]) < 0.6  # both orders drawn


# ----------------------------------------------------------------------------- minimal pairs


@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("start, length", [(0, 1), (0, 4), (1, 3), (2, 2)])
def test_chains_twins_and_broken_chains_differ_in_exactly_the_claimed_way(op, start, length):
    from arithlens.tasks import broken_chains, chain_length, false_cascades

    task = TaskSpec(op=op, n_digits=5)
    if start + length > (5 if op == "add" else 4):
        pytest.skip("the chain would land past the answer")
    pairs = false_cascades(task, 300, start=start, length=length, seed=1)
    clean, twin = pairs.clean, pairs.corrupt
    for (a, b), (a2, b2) in zip(clean.ints(), twin.ints()):
        assert a == a2 and str(b).zfill(5)[::-1][start] != str(b2).zfill(5)[::-1][start]
        if op == "sub":
            assert a >= b and a2 >= b2
    carry = carries(clean)
    want = np.zeros(carry.shape[1], dtype=int)
    want[start + 1 : start + length + 1] = 1
    assert (carry == want).all()  # the one chain, from start to start + length
    assert (chain_length(clean).max(1) == length).all()
    assert (carries(twin) == 0).all()  # the twin: no carry anywhere
    runs = pair_kind(twin)[:, start + 1 : start + length]
    assert (runs == PASS).all()  # ... through the same sum-9 (equal) columns
    if length >= 2:
        broken = broken_chains(task, 300, start=start, length=length, at=start + 1, seed=2)
        assert (carries(broken.corrupt)[:, start + 1] == 1).all()
        assert (carries(broken.corrupt)[:, start + 2 :] == 0).all()  # stops at the break


def test_minimal_sets_name_impossible_chains():
    from arithlens.errors import ArithlensError
    from arithlens.tasks import broken_chains, false_cascades

    with pytest.raises(ArithlensError, match="length=5 from start=1 lands on column 6"):
        false_cascades(TaskSpec(op="add", n_digits=5), 4, start=1, length=5)
    with pytest.raises(ArithlensError, match="at=3 is not a sum-9 column"):
        broken_chains(TaskSpec(op="add", n_digits=5), 4, start=0, length=3, at=3)
    with pytest.raises(ArithlensError, match="op 'add' or 'sub', not 'mul'"):
        false_cascades(TaskSpec(op="mul", n_digits=2), 4)


def test_the_one_layer_plain_model_writes_a_carry_for_a_run_of_nines():
    """add5-plain-1L (retrained on uniform and unbiased class-balanced problems) still writes the
    carry that a run of sum-9 pairs suggests when nothing makes one: measured 0.000 exact match on
    false-cascade twins of length 5, where add5-plain-2L scores 0.826 and both get the real
    chains right (0.992 and 0.990)."""
    import arithlens as al
    from arithlens.tasks import false_cascades

    one, two = al.load("add5-plain-1L"), al.load("add5-plain-2L")
    pairs = false_cascades(one.task, 500, start=0, length=5, seed=5)
    assert al.evaluate(one, pairs.corrupt).exact_match <= 0.05
    assert al.evaluate(two, pairs.corrupt).exact_match >= 0.7
    assert min(al.evaluate(m, pairs.clean).exact_match for m in (one, two)) >= 0.95


def test_minimal_pairs_feed_patching_and_probes(zoo_add3_1l):
    """A false-cascade pair set is a Pairs: activation patching runs on it (which position
    carries the difference between a real and a false cascade?) and probes take its problems."""
    import arithlens as al
    from arithlens.tasks import false_cascades

    pairs = false_cascades(zoo_add3_1l.task, 64, start=0, length=3, seed=0)
    res = al.patching.activation_patch(
        zoo_add3_1l, pairs, "resid_pre", by=("layer", "pos"), digits="thousands", progress=False
    )
    eff = res.normalized().values[0]
    # "888+114=2001." vs its twin "888+110=8990.": in the reversed format the thousands digit is
    # read off the answer digits already written (position 10 predicts it: restores 1.000), not
    # off b.units (position 6: 0.008); untouched prompt positions change nothing
    assert eff[10].item() > 0.9 and eff[6].item() < 0.1 and eff[:6].abs().max().item() < 1e-6
    probes = al.probes.fit(
        zoo_add3_1l,
        "carry.thousands",
        problems=al.tasks.Problems.concat([pairs.clean, pairs.corrupt]),
        controls=("majority",),
        min_per_class=5,
        progress=False,
    )
    assert abs(probes.majority[0] - 0.5) < 0.1  # half the problems carry into the thousands
    assert probes.score[0].max() > 0.95
