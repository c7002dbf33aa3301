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
import plotly.graph_objects as go

from arithlens.errors import ArithlensError

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


def pairs_for(encoder: Any, change: str, n: int, seed: int, clean_problem: str = "") -> Any:
    """``n`` tokenized pairs of ``change``: corruptions of ``clean_problem`` when it is set (a
    typed problem, ``"123+456"``), else random ones (``encoder.pairs``)."""
    if not clean_problem:
        return encoder.pairs(n, change, seed)
    from arithlens.tasks import corrupt_pairs, parse_problem, require
    from arithlens.tokens.tokenizer import encode_pairs

    task = encoder.task
    require(task, "carries", "corruptions of a typed problem")
    clean = parse_problem(task, clean_problem)
    return encode_pairs(corrupt_pairs(task, n, change=change, seed=seed, clean=clean), encoder)


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
