"""Mechanism maps (Quirke & Barez 2024): which position-resolved nodes a model needs and what
each one does, as tags; the complement-ablation test of the map; a generated document.

Example:
    >>> import arithlens as al
    >>> m = al.mechanism.mechanism_map(al.load("add3-2L"), n=2000)         # doctest: +SKIP
    >>> m.to_frame(); m.complement_exact; print(m.document())              # doctest: +SKIP
"""

from arithlens.analyses.mechanism.ablation import Runner, Scored
from arithlens.analyses.mechanism.clauses import QUIRKE_ADDITION, Clause
from arithlens.analyses.mechanism.maps import (
    MechanismMap,
    complement_exact,
    complement_test,
    mechanism_map,
)
from arithlens.analyses.mechanism.nodes import Node, check_node, compact_digits, parse_node

__all__ = [
    "Clause",
    "QUIRKE_ADDITION",
    "MechanismMap",
    "Node",
    "Runner",
    "Scored",
    "check_node",
    "compact_digits",
    "complement_exact",
    "complement_test",
    "mechanism_map",
    "parse_node",
]
