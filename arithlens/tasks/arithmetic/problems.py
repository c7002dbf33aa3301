"""A batch of arithmetic problems, stored as digit arrays (least significant digit first).

Digit arrays instead of Python ints keep everything vectorized and exact for any width
(20-digit operands overflow int64).

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> p = Problems.from_ints(TaskSpec(op="add", n_digits=3), [(123, 456), (999, 1)])
    >>> p.a[0].tolist(), p.ints()[1]
    ([3, 2, 1], (999, 1))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from jaxtyping import UInt8

from arithlens.errors import ArithlensError
from arithlens.tasks.arithmetic.spec import TaskSpec


def to_digits(values: Iterable[int], width: int) -> np.ndarray:
    """Non-negative ints -> ``(batch, width)`` uint8 digits, least significant first."""
    rows = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ArithlensError(f"operand {v!r} is invalid: expected a non-negative integer")
        s = str(int(v))
        if len(s) > width:
            raise ArithlensError(f"operand {v} has {len(s)} digits: expected at most {width}")
        rows.append([int(c) for c in reversed(s.zfill(width))])
    return np.asarray(rows, dtype=np.uint8).reshape(len(rows), width)


def from_digits(digits: np.ndarray) -> list[int]:
    """``(batch, width)`` digits (least significant first) -> Python ints (exact)."""
    return [int("".join(map(str, row[::-1].tolist())) or "0") for row in digits]


@dataclass(frozen=True, eq=False)
class Problems:
    """A batch of problems for one task.

    Attributes:
        task: the task these problems belong to.
        a: first operand digits, shape ``(batch, n_digits)``, least significant first.
        b: second operand digits, same shape.
    """

    task: TaskSpec
    a: UInt8[np.ndarray, "batch digit"]
    b: UInt8[np.ndarray, "batch digit"]

    def __post_init__(self) -> None:
        n = self.task.n_digits
        for name, arr in (("a", self.a), ("b", self.b)):
            if arr.ndim != 2 or arr.shape[1] != n:
                raise ArithlensError(
                    f"operand array {name} has shape {arr.shape}: expected (batch, {n})"
                )
        if self.a.shape[0] != self.b.shape[0]:
            raise ArithlensError(
                f"operand batches differ: a has {self.a.shape[0]}, b has {self.b.shape[0]}"
            )

    @classmethod
    def from_ints(cls, task: TaskSpec, pairs: Iterable[tuple[int, int]]) -> Problems:
        """Build from ``(a, b)`` integer pairs; each operand must fit in ``task.n_digits``."""
        pairs = list(pairs)
        a = to_digits((p[0] for p in pairs), task.n_digits)
        b = to_digits((p[1] for p in pairs), task.n_digits)
        if task.op == "sub" and task.nonneg:
            bad = [p for p in pairs if p[0] < p[1]]
            if bad:
                raise ArithlensError(
                    f"problem {bad[0][0]}-{bad[0][1]} is negative but the task has nonneg=True"
                )
        return cls(task, a, b)

    def __len__(self) -> int:
        return int(self.a.shape[0])

    def __getitem__(self, idx: int | slice | np.ndarray) -> Problems:
        if isinstance(idx, (int, np.integer)):
            idx = slice(int(idx), int(idx) + 1)
        return Problems(self.task, self.a[idx], self.b[idx])

    def ints(self) -> list[tuple[int, int]]:
        """The problems as ``(a, b)`` Python ints."""
        return list(zip(from_digits(self.a), from_digits(self.b)))

    def to_record(self) -> dict:
        """JSON-ready: the task and the operand digits (inverse: ``tasks.problems_from_record``)."""
        return {"task": self.task.to_dict(), "a": self.a.tolist(), "b": self.b.tolist()}

    @classmethod
    def from_record(cls, task: TaskSpec, d: dict) -> Problems:
        """Problems of ``task`` from :meth:`to_record`'s operand digits."""
        n = task.n_digits
        arrays = [np.asarray(d[k], dtype=np.uint8).reshape(-1, n) for k in ("a", "b")]
        return cls(task, *arrays)

    def keys(self) -> np.ndarray:
        """One hashable bytes key per problem (for de-duplication and split checks)."""
        both = np.concatenate([self.a, self.b], axis=1)
        return np.array([row.tobytes() for row in both], dtype=object)

    @staticmethod
    def concat(parts: list[Problems]) -> Problems:
        """Concatenate batches of the same task."""
        if not parts:
            raise ArithlensError("cannot concatenate an empty list of Problems")
        task = parts[0].task
        for p in parts:
            if p.task != task:
                raise ArithlensError(
                    f"cannot concatenate problems of {p.task.name} and {task.name}"
                )
        return Problems(
            task, np.concatenate([p.a for p in parts]), np.concatenate([p.b for p in parts])
        )
