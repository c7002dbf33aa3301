"""How far an estimate of a patching grid (attribution, integrated gradients) agrees with the
exact one (activation patching), reported so that cells that cannot matter do not inflate it.

A grid often has many cells that are zero in both methods (positions after the metric, an
unchanged prefix); a correlation over them measures the mask, not the method. So Pearson and
Spearman are taken over the cells nonzero in either grid, and the top-k overlap asks whether the
estimate finds the cells that matter most.

Example:
    >>> exact = activation_patch(model, pairs, "z", by=("layer", "head"))   # doctest: +SKIP
    >>> est = attribution_patch(model, pairs, "z", by=("layer", "head"))    # doctest: +SKIP
    >>> agreement(est, exact).to_dict()                                      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from arithlens._saving import Saveable
from arithlens.errors import ArithlensError
from arithlens.patching.results import PatchResult

ZERO = 1e-6
"""A cell counts as zero when its |effect| is below this share of the larger grid's largest."""


@dataclass(frozen=True)
class Agreement(Saveable):
    """Agreement of an estimated grid with a reference grid (effects, not values).

    Attributes:
        cells: cells in the grid.
        nonzero: cells nonzero in either grid (the ones compared by the correlations).
        pearson: Pearson r over those cells.
        spearman: Spearman rank correlation over those cells.
        top_k: ``{k: overlap}``, the share of the reference's k largest-|effect| cells that are
            also among the estimate's k largest.
        top_cell_same: whether the largest-|effect| cell is the same.
        scale: the least-squares slope of the estimate on the reference through the origin
            (1 when the estimate has the right size; ~0.2 when it is 5x too small).
    """

    cells: int
    nonzero: int
    pearson: float
    spearman: float
    top_k: dict[int, float]
    top_cell_same: bool
    scale: float

    def __post_init__(self) -> None:  # JSON object keys are strings
        object.__setattr__(self, "top_k", {int(k): v for k, v in self.top_k.items()})

    def to_dict(self) -> dict:
        return asdict(self)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their ranks)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    values, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def _flat(grid: PatchResult | torch.Tensor) -> np.ndarray:
    """A grid's effects as a flat float64 array."""
    t = grid.effect() if isinstance(grid, PatchResult) else torch.as_tensor(grid)
    return np.asarray(t.detach().double().flatten())


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else float("nan")


def agreement(
    estimate: PatchResult | torch.Tensor,
    reference: PatchResult | torch.Tensor,
    ks: tuple[int, ...] = (1, 5, 10),
) -> Agreement:
    """Compare ``estimate``'s effects with ``reference``'s on the same grid.

    Args:
        estimate: the approximate grid (a :class:`PatchResult`, compared by ``effect()``, or a
            tensor of effects).
        reference: the exact grid, same shape.
        ks: the k of the top-k overlaps (k larger than the grid is clipped to it).
    """
    a = _flat(estimate)
    b = _flat(reference)
    if a.shape != b.shape:
        raise ArithlensError(
            f"grids of {a.size} and {b.size} cells cannot be compared: expected the same grid"
        )
    scale_max = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    live = (np.abs(a) > ZERO * scale_max) | (np.abs(b) > ZERO * scale_max)
    if live.sum() < 3:
        raise ArithlensError(
            f"only {int(live.sum())} cells are nonzero in either grid: expected at least 3 to "
            "correlate"
        )
    x, y = a[live], b[live]
    top = {}
    for k in ks:
        k_ = min(int(k), a.size)
        mine = set(np.argsort(-np.abs(a), kind="stable")[:k_].tolist())
        theirs = set(np.argsort(-np.abs(b), kind="stable")[:k_].tolist())
        top[int(k)] = len(mine & theirs) / k_
    return Agreement(
        cells=int(a.size),
        nonzero=int(live.sum()),
        pearson=_pearson(x, y),
        spearman=_pearson(_ranks(x), _ranks(y)),
        top_k=top,
        top_cell_same=bool(np.argmax(np.abs(a)) == np.argmax(np.abs(b))),
        scale=float((x * y).sum() / (y * y).sum()),
    )
