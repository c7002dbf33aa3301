"""Patching: which component carries the information that changes the answer.

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")                                            # doctest: +SKIP
    >>> pairs = al.tasks.corrupt_pairs(model.task, 256, change="a.units")         # doctest: +SKIP
    >>> res = al.patching.activation_patch(model, pairs, "z", by=("layer", "head"))  # doctest: +SKIP
"""

from arithlens.patching.activation import (
    COMPONENTS,
    GRANULARITIES,
    activation_patch,
    can_resume,
    run_from_layer,
)
from arithlens.patching.agreement import Agreement, agreement
from arithlens.patching.attribution import attribution_patch
from arithlens.patching.cell import CellEffect, patch_cell
from arithlens.patching.metrics import (
    METRICS,
    Metric,
    PairBatch,
    encode_pairs,
    make_metric,
    normalized,
)
from arithlens.patching.path import path_patch
from arithlens.patching.results import PatchResult

__all__ = [
    "Agreement",
    "COMPONENTS",
    "CellEffect",
    "GRANULARITIES",
    "METRICS",
    "Metric",
    "PairBatch",
    "PatchResult",
    "activation_patch",
    "agreement",
    "attribution_patch",
    "can_resume",
    "encode_pairs",
    "make_metric",
    "normalized",
    "patch_cell",
    "path_patch",
    "run_from_layer",
]
