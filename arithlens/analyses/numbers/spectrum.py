"""Fourier spectra along the number (Zhou et al. 2024; Kantamneni & Tegmark 2025): a table
``(number, channel)`` — an activation per number (channels = model dimensions), or a module's
logits over the number tokens per prompt (channels = prompts) — is centred along the number,
transformed with the discrete Fourier transform along it, and its magnitude averaged over the
channels. Period ``T = N / k`` for frequency ``k`` of ``N`` consecutive numbers. The null is the
same table with its rows (numbers) in a shuffled order, averaged over ``n_null`` seeded orders.

Example:
    >>> acts = number_activations(model, "resid_post", 0)              # doctest: +SKIP
    >>> s = spectrum(acts.values, acts.numbers); s.top(4)              # doctest: +SKIP
    [(10.0, 0.21), (5.0, 0.12), (2.0, 0.09), (100.0, 0.08)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from jaxtyping import Float

from arithlens._plotting import draw
from arithlens.errors import ArithlensError


@dataclass(frozen=True)
class Spectrum:
    """A magnitude spectrum along the number.

    Attributes:
        numbers: the numbers, consecutive (``N`` of them).
        periods: ``N / k`` for frequencies ``k = 1 .. N // 2``.
        magnitude: ``(k,)`` the mean over channels of ``|DFT|`` at each frequency.
        null: ``(k,)`` the same for shuffled orders of the numbers (mean over the orders).
        site: what was transformed, in words.
    """

    numbers: np.ndarray
    periods: np.ndarray
    magnitude: np.ndarray
    null: np.ndarray
    site: str = ""

    @property
    def share(self) -> np.ndarray:
        """Each frequency's share of the energy (squared magnitude) over ``k = 1 .. N // 2``."""
        e = self.magnitude**2
        return e / e.sum()

    def top(self, k: int = 5) -> list[tuple[float, float]]:
        """The ``k`` periods with the most energy: ``[(period, share)]``."""
        order = np.argsort(-self.share)[:k]
        return [(round(float(self.periods[i]), 3), round(float(self.share[i]), 4)) for i in order]

    def ratio_to_null(self) -> np.ndarray:
        """``magnitude / null`` per frequency: above 1 where the order of the numbers matters."""
        return self.magnitude / np.maximum(self.null, 1e-12)

    def to_frame(self) -> pd.DataFrame:
        """One row per frequency: ``k``, ``period``, ``magnitude``, ``share``, ``null``."""
        return pd.DataFrame(
            dict(
                k=np.arange(1, len(self.periods) + 1),
                period=self.periods,
                magnitude=self.magnitude,
                share=self.share,
                null=self.null,
            )
        )

    def plot(self) -> Any:
        """The spectrum against its shuffled null, by period (log x)."""
        return draw(self)


def spectrum(
    values: Float[np.ndarray, "number channel"],
    numbers: np.ndarray | list[int],
    n_null: int = 10,
    seed: int = 0,
    site: str = "",
) -> Spectrum:
    """The centred DFT of ``values`` along the number, ``|F|`` averaged over channels, and the
    same for ``n_null`` shuffled orders of the rows.

    Example:
        >>> a = np.arange(100)
        >>> s = spectrum(np.cos(2 * np.pi * a / 10)[:, None], a, n_null=2)
        >>> s.top(1)
        [(10.0, 1.0)]
    """
    x = np.asarray(values, dtype=np.float64)
    nums = np.asarray(numbers)
    if x.ndim != 2 or x.shape[0] != len(nums):
        raise ArithlensError(
            f"values of shape {x.shape} do not fit {len(nums)} numbers: expected (number, channel)"
        )
    if len(nums) < 4:
        raise ArithlensError(f"{len(nums)} numbers are too few for a spectrum: expected >= 4")
    if not (np.diff(nums) == 1).all():
        raise ArithlensError(
            "the numbers are not consecutive integers: a DFT along them needs an even grid "
            f"(got {nums[:5].tolist()}...)"
        )
    rng = np.random.default_rng(seed)
    null = np.mean([_magnitude(x[rng.permutation(len(x))]) for _ in range(n_null)], axis=0)
    n = len(nums)
    k = np.arange(1, n // 2 + 1)
    return Spectrum(nums, n / k, _magnitude(x), null, site)


def _magnitude(x: np.ndarray) -> np.ndarray:
    f = np.fft.rfft(x - x.mean(0), axis=0)
    return np.abs(f[1 : x.shape[0] // 2 + 1]).mean(1)
