"""Ground truth: the exact answer of each numeracy problem, its prompt and where its number starts."""

from __future__ import annotations

from decimal import Decimal

from arithlens.tasks.numeracy.problems import NumeracyProblems
from arithlens.tasks.numeracy.spec import _FUNCTIONS, _INFIX, _QUERY_FIRST, NumeracySpec
from arithlens.tasks.numeracy.values import (
    _dec,
    round_sig,
    value,
    write_decimal,
    write_fraction,
    write_sci,
)

# ---------------------------------------------------------------- ground truth


def answer(task: NumeracySpec, operands: tuple[str, ...]) -> str:
    """The exact answer text of one problem.

    Example:
        >>> answer(NumeracySpec(task="sub", repr="frac"), ("1/3", "1/2"))
        '-1/6'
    """
    t = task.task
    x = operands[0]
    if t in ("add", "sub"):
        a, b = value(x), value(operands[1])
        r = a + b if t == "add" else a - b
        return write_fraction(r) if task.repr == "frac" else write_decimal(_dec(r))
    if t == "floordiv":
        return str(int(x) // int(operands[1]))
    if t == "mod":
        return str(int(x) % int(operands[1]))
    if t in ("max", "min"):
        a, b = value(x), value(operands[1])
        pick = (a >= b) if t == "max" else (a <= b)
        return x if pick else operands[1]
    if t == "get_digit":
        return x[len(x) - 1 - int(operands[1])]
    if t == "length":
        return str(len(x))
    if t in ("count", "count_letter"):
        return str(x.count(operands[1]))
    if t == "sig_round":
        return write_decimal(round_sig(Decimal(x), int(operands[1])))
    if t == "to_sci":
        return write_sci(Decimal(x))
    return write_decimal(Decimal(x))  # from_sci


def answers(problems: NumeracyProblems) -> list[str]:
    """Every problem's answer text."""
    return [answer(problems.task, o) for o in problems.operands]


def prompt(task: NumeracySpec, operands: tuple[str, ...]) -> str:
    """The prompt, ``=`` included."""
    if task.task in _INFIX:
        return operands[0] + _INFIX[task.task] + operands[1] + "="
    return f"{_FUNCTIONS[task.task]}({','.join(written_order(task, operands))})="


def written_order(task: NumeracySpec, operands: tuple[str, ...]) -> tuple[str, ...]:
    """The operands in the order the prompt writes them: counting names the digit (letter)
    first, as "how many r's in strawberry" does, so that a running count can be kept causally
    while the number is read."""
    return operands[::-1] if task.task in _QUERY_FIRST else operands


def number_start(task: NumeracySpec, operands: tuple[str, ...]) -> int:
    """Position of the first number's first character in the prompt."""
    if task.task in _INFIX:
        return 0
    before = written_order(task, operands)
    i = len(before) - 1 if task.task in _QUERY_FIRST else 0  # the number is written last
    return len(_FUNCTIONS[task.task]) + 1 + sum(len(x) + 1 for x in before[:i])
