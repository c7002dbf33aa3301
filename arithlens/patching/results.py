"""Patching results: a tensor with named axes, tidy tables, top cells, heatmaps, save/load.

Example:
    >>> res.top(5)                  # doctest: +SKIP
    >>> res.to_frame().head()       # doctest: +SKIP
    >>> res.normalized().plot()     # doctest: +SKIP
    >>> res.save("results/z"); PatchResult.load("results/z")   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import pandas as pd
import torch

from arithlens._plotting import draw
from arithlens._saving import Saveable
from arithlens.choices import Direction
from arithlens.patching.direction import baseline
from arithlens.patching.metrics import Metric, normalized
from arithlens.tokens.tokenizer import PairBatch


@dataclass(frozen=True)
class PatchResult(Saveable):
    """Mean metric per patched cell, with what was patched and the two unpatched runs.

    Attributes:
        values: tensor with one axis per name in ``axes`` (``layer`` first).
        axes: axis names, e.g. ``("layer", "pos", "head")``.
        pos_labels: one label per position (``"7:="``), for plots and tables.
        component: the patched activation (``"z"``, ``"resid_pre"``...).
        method: ``"activation"``, ``"path"``, ``"attribution"`` or ``"integrated_gradients"``.
        direction: ``"denoise"`` (clean into corrupt) or ``"noise"`` (corrupt into clean).
        metric: the metric's name; digits: the answer digit indices it scores.
        clean, corrupt: the metric on the unpatched clean and corrupt runs.
        n_pairs: clean/corrupt pairs averaged; change: what the corruption changed (``"a.units"``).
        scale: ``"raw"`` (the metric) or ``"normalized"``: ``(patched - corrupt) / (clean - corrupt)``.
        settings: the method's own options (``mlps``, ``receivers``, ``layers``, ``ig_steps``).
    """

    SAVED_AS: ClassVar[str] = "patch result"

    values: torch.Tensor
    axes: tuple[str, ...]
    pos_labels: list[str]
    component: str
    method: str
    direction: Direction
    metric: str
    digits: list[int] | list[str]
    clean: float
    corrupt: float
    n_pairs: int
    change: str
    scale: Literal["raw", "normalized"] = "raw"
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        values: torch.Tensor,
        axes: tuple[str, ...],
        batch: PairBatch,
        metric: Metric,
        clean: float,
        corrupt: float,
        *,
        component: str,
        method: str,
        direction: Direction,
        **settings: Any,
    ) -> PatchResult:
        """A result of patching ``component`` on ``batch`` scored by ``metric``."""
        return cls(
            values=values,
            axes=axes,
            pos_labels=batch.labels(),
            component=component,
            method=method,
            direction=direction,
            metric=metric.name,
            digits=metric.digits.copy(),
            clean=float(clean),
            corrupt=float(corrupt),
            n_pairs=len(batch),
            change=batch.pairs.change,
            settings=settings,
        )

    def normalized(self) -> PatchResult:
        """Scores ``(patched - corrupt) / (clean - corrupt)`` (1 = fully clean, 0 = corrupt)."""
        if self.scale == "normalized":
            return self
        v = normalized(self.values, self.clean, self.corrupt)
        return replace(self, values=v, scale="normalized")

    @property
    def baseline(self) -> float:
        """The value of the unpatched run, on the scale of ``values``: the corrupt run's metric
        when denoising, the clean run's when noising (0 and 1 once normalized)."""
        if self.scale == "normalized":
            return baseline(self.direction, clean=1.0, corrupt=0.0)
        return baseline(self.direction, clean=self.clean, corrupt=self.corrupt)

    def effect(self) -> torch.Tensor:
        """Change from the unpatched run (0 where a patch does nothing)."""
        return self.values - self.baseline

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per cell with its indices, position label and value."""
        idx = torch.cartesian_prod(*[torch.arange(n) for n in self.values.shape]).reshape(
            -1, len(self.axes)
        )
        frame = pd.DataFrame(idx.numpy(), columns=list(self.axes))
        if "pos" in self.axes:
            frame["pos_label"] = [self.pos_labels[p] for p in frame["pos"]]
        node = self._node_names(frame)
        if node is not None:
            frame["node"] = node
        frame["value"] = self.values.flatten().numpy()
        frame["effect"] = self.effect().flatten().numpy()
        return frame

    def _node_names(self, frame: pd.DataFrame) -> list[str] | None:
        """Quirke's node names (``P8L1H2``, ``P8L0M``) where a cell is one head's or one MLP's
        output at one position."""
        from arithlens.analyses.mechanism.nodes import Node

        if not {"layer", "pos"} <= set(self.axes):
            return None
        if self.component == "z" and "head" in self.axes:
            cells = zip(frame["pos"], frame["layer"], frame["head"])
            return [Node(int(p), int(la), int(h)).name for p, la, h in cells]
        if self.component == "mlp_out" and "head" not in self.axes:
            return [Node(int(p), int(la)).name for p, la in zip(frame["pos"], frame["layer"])]
        return None

    def top(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` cells with the largest absolute effect."""
        f = self.to_frame()
        return (
            f.reindex(f.effect.abs().sort_values(ascending=False).index)
            .head(k)
            .reset_index(drop=True)
        )

    def plot(self, title: str | None = None):
        """Plotly heatmap, diverging colours centred at 0, token labels on the position axis."""
        return draw(self, title=title)
