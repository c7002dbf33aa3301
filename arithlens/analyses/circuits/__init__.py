"""Circuits: key heads and head-set faithfulness (:mod:`.heads`), and edge-level circuits
scored the way EAP-IG and the MIB benchmark score them (:mod:`.graph`, :mod:`.engine`,
:mod:`.scoring`, :mod:`.evaluation`, :mod:`.result`).

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")                                          # doctest: +SKIP
    >>> pairs = al.tasks.corrupt_pairs(model.task, 64, change="a.units")    # doctest: +SKIP
    >>> c = al.circuits.score_edges(model, pairs, "eap-ig-inputs")          # doctest: +SKIP
    >>> c.top(5); c.curve(model, pairs).cpr                                 # doctest: +SKIP
"""

from arithlens.analyses.circuits.evaluation import MIB_FRACTIONS, Curve, Evaluation
from arithlens.analyses.circuits.graph import Graph, graph_of
from arithlens.analyses.circuits.heads import (
    ABLATE,
    Faithfulness,
    KeyHeads,
    check_heads,
    faithfulness,
    key_heads,
)
from arithlens.analyses.circuits.result import Circuit, apply, score_edges
from arithlens.analyses.circuits.scoring import ABLATIONS, METHODS

__all__ = [
    "ABLATE",
    "ABLATIONS",
    "Circuit",
    "METHODS",
    "MIB_FRACTIONS",
    "Curve",
    "Evaluation",
    "Faithfulness",
    "Graph",
    "KeyHeads",
    "apply",
    "check_heads",
    "faithfulness",
    "graph_of",
    "key_heads",
    "score_edges",
]
