"""NumberExplorer: how a model holds a number, layer by layer. Choose a layer and a period: the
spectrum of a's activation there (beside its shuffled null), the number's circle for that period
read through a helix fit's C+, and the logit difference that patching the fit restores beside the
full activation, PCA, circle, polynomial and shuffled fits (:mod:`arithlens.analyses.numbers`).
Results are cached per (layer, period).

Example:
    >>> nx = al.widgets.NumberExplorer(al.load("add2-gpt2"))          # doctest: +SKIP
    >>> nx.layer.value = 1; nx.period.value = "10"                    # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses import numbers as nb
from arithlens.errors import check_int
from arithlens.plots.numbers import REPLACEMENTS, helix_figure, spectrum_figure
from arithlens.widgets._base import Explorer, figure_widget, sync

BEST = "best"


class NumberExplorer(Explorer):
    """Number representations of ``model``, interactively.

    Attributes:
        layer: the layer dropdown; period: ``best`` (the helix subset with the best held-out
            R^2) or one period of :data:`~arithlens.analyses.numbers.PERIODS`.
        spectrum_fig, circle_fig, causal_fig: FigureWidgets; summary: the fit and its LDs.
        pairs: the clean / corrupt pairs every patch uses.
    """

    def __init__(
        self,
        model: TransformerBridge,
        *,
        site: str = "resid_post",
        n_pairs: int = 40,
        seed: int = 0,
    ):
        super().__init__()
        self.model, self.site, self.seed = model, site, seed
        check_int("n_pairs", n_pairs, minimum=1)
        self._acts: dict[int, Any] = {}
        self._fits: dict[tuple[int, str], Any] = {}
        self._ld: dict[tuple[int, str], dict[str, float]] = {}
        first = self.acts(0)  # checks the site and the numbers before any control exists
        self.pairs = nb.number_pairs(model, first.numbers, n_pairs, seed=seed)
        layers = list(range(int(model.cfg.n_layers)))
        self.layer = W.Dropdown(options=layers, value=0, description="layer")
        periods = [BEST] + [str(t) for t in nb.PERIODS]
        self.period = W.Dropdown(options=periods, value=BEST, description="period")
        self.spectrum_fig = figure_widget()
        self.circle_fig = figure_widget()
        self.causal_fig = figure_widget()
        self.summary = W.HTML()
        for control in (self.layer, self.period):
            self.observe_control(control, self._redraw)
        self.add_class("arithlens-number-explorer")
        self.children = [
            W.HBox([self.layer, self.period]),
            self.status,
            self.summary,
            W.HBox([self.spectrum_fig, self.causal_fig]),
            self.circle_fig,
        ]
        with self.interaction():
            self._redraw()

    def acts(self, layer: int) -> Any:
        """a's activation per number at ``site`` of ``layer`` (cached)."""
        if layer not in self._acts:
            self._acts[layer] = nb.number_activations(self.model, self.site, layer, seed=self.seed)
        return self._acts[layer]

    def fit(self, layer: int, period: str) -> Any:
        """The helix of ``layer``: the best subset, or the single ``period`` (cached)."""
        key = (layer, period)
        if key not in self._fits:
            a = self.acts(layer)
            if period == BEST:
                self._fits[key] = nb.fit_helix(a.values, a.numbers, seed=self.seed)
            else:
                self._fits[key] = nb.fit_helix(
                    a.values, a.numbers, periods=(float(period),), search=False, seed=self.seed
                )
        return self._fits[key]

    def restored(self, layer: int, period: str) -> dict[str, float]:
        """Mean LD restored by each replacement at ``layer`` with the ``period`` fit (cached)."""
        key = (layer, period)
        if key not in self._ld:
            helix = self.fit(layer, period)
            a = self.acts(layer)
            fits = {"helix": helix}
            for kind in ("circle", "poly", "helix-shuffled"):
                fits[kind] = nb.fit_basis(a.values, a.numbers, kind, helix.periods, seed=self.seed)
            self._ld[key] = nb.patch_fits(self.model, self.pairs, layer, fits, self.site)
        return self._ld[key]

    def _redraw(self) -> None:
        layer, period = int(self.layer.value), str(self.period.value)
        a = self.acts(layer)
        sync(self.spectrum_fig, spectrum_figure(nb.spectrum(a.values, a.numbers, site=a.label)))
        fit = self.fit(layer, period)
        sync(self.circle_fig, helix_figure(fit, a.values))
        ld = self.restored(layer, period)
        bars = go.Figure(go.Bar(x=list(REPLACEMENTS), y=[ld[k] for k in REPLACEMENTS]))
        bars.update_layout(
            title=f"LD restored at a's token, L{layer} ({len(self.pairs)} pairs)",
            yaxis_title="logit difference",
            width=520,
        )
        sync(self.causal_fig, bars)
        self.summary.value = html.escape(
            f"{a.label}: helix {fit.periods} R^2 {fit.r2:.3f} (held-out {fit.cv_r2:.3f}); "
            f"helix restores {ld['helix']:.2f} of {ld['full']:.2f} (shuffled "
            f"{ld['helix-shuffled']:.2f})"
        )
