"""Minimal pairs: problems that isolate one algorithmic claim about carries.

A claim such as "the model propagates a carry through sum-9 columns" is tested by problems that
differ in exactly the thing the claim is about:

- :func:`carry_chains`: a real carry chain of length ``L`` — a carry made at column ``start``
  (pair sum >= 10; for subtraction a borrow, top < bottom) passed through ``L - 1`` sum-9
  columns (equal digits) and landing on column ``start + L``. Every other column neither makes
  nor passes a carry, so the chain is the only one.
- :func:`false_cascades`: each chain beside its *false-cascade twin* — the same sum-9 run, but
  column ``start`` makes no carry (one digit of ``b`` changed). A model that learned "a run of
  9s means carry" writes the twin's answer with the carry anyway.
- :func:`broken_chains`: each chain beside the same chain broken at column ``at`` (that sum-9
  pair changed, again in ``b`` only), so the carry stops there.

The two sides are :class:`~arithlens.tasks.Pairs` (clean = the real chain), usable by
``evaluate`` (``pairs.clean`` / ``pairs.corrupt``), by every patching method (which component
carries the difference between a real and a false cascade?) and by probes; labels come from
:mod:`arithlens.tasks.arithmetic.labels` (``chain_length``, ``carries``). Other columns are drawn uniformly
among the pairs that do nothing to a carry, so every problem of a set is equally likely.

Example:
    >>> from arithlens.tasks import TaskSpec, carries
    >>> pairs = false_cascades(TaskSpec(op="add", n_digits=5), 4, start=0, length=4, seed=0)
    >>> carries(pairs.clean)[0].tolist(), carries(pairs.corrupt)[0].tolist()
    ([0, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0])
"""

from __future__ import annotations

import numpy as np

from arithlens.errors import ArithlensError, check_int
from arithlens.tasks.arithmetic.labels import MAKE, NONE, PASS
from arithlens.tasks.arithmetic.problems import Problems
from arithlens.tasks.arithmetic.samplers import _rng
from arithlens.tasks.arithmetic.spec import TaskSpec
from arithlens.tasks.common import Pairs


def _pair_table(op: str) -> dict[int, np.ndarray]:
    """The digit pairs (top, bottom) of each kind, as ``(k, 2)`` arrays."""
    x, y = np.divmod(np.arange(100), 10)
    if op == "add":
        kind = np.where(x + y >= 10, MAKE, np.where(x + y == 9, PASS, NONE))
    else:
        kind = np.where(x < y, MAKE, np.where(x == y, PASS, NONE))
    return {k: np.stack([x[kind == k], y[kind == k]], 1) for k in (MAKE, PASS, NONE)}


def _flip_b(op: str, a: np.ndarray, to: int, rng: np.random.Generator) -> np.ndarray:
    """A new ``b`` digit that, with top digit ``a``, makes a pair of kind ``to`` (NONE), drawn
    uniformly among those digits."""
    lo = np.zeros_like(a)
    hi = (8 - a) if op == "add" else (a - 1)  # inclusive bound of a no-carry partner
    if (hi < lo).any():
        raise ArithlensError("internal: no partner digit (the chain was drawn without one)")
    return lo + np.floor(rng.random(a.shape) * (hi - lo + 1)).astype(a.dtype)


def _undo(clean: Problems, column: int, rng: np.random.Generator) -> Problems:
    """``clean`` with b's digit at ``column`` redrawn so that the pair does nothing to a carry."""
    b = clean.b.copy()
    b[:, column] = _flip_b(clean.task.op, clean.a[:, column].astype(np.int64), NONE, rng)
    return Problems(clean.task, clean.a.copy(), b)


def _check(task: TaskSpec, start: int, length: int) -> int:
    if task.op not in ("add", "sub"):
        raise ArithlensError(f"carry chains need op 'add' or 'sub', not {task.op!r}")
    check_int("start", start, minimum=0)
    check_int("length", length, minimum=1)
    last = task.n_digits if task.op == "add" else task.n_digits - 1
    if start + length > last:
        raise ArithlensError(
            f"a chain of length={length} from start={start} lands on column {start + length}, "
            f"past the last column a {task.name} carry can reach ({last})"
        )
    return last


def carry_chains(
    task: TaskSpec,
    n: int,
    *,
    start: int = 0,
    length: int = 2,
    seed: int | np.random.Generator = 0,
    breakable: int | None = None,
) -> Problems:
    """``n`` problems whose only carry chain starts at column ``start`` and has ``length``
    (see the module doc). Column ``start``'s top digit and that of ``breakable`` (a column of
    the run) are drawn so that changing ``b`` alone can undo them (1..8 and 0..8 for add)."""
    _check(task, start, length)
    check_int("n", n, minimum=1)
    rng = _rng(seed)
    table = _pair_table(task.op)
    nd = task.n_digits
    kinds = [NONE] * nd
    kinds[start] = MAKE
    for k in range(start + 1, min(start + length, nd)):
        kinds[k] = PASS
    a = np.zeros((n, nd), dtype=np.uint8)
    b = np.zeros((n, nd), dtype=np.uint8)
    for k, kind in enumerate(kinds):
        options = table[kind]
        if k == start or k == breakable:  # b must be changeable to a no-carry partner
            top = options[:, 0]
            options = options[(top <= 8) if task.op == "add" else (top >= 1)]
            if k == start and task.op == "add":
                options = options[options[:, 0] >= 1]
            if k == start and task.op == "sub":
                options = options[options[:, 0] <= 8]
        pick = options[rng.integers(0, len(options), size=n)]
        a[:, k], b[:, k] = pick[:, 0], pick[:, 1]
    return Problems(task, a, b)


def false_cascades(
    task: TaskSpec,
    n: int,
    *,
    start: int = 0,
    length: int = 2,
    seed: int | np.random.Generator = 0,
) -> Pairs:
    """Real chains (clean) and their false-cascade twins (corrupt): column ``start`` no longer
    makes a carry, the sum-9 run above it is unchanged."""
    rng = _rng(seed)
    clean = carry_chains(task, n, start=start, length=length, seed=rng)
    return Pairs(clean, _undo(clean, start, rng), f"false_cascade@{start}+{length}")


def broken_chains(
    task: TaskSpec,
    n: int,
    *,
    start: int = 0,
    length: int = 3,
    at: int | None = None,
    seed: int | np.random.Generator = 0,
) -> Pairs:
    """Real chains (clean) and the same chains broken at column ``at`` (default: the first
    sum-9 column), whose pair no longer passes the carry on."""
    at = start + 1 if at is None else at
    if not start < at < start + length:
        raise ArithlensError(
            f"at={at} is not a sum-9 column of the chain: expected {start + 1}..{start + length - 1}"
        )
    rng = _rng(seed)
    clean = carry_chains(task, n, start=start, length=length, seed=rng, breakable=at)
    return Pairs(clean, _undo(clean, at, rng), f"broken_chain@{start}+{length}:{at}")


__all__ = ["broken_chains", "carry_chains", "false_cascades"]
