"""The one exception type arithlens raises for bad input.

Every message names the offending value and says what was expected, e.g.::

    ArithlensError: n_digits=0 is invalid: expected an integer >= 1
"""

from __future__ import annotations

import math
import numbers
from typing import Any


class ArithlensError(ValueError):
    """Bad input to an arithlens function (a value, a file, a name)."""


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Return ``value`` if it is an int within bounds, else raise :class:`ArithlensError`.

    Example:
        >>> check_int("seed", 3)
        3
    """
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise ArithlensError(
                f"{name}={value!r} is invalid: expected an integer, got {type(value).__name__}"
            ) from None
    if minimum is not None and value < minimum:
        raise ArithlensError(f"{name}={value!r} is invalid: expected an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise ArithlensError(f"{name}={value!r} is invalid: expected an integer <= {maximum}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> float:
    """Return ``value`` as a float if it is a finite real number within bounds (``minimum`` <=
    value <= ``maximum``, value > ``above``), else raise :class:`ArithlensError`.

    Example:
        >>> check_float("lr", 1e-3, above=0)
        0.001
        >>> check_float("lr", "fast", above=0)
        Traceback (most recent call last):
        ...
        arithlens.errors.ArithlensError: lr='fast' is invalid: expected a finite number > 0, got str
    """
    bounds = " and ".join(
        b
        for b in (
            f">= {minimum}" if minimum is not None else "",
            f"> {above}" if above is not None else "",
            f"<= {maximum}" if maximum is not None else "",
        )
        if b
    )
    want = f"a finite number {bounds}".rstrip()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArithlensError(
            f"{name}={value!r} is invalid: expected {want}, got {type(value).__name__}"
        )
    value = float(value)
    if (
        not math.isfinite(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
        or (above is not None and value <= above)
    ):
        raise ArithlensError(f"{name}={value!r} is invalid: expected {want}")
    return value


def check_choice(name: str, value: Any, choices: list[str] | tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ArithlensError`.

    Example:
        >>> check_choice("format", "reversed", ["plain", "reversed"])
        'reversed'
    """
    if value not in choices:
        raise ArithlensError(f"{name}={value!r} is unknown: expected one of {sorted(choices)}")
    return value
