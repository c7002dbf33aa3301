"""Seeded problem samplers and train/test splits.

Uniform sampling almost never produces long carry cascades (a 5-digit S5 addition has
probability ~5e-5), so :func:`sample` also offers ``strategy="cascade"``: problems balanced over
the cascade classes S0..S5 that the width allows and uniform within each class (exact; see
:mod:`arithlens.tasks.arithmetic.balanced`).

``strategy="cascade_chained"`` is the earlier, biased sampler, kept only because the committed
zoo models were trained and held out with it (their recipes name it, so their held-out sets can
be drawn again): it builds S0 from pairs summing to at most 8 and puts every sum-9 column on a
carry chain, so within it P(carry | sum-9 column below) is ~1 (0.35 under uniform sampling).

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> task = TaskSpec(op="add", n_digits=5)
    >>> p = sample(task, 600, seed=0, strategy="cascade")
    >>> sorted(set(cascade_class(p).tolist()))
    [0, 1, 2, 3, 4, 5]
"""

from __future__ import annotations

import numpy as np

from arithlens.choices import Strategy
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.tasks.arithmetic.balanced import cascade_balanced
from arithlens.tasks.arithmetic.labels import MAKE, NONE, PASS, cascade_class, max_cascade
from arithlens.tasks.arithmetic.ops import _is_less
from arithlens.tasks.arithmetic.problems import Problems
from arithlens.tasks.arithmetic.spec import TaskSpec

STRATEGIES = ("uniform", "cascade", "cascade_chained")
RANDOM = -1


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_int("seed", seed, minimum=0))


