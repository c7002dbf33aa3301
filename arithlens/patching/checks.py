"""Argument checks every patching method shares: the layers to patch and the grid of cells.

Example:
    >>> check_layers(None, 3), check_grid(["layer", "head"], {("layer", "head")})
    ([0, 1, 2], ('layer', 'head'))
"""

from __future__ import annotations

from arithlens.errors import ArithlensError


def check_layers(layers: list[int] | None, n_layers: int) -> list[int]:
    """``layers`` (all when None) checked: a non-empty list of distinct indices 0..n_layers-1."""
    if layers is None:
        return list(range(n_layers))
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise ArithlensError(f"layers={layers!r} is invalid: expected a list of layer indices")
    out = list(layers)
    bad = [x for x in out if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < n_layers]
    if not out or bad or len(set(out)) != len(out):
        what = f"layer {bad[0]!r} is out of range" if bad else f"layers={out!r} is invalid"
        raise ArithlensError(
            f"{what}: expected a non-empty list of distinct layers (the model has layers "
            f"0..{n_layers - 1})"
        )
    return out


def check_grid(by: object, grids: set[tuple[str, ...]]) -> tuple[str, ...]:
    """``by`` as a tuple, checked to be one of ``grids``."""
    ok = isinstance(by, (tuple, list)) and all(isinstance(a, str) for a in by)
    if not ok or tuple(by) not in grids:  # type: ignore[arg-type]  # a sequence when ok
        raise ArithlensError(f"by={by!r} is unknown: expected one of {sorted(grids)}")
    return tuple(by)  # type: ignore[arg-type]  # a sequence of str, checked above
