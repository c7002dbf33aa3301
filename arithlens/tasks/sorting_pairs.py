"""Minimal pairs for sorting: the same sequence with one input element changed.

========================= ===========================================================
change                    corrupt = clean with ...
========================= ===========================================================
``elem.<k>``              input element ``k`` (0 = the first written) replaced by a
                          different value, uniform over the others
``elem.last``             the last input element replaced likewise
========================= ===========================================================

Both sides have one length (``length``, default the task's longest), so every answer element
sits at one position in both texts and patching by position is well defined. The sorted
answers of the two sides differ from the rank of the smaller of the old and new values up to
the rank of the larger; the other answer elements are the same.

Example:
    >>> from arithlens.tasks.sorting import SortSpec
    >>> pairs = sort_pairs(SortSpec(max_len=4), 2, change="elem.0", seed=0)
    >>> [(c, k) for c, k in zip(pairs.clean.lists(), pairs.corrupt.lists())][0]
    ([8, 6, 5, 2], [0, 6, 5, 2])
"""

from __future__ import annotations

import numpy as np

from arithlens.errors import ArithlensError, check_int
from arithlens.tasks.pairs import Pairs
from arithlens.tasks.sorting import Sequences, SortSpec, sample_sequences

CHANGES = ("elem.<k>", "elem.last")
"""The sorting pairs' changes."""


def _element(change: str, length: int) -> int:
    if not isinstance(change, str) or not change.startswith("elem."):
        raise ArithlensError(
            f"change {change!r} is unknown for sorting: expected 'elem.<k>' (k = 0..{length - 1}) "
            "or 'elem.last'"
        )
    k = change.split(".", 1)[1]
    if k == "last":
        return length - 1
    if not k.isdigit() or int(k) >= length:
        raise ArithlensError(
            f"change {change!r} is out of range: sequences of {length} elements have elements "
            f"0..{length - 1}"
        )
    return int(k)


def sort_pairs(
    task: SortSpec, n: int, *, change: str = "elem.0", seed: int = 0, length: int | None = None
) -> Pairs:
    """``n`` sequences of ``length`` elements (default ``task.max_len``) and their twins with
    one input element changed (see the module doc); both sides are of ``task.at_width(length)``.
    """
    check_int("n", n, minimum=1)
    length = task.max_len if length is None else check_int("length", length, minimum=1)
    k = _element(change, length)
    fixed = task.at_width(length)
    rng = np.random.default_rng(seed)
    clean = sample_sequences(fixed, n, rng)
    values = clean.values.copy()
    shift = rng.integers(1, task.n_values, size=n)
    values[:, k] = (values[:, k] + shift) % task.n_values
    return Pairs(clean, Sequences(fixed, values), change)
