"""The one exception type arithlens raises for bad input.

Every message names the offending value and says what was expected, e.g.::

    ArithlensError: n_digits=0 is invalid: expected an integer >= 1
"""

from __future__ import annotations

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


def check_choice(name: str, value: Any, choices: list[str] | tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ArithlensError`.

    Example:
        >>> check_choice("format", "reversed", ["plain", "reversed"])
        'reversed'
    """
    if value not in choices:
        raise ArithlensError(f"{name}={value!r} is unknown: expected one of {sorted(choices)}")
    return value
