"""ProbeExplorer: probe accuracy and selectivity by layer x position; click a cell for the
histogram of projections on that probe's direction, split by label.

Example:
    >>> pr = al.widgets.ProbeExplorer(model, targets="carry", activations=("resid", "z"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as W
import pandas as pd
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens import plots
from arithlens.errors import ArithlensError
from arithlens.models.contract import arithmetic_encoder
from arithlens.plots import cell_at
from arithlens.probes import ACTIVATIONS, ProbeResult, fit, projections
from arithlens.probes.targets import resolve
from arithlens.widgets._base import Explorer, clicked_cell, figure_widget, sync

VALUES = ("score", "selectivity", "control")


class ProbeExplorer(Explorer):
    """Linear probes, interactively. Probes for every target on each activation are fitted
    once (all at construction with ``precompute=True``, else on first selection) and cached;
    every other interaction only redraws.

    Attributes:
        results: fitted :class:`~arithlens.probes.ProbeResult` per activation.
        result: the one shown.
        site: the selected ``(layer label, pos, head)``.
        target, activation, value: the controls.
        heatmap, projection_fig: the plotly FigureWidgets.
    """

    def __init__(
        self,
        model: TransformerBridge,
        targets: str | Sequence[str] = "carry",
        *,
        activations: Sequence[str] = ("resid", "attn_out", "mlp_out"),
        n: int = 2000,
        n_projection: int = 400,
        precompute: bool = True,
        seed: int = 0,
    ):
        super().__init__()
        self.model, self.n, self.seed = model, n, seed
        self.encoder = arithmetic_encoder(model)
        bad = [a for a in activations if a not in ACTIVATIONS]
        if bad or not activations:
            raise ArithlensError(
                f"activations={list(activations)!r} is invalid: expected some of {list(ACTIVATIONS)}"
            )
        self.target_spec = targets
        names = [t.name for t in resolve(self.encoder.task, targets)]
        self.problems = self.encoder.sample(n, seed)
        self.projection_problems = self.encoder.sample(n_projection, seed + 1)
        self.target = W.Dropdown(options=names, value=names[0], description="target")
        self.activation = W.Dropdown(
            options=list(activations), value=activations[0], description="activation"
        )
        self.value = W.ToggleButtons(options=VALUES, value="score")
        self.heatmap = figure_widget()
        self.projection_fig = figure_widget()
        self.results: dict[str, ProbeResult] = {}
        self.result: ProbeResult | None = None
        self.site: tuple[str, int, int | None] | None = None
        self._projections: dict[tuple, pd.DataFrame] = {}
        if precompute:
            for act in tqdm(activations, desc="probe activations"):
                self._fit(act)
        for control in (self.target, self.activation, self.value):
            self.observe_control(control, self._refresh)
        self.add_class("arithlens-probe-explorer")
        self.children = [
            W.HBox([self.target, self.activation]),
            self.value,
            self.status,
            self.heatmap,
            self.projection_fig,
        ]
        with self.interaction():
            self._refresh()

    def _fit(self, activation: str) -> ProbeResult:
        if activation not in self.results:
            self.results[activation] = fit(
                self.model,
                self.target_spec,
                problems=self.problems,
                activation=activation,
                controls=("majority", "control_task"),
                seed=self.seed,
                progress=False,
            )
        return self.results[activation]

    def _refresh(self) -> None:
        res = self._fit(self.activation.value)
        self.result = res
        k = res.target_index(self.target.value)
        fig = plots.probe_heatmap(res, self.value.value, targets=[self.target.value])
        fig.update_layout(title=f"{fig.layout.title.text}; majority baseline {res.majority[k]:.3f}")
        sync(self.heatmap, fig, on_click=self._on_click)
        best = res.best("score")
        row = best[best.target == self.target.value].iloc[0]
        self.select_site(
            str(row["layer"]), int(row["pos"]), int(row["head"]) if "head" in res.axes else None
        )

    @property
    def shown(self) -> ProbeResult:
        """The result on screen (an :class:`ArithlensError` before the first fit)."""
        if self.result is None:
            raise ArithlensError("no probes fitted yet: the explorer fits them when it opens")
        return self.result

    def _on_click(self, trace: Any, points: Any, state: Any) -> None:
        cell = clicked_cell(trace, points)
        if cell is None:
            return
        row, col = cell
        res = self.shown
        grid = ("layer", "pos", "head") if "head" in res.axes else ("layer", "pos")
        layer, pos, head = cell_at(grid, row, col, res.score.shape[-1])
        assert pos is not None  # probe grids have a position axis
        with self.interaction():
            self.select_site(res.layer_labels[layer], res.positions[pos], head)

    def select_site(self, layer: str, pos: int, head: int | None = None) -> None:
        """Show the projections of held-out problems on the probe at this site, by label."""
        res, target = self.shown, self.target.value
        key = (self.activation.value, target, layer, pos, head)
        if key not in self._projections:
            self._projections[key] = projections(
                self.model, res, target, layer, pos, head, problems=self.projection_problems
            )
        df = self._projections[key]
        self.site = (layer, pos, head)
        where = (
            f"{layer}"
            + (f"H{head}" if head is not None else "")
            + f" @ {res.pos_labels[res.positions.index(pos)]}"
        )
        k = res.target_index(target)
        if res.kinds[k] == "scalar":  # group a scalar's values by their rounded value
            groups = df["label"].round().astype(int).to_numpy()
        else:
            groups = df["label"].to_numpy()
        sync(
            self.projection_fig,
            plots.split_histogram(
                df["projection"].to_numpy(),
                groups,
                f"{target} probe at {where}: {len(df)} new problems",
                "probe logit (0 = decision boundary)",
                vline=0.0 if res.kinds[k] == "class" else None,
            ),
        )
