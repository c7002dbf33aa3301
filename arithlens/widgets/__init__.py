"""Interactive explorers for JupyterLab (ipywidgets + plotly FigureWidget).

Each widget is an ``ipywidgets.VBox``: display it, drive its controls, read its figures and
results from Python. Widgets never display anything at import and do no science themselves:
they call the analyses (:mod:`arithlens.analyses.lens`, :mod:`arithlens.patching`,
:mod:`arithlens.probes`, :func:`arithlens.train`) and the pure plots in :mod:`arithlens.plots`.

Example:
    >>> import ipywidgets, arithlens as al
    >>> model = al.load("add3-2L")                                              # doctest: +SKIP
    >>> pe = al.widgets.ProblemExplorer(model, "123+456")                       # doctest: +SKIP
    >>> px = al.widgets.PatchingExplorer(model)                                 # doctest: +SKIP
    >>> ipywidgets.dlink((pe, "problem"), (px, "clean_problem"))                # doctest: +SKIP
    >>> ipywidgets.VBox([pe, px])                                               # doctest: +SKIP
"""

from arithlens.widgets.circuit import CircuitExplorer
from arithlens.widgets.mechanism import MechanismExplorer, link_circuit
from arithlens.widgets.numbers import NumberExplorer
from arithlens.widgets.patching import PatchingExplorer
from arithlens.widgets.probe import ProbeExplorer
from arithlens.widgets.problem import ProblemExplorer
from arithlens.widgets.training import TrainingMonitor

__all__ = [
    "CircuitExplorer",
    "MechanismExplorer",
    "NumberExplorer",
    "PatchingExplorer",
    "ProbeExplorer",
    "ProblemExplorer",
    "TrainingMonitor",
    "link_circuit",
]
