"""Minimal pairs for numeracy tasks: the same problem with one digit changed, chosen so that the
change either decides the answer or must not matter.

======================== ============ ====================================================
task                     change       corrupt = clean with ...
======================== ============ ====================================================
max, min                 ``deciding`` the first differing digit (aligned at the point) changed
                                      so that the other operand wins there: the winner flips
max, min                 ``later``    a digit after the first differing one changed: the
                                      winner and the deciding place stay
get_digit                ``target``   the digit at the queried place changed: the answer
get_digit                ``other``    another digit changed: the same answer
count, count_letter      ``match``    one occurrence of the counted digit (letter) changed to
                                      another: the count drops by one
count, count_letter      ``other``    a non-matching character changed to another
                                      non-matching one: the same count
======================== ============ ====================================================

Comparison pairs are drawn with both operands of one shape (the same number of integer and
decimal digits): the first as the task draws numbers, the second equal to it up to a digit
index drawn uniformly (so every place decides equally often), different there, uniform after;
so that clean and
corrupt answers have one length and every answer character sits at one position on both sides
(9.11 vs 9.9 cases, of different shapes, are in :func:`~arithlens.tasks.sample_numeracy`'s
problems, the probes' and the evaluation's; they cannot be patched character by character).
Other tasks' clean problems are the task's own samples, kept when the change is possible.
New digits are uniform over the valid ones (no leading zero, no trailing decimal zero).

:func:`answer_index` names answer characters per problem: ``"decision"`` (max / min: the first
character where the two operands differ as written, the one where the model shows its choice;
other tasks: the first), ``"first"``, ``"last"``. Patching metrics take these names
(``digits="decision"``).

Example:
    >>> from arithlens.tasks import NumeracySpec
    >>> pairs = numeracy_pairs(NumeracySpec(task="max", repr="float", n_digits=2), 3, change="deciding", seed=0)
    >>> [(c, k) for c, k in zip(pairs.clean.operands, pairs.corrupt.operands)][0]
    (('3.65', '5.08'), ('3.65', '2.08'))
"""

from __future__ import annotations

import numpy as np

from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.tasks.common import Pairs
from arithlens.tasks.numeracy.answers import answer
from arithlens.tasks.numeracy.labels import comparison_labels, deciding_place
from arithlens.tasks.numeracy.problems import NumeracyProblems, sample_numeracy
from arithlens.tasks.numeracy.spec import LETTERS, NumeracySpec

CHANGES: dict[str, tuple[str, ...]] = {
    "max": ("deciding", "later"),
    "min": ("deciding", "later"),
    "get_digit": ("target", "other"),
    "count": ("match", "other"),
    "count_letter": ("match", "other"),
}
"""Each task's minimal-pair changes (the first decides the answer, the second must not)."""
POSITIONS = ("decision", "first", "last")


def _digits_ok(text: str, i: int) -> list[str]:
    """The characters that may stand at index ``i`` of number ``text`` (a digit's index)."""
    whole, point, frac = text.partition(".")
    lead = i == 0 and len(whole) > 1
    last_decimal = bool(point) and i == len(text) - 1
    return [d for d in "0123456789" if not ((lead or last_decimal) and d == "0")]


def _set(text: str, i: int, c: str) -> str:
    return text[:i] + c + text[i + 1 :]


def _differing_at(x: str, rng: np.random.Generator) -> str:
    """A number of ``x``'s shape equal to it before a digit index drawn uniformly, different
    there, and uniform (valid) after it."""
    digits = [i for i, c in enumerate(x) if c != "."]
    p = digits[int(rng.integers(0, len(digits)))]
    out = x[:p]
    for i in range(p, len(x)):
        ok = [c for c in _digits_ok(x, i) if i != p or c != x[p]] if x[i] != "." else ["."]
        out += ok[int(rng.integers(0, len(ok)))]
    return out


def _first_difference(a: str, b: str) -> int | None:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)


def _comparison(task: NumeracySpec, change: str, rng: np.random.Generator, row: tuple[str, ...]):
    a = row[0]
    b = _differing_at(a, rng)
    p = _first_difference(a, b)
    if p is None:
        return None
    clean = (a, b)
    if change == "deciding":
        options = []  # (operand, new character): the order at p reversed
        for k, (x, y) in enumerate(((a, b), (b, a))):
            options += [
                (k, d) for d in _digits_ok(x, p) if (d < y[p]) != (x[p] < y[p]) and d != y[p]
            ]
        if not options:
            return None
        k, d = options[int(rng.integers(0, len(options)))]
    else:
        later = [i for i in range(p + 1, len(a)) if a[i] != "."]
        if not later:
            return None
        i = later[int(rng.integers(0, len(later)))]
        k = int(rng.integers(0, 2))
        options_d = [d for d in _digits_ok(clean[k], i) if d != clean[k][i]]
        d = options_d[int(rng.integers(0, len(options_d)))]
        p = i
    corrupt = list(clean)
    corrupt[k] = _set(clean[k], p, d)
    return clean, tuple(corrupt)


def _get_digit(change: str, rng: np.random.Generator, row: tuple[str, ...]):
    x, place = row
    target = len(x) - 1 - int(place)
    where = [target] if change == "target" else [i for i in range(len(x)) if i != target]
    if not where:
        return None
    i = where[int(rng.integers(0, len(where)))]
    options = [d for d in _digits_ok(x, i) if d != x[i]]
    return row, (_set(x, i, options[int(rng.integers(0, len(options)))]), place)


