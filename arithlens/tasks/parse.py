"""Read a problem a person typed (``"123+456"``, ``"max(9.11, 9.9)"``) into the problems of
a task.

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> parse_problem(TaskSpec(op="add", n_digits=3), " 57 + 608 = ").ints()
    [(57, 608)]
    >>> parse_problem(NumeracySpec(task="max", repr="float"), "max(9.11, 9.9)=").operands
    [('9.11', '9.9')]
"""

from __future__ import annotations

import re
from typing import overload

from arithlens.errors import ArithlensError
from arithlens.tasks.arithmetic.ops import SYMBOLS
from arithlens.tasks.arithmetic.problems import Problems
from arithlens.tasks.arithmetic.spec import TaskSpec
from arithlens.tasks.numeracy import (
    NumeracyProblems,
    NumeracySpec,
    prompt,
    sample_numeracy,
    written_order,
)
from arithlens.tasks.numeracy.spec import _FUNCTIONS, _INFIX
from arithlens.tasks.protocol import ProblemSet, TaskFamily

_ALLOWED = set("0123456789+-*= ")


@overload
def parse_problem(task: TaskSpec, text: str) -> Problems: ...
@overload
def parse_problem(task: NumeracySpec, text: str) -> NumeracyProblems: ...
@overload
def parse_problem(task: TaskSpec | NumeracySpec, text: str) -> Problems | NumeracyProblems: ...
@overload
def parse_problem(task: TaskFamily, text: str) -> ProblemSet: ...
def parse_problem(task, text):
    """The one problem ``text``, checked against ``task``. Arithmetic: ``"a<op>b"`` (spaces and
    a trailing ``=`` allowed), the task's operator, at most ``task.n_digits`` digits per
    operand. Numeracy: the task's prompt as the model reads it (``"max(9.11,9.9)"``,
    ``"1/2+1/3"``, ``"count(4,44827)"``; spaces and a trailing ``=`` allowed), each number
    checked against the task's representation and size."""
    if isinstance(task, NumeracySpec):
        return _parse_numeracy(task, text)
    if not isinstance(task, TaskSpec):
        raise ArithlensError(f"task {task!r} is invalid: expected a TaskSpec or a NumeracySpec")
    if not isinstance(text, str) or not text.strip():
        raise ArithlensError(f"problem {text!r} is empty: expected e.g. '123{SYMBOLS[task.op]}45'")
    bad = next((c for c in text if c not in _ALLOWED), None)
    if bad is not None:
        raise ArithlensError(
            f"character {bad!r} in {text!r} is not allowed: expected digits, one of "
            f"'+', '-', '*' and an optional '='"
        )
    m = re.fullmatch(r"\s*(\d+)\s*([+\-*])\s*(\d+)\s*=?\s*", text)
    if m is None:
        raise ArithlensError(
            f"problem {text!r} is not of the form 'a{SYMBOLS[task.op]}b': expected two "
            f"numbers joined by one operator"
        )
    a, sym, b = m.groups()
    if sym != SYMBOLS[task.op]:
        raise ArithlensError(
            f"operator {sym!r} in {text!r} does not match the task: expected "
            f"{SYMBOLS[task.op]!r} ({task.op})"
        )
    for name, digits in (("a", a), ("b", b)):
        if len(digits.lstrip("0") or "0") > task.n_digits:
            raise ArithlensError(
                f"operand {name}={digits} has {len(digits.lstrip('0'))} digits: the task takes "
                f"at most {task.n_digits}"
            )
    return Problems.from_ints(task, [(int(a), int(b))])


def _parse_numeracy(task: NumeracySpec, text: str) -> NumeracyProblems:
    example = prompt(task, sample_numeracy(task, 1, seed=0).operands[0])
    if not isinstance(text, str) or not text.strip():
        raise ArithlensError(f"problem {text!r} is empty: expected e.g. {example[:-1]!r}")
    s = "".join(text.split())
    s = s[:-1] if s.endswith("=") else s
    if task.task in _INFIX:
        sym = _INFIX[task.task]
        # the operator is the first symbol after the first number's first character (a
        # fraction's "/" is not an operator of add / sub, and no operand is negative)
        i = s.find(sym, 1)
        parts = [s[:i], s[i + 1 :]] if i > 0 else []
    else:
        name = _FUNCTIONS[task.task]
        inner = s[len(name) + 1 : -1] if s.startswith(name + "(") and s.endswith(")") else None
        parts = [] if inner is None else inner.split(",")
        parts = list(written_order(task, tuple(parts)))  # the same swap both ways
    n_args = len(sample_numeracy(task, 1, seed=0).operands[0])
    if len(parts) != n_args or not all(parts):
        raise ArithlensError(
            f"problem {text!r} is not of the form of {task.name}: expected e.g. {example[:-1]!r}"
        )
    return NumeracyProblems.from_strings(task, [tuple(parts)])
