"""Running a model: forward passes in chunks and from a cached residual stream.

The one place that knows how to run a model's blocks; patching (the resume-from-layer fast
path) and evaluation use it, so no analysis imports another to run the model.

Example:
    >>> logits = forward_chunked(model, tokens)              # doctest: +SKIP
    >>> if can_resume(model):                                 # doctest: +SKIP
    ...     logits = run_from_layer(model, resid, layer=1)
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from transformer_lens.model_bridge import TransformerBridge

from arithlens.contract import is_native


@torch.no_grad()
def forward_chunked(
    model: TransformerBridge, tokens: Int[torch.Tensor, "batch pos"], chunk: int = 2048
) -> Float[torch.Tensor, "batch pos vocab"]:
    """Logits ``(batch, pos, d_vocab)`` computed ``chunk`` rows at a time."""
    return torch.cat([model(tokens[i : i + chunk]) for i in range(0, len(tokens), chunk)])


def can_resume(model: TransformerBridge) -> bool:
    """Whether blocks of ``model`` can be run one by one from a cached residual (native models)."""
    return is_native(model)


def run_from_layer(
    model: TransformerBridge, resid: Float[torch.Tensor, "batch pos d_model"], layer: int
) -> Float[torch.Tensor, "batch pos vocab"]:
    """Logits from the residual stream entering block ``layer`` (native models)."""
    x = resid
    for block in list(model.blocks)[layer:]:
        out = block(x)
        x = out[0] if isinstance(out, tuple) else out
    return model.unembed(model.ln_final(x))
