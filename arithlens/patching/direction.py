"""The one rule of patching directions: which run is patched *from* (the source) and which
*into* (the target), and so which unpatched value a patch is measured against.

- ``"denoise"``: the corrupt run, with clean activations patched in: source clean, target
  corrupt, baseline the corrupt run's metric (a patch that restores the clean answer moves the
  metric towards the clean value).
- ``"noise"``: the clean run, with corrupt activations patched in: source corrupt, target clean,
  baseline the clean run's metric (Wang et al.'s path patching convention).

Example:
    >>> orient("denoise", "clean", "corrupt"), orient("noise", "clean", "corrupt")
    (('clean', 'corrupt'), ('corrupt', 'clean'))
    >>> baseline("noise", clean=2.5, corrupt=-1.0)
    2.5
"""

from __future__ import annotations

from typing import TypeVar

from arithlens.choices import Direction
from arithlens.errors import check_choice

DIRECTIONS: tuple[Direction, ...] = ("denoise", "noise")
T = TypeVar("T")


def check_direction(direction: object) -> Direction:
    """``direction`` checked to be ``"denoise"`` or ``"noise"``."""
    return check_choice("direction", direction, DIRECTIONS)  # type: ignore[return-value]


def orient(direction: str, clean: T, corrupt: T) -> tuple[T, T]:
    """``(source, target)``: the run patched from and the run patched into."""
    return (clean, corrupt) if check_direction(direction) == "denoise" else (corrupt, clean)


def baseline(direction: str, *, clean: float, corrupt: float) -> float:
    """The metric of the unpatched target run (what a patch that does nothing leaves)."""
    return orient(direction, clean, corrupt)[1]