def _order(task: TaskSpec, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For non-negative subtraction, swap rows so that a >= b."""
    if task.op == "sub" and task.nonneg:
        swap = _is_less(a, b)[:, None]
        a, b = np.where(swap, b, a), np.where(swap, a, b)
    return a.astype(np.uint8), b.astype(np.uint8)


def uniform(task: TaskSpec, n: int, seed: int | np.random.Generator = 0) -> Problems:
    """``n`` problems with operands uniform on ``[0, 10**n_digits)`` (duplicates possible); for
    a mixed-length task (``task.min_digits``) each operand's length is uniform on
    ``min_digits..n_digits`` and the operand uniform among the numbers of that length."""
    rng = _rng(seed)
    if task.mixed:
        a, b = _of_length(task, n, rng), _of_length(task, n, rng)
    else:
        a = rng.integers(0, 10, size=(n, task.n_digits))
        b = rng.integers(0, 10, size=(n, task.n_digits))
    return Problems(task, *_order(task, a, b))


def _of_length(task: TaskSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, n_digits)`` digits of operands whose length is uniform on ``min_digits..n_digits``
    (leading digit 1-9 unless the length is 1, zeros above the length)."""
    assert task.min_digits is not None
    length = rng.integers(task.min_digits, task.n_digits + 1, size=n)
    digits = rng.integers(0, 10, size=(n, task.n_digits))
    top = rng.integers(1, 10, size=n)
    rows = np.arange(n)
    digits[rows, length - 1] = np.where(length > 1, top, digits[rows, length - 1])
    digits[np.arange(task.n_digits)[None, :] >= length[:, None]] = 0
    return digits


def _pairs(op: str, kind: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Digit pairs that MAKE / PASS / do NONE to a carry (or are RANDOM), per entry of ``kind``."""
    a = rng.integers(0, 10, size=kind.shape)
    b = rng.integers(0, 10, size=kind.shape)
    u = rng.random(kind.shape)
    if op == "add":
        make_a = rng.integers(1, 10, size=kind.shape)
        make_b = 10 - make_a + np.floor(u * make_a).astype(np.int64)  # in [10-a, 9]
        none_a = rng.integers(0, 9, size=kind.shape)
        none_b = np.floor(u * (9 - none_a)).astype(np.int64)  # in [0, 8-a]
        pass_b = 9 - a
    else:  # sub: top < bottom makes a borrow, equal passes it on
        make_a = rng.integers(0, 9, size=kind.shape)
        make_b = make_a + 1 + np.floor(u * (9 - make_a)).astype(np.int64)
        none_a = rng.integers(1, 10, size=kind.shape)
        none_b = np.floor(u * none_a).astype(np.int64)
        pass_b = a
    out_a = np.select([kind == MAKE, kind == NONE, kind == PASS], [make_a, none_a, a], a)
    out_b = np.select([kind == MAKE, kind == NONE, kind == PASS], [make_b, none_b, pass_b], b)
    return out_a, out_b


def _cascade_candidates(task: TaskSpec, n: int, rng: np.random.Generator) -> Problems:
    """Problems built to have a carry chain of a random length 0..max (then re-checked)."""
    nd, top = task.n_digits, max_cascade(task)
    span = nd if task.op == "add" else nd - 1  # the last column a carry can land in
    length = rng.integers(0, top + 1, size=n)
    kind = np.full((n, nd), RANDOM)
    kind[length == 0] = NONE
    for i in np.nonzero(length)[0]:
        L = min(int(length[i]), span)
        if L == 0:
            continue
        s = int(rng.integers(0, span - L + 1))
        kind[i, s] = MAKE
        kind[i, s + 1 : s + L] = PASS
    a, b = _pairs(task.op, kind, rng)
    return Problems(task, *_order(task, a, b))


def cascade_chained(task: TaskSpec, n: int, seed: int | np.random.Generator = 0) -> Problems:
    """The earlier chain-built sampler (biased; see the module docstring): ``n`` problems spread
    evenly over the cascade classes, not uniform within them."""
    rng = _rng(seed)
    classes = max_cascade(task) + 1
    quota = np.full(classes, n // classes)
    quota[: n % classes] += 1
    parts: list[Problems] = []
    for _ in range(200):
        cand = _cascade_candidates(task, 2 * n + 16, rng)
        cls = cascade_class(cand)
        for c in range(classes):
            idx = np.nonzero(cls == c)[0][: quota[c]]
            if len(idx):
                parts.append(cand[idx])
                quota[c] -= len(idx)
        if quota.sum() == 0:
            out = Problems.concat(parts)
            return out[rng.permutation(len(out))]
    raise ArithlensError(
        f"could not fill cascade classes {np.nonzero(quota)[0].tolist()} for {task.name}"
    )


MAX_PROBLEMS = 10_000_000  # one draw's bound: ~1 GB of digits at 64-digit operands


def sample(
    task: TaskSpec,
    n: int,
    seed: int | np.random.Generator = 0,
    *,
    strategy: Strategy = "uniform",
    exclude: Problems | None = None,
    unique: bool = False,
) -> Problems:
    """``n`` problems of ``task``.

    Args:
        task: the task.
        n: number of problems (1 .. :data:`MAX_PROBLEMS`).
        seed: int seed or a numpy Generator.
        strategy: ``"uniform"``, ``"cascade"`` (balanced over cascade classes, uniform within
            each) or ``"cascade_chained"`` (the biased sampler the committed zoo used).
        exclude: problems that must not appear (e.g. a held-out set).
        unique: no problem appears twice.
    """
    check_int("n", n, minimum=1, maximum=MAX_PROBLEMS)
    check_choice("strategy", strategy, STRATEGIES)
    if task.mixed and strategy != "uniform":
        raise ArithlensError(
            f"strategy={strategy!r} needs a fixed operand width but task {task.name} has operands "
            f"of {task.min_digits}..{task.n_digits} digits: use strategy='uniform' (and "
            "TrainConfig(cascade_fraction=0) to train on it)"
        )
    rng = _rng(seed)
    draw = {"uniform": uniform, "cascade": cascade_balanced, "cascade_chained": cascade_chained}[
        strategy
    ]
    banned = set(exclude.keys()) if exclude is not None else set()
    if unique or banned:
        space = _space(task) - len(banned)
        if unique and n > space:
            raise ArithlensError(
                f"n={n} unique problems requested but {task.name} has only {space} left"
            )
    parts, have, seen = [], 0, set(banned)
    for _ in range(1000):
        size = n - have if strategy != "uniform" else max(2 * (n - have), 1024)
        cand = draw(task, size, rng)
        keep = []
        for i, k in enumerate(cand.keys()):
            if k in seen:
                continue
            if unique:
                seen.add(k)
            keep.append(i)
        if keep:
            parts.append(cand[np.asarray(keep)])
            have += len(keep)
        if have >= n:
            return Problems.concat(parts)[:n]
    raise ArithlensError(f"could not draw n={n} problems for {task.name} with the exclusions given")


def _space(task: TaskSpec) -> int:
    """How many distinct problems ``task`` has (ordered pairs of operands; an upper bound for
    non-negative subtraction)."""
    if not task.mixed:
        return 100**task.n_digits
    assert task.min_digits is not None
    lo = 0 if task.min_digits == 1 else 10 ** (task.min_digits - 1)
    return (10**task.n_digits - lo) ** 2


def split(
    task: TaskSpec, n_train: int, n_test: int, seed: int = 0, *, test_strategy: Strategy = "uniform"
) -> tuple[Problems, Problems]:
    """Seeded train/test split with no problem in both (each side also free of duplicates).

    Example:
        >>> train, test = split(TaskSpec(op="add", n_digits=2), 500, 100, seed=1)
        >>> set(train.keys()) & set(test.keys())
        set()
    """
    seed = check_int("seed", seed, minimum=0)
    test = sample(task, n_test, seed=seed * 2 + 1, strategy=test_strategy, unique=True)
    train = sample(task, n_train, seed=seed * 2, exclude=test, unique=True)
    return train, test
