"""Exact partial forward (native models and Hugging Face GPT-2): recompute only what a patch
can change.

After a patch that changes the residual stream only at positions >= ``start`` (a head-output
patch at position p changes only p), every position before ``start`` keeps the target run's
keys and values in every later layer, and the logits are read only at the metric's positions.
So each later block computes keys and values for positions >= ``start`` (attending over the
target run's cached keys/values before it), and the last block computes queries, MLP and
unembedding only at the metric positions. The equality tests against
``transformer_lens.patching`` cover this path.
"""

from __future__ import annotations

from typing import Any

import torch
from einops import rearrange, repeat
from transformer_lens.model_bridge import TransformerBridge

from arithlens.models import sites


def supports(model: TransformerBridge) -> bool:
    """Plain causal attention the partial forward reproduces: native attention (no rotary, no
    grouped KV heads, no soft-capping) or Hugging Face GPT-2's (scaled by sqrt(d_head), no
    per-layer scaling or reordering, q/k/v as separate linear maps)."""
    cfg = model.cfg
    if getattr(cfg, "parallel_attn_mlp", False):
        return False
    attn = model.blocks[0].attn.original_component
    if type(attn).__name__ == "NativeAttention":
        return (
            getattr(attn, "causal", False)
            and getattr(attn, "rotary", None) is None
            and cfg.n_key_value_heads in (None, cfg.n_heads)
            and float(cfg.attn_scores_soft_cap) <= 0
        )
    if type(attn).__name__ == "GPT2Attention":
        qkv = [_raw(getattr(model.blocks[0].attn, c, None)) for c in "qkv"]
        return (
            bool(getattr(attn, "scale_attn_weights", False))
            and not getattr(attn, "scale_attn_by_inverse_layer_idx", True)
            and not getattr(attn, "reorder_and_upcast_attn", True)
            and not getattr(attn, "is_cross_attention", True)
            and all(isinstance(m, torch.nn.Linear) for m in qkv)
        )
    return False


def _scale(model: TransformerBridge, layer: int) -> float:
    """What attention scores are divided by: the native module's scale, or sqrt(d_head)."""
    attn = model.blocks[layer].attn.original_component
    return float(getattr(attn, "scale", None) or model.cfg.d_head**0.5)


def needed_hooks(layers: range) -> list[str]:
    return [sites.hook(x, layer) for layer in layers for x in "kv"]


def _raw(module: Any):
    """The plain torch module under a bridge wrapper (no hooks, no bridge state)."""
    return getattr(module, "original_component", module)


def _block_step(
    model: TransformerBridge,
    layer: int,
    x: torch.Tensor,
    q_idx: torch.Tensor,
    q_pos: torch.Tensor,
    old_k: Any,
    old_v: Any,
) -> torch.Tensor:
    """One block on suffix rows ``x`` (rows, n, d): keys/values for all of them, queries and
    MLP only at ``q_idx``; returns the block output at ``q_idx``."""
    block = model.blocks[layer]
    n_heads = model.cfg.n_heads
    h = _raw(block.ln1)(x)
    split = "r n (h e) -> r h n e"
    keys = torch.cat([old_k, rearrange(_raw(block.attn.k)(h), split, h=n_heads)], 2)
    values = torch.cat([old_v, rearrange(_raw(block.attn.v)(h), split, h=n_heads)], 2)
    q = rearrange(_raw(block.attn.q)(h[:, q_idx]), split, h=n_heads)
    scores = torch.matmul(q, keys.transpose(-2, -1)) / _scale(model, layer)  # (r, h, nq, T)
    mask = torch.arange(keys.shape[2])[None, :] > q_pos[:, None]
    pattern = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    z = rearrange(torch.matmul(pattern, values), "r h n e -> r n (h e)")
    mid = x[:, q_idx] + _raw(block.attn.o)(z)
    if getattr(model.cfg, "attn_only", False):
        return mid
    return mid + _raw(block.mlp)(_raw(block.ln2)(mid))


def run_suffix(
    model: TransformerBridge,
    resid: torch.Tensor,
    layer: int,
    start: int,
    tgt_cache: Any,
    k: int,
    read_pos: torch.Tensor,
    tgt_logits: torch.Tensor,
) -> torch.Tensor:
    """Logits ``(rows, pos, vocab)``, exact at ``read_pos`` (others hold the target's logits).

    Args:
        resid: ``(rows, pos, d_model)`` residual entering block ``layer``; rows are ``k``
            stacked copies of the batch and differ from the target run only at positions >=
            ``start``.
        read_pos: sorted positions whose logits the metric reads.
    """
    n_layers, n_pos = model.cfg.n_layers, resid.shape[1]
    x = resid[:, start:]
    pos_all = torch.arange(start, n_pos)
    for layer_i in range(layer, n_layers):
        old_k, old_v = (
            repeat(
                tgt_cache[sites.hook(c, layer_i)][:, :start],
                "b n h e -> (k b) h n e",
                k=k,
            )
            for c in "kv"
        )
        last = layer_i == n_layers - 1
        q_pos = read_pos[read_pos >= start] if last else pos_all
        x = _block_step(model, layer_i, x, q_pos - start, q_pos, old_k, old_v)
    logits = repeat(tgt_logits, "b pos v -> (k b) pos v", k=k).clone()
    if len(q_pos):
        logits[:, q_pos] = _raw(model.unembed)(_raw(model.ln_final)(x))
    return logits
