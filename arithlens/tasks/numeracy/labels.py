"""Labels for interpretability: the deciding place of a comparison, running counts, decimal-point carries."""

from __future__ import annotations

import numpy as np

from arithlens.errors import ArithlensError
from arithlens.tasks.numeracy.answers import answers
from arithlens.tasks.numeracy.problems import NumeracyProblems
from arithlens.tasks.numeracy.values import value

# ---------------------------------------------------------------- labels for interpretability


def comparison_labels(problems: NumeracyProblems) -> dict[str, np.ndarray]:
    """For max / min: ``place`` of the first differing digit, aligned at the point (0 = units,
    -1 = tenths, ...; the units of a longer integer part when the lengths differ; a large
    negative number when the values are equal), and ``winner``: 0 when ``a`` is larger, 1 when
    ``b`` is, 2 when equal.

    Example:
        >>> from arithlens.tasks.numeracy import NumeracySpec
        >>> p = NumeracyProblems.from_strings(NumeracySpec(task="max", repr="float", n_digits=2), [("9.11", "9.9"), ("12.5", "9.75")])
        >>> {k: v.tolist() for k, v in comparison_labels(p).items()}
        {'place': [-1, 1], 'winner': [1, 0]}
    """
    if problems.task.task not in ("max", "min"):
        raise ArithlensError(f"comparison labels are for max / min, not {problems.task.task}")
    place, winner = [], []
    for a, b in problems.operands:
        va, vb = value(a), value(b)
        winner.append(0 if va > vb else 1 if vb > va else 2)
        place.append(deciding_place(a, b))
    return {"place": np.array(place), "winner": np.array(winner)}


def deciding_place(a: str, b: str) -> int:
    """The place of the first digit where ``a`` and ``b`` differ, aligned at the point (0 =
    units, -1 = tenths; the leading place of the longer integer part when their integer parts
    differ in length; ``-10**6`` when the values are equal).

    Example:
        >>> deciding_place("9.11", "9.9"), deciding_place("12.5", "9.75")
        (-1, 1)
    """
    (ai, _, af), (bi, _, bf) = a.partition("."), b.partition(".")
    if len(ai) != len(bi):
        return max(len(ai), len(bi)) - 1
    width = max(len(af), len(bf))
    da, db = ai + af.ljust(width, "0"), bi + bf.ljust(width, "0")
    first = next((i for i, (x, y) in enumerate(zip(da, db)) if x != y), None)
    return -(10**6) if first is None else len(ai) - 1 - first


def running_count(problems: NumeracyProblems) -> list[list[int]]:
    """For count and count_letter: after each character of the number (word), how many times
    the digit (letter) has occurred so far (the probe target at each position)."""
    if problems.task.task not in ("count", "count_letter"):
        raise ArithlensError(f"running counts are for count, not {problems.task.task}")
    return [np.cumsum([c == d for c in x]).tolist() for x, d in problems.operands]


def point_labels(problems: NumeracyProblems) -> dict[str, np.ndarray]:
    """For float add / sub: each operand's decimal count and ``carry``: whether the column
    after the point carries (add) or borrows (sub) into the units, computed exactly.

    Example:
        >>> from arithlens.tasks.numeracy import NumeracySpec
        >>> p = NumeracyProblems.from_strings(NumeracySpec(task="add", repr="float"), [("1.75", "2.5"), ("1.2", "3.3")])
        >>> point_labels(p)["carry"].tolist()
        [True, False]
    """
    if problems.task.task not in ("add", "sub") or problems.task.repr != "float":
        raise ArithlensError("decimal-point labels are for float add / sub")
    da, db, carry = [], [], []
    for a, b in problems.operands:
        fa, fb = a.partition(".")[2], b.partition(".")[2]
        da.append(len(fa))
        db.append(len(fb))
        x, y = value("0." + fa), value("0." + fb)
        carry.append(x + y >= 1 if problems.task.task == "add" else x < y)
    return {"decimals_a": np.array(da), "decimals_b": np.array(db), "carry": np.array(carry)}


def labels(problems: NumeracyProblems) -> dict[str, np.ndarray]:
    """Every per-problem label of the task (probe targets): ``answer`` (the first answer
    character) for all; max / min: ``winner``, ``place`` (:func:`comparison_labels`); float
    add / sub: ``carry`` (:func:`point_labels`); get_digit: ``place`` (the queried place);
    count / count_letter: ``count``.

    Example:
        >>> from arithlens.tasks.numeracy import NumeracySpec
        >>> p = NumeracyProblems.from_strings(NumeracySpec(task="count"), [("121", "1")])
        >>> {k: v.tolist() for k, v in labels(p).items()}
        {'answer': ['2'], 'count': [2]}
    """
    t = problems.task
    out: dict[str, np.ndarray] = {"answer": np.array([a[0] for a in answers(problems)])}
    if t.task in ("max", "min"):
        out.update(comparison_labels(problems))
    elif t.task in ("add", "sub") and t.repr == "float":
        out["carry"] = point_labels(problems)["carry"]
    elif t.task == "get_digit":
        out["place"] = np.array([int(o[1]) for o in problems.operands])
    elif t.task in ("count", "count_letter"):
        out["count"] = np.array([x.count(q) for x, q in problems.operands])
    return out
