"""TrainingMonitor: live loss and per-answer-digit accuracy while a model trains in the notebook.

Figures update at every held-out evaluation (``TrainConfig.eval_every``), so each digit's phase
change shows as it happens; a table gives the step at which each digit was learned.

Example:
    >>> mon = al.widgets.TrainingMonitor()                                          # doctest: +SKIP
    >>> display(mon)                                                                # doctest: +SKIP
    >>> model = mon.train(al.TaskSpec(op="add", n_digits=3), "2L",
    ...                   al.TrainConfig(steps=400, eval_every=20))                   # doctest: +SKIP
    >>> # or: al.train(task, "2L", cfg, callback=mon.callback)
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
from transformer_lens.model_bridge import TransformerBridge

from arithlens import plots
from arithlens.models.records import TrainRecord
from arithlens.models.train import TrainConfig, train
from arithlens.tasks import TaskSpec, place_name
from arithlens.widgets._base import Explorer, figure_widget, sync


class TrainingMonitor(Explorer):
    """Live training curves.

    Attributes:
        record: the latest :class:`~arithlens.models.train.TrainRecord` seen.
        threshold: held-out accuracy at which a digit counts as learned.
        figure: the plotly FigureWidget (loss per digit, accuracy per digit).
        table: HTML table of each digit's learned-at step.
    """

    def __init__(self, title: str = "training", threshold: float = 0.95):
        super().__init__()
        self.title, self.threshold = title, threshold
        self.record: TrainRecord | None = None
        self.figure = figure_widget(plots.training_figure(TrainRecord(config={}), title))
        self.table = W.HTML()
        self.add_class("arithlens-training-monitor")
        self.children = [self.status, self.figure, self.table]

    def callback(self, record: TrainRecord, step: int) -> None:
        """Pass as ``al.train(..., callback=monitor.callback)``: redraws at each evaluation."""
        with self.interaction():
            self.record = record
            sync(self.figure, plots.training_figure(record, self.title))
            steps = record.config.get("steps", "?")
            exact = record.eval_exact[-1] if record.eval_exact else float("nan")
            learned = record.learned_at(self.threshold)
            cells = "".join(
                f"<td style='padding:0 8px'>{html.escape(place_name(k))}: "
                f"{'step ' + str(s) if s is not None else '&ndash;'}</td>"
                for k, s in enumerate(learned)
            )
            self.table.value = (
                f"<b>step {step}/{steps}</b>, held-out exact match {exact:.3f}; learned "
                f"(accuracy &ge; {self.threshold}): <table><tr>{cells}</tr></table>"
            )

    def train(
        self,
        task: TaskSpec,
        model: TransformerBridge | str = "2L",
        config: TrainConfig | None = None,
        **kwargs: Any,
    ) -> TransformerBridge:
        """:func:`arithlens.train` with this monitor as the callback."""
        return train(task, model, config, callback=self.callback, **kwargs)
