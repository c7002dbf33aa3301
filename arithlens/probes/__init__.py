"""Linear probes on cached activations, with controls and a causal check.

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")                                   # doctest: +SKIP
    >>> res = al.probes.fit(model, target="carry", n=5000)           # doctest: +SKIP
    >>> res.best()                                                   # doctest: +SKIP
    >>> flips = al.probes.causal_flip(model, res, n=512)             # doctest: +SKIP
"""

from arithlens.probes.activations import ACTIVATIONS
from arithlens.probes.causal import CausalResult, causal_flip
from arithlens.probes.decision import decision, running_count
from arithlens.probes.fitting import CONTROLS, ProbeOptions, fit, random_init_like
from arithlens.probes.projection import projections
from arithlens.probes.results import ProbeResult
from arithlens.probes.successor import successor, successor_targets
from arithlens.probes.targets import Target, resolve

__all__ = [
    "ACTIVATIONS",
    "CONTROLS",
    "CausalResult",
    "ProbeOptions",
    "ProbeResult",
    "Target",
    "causal_flip",
    "decision",
    "fit",
    "projections",
    "random_init_like",
    "resolve",
    "running_count",
    "successor",
    "successor_targets",
]
