"""Read a problem a person typed (``"123+456"``) into :class:`Problems` for a task.

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> parse_problem(TaskSpec(op="add", n_digits=3), " 57 + 608 = ").ints()
    [(57, 608)]
"""

from __future__ import annotations

import re

from arithlens.errors import ArithlensError
from arithlens.tasks.ops import SYMBOLS
from arithlens.tasks.problems import Problems
from arithlens.tasks.spec import TaskSpec

_ALLOWED = set("0123456789+-*= ")


def parse_problem(task: TaskSpec, text: str) -> Problems:
    """The one problem ``text`` (``"a<op>b"``, spaces and a trailing ``=`` allowed), checked
    against ``task``: its operator, at most ``task.n_digits`` digits per operand, and (for
    non-negative subtraction) ``a >= b``."""
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
