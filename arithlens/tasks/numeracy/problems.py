"""A batch of numeracy problems and the sampler of each task (exact operand strings)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from arithlens.errors import ArithlensError, check_int
from arithlens.tasks.numeracy.spec import _ARITY, LETTERS, NumeracySpec
from arithlens.tasks.numeracy.values import value, write_sci

# ---------------------------------------------------------------- problems


@dataclass(frozen=True, eq=False)
class NumeracyProblems:
    """A batch of numeracy problems.

    Attributes:
        task: the task.
        operands: per problem, the operands' exact texts (the number(s), then the place,
            digit or significant-figure count where the task has one).
    """

    task: NumeracySpec
    operands: list[tuple[str, ...]]

    def __post_init__(self) -> None:
        arity = _ARITY.get(self.task.task, 2)
        bad = [o for o in self.operands if len(o) != arity]
        if bad:
            raise ArithlensError(
                f"problem {bad[0]!r} has {len(bad[0])} operands: {self.task.task} takes {arity}"
            )

    @classmethod
    def from_strings(
        cls, task: NumeracySpec, operands: Iterable[Iterable[str]]
    ) -> NumeracyProblems:
        """Build from operand texts; each number is checked against the task's repr and size."""
        rows = [tuple(str(x) for x in o) for o in operands]
        out = cls(task, rows)
        for row in rows:
            for i, text in enumerate(row):
                _check_operand(task, i, text, row)
        return out

    def __len__(self) -> int:
        return len(self.operands)

    def __getitem__(self, idx: int | slice | np.ndarray) -> NumeracyProblems:
        if isinstance(idx, (int, np.integer)):
            idx = slice(int(idx), int(idx) + 1)
        if isinstance(idx, slice):
            return NumeracyProblems(self.task, self.operands[idx])
        return NumeracyProblems(self.task, [self.operands[int(i)] for i in np.asarray(idx)])

    def to_record(self) -> dict:
        """JSON-ready: the task and the operands (inverse: ``tasks.problems_from_record``)."""
        return {"task": self.task.to_dict(), "operands": [list(o) for o in self.operands]}

    @classmethod
    def from_record(cls, task: NumeracySpec, d: dict) -> NumeracyProblems:
        """Problems of ``task`` from :meth:`to_record`'s operands."""
        return cls(task, [tuple(o) for o in d["operands"]])

    def keys(self) -> np.ndarray:
        """One hashable key per problem."""
        return np.array([",".join(o) for o in self.operands], dtype=object)

    @staticmethod
    def concat(parts: list[NumeracyProblems]) -> NumeracyProblems:
        if not parts or any(p.task != parts[0].task for p in parts):
            raise ArithlensError("cannot concatenate: expected batches of one numeracy task")
        return NumeracyProblems(parts[0].task, [o for p in parts for o in p.operands])


def _is_number(task: NumeracySpec, i: int) -> bool:
    """Whether operand ``i`` is a number in the task's repr (else a small integer argument)."""
    return i == 0 or task.task not in _ARITY or _ARITY[task.task] == 1


def _check_operand(task: NumeracySpec, i: int, text: str, row: tuple[str, ...]) -> None:
    n = task.n_digits
    if task.task == "count_letter" and i == 1:
        if not (len(text) == 1 and "a" <= text <= "z"):
            raise ArithlensError(f"argument {text!r} of {row!r} is not one lowercase letter")
        return
    if not _is_number(task, i):
        k = int(text) if text.isdigit() else -1
        hi = {
            "get_digit": len(row[0]) - 1,
            "count": 9,
            "sig_round": len(row[0].replace(".", "").lstrip("0")),
        }
        lo = 1 if task.task == "sig_round" else 0
        if not lo <= k <= max(hi[task.task], lo):
            raise ArithlensError(f"argument {text!r} of {row!r} is out of range for {task.task}")
        return
    r = task.repr
    ok = False
    if r == "int":
        ok = text.isdigit() and len(text) <= n and (text == "0" or text[0] != "0")
    elif r == "float":
        whole, _, frac = text.partition(".")
        ok = (
            whole.isdigit()
            and len(whole) <= n
            and (whole == "0" or whole[0] != "0")
            and frac.isdigit()
            and 1 <= len(frac) <= task.decimals
            and frac[-1] != "0"
        )
    elif r == "frac":
        p, _, q = text.partition("/")
        ok = p.isdigit() and q.isdigit() and len(p) <= n and len(q) <= n and int(q) > 0
    elif r == "word":
        ok = 1 <= len(text) <= n and all("a" <= c <= "z" for c in text)
    elif r == "sci":
        m, _, e = text.partition("e")
        ok = (
            bool(m)
            and m[0] in "123456789"
            and e.lstrip("-").isdigit()
            and write_sci(Decimal(text)) == text
        )
        ok = ok and len(m.replace(".", "")) <= n
    if not ok:
        raise ArithlensError(f"operand {text!r} is not a {r} of task {task.name}")


def _draw_int(rng: np.random.Generator, n: int) -> str:
    length = int(rng.integers(1, n + 1))
    if length == 1:
        return str(int(rng.integers(0, 10)))
    return str(int(rng.integers(1, 10))) + "".join(
        str(int(d)) for d in rng.integers(0, 10, length - 1)
    )