def _count(task: NumeracySpec, change: str, rng: np.random.Generator, row: tuple[str, ...]):
    x, q = row
    alphabet = LETTERS if task.task == "count_letter" else "0123456789"
    where = [i for i, c in enumerate(x) if (c == q) == (change == "match")]
    if not where:
        return None
    i = where[int(rng.integers(0, len(where)))]
    allowed = alphabet if task.task == "count_letter" else "".join(_digits_ok(x, i))
    options = [c for c in allowed if c != q and c != x[i]]
    if not options:
        return None
    return row, (_set(x, i, options[int(rng.integers(0, len(options)))]), q)


def shape_of(text: str) -> str:
    """A number's (word's) shape: every digit ``d``, every letter ``w`` (``9.11`` -> ``d.dd``)."""
    return "".join("d" if c.isdigit() else "w" if c.isalpha() else c for c in text)


def numeracy_pairs(
    task: NumeracySpec,
    n: int,
    *,
    change: str,
    shape: str | None = None,
    place: int | None = None,
    seed: int | np.random.Generator = 0,
) -> Pairs:
    """``n`` clean problems of ``task`` and their minimal corruptions by ``change`` (see the
    module doc; :data:`CHANGES` lists each task's).

    With ``shape`` (an example number, e.g. ``"9.11"``), every first number has its shape (the
    sampler's problems kept only when they do), so all texts share one layout and patching
    by position lines up. With ``place`` (max / min), every pair is decided at that place (0 =
    units, -1 = tenths; :func:`~arithlens.tasks.numeracy.comparison_labels`): with a shape,
    every pair then writes its decision character at one position."""
    if not isinstance(task, NumeracySpec):
        raise ArithlensError(f"task {task!r} is not a numeracy task (NumeracySpec)")
    if task.task not in CHANGES:
        raise ArithlensError(
            f"numeracy task {task.task!r} has no minimal pairs: expected one of {sorted(CHANGES)}"
        )
    check_choice("change", change, CHANGES[task.task])
    check_int("n", n, minimum=1)
    digits = (
        sum(c.isdigit() for c in shape)
        if shape
        else task.n_digits + (task.decimals if task.repr == "float" else 0)
    )
    if digits < 2 and change in ("later", "other"):
        raise ArithlensError(
            f"change {change!r} needs numbers of at least two digits, but {task.name}"
            f"{f' with shape {shape!r}' if shape else ''} has one: widen the task or the shape"
        )
    if place is not None and task.task not in ("max", "min"):
        raise ArithlensError(f"place={place!r} is for max / min pairs, not {task.task}")
    want = None
    if shape is not None:
        args = ("0",) if task.task == "get_digit" else sample_numeracy(task, 1, 0).operands[0][1:]
        NumeracyProblems.from_strings(task, [(shape, *args)])  # a number of the task?
        want = shape_of(shape)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    clean: list[tuple[str, ...]] = []
    corrupt: list[tuple[str, ...]] = []
    for _ in range(50):
        for row in sample_numeracy(task, 8 * (n - len(clean)) + 64, rng).operands:
            if want is not None and shape_of(row[0]) != want:
                continue
            if task.task in ("max", "min"):
                got = _comparison(task, change, rng, row)
            elif task.task == "get_digit":
                got = _get_digit(change, rng, row)
            else:
                got = _count(task, change, rng, row)
            if got is not None and place is not None:
                got = got if deciding_place(*got[0]) == place else None
            if got is not None:
                clean.append(got[0])
                corrupt.append(got[1])
            if len(clean) == n:
                return Pairs(
                    NumeracyProblems.from_strings(task, clean),
                    NumeracyProblems.from_strings(task, corrupt),
                    change,
                )
    raise ArithlensError(f"could not build {n} pairs for change {change!r} on {task.name}")


def answer_index(problems: NumeracyProblems, name: str) -> np.ndarray:
    """Per problem, the index of the answer character ``name`` (see the module doc): shape
    ``(batch,)``.

    Example:
        >>> p = NumeracyProblems.from_strings(NumeracySpec(task="max", repr="float"), [("9.11", "9.9"), ("12.5", "9.75")])
        >>> answer_index(p, "decision").tolist()
        [2, 0]
    """
    check_choice("answer position", name, POSITIONS)
    lengths = np.array([len(answer(problems.task, o)) for o in problems.operands])
    if name == "first":
        return np.zeros(len(problems), dtype=np.int64)
    if name == "last":
        return lengths - 1
    if problems.task.task not in ("max", "min"):
        return np.zeros(len(problems), dtype=np.int64)
    tie = comparison_labels(problems)["winner"] == 2
    first = [_first_difference(a, b) for a, b in problems.operands]
    out = np.array(
        [min(len(a), len(b)) if i is None else i for i, (a, b) in zip(first, problems.operands)]
    )
    out = np.where(tie, 0, out)
    return np.minimum(out, lengths)  # one operand a prefix of the other: the end mark decides


__all__ = ["CHANGES", "POSITIONS", "answer_index", "numeracy_pairs", "shape_of"]
