"""ProblemExplorer: one problem, the model's answer digit by digit, the logit lens, attention.

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")                                   # doctest: +SKIP
    >>> pe = al.widgets.ProblemExplorer(model, "123+456")            # doctest: +SKIP
    >>> pe                                                           # doctest: +SKIP
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import traitlets
from transformer_lens.model_bridge import TransformerBridge

from arithlens import plots
from arithlens.analyses.lens import Trace, trace
from arithlens.models.contract import encoder_of
from arithlens.tasks import ProblemSet, parse_problem, require, typed_text
from arithlens.widgets._base import Explorer, figure_widget, sync


def problem_text(problems: ProblemSet) -> str:
    """``"a<op>b"`` of the first problem (what a person would type); a numeracy problem's
    prompt (``"max(9.11,9.9)"``): :func:`arithlens.tasks.typed_text`."""
    return typed_text(problems)


class ProblemExplorer(Explorer):
    """Type or draw a problem; see the answer's digits with probabilities, the logit lens at
    each answer position and any head's attention pattern (token labels on both axes).

    Attributes:
        problem: the last problem that ran (``"123+456"``); link it to other widgets with
            ``ipywidgets.dlink((pe, "problem"), (px, "clean_problem"))``.
        trace: the :class:`~arithlens.analyses.lens.Trace` behind the figures.
        text, random_button, head: the controls.
        answer_fig, lens_fig, attention_fig: the plotly FigureWidgets.
    """

    problem = traitlets.Unicode("")

    def __init__(self, model: TransformerBridge, problem: str | None = None, seed: int = 0):
        super().__init__()
        self.model = model
        self.encoder = encoder_of(model)
        task = self.encoder.task
        require(task, "typed", "the ProblemExplorer")
        if problem is not None:
            parse_problem(task, problem)  # a bad problem fails here, by name
        self._rng = np.random.default_rng(seed)
        heads = [
            f"L{layer}H{h}" for layer in range(model.cfg.n_layers) for h in range(model.cfg.n_heads)
        ]
        self.text = W.Text(
            description="problem", continuous_update=False, layout=W.Layout(width="260px")
        )
        self.random_button = W.Button(description="random problem", icon="random")
        self.head = W.Dropdown(options=heads, value=heads[0], description="head")
        self.answer_fig = figure_widget()
        self.lens_fig = figure_widget()
        self.attention_fig = figure_widget()
        self.trace: Trace | None = None
        self.observe_control(self.text, self._run, revert=False)  # keep the typed text
        self.observe_control(self.head, self._draw_attention)
        self.random_button.on_click(lambda _: self.draw_random())
        self.add_class("arithlens-problem-explorer")
        self.text.add_class("arithlens-problem")
        self.head.add_class("arithlens-head")
        self.attention_fig.add_class("arithlens-attention")
        self.children = [
            W.HBox([self.text, self.random_button, self.head]),
            self.status,
            W.HBox([W.VBox([self.answer_fig, self.lens_fig]), self.attention_fig]),
        ]
        with self.interaction():
            self.text.value = problem or problem_text(self.encoder.sample(1, seed))

    def draw_random(self) -> None:
        """Put a freshly drawn problem in the text field (and run it)."""
        seed = int(self._rng.integers(2**31))
        self.text.value = problem_text(self.encoder.sample(1, seed))

    def _run(self) -> None:
        t = trace(self.model, self.text.value)
        self.trace = t
        sync(self.answer_fig, plots.answer_bars(t))
        sync(self.lens_fig, plots.lens_heatmap(t))
        self._draw_attention()
        self.problem = problem_text(t.problem)

    def _draw_attention(self) -> None:
        if self.trace is None:
            return
        layer, head = (int(x) for x in self.head.value[1:].split("H"))
        title = f"attention of {self.head.value} on {problem_text(self.trace.problem)}"
        sync(
            self.attention_fig,
            plots.attention_heatmap(
                self.trace.pattern[layer, head], self.trace.token_labels, title
            ),
        )
