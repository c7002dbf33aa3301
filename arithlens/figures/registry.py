"""The figures, in one explicit order (the issues' order: Lee, Nanda, Quirke & Barez, patching,
probes, Qiu, Zhang, MIB circuits, mechanism maps, number representations, length, NUPA).

Example:
    >>> list(REGISTRY)[:3]
    ['sample_efficiency', 'digit_phases', 'carry_taxonomy']
"""

from __future__ import annotations

from arithlens.figures import (
    carry_probes,
    carry_taxonomy,
    circuits,
    digit_phases,
    head_patching,
    key_heads,
    length_generalization,
    mechanism_maps,
    mul_digits,
    number_representations,
    nupa_table,
    sample_efficiency,
)
from arithlens.figures.base import FigureSpec

FIGURES = (
    sample_efficiency,
    digit_phases,
    carry_taxonomy,
    head_patching,
    carry_probes,
    mul_digits,
    key_heads,
    circuits,
    mechanism_maps,
    number_representations,
    length_generalization,
    nupa_table,
)
"""The figure modules, in the order a full run makes them."""

REGISTRY: dict[str, FigureSpec] = {spec.name: spec for spec in map(FigureSpec.of, FIGURES)}
ORDER = tuple(REGISTRY)
