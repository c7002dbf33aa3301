"""Ground-truth labels per problem: carries, Quirke & Barez digit classes, cascade class.

Quirke & Barez (2024) split what each answer digit of an addition needs into *base add* (BA,
the digit sum mod 10), *make carry* (MC, the digit pair sums to >= 10), *make sum 9* (MS, the
pair sums to exactly 9, so it passes a carry on), *use carry* (UC, a carry arrives from an MC
column) and *use sum 9* (US, a carry arrives through one or more MS columns: a cascade).

:func:`digit_class` gives one class per answer digit, the most demanding that applies: a digit
that receives a carry is US when the carry came through a sum-9 column, else UC; a digit with
no incoming carry is MC, MS or BA by its own digit pair. :func:`digit_flags` gives the four
non-exclusive flags. :func:`cascade_class` is the difficulty S0 (no carry anywhere) to S5: Sk
when the longest carry chain reaches k columns (S1: made and used at once; S2: passed through
one sum-9 column; S5: through four or more).

Subtraction uses the same scheme with borrows: a pair *makes* a borrow when top < bottom and
*passes* one when top == bottom. Multiplication has column carries (:func:`carries`) only.

Example:
    >>> from arithlens.tasks import Problems, TaskSpec
    >>> p = Problems.from_ints(TaskSpec(op="add", n_digits=5), [(4450, 5550)])
    >>> [CLASS_NAMES[c] for c in digit_class(p)[0]]
    ['BA', 'MC', 'UC', 'US', 'US', 'BA']
    >>> int(cascade_class(p)[0])
    3
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Int

from arithlens.errors import ArithlensError
from arithlens.tasks.arithmetic.ops import ColumnResult, column_arithmetic
from arithlens.tasks.arithmetic.problems import Problems
from arithlens.tasks.arithmetic.spec import TaskSpec

CLASS_NAMES = ("BA", "MC", "MS", "UC", "US")
"""Per-digit classes, in code order: base add, make carry, make sum 9, use carry, use sum 9."""
BA, MC, MS, UC, US = range(5)
MAX_CASCADE = 5

# Pair kinds: what a column does to a carry, regardless of the carry coming in.
NONE, MAKE, PASS = 0, 1, 2


def columns(problems: Problems) -> ColumnResult:
    """The column arithmetic of ``problems`` (answer digits, carries, sign)."""
    return column_arithmetic(problems.task.op, problems.a, problems.b)


def carries(problems: Problems) -> Int[np.ndarray, "batch digit"]:
    """Carry (add), borrow (sub) or column carry (mul) into each answer digit."""
    return columns(problems).carry_in


def answer_digits(problems: Problems) -> Int[np.ndarray, "batch digit"]:
    """Answer digits, least significant first, padded to ``task.answer_width``."""
    return columns(problems).digits


def pair_kind(problems: Problems) -> Int[np.ndarray, "batch digit"]:
    """Per answer column: MAKE (1) a carry/borrow, PASS (2) one on, or NONE (0)."""
    op = problems.task.op
    if op == "mul":
        raise ArithlensError("pair kinds are defined for op 'add' and 'sub', not 'mul'")
    col = columns(problems)
    top, bottom = col.top, col.bottom
    if op == "add":
        make, passes = top + bottom >= 10, top + bottom == 9
    else:
        make, passes = top < bottom, top == bottom
    return np.where(make, MAKE, np.where(passes, PASS, NONE))


def digit_flags(problems: Problems) -> dict[str, np.ndarray]:
    """Non-exclusive boolean flags ``MC, MS, UC, US`` per answer digit, ``(batch, digit)``."""
    kind = pair_kind(problems)
    carry = carries(problems).astype(bool)
    prev = np.zeros_like(kind)
    prev[:, 1:] = kind[:, :-1]
    return {
        "MC": kind == MAKE,
        "MS": kind == PASS,
        "UC": carry & (prev == MAKE),
        "US": carry & (prev == PASS),
    }


def digit_class(problems: Problems) -> Int[np.ndarray, "batch digit"]:
    """One Quirke & Barez class code per answer digit (see module docstring)."""
    f = digit_flags(problems)
    out = np.full(f["MC"].shape, BA, dtype=np.int64)
    out[f["MS"]] = MS
    out[f["MC"]] = MC
    out[f["UC"]] = UC
    out[f["US"]] = US
    return out


def chain_length(problems: Problems) -> Int[np.ndarray, "batch digit"]:
    """Length of the carry chain that ends at each answer digit (0 where no carry arrives)."""
    kind = pair_kind(problems)
    carry = carries(problems).astype(bool)
    chain = np.zeros(kind.shape, dtype=np.int64)
    for k in range(1, kind.shape[1]):
        passed = carry[:, k] & (kind[:, k - 1] == PASS)
        chain[:, k] = np.where(passed, chain[:, k - 1] + 1, carry[:, k].astype(np.int64))
    return chain


def cascade_class(problems: Problems) -> Int[np.ndarray, " batch"]:
    """Difficulty S0..S5 per problem: the longest carry chain, capped at 5."""
    return np.minimum(chain_length(problems).max(axis=1), MAX_CASCADE)


def max_cascade(task: TaskSpec) -> int:
    """Highest cascade class the task can produce (add: n_digits; sub: n_digits - 1; max 5)."""
    if task.op == "mul":
        raise ArithlensError("cascade classes are defined for op 'add' and 'sub', not 'mul'")
    reach = task.n_digits if task.op == "add" else task.n_digits - 1
    return min(reach, MAX_CASCADE)
