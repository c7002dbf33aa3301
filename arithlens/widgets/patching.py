"""PatchingExplorer: pick a corruption, granularity, direction and metric; see the patching
heatmap; click a cell for that head's attention pattern and the effect on every pair.

Example:
    >>> px = al.widgets.PatchingExplorer(model, n=32)                     # doctest: +SKIP
    >>> ipywidgets.dlink((problem_explorer, "problem"), (px, "clean_problem"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import numpy as np
from transformer_lens.model_bridge import TransformerBridge

from arithlens import plots
from arithlens.errors import ArithlensError, check_choice
from arithlens.patching import GRANULARITIES, METRICS, CellEffect, activation_patch, patch_cell
from arithlens.patching.results import PatchResult
from arithlens.plots import cell_at
from arithlens.tasks import (
    TaskFamily,
    has,
)
from arithlens.tasks.numeracy.pairs import POSITIONS
from arithlens.widgets._base import PairsExplorer, clicked_cell, figure_widget, sync

#: granularities offered (the CLI's names; per-head q/k/v are left to scripts)
WIDGET_GRANULARITIES = ("heads", "heads_by_pos", "resid_pre", "attn_out", "mlp_out", "pattern")


def digit_choices(task: TaskFamily) -> list[str]:
    """The answer slots the widget's metric may score: ``"all"``, the per-problem names where
    the family has them (numeracy's ``"decision"``, ``"first"``, ``"last"``), each slot."""
    named = list(POSITIONS) if has(task, "decision") else []
    return ["all", *named, *(task.answer_name(k) for k in range(task.answer_width))]


class PatchingExplorer(PairsExplorer):
    """Activation patching, interactively.

    Attributes:
        clean_problem: when set (``"123+456"``), the pairs are ``n`` corruptions of that one
            problem; when empty, ``n`` random pairs. Link it to ``ProblemExplorer.problem``.
        result: the :class:`~arithlens.patching.PatchResult` shown.
        cell: the selected ``(layer, pos, head)`` (None where the grid has no such axis).
        change, granularity, direction, metric, digits: the controls.
        heatmap, attention_fig, effect_fig: the plotly FigureWidgets.
    """

    def __init__(
        self,
        model: TransformerBridge,
        *,
        n: int = 32,
        change: str | None = None,
        granularity: str = "heads_by_pos",
        seed: int = 0,
    ):
        super().__init__(model, n, change, seed, "the PatchingExplorer")
        check_choice("granularity", granularity, list(WIDGET_GRANULARITIES))
        digit_names = digit_choices(self.encoder.task)
        self.granularity = W.Dropdown(
            options=WIDGET_GRANULARITIES, value=granularity, description="granularity"
        )
        self.direction = W.ToggleButtons(options=["denoise", "noise"], value="denoise")
        self.metric = W.Dropdown(options=list(METRICS), value="logit_diff", description="metric")
        first = "decision" if "decision" in digit_names else "all"
        self.digits = W.Dropdown(options=digit_names, value=first, description="digits")
        self.pairs_label = W.HTML()
        self.heatmap = figure_widget()
        self.attention_fig = figure_widget()
        self.effect_fig = figure_widget()
        self.result: PatchResult | None = None
        self.cell: tuple[int, int | None, int | None] | None = None
        self._results: dict[tuple, PatchResult] = {}
        self._effects: dict[tuple, CellEffect] = {}
        for control in (self.change, self.granularity, self.direction, self.metric, self.digits):
            self.observe_control(control, self._refresh)
        self.add_class("arithlens-patching-explorer")
        self.children = [
            W.HBox([self.change, self.granularity, self.metric, self.digits]),
            W.HBox([self.direction, self.pairs_label]),
            self.status,
            self.heatmap,
            W.HBox([self.attention_fig, self.effect_fig]),
        ]
        with self.interaction():
            self._refresh()

    # -- data (cached by everything it depends on) ------------------------------------------
    def _key(self) -> tuple:
        return (
            self.change.value,
            self.clean_problem,
            self.granularity.value,
            self.direction.value,
            self.metric.value,
            self.digits.value,
        )

    def _result(self) -> PatchResult:
        key = self._key()
        if key not in self._results:
            component, by = GRANULARITIES[self.granularity.value]
            self._results[key] = activation_patch(
                self.model,
                self.pairs(),
                component,
                by=by,
                metric=self.metric.value,
                digits=self.digits.value,
                direction=self.direction.value,
                progress=False,
            )
        return self._results[key]

    # -- drawing ------------------------------------------------------------------------------
    def _refresh(self) -> None:
        res = self._result()
        self.result = res
        self.pairs_label.value = (
            f"&nbsp;{self.n} {self.source}; clean {res.clean:.3f}, corrupt {res.corrupt:.3f}"
        )
        sync(self.heatmap, res.plot(), on_click=self._on_click)
        self.cell = None
        top = res.top(1).iloc[0]
        self.select_cell(
            int(top["layer"]),
            int(top["pos"]) if "pos" in res.axes else None,
            int(top["head"]) if "head" in res.axes else None,
        )

    def _on_click(self, trace: Any, points: Any, state: Any) -> None:
        cell = clicked_cell(trace, points)
        if cell is None:
            return
        with self.interaction():
            self.select_cell(*self.cell_at(*cell))

    @property
    def shown(self) -> PatchResult:
        """The result on screen (an :class:`ArithlensError` before the first sweep)."""
        if self.result is None:
            raise ArithlensError("no sweep run yet: the explorer runs one when it opens")
        return self.result

    def cell_at(self, row: int, col: int) -> tuple[int, int | None, int | None]:
        """``(layer, pos, head)`` of heatmap row ``row``, column ``col``."""
        res = self.shown
        return cell_at(res.axes, row, col, res.values.shape[2] if res.values.ndim == 3 else 1)

    def select_cell(self, layer: int, pos: int | None = None, head: int | None = None) -> None:
        """Show the attention pattern of ``layer``/``head`` and the per-pair effect of that cell."""
        component, _ = GRANULARITIES[self.granularity.value]
        key = (*self._key(), layer, pos, head)
        if key not in self._effects:
            self._effects[key] = patch_cell(
                self.model,
                self.pairs(),
                component,
                layer,
                pos=pos,
                head=head,
                metric=self.metric.value,
                digits=self.digits.value,
                direction=self.direction.value,
            )
        eff = self._effects[key]
        self.cell = (layer, pos, head)
        labels = self.shown.pos_labels
        where = (
            f"L{layer}"
            + (f"H{head}" if head is not None else "")
            + (f" @ {labels[pos]}" if pos is not None else "")
        )
        flipped = (eff.patched > eff.corrupt + 0.5 * (eff.clean - eff.corrupt)).numpy()
        sync(
            self.effect_fig,
            plots.split_histogram(
                eff.effect.numpy(),
                np.where(flipped, ">= half restored", "< half restored")
                if self.direction.value == "denoise"
                else np.where(flipped, "< half destroyed", ">= half destroyed"),
                f"per-pair effect of {where} (mean {eff.effect.mean():.3f})",
                f"{self.metric.value} change",
                group_name="",
                vline=0.0,
                width=440,
            ),
        )
        if head is None:
            self.attention_fig.data = ()
            self.attention_fig.layout.title = f"{where}: no head selected"
            return
        sync(
            self.attention_fig,
            plots.attention_heatmap(
                self.mean_pattern(layer, head),
                labels,
                f"mean attention of L{layer}H{head} (clean)",
                width=400,
            ),
        )
