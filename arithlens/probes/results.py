"""Probe results: scores with their controls, tidy tables, the fitted directions, plots, save/load.

Example:
    >>> res.to_frame().head()                            # doctest: +SKIP
    >>> res.best()                                       # doctest: +SKIP
    >>> u, c = res.direction("carry.tens", "L1", 8)     # doctest: +SKIP
    >>> res.plot(value="selectivity")                    # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from arithlens._plotting import draw
from arithlens._saving import Saveable
from arithlens.errors import ArithlensError
from arithlens.probes.targets import MIN_COVERAGE
from arithlens.tasks import TaskSpec

VALUES = ("score", "control", "selectivity", "random_init")
ARRAYS = ("score", "control", "random_init", "majority", "control_coverage")


class SiteTable:
    """What probe and causal results share: values by name, targets by name, tidy rows."""

    VALUES: ClassVar[tuple[str, ...]] = ()
    targets: list[str]
    axes: tuple[str, ...]
    layer_labels: list[str]
    pos_labels: list[str]
    positions: list[int]

    def values(self, value: str) -> np.ndarray:
        """One of :attr:`VALUES` as an array ``(target, layer, pos[, head])``."""
        if value not in self.VALUES:
            raise ArithlensError(f"value {value!r} is unknown: expected one of {list(self.VALUES)}")
        return self._value(value)

    def _value(self, value: str) -> np.ndarray:
        return getattr(self, value)

    def _site_frame(self) -> tuple[pd.DataFrame, np.ndarray]:
        """A tidy frame with every value, one row per target x site, and its index grid."""
        idx = np.indices(self.values(self.VALUES[0]).shape).reshape(len(self.axes), -1)
        frame = pd.DataFrame(
            {
                "target": [self.targets[i] for i in idx[0]],
                "layer": [self.layer_labels[i] for i in idx[1]],
                "pos": [self.positions[i] for i in idx[2]],
                "pos_label": [self.pos_labels[i] for i in idx[2]],
            }
        )
        if "head" in self.axes:
            frame["head"] = idx[3]
        for v in self.VALUES:
            frame[v] = self.values(v).reshape(-1)
        return frame, idx

    def target_index(self, target: str) -> int:
        if target not in self.targets:
            raise ArithlensError(
                f"target {target!r} is not in this result: expected one of {self.targets}"
            )
        return self.targets.index(target)


@dataclass(frozen=True)
class ProbeResult(SiteTable, Saveable):
    """Held-out probe scores per target and site, next to their controls.

    Attributes:
        score: ``(target, layer, pos[, head])`` held-out accuracy (class targets) or R^2 (scalar).
        control: same shape: the probe's score on the Hewitt & Liang control task.
        control_coverage: ``(target,)`` share of the test problems whose control type was seen
            in training; selectivity is NaN for targets below
            :data:`~arithlens.probes.targets.MIN_COVERAGE` (the control could not be learned).
        random_init: same shape: the probe's score on a randomly initialized model.
        majority: ``(target,)`` held-out score of the constant majority-class predictor.
        targets, kinds, classes: target names, ``"class"``/``"scalar"``, original class labels.
        axes: axis names of ``score``.
        layer_labels: one per layer (``"emb"``, ``"L0"``...); pos_labels: one per probed position.
        positions: token position of each probed position.
        weights: ``W (site, d, target, C-1)``, ``b (site, target, C-1)`` in raw activation units:
            ``act @ W[s, :, k, c-1] + b[s, k, c-1]`` is the logit of class c against class 0
            (slot 0: a scalar target's prediction); ``class_mean (site, target, C, d)`` the
            training mean per class; sites flattened layer-major.
        activation: the probed activation (``"resid_pre"``...); hooks: its hook per layer.
        n_train, n_test: problems fitted on and scored on; l2: the ridge penalty; seed: the split
        and random-init seed; control_types: how the control task types its examples.
        task: the task the probes were fitted on (as :meth:`TaskSpec.to_dict`).
    """

    SAVED_AS: ClassVar[str] = "probe result"

    score: np.ndarray
    control: np.ndarray
    random_init: np.ndarray
    majority: np.ndarray
    targets: list[str]
    kinds: list[str]
    classes: list[list]
    axes: tuple[str, ...]
    layer_labels: list[str]
    pos_labels: list[str]
    positions: list[int]
    weights: dict[str, torch.Tensor] = field(repr=False)
    activation: str
    hooks: list[str]
    n_train: int
    n_test: int
    l2: float
    seed: int
    control_types: str
    task: dict[str, Any] | None = None
    control_coverage: np.ndarray | None = None

    @property
    def selectivity(self) -> np.ndarray:
        """Score minus control-task score (Hewitt & Liang 2019); NaN for targets whose control
        types were not seen in training often enough for the control to be learnable."""
        sel = self.score - self.control
        if self.control_coverage is None:
            return np.full_like(sel, np.nan)
        low = ~(np.asarray(self.control_coverage) >= MIN_COVERAGE)
        sel = sel.copy()
        sel[low] = np.nan
        return sel

    VALUES: ClassVar[tuple[str, ...]] = VALUES

    def _value(self, value: str) -> np.ndarray:
        return self.selectivity if value == "selectivity" else getattr(self, value)

    def metric(self, target: str) -> str:
        """``"accuracy"`` or ``"r2"``."""
        return "accuracy" if self.kinds[self.target_index(target)] == "class" else "r2"

    def _site(self, layer: int | str, pos: int, head: int | None) -> int:
        """Flat site index for ``layer`` (index or label), token position ``pos``, ``head``."""
        li = (
            self.layer_labels.index(layer)
            if isinstance(layer, str) and layer in self.layer_labels
            else layer
        )
        if not isinstance(li, int) or not 0 <= li < len(self.layer_labels):
            raise ArithlensError(
                f"layer {layer!r} is invalid: expected one of {self.layer_labels} or its index"
            )
        if pos not in self.positions:
            raise ArithlensError(
                f"position {pos!r} was not probed: expected one of {self.positions}"
            )
        site = li * len(self.positions) + self.positions.index(pos)
        if "head" not in self.axes:
            if head is not None:
                raise ArithlensError(f"head={head!r} given but {self.activation} has no heads")
            return site
        n_heads = self.score.shape[3]
        if head is None or not 0 <= head < n_heads:
            raise ArithlensError(f"head={head!r} is invalid: expected 0..{n_heads - 1}")
        return site * n_heads + head

    def direction(
        self,
        target: str,
        layer: int | str,
        pos: int,
        head: int | None = None,
        *,
        cls: int = 1,
        kind: str = "probe",
    ) -> tuple[torch.Tensor, float]:
        """A class-``cls``-versus-class-0 direction at a site as ``(u, c)`` in raw activation
        units, with ``act @ u + c > 0`` on the class-``cls`` side.

        ``kind="probe"``: the fitted probe (``act @ u + c`` is its logit; for a scalar target
        its prediction). ``kind="mean_diff"``: the difference of the two class means (Marks &
        Tegmark's mass-mean direction), unit length, with the boundary halfway between the means,
        so ``act @ u + c`` is the signed distance from it.
        """
        k, site = self.target_index(target), self._site(layer, pos, head)
        if kind not in ("probe", "mean_diff"):
            raise ArithlensError(f"kind {kind!r} is unknown: expected 'probe' or 'mean_diff'")
        if self.kinds[k] == "class" and not 1 <= cls < len(self.classes[k]):
            raise ArithlensError(
                f"cls={cls!r} is invalid for {target!r}: expected 1..{len(self.classes[k]) - 1}"
            )
        if kind == "mean_diff":
            if self.kinds[k] != "class":
                raise ArithlensError(f"target {target!r} is a scalar: it has no class means")
            mu0, mu1 = (
                self.weights["class_mean"][site, k, 0],
                self.weights["class_mean"][site, k, cls],
            )
            u = (mu1 - mu0) / (mu1 - mu0).norm().clamp_min(1e-12)
            return u, float(-(u * (mu0 + mu1) / 2).sum())
        slot = 0 if self.kinds[k] == "scalar" else cls - 1
        return self.weights["W"][site, :, k, slot], float(self.weights["b"][site, k, slot])

    def to_frame(self) -> pd.DataFrame:
        """One row per target x site: score, control, selectivity, random_init, majority."""
        frame, idx = self._site_frame()
        frame.insert(1, "metric", [self.metric(self.targets[i]) for i in idx[0]])
        frame["majority"] = self.majority[idx[0]]
        coverage = (
            np.full(len(self.targets), np.nan)
            if self.control_coverage is None
            else np.asarray(self.control_coverage)
        )
        frame["control_coverage"] = coverage[idx[0]]
        frame["given"] = self._given()[tuple(idx)]
        return frame

    def _given(self) -> np.ndarray:
        """``(target, layer, pos[, head])``: whether the target is already determined by the
        input tokens at that position through a teacher-forced answer token (the answer digit
        the target is about, or the one a carry flows into, is an input at or before it): a
        probe there reads an input, not an internal variable."""
        out = np.zeros(self.score.shape, dtype=bool)
        if self.task is None:
            return out
        task = TaskSpec(**self.task)
        labels = [lab.split(":", 1)[-1] for lab in self.pos_labels]
        for t, name in enumerate(self.targets):
            family, _, place = name.partition(".")
            if family not in ("carry", "answer", "digit_class") or not place:
                continue
            token = f"c{task.answer_digit(place)}"
            if token not in labels:
                continue
            first = labels.index(token)
            # position order is token order: every probed position at or after that answer token
            for j, p in enumerate(self.positions):
                if p >= self.positions[first]:
                    out[t, :, j] = True
        return out

    def best(self, by: str = "score", *, given: bool = False) -> pd.DataFrame:
        """The best site per target by ``by`` (one of :data:`VALUES`); sites where the target
        is given by a teacher-forced answer token are left out unless ``given=True``."""
        self.values(by)
        frame = self.to_frame().dropna(subset=[by])
        if not given:
            frame = frame[~frame["given"]]
        return frame.loc[frame.groupby("target", sort=False)[by].idxmax()].reset_index(drop=True)

    def plot(self, value: str = "score", kind: str = "heatmap", targets: list[str] | None = None):
        """Heatmap layer x position per target (``kind="heatmap"``) or the best position's value
        per layer with the controls (``kind="layers"``)."""
        return draw(self, kind, value=value, targets=targets)
