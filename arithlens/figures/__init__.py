"""Reproductions of the literature's figures: one module per figure (``compute`` numbers,
``draw`` them, ``summarize`` them, ``PAPER``, ``CHECKS``), one ordered registry, one runner.

Example:
    >>> import arithlens as al
    >>> list(al.figures.REGISTRY)[:3]
    ['sample_efficiency', 'digit_phases', 'carry_taxonomy']
    >>> al.figures.run("figures/", only=["carry_taxonomy"], quick=True)   # doctest: +SKIP
    >>> al.figures.recheck("figures/carry_taxonomy")   # redraw from the JSON   # doctest: +SKIP

Command line: ``arithlens figures --out DIR [--only NAME ...] [--quick] [--model M]``.
"""

from arithlens.figures.base import Check, Context, FigureOutput, FigureSpec
from arithlens.figures.registry import FIGURES, ORDER, REGISTRY
from arithlens.figures.runner import FigureRun, recheck, run, select

__all__ = [
    "FIGURES",
    "ORDER",
    "REGISTRY",
    "Check",
    "Context",
    "FigureOutput",
    "FigureRun",
    "FigureSpec",
    "recheck",
    "run",
    "select",
]
