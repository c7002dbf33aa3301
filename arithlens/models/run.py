"""Running a model: forward passes in chunks and from a cached residual stream.

The one place that knows how to run a model's blocks; patching (the resume-from-layer fast
path) and evaluation use it, so no analysis imports another to run the model.

Example:
    >>> logits = forward_chunked(model, tokens)              # doctest: +SKIP
    >>> if can_resume(model):                                 # doctest: +SKIP
    ...     logits = run_from_layer(model, resid, layer=1)
"""

from __future__ import annotations

import warnings
import weakref

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


_RESUMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def can_resume(model: TransformerBridge) -> bool:
    """Whether blocks of ``model`` can be run one by one from a cached residual: native models
    always; a Hugging Face bridge when running its blocks from every layer's cached input
    reproduces its logits (checked once per model on a short input, to 1e-5 of the logits'
    scale; true of GPT-2, not of rotary models such as GPT-NeoX and Llama, whose blocks need
    position embeddings the bridge computes outside them)."""
    if is_native(model):
        return True
    if model not in _RESUMES:
        _RESUMES[model] = _resumes_exactly(model)
    return _RESUMES[model]


@torch.no_grad()
def _resumes_exactly(model: TransformerBridge) -> bool:
    if getattr(model.cfg, "positional_embedding_type", None) == "rotary":
        return False  # the bridge computes rotary embeddings outside the blocks
    n = min(8, int(model.cfg.n_ctx))
    tokens = (torch.arange(n) % int(model.cfg.d_vocab))[None].to(model.cfg.device)
    names = {f"blocks.{layer}.hook_resid_pre" for layer in range(model.cfg.n_layers)}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a block run on its own may warn about what it lacks
            logits, cache = model.run_with_cache(tokens, names_filter=lambda x: x in names)
            scale = float(logits.abs().max()) or 1.0
            for layer in range(model.cfg.n_layers):
                out = run_from_layer(model, cache[f"blocks.{layer}.hook_resid_pre"], layer)
                if float((out - logits).abs().max()) > 1e-5 * scale:
                    return False
    except Exception:  # a block that cannot be called on the residual alone
        return False
    return True


def run_from_layer(
    model: TransformerBridge, resid: Float[torch.Tensor, "batch pos d_model"], layer: int
) -> Float[torch.Tensor, "batch pos vocab"]:
    """Logits from the residual stream entering block ``layer`` (models where
    :func:`can_resume` holds)."""
    x = resid
    for block in list(model.blocks)[layer:]:
        out = block(x)
        x = out[0] if isinstance(out, tuple) else out
    return model.unembed(model.ln_final(x))
