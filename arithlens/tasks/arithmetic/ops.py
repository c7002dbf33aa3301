"""Column arithmetic for each operation, vectorized over a batch of digit arrays.

Each operation returns the answer digits (least significant first, padded to the task's
answer width), the sign, and the *carry into* every answer digit: the addition carry, the
subtraction borrow, or the multiplication column carry (which can exceed 1).

Example:
    >>> import numpy as np
    >>> res = column_arithmetic("add", np.array([[5, 9]]), np.array([[5, 0]]))
    >>> res.digits.tolist(), res.carry_in.tolist()   # 95 + 5 = 100
    ([[0, 0, 1]], [[0, 1, 1]])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from arithlens.errors import check_choice


@dataclass(frozen=True)
class ColumnResult:
    """Answer of a batch, column by column.

    Attributes:
        digits: ``(batch, width)`` answer digits, least significant first.
        carry_in: ``(batch, width)`` carry (borrow, column carry) into each answer digit.
        negative: ``(batch,)`` True where the result is negative (subtraction only).
        top: ``(batch, width)`` minuend / first operand actually used per column (sub: larger).
        bottom: ``(batch, width)`` the other operand per column (sub: smaller), zero-padded.
    """

    digits: np.ndarray
    carry_in: np.ndarray
    negative: np.ndarray
    top: np.ndarray
    bottom: np.ndarray


def _pad(x: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((x.shape[0], width), dtype=np.int64)
    out[:, : x.shape[1]] = x
    return out


def _add(a: np.ndarray, b: np.ndarray) -> ColumnResult:
    width = a.shape[1] + 1
    a, b = _pad(a, width), _pad(b, width)
    digits = np.zeros_like(a)
    carry = np.zeros_like(a)
    for k in range(width):
        s = a[:, k] + b[:, k] + carry[:, k]
        digits[:, k] = s % 10
        if k + 1 < width:
            carry[:, k + 1] = s // 10
    return ColumnResult(digits, carry, np.zeros(len(a), dtype=bool), a, b)


def _is_less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise ``a < b`` for digit arrays (least significant first)."""
    diff = (a.astype(np.int64) - b.astype(np.int64))[:, ::-1]
    nonzero = diff != 0
    first = np.argmax(nonzero, axis=1)
    return nonzero.any(axis=1) & (diff[np.arange(len(diff)), first] < 0)


def _sub(a: np.ndarray, b: np.ndarray) -> ColumnResult:
    width = a.shape[1]
    neg = _is_less(a, b)
    top = np.where(neg[:, None], b, a).astype(np.int64)
    bottom = np.where(neg[:, None], a, b).astype(np.int64)
    digits = np.zeros_like(top)
    borrow = np.zeros_like(top)
    for k in range(width):
        d = top[:, k] - bottom[:, k] - borrow[:, k]
        digits[:, k] = d % 10
        if k + 1 < width:
            borrow[:, k + 1] = (d < 0).astype(np.int64)
    return ColumnResult(digits, borrow, neg, top, bottom)


def _mul(a: np.ndarray, b: np.ndarray) -> ColumnResult:
    n = a.shape[1]
    width = 2 * n
    prod = a[:, :, None].astype(np.int64) * b[:, None, :].astype(np.int64)
    col = np.zeros((a.shape[0], width), dtype=np.int64)
    for i in range(n):
        col[:, i : i + n] += prod[:, i, :]
    digits = np.zeros_like(col)
    carry = np.zeros_like(col)
    for k in range(width):
        s = col[:, k] + carry[:, k]
        digits[:, k] = s % 10
        if k + 1 < width:
            carry[:, k + 1] = s // 10
    return ColumnResult(digits, carry, np.zeros(len(a), dtype=bool), _pad(a, width), _pad(b, width))


OPERATIONS: dict[str, Callable[[np.ndarray, np.ndarray], ColumnResult]] = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
}
SYMBOLS = {"add": "+", "sub": "-", "mul": "*"}


def column_arithmetic(op: str, a: np.ndarray, b: np.ndarray) -> ColumnResult:
    """Run ``op`` column by column on digit arrays of shape ``(batch, n_digits)``."""
    check_choice("op", op, tuple(OPERATIONS))
    return OPERATIONS[op](np.asarray(a), np.asarray(b))
