"""What every arithlens widget shares: a status line for readable errors, figure syncing, and
interaction timing.

An interaction runs inside :meth:`Explorer.interaction`: an :class:`ArithlensError` raised by the
analysis becomes a message in the widget's status line and the widget keeps its last good state
(figures and, where a control caused it, the control's previous value).
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
import traitlets

from arithlens.errors import ArithlensError, check_choice, check_int

TEMPLATE = "plotly_white"


def figure_widget(fig: go.Figure | None = None) -> go.FigureWidget:
    """A plotly FigureWidget (plotly >= 6 needs ``anywidget``; the error says so), with the
    arithlens template set once (:func:`sync` leaves templates alone: copying one costs more
    than a whole redraw)."""
    try:
        fw = go.FigureWidget(fig if fig is not None else go.Figure())
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ArithlensError(
            f"plotly FigureWidget cannot start ({e}): install anywidget (pip install anywidget)"
        ) from e
    fw.layout.template = TEMPLATE
    return fw


def sync(fw: go.FigureWidget, fig: go.Figure, on_click: Callable | None = None) -> None:
    """Make ``fw`` show ``fig``: traces of the same types are updated in place (one message to
    the browser), otherwise replaced; the layout is replaced except for its template;
    ``on_click(trace, points, state)`` is (re)attached to every trace."""
    same = len(fw.data) == len(fig.data) and all(
        a.type == b.type for a, b in zip(fw.data, fig.data)
    )
    if not same:
        fw.data = ()
        fw.add_traces(list(fig.data))
    layout = fig.layout.to_plotly_json()
    layout.pop("template", None)
    for key in ("shapes", "annotations"):  # lists: absent in the new figure means none
        layout.setdefault(key, [])
    with fw.batch_update():
        if same:
            for old, new in zip(fw.data, fig.data):
                d = new.to_plotly_json()
                d.pop("type", None)
                d.pop("uid", None)
                old.update(d, overwrite=True)
        fw.layout.update(layout, overwrite=True)
    if on_click is not None:
        for trace in fw.data:
            trace.on_click(on_click, append=False)


def clicked_cell(trace: Any, points: Any) -> tuple[int, int] | None:
    """``(row, col)`` of the heatmap cell a plotly click landed on (None for an empty click)."""
    if not points.xs:
        return None
    return list(trace.y).index(points.ys[0]), list(trace.x).index(points.xs[0])


class Explorer(W.VBox):
    """Base of the arithlens widgets: a VBox with a status line and timed interactions.

    Attributes:
        status: the HTML line showing errors and notes.
        latencies_ms: wall time of every interaction handled so far (for the latency benchmark).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = W.HTML(value="")
        self.latencies_ms: list[float] = []
        self._reverting = False
        self._errors_shown = 0

    def show_error(self, message: str) -> None:
        self._errors_shown += 1
        self.status.value = f"<span style='color:#b00020'>&#9888; {html.escape(message)}</span>"

    def show_note(self, message: str) -> None:
        self.status.value = f"<span style='color:#555'>{html.escape(message)}</span>"

    @property
    def error(self) -> str | None:
        """The message currently shown as an error, if any (plain text)."""
        v = self.status.value
        if "#b00020" not in v:
            return None
        return html.unescape(v.split("&#9888; ", 1)[1].rsplit("</span>", 1)[0])

    @contextmanager
    def interaction(self, control: W.ValueWidget | None = None, old: Any = None):
        """Time the block; on :class:`ArithlensError` show it and put ``control`` back to
        ``old`` (without re-running the interaction)."""
        start = time.perf_counter()
        shown = self._errors_shown
        try:
            yield
        except ArithlensError as e:
            self.show_error(str(e))
            if control is not None:
                self._reverting = True
                try:
                    control.value = old
                finally:
                    self._reverting = False
        else:
            if self._errors_shown == shown:  # an inner interaction's error stays on screen
                self.status.value = ""
        finally:
            self.latencies_ms.append((time.perf_counter() - start) * 1000)

    def observe_control(
        self, control: W.ValueWidget, handler: Callable[[], None], *, revert: bool = True
    ) -> None:
        """Run ``handler()`` as an interaction whenever ``control``'s value changes; on an
        error put the control back to its previous value when ``revert`` (a typed text field
        keeps what was typed, so it can be corrected)."""

        def on_change(change: Any) -> None:
            if self._reverting:
                return
            with self.interaction(control if revert else None, change["old"]):
                handler()

        control.observe(on_change, names="value")


class PairsExplorer(Explorer):
    """Base of the explorers of minimal pairs: ``n`` pairs of the ``change`` dropdown's
    corruption, or, when ``clean_problem`` is set (``"123+456"``; link it to
    ``ProblemExplorer.problem``), ``n`` corruptions of that problem. Pairs and mean attention
    patterns are cached by what they depend on; a new problem calls :meth:`_refresh`.

    Attributes:
        model, encoder, n, seed: what the pairs are made from; change: the dropdown.
    """

    clean_problem = traitlets.Unicode("")

    def __init__(
        self, model: Any, n: int, change: str | None, seed: int, who: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        from arithlens.models.contract import encoder_of
        from arithlens.tasks import changes_for, require

        self.model, self.n, self.seed = model, check_int("n", n, minimum=1), seed
        self.encoder = encoder_of(model)
        require(self.encoder.task, "pairs", who)
        changes = changes_for(self.encoder.task)
        change = changes[0] if change is None else change
        check_choice("change", change, changes)
        self.change = W.Dropdown(options=changes, value=change, description="change")
        self._pairs: dict[tuple, Any] = {}
        self._patterns: dict[tuple, np.ndarray] = {}
        self.observe(self._on_problem, names="clean_problem")

    @property
    def source(self) -> str:
        """What the pairs are, in words."""
        return f"corruptions of {self.clean_problem}" if self.clean_problem else "random pairs"

    def pairs(self, offset: int = 0) -> Any:
        """The tokenized pairs (a ``PairBatch``) of seed ``seed + offset`` (offset 1: held out)."""
        key = (self.change.value, self.clean_problem, offset)
        if key not in self._pairs:
            self._pairs[key] = _pairs_for(
                self.encoder, self.change.value, self.n, self.seed + offset, self.clean_problem
            )
        return self._pairs[key]

    def mean_pattern(self, layer: int, head: int) -> np.ndarray:
        """``(query, key)``: the head's mean attention over the clean prompts of :meth:`pairs`."""
        key = (self.change.value, self.clean_problem)
        if key not in self._patterns:
            from arithlens.analyses import attention

            with torch.no_grad():
                every = attention.patterns(self.model, self.pairs().clean.tokens)
            self._patterns[key] = every.mean(1).float().numpy()  # (layer, head, query, key)
        return self._patterns[key][layer, head]

    def _on_problem(self, change: Any) -> None:
        with self.interaction():
            self._refresh()

    def _refresh(self) -> None:  # pragma: no cover - every explorer defines it
        raise NotImplementedError


def _pairs_for(encoder: Any, change: str, n: int, seed: int, clean_problem: str) -> Any:
    """``n`` tokenized pairs of ``change``: corruptions of ``clean_problem`` when it is set,
    else random ones (``encoder.pairs``)."""
    if not clean_problem:
        return encoder.pairs(n, change, seed)
    from arithlens.tasks import corrupt_pairs, parse_problem, require
    from arithlens.tokens.tokenizer import encode_pairs

    task = encoder.task
    require(task, "carries", "corruptions of a typed problem")
    clean = parse_problem(task, clean_problem)
    return encode_pairs(corrupt_pairs(task, n, change=change, seed=seed, clean=clean), encoder)
