"""The string choices of the public functions, as ``Literal`` types (checked at run time by
:func:`arithlens.errors.check_choice`, which names the allowed values).

Example:
    >>> from typing import get_args
    >>> get_args(Direction)
    ('denoise', 'noise')
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["denoise", "noise"]
"""Patching: run the corrupt input and patch in clean activations, or the reverse."""

Mlps = Literal["recompute", "freeze"]
"""Path patching: MLPs recompute (Wang et al.) or are frozen (direct paths only)."""

Ablate = Literal["heads", "heads+mlps", "heads+neurons"]
"""Faithfulness: the components a circuit is chosen from."""

ControlTypes = Literal["sums", "digits"]
"""Probe control tasks: a type is the column sums or the operand digits a target depends on."""

Along = Literal["mean_diff", "probe"]
"""Causal flip: the carry direction moved along."""

FlipMode = Literal["reflect", "project"]
"""Causal flip: cross the probe's boundary with the same margin, or move onto it."""

Strategy = Literal["uniform", "cascade", "cascade_chained"]
"""Problem samplers."""
