"""Plain-text tables for the terminal: columns fitted to a width, numbers right-aligned.

Example:
    >>> print(table([{"name": "add3-2L", "exact": 0.99871}, {"name": "mul2-3L", "exact": None}]))
    name      exact
    -------  ------
    add3-2L  0.9987
    mul2-3L       -
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

WIDTH = 100
"""The widest line a table prints (a terminal's columns)."""


def cell(value: Any, digits: int = 4) -> str:
    """``value`` as a table cell: floats to ``digits`` decimals, None as ``-``."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _numeric(values: Sequence[Any]) -> bool:
    present = [v for v in values if v is not None and not isinstance(v, bool)]
    return bool(present) and all(isinstance(v, (int, float)) for v in present)


def table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, *, width: int = WIDTH
) -> str:
    """``rows`` as aligned columns (numbers right-aligned); the last column is cut with ``...``
    so that no line is wider than ``width``."""
    columns = list(columns or (rows[0].keys() if rows else []))
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    room = width - sum(widths[:-1]) - 2 * (len(columns) - 1)
    if columns and widths[-1] > room:
        widths[-1] = max(room, 8)
    right = [_numeric([r.get(c) for r in rows]) for c in columns]

    def line(values: list[str]) -> str:
        out = []
        for v, w, r in zip(values, widths, right):
            v = v if len(v) <= w else v[: w - 3] + "..."
            out.append(v.rjust(w) if r else v.ljust(w))
        return "  ".join(out).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(c) for c in cells)])
