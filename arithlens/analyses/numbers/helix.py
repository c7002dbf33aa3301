"""Helix fits (Kantamneni & Tegmark 2025): the activations of the numbers ``a``, reduced by PCA
to ``k`` dimensions, regressed on the basis

    B(a) = [1, a / a_max, cos(2 pi a / T1), sin(2 pi a / T1), ..., cos(2 pi a / Tm), sin(2 pi a / Tm)]

(``1`` the intercept; ``a`` scaled by the largest number, which changes no fit). ``C`` maps the
basis to the PCA space and back to the model's (``h ~ mean + C B(a)``); its pseudo-inverse
``C+`` reads a circle per period from any activation. Period subsets (every subset of 1 to
``max_periods`` of the candidates) are ranked by cross-validated R^2 over the numbers (folds of
numbers held out of the fit), not by training R^2, which grows with every period added.
Variant: Kantamneni & Tegmark rank subsets by the patching effect; ours by held-out R^2 (the
causal test is :func:`arithlens.analyses.numbers.causal.patch_fits`).

Example:
    >>> fit = fit_helix(acts.values, acts.numbers, periods=(2, 5, 10, 100))  # doctest: +SKIP
    >>> fit.periods, fit.r2, fit.cv_r2                                      # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from jaxtyping import Float

from arithlens._plotting import draw
from arithlens.errors import ArithlensError, check_int

PERIODS = (2, 5, 10, 100)
"""Kantamneni & Tegmark's periods (T = 100: base 10's inductive bias)."""


def helix_basis(
    numbers: np.ndarray, periods: tuple[float, ...], scale: float, linear: bool = True
) -> np.ndarray:
    """``(N, 1 + linear + 2 m)`` the design matrix: intercept, ``a / scale``, cos and sin per
    period."""
    a = np.asarray(numbers, dtype=np.float64)
    cols = [np.ones_like(a)]
    if linear:
        cols.append(a / scale)
    for t in periods:
        cols += [np.cos(2 * np.pi * a / t), np.sin(2 * np.pi * a / t)]
    return np.stack(cols, 1)


def poly_basis(numbers: np.ndarray, degree: int, scale: float) -> np.ndarray:
    """``(N, 1 + degree)`` intercept and powers of ``a / scale`` (the polynomial baseline)."""
    a = np.asarray(numbers, dtype=np.float64) / scale
    return np.stack([a**p for p in range(degree + 1)], 1)


@dataclass(frozen=True)
class HelixFit:
    """A linear map from a basis of the number to its activation.

    Attributes:
        periods: the fitted periods; linear: whether ``a`` is a term; kind: ``helix``,
            ``circle`` (no linear term), ``poly`` (powers of a) or ``helix-shuffled``.
        numbers: the numbers fitted; scale: ``a``'s divisor in the basis.
        mean: ``(d,)`` the activations' mean; components: ``(k, d)`` the PCA axes.
        coef: ``(basis, k)`` the regression in PCA space (intercept row first).
        C: ``(d, basis - 1)`` the map of the non-constant terms into the model's space.
        r2: R^2 of the fit in the PCA space; cv_r2: held-out R^2 (folds over numbers).
        table: every period subset tried: periods, r2, cv_r2.
    """

    periods: tuple[float, ...]
    linear: bool
    kind: str
    numbers: np.ndarray
    scale: float
    mean: np.ndarray
    components: np.ndarray
    coef: np.ndarray
    r2: float
    cv_r2: float
    table: list[dict] = field(default_factory=list)
    degree: int = 0

    @property
    def C(self) -> np.ndarray:
        return (self.coef[1:] @ self.components).T

    @property
    def C_pinv(self) -> np.ndarray:
        """``(basis - 1, d)``: reads the basis terms back from a centred activation."""
        return np.linalg.pinv(self.C)

    @property
    def dim(self) -> int:
        """The number of basis terms besides the intercept (the fit's dimension)."""
        return int(self.coef.shape[0] - 1)

    def basis(self, numbers: np.ndarray) -> np.ndarray:
        if self.kind == "poly":
            return poly_basis(numbers, self.degree, self.scale)
        return helix_basis(numbers, self.periods, self.scale, self.linear)

    def reconstruct(self, numbers: np.ndarray) -> Float[np.ndarray, "n d"]:
        """``mean + C B(a)`` for each number."""
        return self.mean + self.basis(numbers) @ self.coef @ self.components

    def project(self, values: np.ndarray) -> np.ndarray:
        """``(n, basis - 1)`` the basis terms read from activations with ``C+``."""
        return (np.asarray(values) - self.mean) @ self.C_pinv.T

    def to_frame(self) -> pd.DataFrame:
        """The period subsets tried, best held-out R^2 first."""
        return pd.DataFrame(self.table).sort_values("cv_r2", ascending=False, ignore_index=True)

    def plot(self, values: np.ndarray | None = None) -> Any:
        """One circle per period: the (cos, sin) terms read with ``C+`` from the activations
        (default: the fit's own reconstruction), coloured by ``a mod T``."""
        return draw(self, values=values)


def fit_helix(
    values: Float[np.ndarray, "number d"],
    numbers: np.ndarray | list[int],
    periods: tuple[float, ...] = PERIODS,
    k: int = 100,
    max_periods: int = 4,
    search: bool = True,
    linear: bool = True,
    folds: int = 5,
    seed: int = 0,
) -> HelixFit:
    """Fit ``values`` (one row per number) with a helix of ``periods``; with ``search``, every
    subset of 1..``max_periods`` periods, keeping the best held-out R^2.

    Example:
        >>> a = np.arange(100); h = np.stack([a, np.cos(2 * np.pi * a / 10)], 1)
        >>> fit_helix(h, a, periods=(10, 7), k=2).periods
        (10,)
    """
    x, nums = _checked(values, numbers, periods)
    check_int("k", k, minimum=1)
    check_int("folds", folds, minimum=2)
    scale = float(max(np.abs(nums).max(), 1))
    mean, comps, z = _pca(x, k)
    subsets = (
        [c for m in range(1, min(max_periods, len(periods)) + 1) for c in combinations(periods, m)]
        if search
        else [tuple(periods)]
    )
    table, best = [], None
    for sub in subsets:
        design = helix_basis(nums, sub, scale, linear)
        if design.shape[1] > len(nums) - len(nums) // folds:
            continue  # more terms than numbers left in a fold
        coef, r2 = _regress(design, z)
        cv = _cv_r2(design, z, folds, seed)
        table.append(dict(periods=tuple(sub), terms=design.shape[1] - 1, r2=r2, cv_r2=cv))
        if best is None or cv > best[3]:
            best = (sub, coef, r2, cv)
    if best is None:
        raise ArithlensError(
            f"{len(nums)} numbers are too few for the periods {periods}: expected more numbers "
            "than basis terms in every fold"
        )
    sub, coef, r2, cv = best
    kind = "helix" if linear else "circle"
    return HelixFit(tuple(sub), linear, kind, nums, scale, mean, comps, coef, r2, cv, table)


def fit_basis(
    values: np.ndarray,
    numbers: np.ndarray | list[int],
    kind: str,
    periods: tuple[float, ...] = PERIODS,
    k: int = 100,
    seed: int = 0,
) -> HelixFit:
    """One fit of a named kind, for the baselines at a helix's dimension: ``helix`` or
    ``circle`` (no linear term) of ``periods``; ``poly`` (powers of a up to the helix's
    dimension, ``2 m + 1``); ``helix-shuffled`` (the helix fitted to a shuffled order of the
    numbers, read back at the true numbers)."""
    x, nums = _checked(values, numbers, periods)
    scale = float(max(np.abs(nums).max(), 1))
    mean, comps, z = _pca(x, k)
    if kind == "poly":
        degree = 2 * len(periods) + 1
        coef, r2 = _regress(poly_basis(nums, degree, scale), z)
        nan = float("nan")
        return HelixFit((), False, kind, nums, scale, mean, comps, coef, r2, nan, degree=degree)
    if kind not in ("helix", "circle", "helix-shuffled"):
        raise ArithlensError(
            f"kind={kind!r} is unknown: expected 'helix', 'circle', 'poly' or 'helix-shuffled'"
        )
    linear = kind != "circle"
    fit_on = nums
    if kind == "helix-shuffled":
        fit_on = np.random.default_rng(seed).permutation(nums)
    coef, r2 = _regress(helix_basis(fit_on, periods, scale, linear), z)
    return HelixFit(tuple(periods), linear, kind, nums, scale, mean, comps, coef, r2, float("nan"))


def _checked(
    values: Any, numbers: Any, periods: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(values, dtype=np.float64)
    nums = np.asarray(numbers, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(nums):
        raise ArithlensError(
            f"values of shape {x.shape} do not fit {len(nums)} numbers: expected (number, d)"
        )
    bad = [t for t in periods if not t > 0]
    if bad or not periods:
        raise ArithlensError(f"periods={periods} are invalid: expected positive numbers")
    if len(nums) < 5:
        raise ArithlensError(f"{len(nums)} numbers are too few for a helix: expected >= 5")
    return x, nums


def _pca(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, ``(k', d)`` axes (k' = min(k, rank bound)) and the ``(N, k')`` coordinates."""
    mean = x.mean(0)
    u, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = min(k, vt.shape[0])
    return mean, vt[:k], (x - mean) @ vt[:k].T


def _regress(design: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, float]:
    coef = np.linalg.lstsq(design, z, rcond=None)[0]
    return coef, _r2(z, design @ coef)


def _r2(z: np.ndarray, pred: np.ndarray) -> float:
    tot = ((z - z.mean(0)) ** 2).sum()
    return float(1 - ((z - pred) ** 2).sum() / max(tot, 1e-300))


def _cv_r2(design: np.ndarray, z: np.ndarray, folds: int, seed: int) -> float:
    """R^2 of the numbers held out, each predicted by a fit on the other folds."""
    order = np.random.default_rng(seed).permutation(len(z))
    pred = np.zeros_like(z)
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        coef = np.linalg.lstsq(design[train], z[train], rcond=None)[0]
        pred[test] = design[test] @ coef
    return _r2(z, pred)
