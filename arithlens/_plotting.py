"""What draws each result: results sit below :mod:`arithlens.plots` and never import it;
``arithlens.plots`` registers its functions here when it is imported (``import arithlens`` does
that), and a result's ``.plot(...)`` looks its plotter up.

Example:
    >>> res.plot()          # PatchResult -> arithlens.plots.patch_heatmap(res)   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arithlens.errors import ArithlensError

_PLOTTERS: dict[tuple[str, str], Callable[..., Any]] = {}


def plotter(result: str, kind: str = "default") -> Callable[[Callable], Callable]:
    """Decorator: ``fn(res, **options)`` draws results of class ``result`` (by name) as
    ``kind``."""

    def add(fn: Callable) -> Callable:
        _PLOTTERS[(result, kind)] = fn
        return fn

    return add


def draw(result: Any, kind: str = "default", **options: Any) -> Any:
    """The figure of ``result`` drawn as ``kind`` by its registered plotter."""
    name = type(result).__name__
    fn = _PLOTTERS.get((name, kind))
    if fn is None:
        kinds = sorted(k for c, k in _PLOTTERS if c == name)
        raise ArithlensError(f"kind {kind!r} is unknown for a {name}: expected one of {kinds}")
    return fn(result, **options)
