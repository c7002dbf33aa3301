"""Reproductions of the literature's figures: one module per figure, one registry, one runner.

Example:
    >>> import arithlens as al
    >>> list(al.figures.REGISTRY)[:3]
    ['sample_efficiency', 'digit_phases', 'carry_taxonomy']
    >>> al.figures.run("figures/", only=["carry_taxonomy"], quick=True)   # doctest: +SKIP

Command line: ``arithlens figures --out DIR [--only NAME ...] [--quick] [--model M]``.
"""

from arithlens.figures import (  # noqa: F401  (each module registers its figure)
    carry_probes,
    carry_taxonomy,
    digit_phases,
    head_patching,
    key_heads,
    length_generalization,
    mul_digits,
    nupa_table,
    sample_efficiency,
)
from arithlens.figures.base import (
    REGISTRY,
    Context,
    FigureOutput,
    FigureRun,
    recheck,
    register,
    run,
    select,
)

#: the issues' order: Lee, Nanda, Quirke & Barez, patching, probes, Qiu, Zhang, length, NUPA
ORDER = (
    "sample_efficiency",
    "digit_phases",
    "carry_taxonomy",
    "head_patching",
    "carry_probes",
    "mul_digits",
    "key_heads",
    "length_generalization",
    "nupa_table",
)
_ordered = {name: REGISTRY[name] for name in ORDER}
REGISTRY.clear()
REGISTRY.update(_ordered)

__all__ = [
    "ORDER",
    "REGISTRY",
    "Context",
    "FigureOutput",
    "FigureRun",
    "recheck",
    "register",
    "run",
    "select",
]
