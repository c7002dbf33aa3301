"""One entry point to get a model: a zoo name or an arithlens checkpoint folder.

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")          # doctest: +SKIP
    >>> model = al.load("runs/add3")        # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models import checkpoint, zoo


def load(
    name_or_path: str | Path, *, device: str | torch.device | None = None
) -> TransformerBridge:
    """Load a zoo model by name, or an arithlens checkpoint folder by path."""
    s = str(name_or_path)
    if s in zoo.RECIPES:
        return zoo.load(s, device=device)
    path = Path(s)
    if path.is_dir():
        return checkpoint.load(path, device=device)
    raise ArithlensError(
        f"model {s!r} is neither a zoo model {sorted(zoo.RECIPES)} nor an existing checkpoint folder"
    )