def _draw_float(rng: np.random.Generator, n: int, decimals: int) -> str:
    k = int(rng.integers(1, decimals + 1))
    frac = "".join(str(int(d)) for d in rng.integers(0, 10, k - 1)) + str(int(rng.integers(1, 10)))
    return _draw_int(rng, n) + "." + frac


def _draw_number(task: NumeracySpec, rng: np.random.Generator) -> str:
    n = task.n_digits
    if task.repr == "int":
        return _draw_int(rng, n)
    if task.repr == "float":
        return _draw_float(rng, n, task.decimals)
    if task.repr == "word":
        return "".join(LETTERS[int(i)] for i in rng.integers(0, 26, int(rng.integers(1, n + 1))))
    if task.repr == "frac":
        q = _draw_int(rng, n)
        while q == "0":
            q = _draw_int(rng, n)
        return f"{_draw_int(rng, n)}/{q}"
    mant = Decimal(_draw_int(rng, n))  # sci: an integer mantissa's digits, shifted
    while mant == 0:
        mant = Decimal(_draw_int(rng, n))
    return write_sci(mant.scaleb(int(rng.integers(0, n + 1)) - len(str(mant)) + 1))


def sample_numeracy(
    task: NumeracySpec, n: int, seed: int | np.random.Generator = 0
) -> NumeracyProblems:
    """``n`` problems. Numbers: each length uniform on 1..n_digits, then digits uniform (no
    leading zero; floats' decimal count uniform on 1..decimals, the last non-zero; fractions:
    numerator and denominator drawn alike, a zero denominator redrawn). Divisors of floordiv / mod are
    >= 1; get_digit's place is uniform over the number's places; count's digit is one of the
    number's digits half the time, else uniform on 0-9; sig_round's count is uniform on
    1..the number's significant digits; to_sci redraws zero (it has no normalized mantissa);
    max / min with ``task.close``: that share of problems pairs the first number with a close
    one (equal up to a uniformly drawn digit, then uniform; which of the two comes first is a
    coin flip).

    Example:
        >>> sample_numeracy(NumeracySpec(task="count", n_digits=5), 2, seed=0).operands
        [('65230', '0'), ('6', '9')]
    """
    check_int("n", n, minimum=0)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows: list[tuple[str, ...]] = []
    for _ in range(n):
        x = _draw_number(task, rng)
        t = task.task
        while t == "to_sci" and value(x) == 0:  # zero has no normalized mantissa
            x = _draw_number(task, rng)
        if t in ("floordiv", "mod"):
            y = _draw_int(rng, task.n_digits)
            while y == "0":
                y = _draw_int(rng, task.n_digits)
            rows.append((x, y))
        elif t == "get_digit":
            rows.append((x, str(int(rng.integers(0, len(x))))))
        elif t in ("count", "count_letter"):
            letter = t == "count_letter"
            other = LETTERS[int(rng.integers(0, 26))] if letter else str(int(rng.integers(0, 10)))
            rows.append((x, x[int(rng.integers(0, len(x)))] if rng.random() < 0.5 else other))
        elif t == "sig_round":
            sig = len(x.replace(".", "").lstrip("0")) or 1
            rows.append((x, str(int(rng.integers(1, sig + 1)))))
        elif t in ("length", "to_sci", "from_sci"):
            rows.append((x,))
        elif task.close and rng.random() < task.close:
            y = _close_to(x, task, rng)
            rows.append((x, y) if rng.random() < 0.5 else (y, x))
        else:
            rows.append((x, _draw_number(task, rng)))
    return NumeracyProblems(task, rows)


def _close_to(x: str, task: NumeracySpec, rng: np.random.Generator) -> str:
    """A number equal to ``x`` up to a digit index drawn uniformly among ``x``'s digits and
    different there; after it, the rest of a number of the task drawn uniformly (the integer
    part keeps ``x``'s length; a float's decimal count is uniform among those that reach past
    the differing digit; no leading zero, the last decimal non-zero)."""
    whole, _, frac = x.partition(".")
    digits = [i for i, c in enumerate(x) if c != "."]
    p = digits[int(rng.integers(0, len(digits)))]

    def pick(options: str) -> str:
        return options[int(rng.integers(0, len(options)))]

    if p < len(whole):  # differ in the integer part
        lead = "123456789" if p == 0 and len(whole) > 1 else "0123456789"
        out = whole[:p] + pick(lead.replace(whole[p], ""))
        out += "".join(pick("0123456789") for _ in range(len(whole) - p - 1))
        if task.repr == "float":
            k = int(rng.integers(1, task.decimals + 1))
            out += "." + "".join(pick("0123456789") for _ in range(k - 1)) + pick("123456789")
        return out
    j = p - len(whole) - 1  # differ at decimal j
    k = int(rng.integers(j + 1, task.decimals + 1))  # the new decimal count
    last = "123456789" if k == j + 1 else "0123456789"
    out = whole + "." + frac[:j] + pick(last.replace(frac[j], ""))
    if k > j + 1:
        out += "".join(pick("0123456789") for _ in range(k - j - 2)) + pick("123456789")
    return out
