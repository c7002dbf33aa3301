"""Pure plotting functions: results (or their saved numbers) in, ``plotly.graph_objects.Figure``
out; one module per kind of picture.

Example:
    >>> fig = al.plots.training_figure(model.record)  # doctest: +SKIP
    >>> res.plot()          # a result draws itself with its plotter   # doctest: +SKIP
"""

from arithlens.plots.basics import (
    PALETTE,
    attention_heatmap,
    band_figure,
    cell_at,
    error_band,
    figures_html,
    layer_rows,
    split_histogram,
)
from arithlens.plots.circuits import circuit_figure, curve_figure
from arithlens.plots.lens import answer_bars, lens_heatmap
from arithlens.plots.mechanism import mechanism_figure
from arithlens.plots.numbers import causal_figure, filter_figure, helix_figure, spectrum_figure
from arithlens.plots.patching import patch_grid, patch_heatmap
from arithlens.plots.probes import (
    probe_grid,
    probe_heatmap,
    probe_layers,
    probe_overview,
    probe_panels,
)
from arithlens.plots.training import eval_figure, length_figure, training_figure

__all__ = [
    "PALETTE",
    "causal_figure",
    "filter_figure",
    "helix_figure",
    "spectrum_figure",
    "answer_bars",
    "attention_heatmap",
    "band_figure",
    "cell_at",
    "circuit_figure",
    "curve_figure",
    "error_band",
    "eval_figure",
    "figures_html",
    "layer_rows",
    "length_figure",
    "lens_heatmap",
    "mechanism_figure",
    "patch_grid",
    "patch_heatmap",
    "probe_grid",
    "probe_heatmap",
    "probe_layers",
    "probe_overview",
    "probe_panels",
    "split_histogram",
    "training_figure",
]
