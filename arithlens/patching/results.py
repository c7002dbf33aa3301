"""Patching results: a tensor with named axes, tidy tables, top cells, heatmaps, save/load.

Example:
    >>> res.top(5)                  # doctest: +SKIP
    >>> res.to_frame().head()       # doctest: +SKIP
    >>> res.normalized().plot()     # doctest: +SKIP
    >>> res.save("results/z"); PatchResult.load("results/z")   # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from arithlens._atomic import write_dir
from arithlens._plotting import draw
from arithlens.errors import ArithlensError


@dataclass(frozen=True)
class PatchResult:
    """Mean metric per patched cell.

    Attributes:
        values: tensor with one axis per name in ``axes`` (``layer`` first).
        axes: axis names, e.g. ``("layer", "pos", "head")``.
        pos_labels: one label per position (``"7:="``), for plots and tables.
        meta: component, direction, metric, digits, clean and corrupt baselines, pair count.
    """

    values: torch.Tensor
    axes: tuple[str, ...]
    pos_labels: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        values: torch.Tensor,
        axes: tuple[str, ...],
        batch,
        metric,
        clean: float,
        corrupt: float,
        **meta: Any,
    ) -> PatchResult:
        """A result with the standard metadata of a patching run on ``batch`` with ``metric``."""
        info = dict(
            metric=metric.name,
            digits=metric.digits,
            clean=clean,
            corrupt=corrupt,
            n_pairs=len(batch),
            change=batch.pairs.change,
        )
        return cls(values=values, axes=axes, pos_labels=batch.labels(), meta={**meta, **info})

    def normalized(self) -> PatchResult:
        """Scores ``(patched - corrupt) / (clean - corrupt)`` (1 = fully clean, 0 = corrupt)."""
        from arithlens.patching.metrics import normalized

        v = normalized(self.values, self.meta["clean"], self.meta["corrupt"])
        return replace(self, values=v, meta={**self.meta, "normalized": True})

    @property
    def baseline(self) -> float:
        """The value of the unpatched run, on the scale of ``values``: the corrupt run's metric
        when denoising, the clean run's when noising (0 and 1 once normalized)."""
        denoise = self.meta.get("direction") == "denoise"
        if self.meta.get("normalized"):
            return 0.0 if denoise else 1.0
        return float(self.meta["corrupt"] if denoise else self.meta["clean"])

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
        frame["value"] = self.values.flatten().numpy()
        frame["effect"] = self.effect().flatten().numpy()
        return frame

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

    def save(self, folder: str | Path) -> Path:
        """Write ``values.safetensors`` + ``result.json`` atomically."""
        meta = {"axes": list(self.axes), "pos_labels": self.pos_labels, "meta": self.meta}

        def fill(tmp: Path) -> None:
            save_file({"values": self.values.contiguous()}, str(tmp / "values.safetensors"))
            (tmp / "result.json").write_text(json.dumps(meta, indent=1))

        return write_dir(folder, fill)

    @classmethod
    def load(cls, folder: str | Path) -> PatchResult:
        """Read a result written by :meth:`save`."""
        folder = Path(folder)
        for name in ("values.safetensors", "result.json"):
            if not (folder / name).is_file():
                raise ArithlensError(f"patch result {str(folder)!r} is missing {name}")
        meta = json.loads((folder / "result.json").read_text())
        values = load_file(str(folder / "values.safetensors"))["values"]
        return cls(values, tuple(meta["axes"]), meta["pos_labels"], meta["meta"])
