"""Clean/corrupt problem pairs for patching: the same problems with one thing changed.

Changes:
- ``"a.units"``, ``"b.tens"``, ...: that operand digit replaced by a different digit;
- ``"resample.a"`` / ``"resample.b"``: that operand redrawn (to a different value);
- ``"swap"``: operands swapped;
- ``"op:sub"`` (or ``"op:add"``, ``"op:mul"``): the operator changed (the answer widths of the two
  operations must match, so clean and corrupt tokenize to the same length).

Padded tasks keep clean and corrupt texts of equal length by construction.

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> pairs = corrupt_pairs(TaskSpec(op="add", n_digits=3), 4, change="a.units", seed=0)
    >>> all(c[0] % 10 != k[0] % 10 for c, k in zip(pairs.clean.ints(), pairs.corrupt.ints()))
    True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from arithlens.choices import Strategy
from arithlens.errors import ArithlensError, check_int
from arithlens.tasks.arithmetic.ops import _is_less
from arithlens.tasks.arithmetic.problems import Problems
from arithlens.tasks.arithmetic.samplers import _rng, sample
from arithlens.tasks.arithmetic.spec import OPS, TaskSpec
from arithlens.tasks.common import Pairs


def corrupt_problems(
    task: TaskSpec, clean: Problems, change: str, rng: np.random.Generator
) -> Problems:
    """The corruption of each of ``clean`` by ``change`` (see the module doc)."""
    a, b = clean.a.copy(), clean.b.copy()
    if change == "swap":
        return Problems(task, b, a)
    if change.startswith("op:"):
        op = change[3:]
        if op not in OPS or op == task.op:
            raise ArithlensError(
                f"change {change!r} is invalid: expected 'op:<one of {[o for o in OPS if o != task.op]}>'"
            )
        other = dataclasses.replace(task, op=op)
        if other.answer_width != task.answer_width or other.signed != task.signed:
            raise ArithlensError(
                f"change {change!r}: {task.op} answers have {task.answer_width} digits but {op} "
                f"answers have {other.answer_width}, so clean and corrupt would differ in length"
            )
        return Problems(other, a, b)
    if change.startswith("resample."):
        operand = change.split(".", 1)[1]
        if operand not in ("a", "b"):
            raise ArithlensError(
                f"change {change!r} is invalid: expected 'resample.a' or 'resample.b'"
            )
        arr = a if operand == "a" else b
        new = rng.integers(0, 10, size=arr.shape).astype(np.uint8)
        same = (new == arr).all(1)
        new[same, 0] = (new[same, 0] + 1) % 10
        arr[:] = new
        return Problems(task, a, b)
    operand, k = task.operand_digit(change)
    arr = a if operand == "a" else b
    arr[:, k] = (arr[:, k] + rng.integers(1, 10, size=len(arr))) % 10
    return Problems(task, a, b)


def corrupt_pairs(
    task: TaskSpec,
    n: int,
    *,
    change: str = "a.units",
    seed: int = 0,
    strategy: Strategy = "uniform",
    clean: Problems | None = None,
) -> Pairs:
    """``n`` clean problems of ``task`` and their corruptions by ``change`` (see module doc).

    With ``clean`` given, the clean side cycles through those problems instead of sampling
    (``clean`` of one problem gives ``n`` random corruptions of it)."""
    check_int("n", n, minimum=1)
    if clean is not None and (len(clean) == 0 or clean.task != task):
        raise ArithlensError(
            f"clean problems ({len(clean)} of {clean.task.name}) do not fit: expected at least "
            f"one problem of {task.name}"
        )
    fixed = clean
    if not isinstance(change, str):
        raise ArithlensError(f"change={change!r} is invalid: expected a string such as 'a.units'")
    rng = _rng(seed)
    clean_parts, corrupt_parts, have = [], [], 0
    for _ in range(100):
        m = 2 * (n - have)
        clean = (
            sample(task, m, rng, strategy=strategy)
            if fixed is None
            else fixed[np.arange(have, have + m) % len(fixed)]
        )
        corrupt = corrupt_problems(task, clean, change, rng)
        ok = np.ones(len(clean), dtype=bool)
        if corrupt.task.op == "sub" and corrupt.task.nonneg:
            ok &= ~_is_less(corrupt.a, corrupt.b)  # keep a >= b after the change
        idx = np.nonzero(ok)[0][: n - have]
        clean_parts.append(clean[idx])
        corrupt_parts.append(corrupt[idx])
        have += len(idx)
        if have == n:
            return Pairs(Problems.concat(clean_parts), Problems.concat(corrupt_parts), change)
    raise ArithlensError(f"could not build {n} valid pairs for change {change!r} on {task.name}")
