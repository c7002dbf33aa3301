"""Exact class-balanced sampling: uniform over all problems of each cascade class.

A problem's cascade class (S0..S5, :func:`~arithlens.tasks.arithmetic.labels.cascade_class`) depends on its
columns only through a small state carried from the units upward: the carry (borrow) coming in,
the length of the carry chain ending here, and the longest chain so far (capped at 5). A dynamic
program counts, for every column and state, how many ways the remaining columns can end in each
class; problems are then drawn column by column, each digit pair with probability proportional
to the number of completions that land in the wanted class. So within a class every problem is
equally likely, exactly as rejection sampling from uniform problems would give — only without
the ~10^4 rejections per S5 problem. (The older ``"cascade_chained"`` sampler built chains by
hand: every sum-9 column sat on a chain, which teaches "a run of 9s means carry".)

Subtraction uses borrows (a pair *makes* one when top < bottom and *passes* one when equal);
non-negative subtraction keeps ``a >= b`` (no borrow out of the top column); signed subtraction
is uniform over ordered pairs, so ``a == b`` weighs half of a pair and its swap.

Example:
    >>> from arithlens.tasks import TaskSpec, cascade_class
    >>> p = exact_cascade(TaskSpec(op="add", n_digits=5), 3, 600, seed=0)
    >>> set(cascade_class(p).tolist())
    {3}
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from arithlens.errors import ArithlensError, check_int
from arithlens.tasks.arithmetic.labels import MAX_CASCADE, max_cascade
from arithlens.tasks.arithmetic.problems import Problems
from arithlens.tasks.arithmetic.spec import TaskSpec

_R = MAX_CASCADE + 1  # chain lengths 0..5 (longer chains count as 5)
N_STATES = 2 * _R * _R * 2  # carry in, chain ending here, longest so far, "all columns equal"
TOP, BOTTOM = np.divmod(np.arange(100), 10)  # the 100 digit pairs (top, bottom)


def _state(carry: int, run: int, longest: int, equal: int) -> int:
    return ((carry * _R + run) * _R + longest) * 2 + equal


def _unpack(s: int) -> tuple[int, int, int, int]:
    s, equal = divmod(s, 2)
    s, longest = divmod(s, _R)
    carry, run = divmod(s, _R)
    return carry, run, longest, equal


@lru_cache(maxsize=4)
def transitions(op: str) -> np.ndarray:
    """``(state, pair) -> next state`` after one column with digit pair ``(TOP, BOTTOM)``."""
    out = np.zeros((N_STATES, 100), dtype=np.int64)
    for s in range(N_STATES):
        carry, run, longest, equal = _unpack(s)
        for p in range(100):
            x, y = int(TOP[p]), int(BOTTOM[p])
            make, passes = (x + y >= 10, x + y == 9) if op == "add" else (x < y, x == y)
            out_carry = int(make or (passes and carry == 1))
            if not out_carry:
                new_run = 0
            elif passes:  # the chain that arrived goes on through this column
                new_run = min(run + 1, MAX_CASCADE)
            else:  # a new chain starts here
                new_run = 1
            new_eq = int(equal == 1 and x == y)
            out[s, p] = _state(out_carry, new_run, max(longest, new_run), new_eq)
    return out


def _terminal(task: TaskSpec) -> np.ndarray:
    """``(state, class)`` weight of a finished problem: its class is the longest chain; a
    subtraction may not borrow out of its top column (a >= b by magnitude); signed subtraction
    counts both orders of a pair that is not all-equal."""
    w = np.zeros((N_STATES, max_cascade(task) + 1))
    for s in range(N_STATES):
        carry, _, longest, equal = _unpack(s)
        if task.op == "sub" and carry:
            continue
        if longest < w.shape[1]:
            w[s, longest] = 2.0 if (task.signed and not equal) else 1.0
    return w


@lru_cache(maxsize=32)
def completions(task: TaskSpec) -> np.ndarray:
    """``(column, state, class)``: weighted number of ways columns ``column..`` can finish in
    each class (float64: exact up to 2**53, relative 1e-16 beyond, ample for sampling)."""
    if task.op == "mul":
        raise ArithlensError("cascade classes are defined for op 'add' and 'sub', not 'mul'")
    T = transitions(task.op)
    n = task.n_digits
    out = np.zeros((n + 1, N_STATES, max_cascade(task) + 1))
    out[n] = _terminal(task)
    for k in range(n - 1, -1, -1):
        out[k] = out[k + 1][T].sum(axis=1)
    return out


def class_sizes(task: TaskSpec) -> np.ndarray:
    """Number of problems in each cascade class (signed subtraction: ordered pairs).

    Example:
        >>> class_sizes(TaskSpec(op="add", n_digits=1)).tolist()   # 55 pairs sum < 10
        [55.0, 45.0]
    """
    return completions(task)[0, _state(0, 0, 0, 1)]


def exact_cascade(
    task: TaskSpec, cls: int, n: int, seed: int | np.random.Generator = 0
) -> Problems:
    """``n`` problems drawn uniformly from cascade class ``cls`` of ``task``."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    top = max_cascade(task)
    check_int("cls", cls, minimum=0, maximum=top)
    counts, T = completions(task), transitions(task.op)
    state = np.full(n, _state(0, 0, 0, 1))
    nd = task.n_digits
    a = np.zeros((n, nd), dtype=np.uint8)
    b = np.zeros((n, nd), dtype=np.uint8)
    for k in range(nd):
        nxt = T[state]  # (n, 100)
        w = counts[k + 1][nxt, cls]
        cum = np.cumsum(w, axis=1)
        u = rng.random(n) * cum[:, -1]
        pick = np.minimum((cum <= u[:, None]).sum(axis=1), 99)
        a[:, k], b[:, k] = TOP[pick], BOTTOM[pick]
        state = nxt[np.arange(n), pick]
    if task.signed:  # a pair and its swap are two problems (all-equal pairs are one)
        swap = (rng.random(n) < 0.5)[:, None]
        a, b = np.where(swap, b, a), np.where(swap, a, b)
    return Problems(task, a, b)


def cascade_balanced(task: TaskSpec, n: int, seed: int | np.random.Generator = 0) -> Problems:
    """``n`` problems spread evenly over the cascade classes ``S0..S{max}``, uniform within
    each class (see the module docstring), in random order."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    classes = max_cascade(task) + 1
    quota = np.full(classes, n // classes)
    quota[: n % classes] += 1
    parts = [exact_cascade(task, c, int(q), rng) for c, q in enumerate(quota) if q]
    out = Problems.concat(parts)
    return out[rng.permutation(len(out))]
