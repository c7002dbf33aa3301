"""Exact shortcut for patching one head's output at one position (native models).

Patching ``hook_z`` at (layer L, position p, head h) changes block L's attention output only at
position p, by ``(z_src - z_tgt)[p, h] @ W_O[h]``; the MLP of block L acts per position, so
block L's output changes only at p as well. Each patch therefore needs block L's MLP at one
position and the blocks after L; when L is the last block, only the logits at p change. The
equality tests against ``transformer_lens.patching`` cover this path.
"""

from __future__ import annotations

from typing import Any

import torch
from einops import einsum, repeat
from transformer_lens.model_bridge import TransformerBridge

from arithlens.models import sites
from arithlens.models.run import run_from_layer
from arithlens.patching import _suffix


def applies(model: TransformerBridge) -> bool:
    """Sequential attention-then-MLP native blocks (where the shortcut is exact)."""
    return not getattr(model.cfg, "parallel_attn_mlp", False)


def _mid(model: TransformerBridge, layer: int) -> str:
    """The residual stream after block ``layer``'s attention: ``hook_resid_mid``, or in an
    attention-only block (which has no MLP and no resid_mid) its output."""
    if getattr(model.cfg, "attn_only", False):
        return sites.hook("resid_post", layer)
    return sites.hook("resid_mid", layer)


def needed_hooks(model: TransformerBridge, layer: int) -> list[str]:
    names = [_mid(model, layer), sites.hook("resid_post", layer)]
    if _suffix.supports(model):
        names += _suffix.needed_hooks(range(layer + 1, model.cfg.n_layers))
    return names


def _w_o(model: TransformerBridge, layer: int) -> torch.Tensor:
    """The output projection as ``(d_model, n_heads * d_head)``: a ``Linear`` weight as it is,
    a GPT-2 ``Conv1D`` weight (stored ``(in, out)``) transposed."""
    o = model.blocks[layer].attn.o
    raw = getattr(o, "original_component", o)
    return raw.weight.T if type(raw).__name__ == "Conv1D" else raw.weight


def _mlp_part(model: TransformerBridge, layer: int, mid: torch.Tensor) -> torch.Tensor:
    block = model.blocks[layer]
    if getattr(model.cfg, "attn_only", False):
        return mid
    return mid + block.mlp(block.ln2(mid))


def cell_logits(
    model: TransformerBridge,
    layer: int,
    cells: list[tuple[int, ...]],
    src_z: torch.Tensor,
    tgt_z: torch.Tensor,
    tgt_cache: Any,
    tgt_logits: torch.Tensor,
    read_pos: torch.Tensor,
) -> torch.Tensor:
    """Logits ``(k * batch, pos, vocab)`` for the k (position, head) patches in ``cells``.

    Exact at ``read_pos`` (the positions the metric reads); elsewhere they may hold the
    unpatched logits.
    """
    k, b = len(cells), src_z.shape[0]
    d_head = model.cfg.d_head
    w_o = _w_o(model, layer)  # (d_model, n_heads * d_head)
    pos = torch.tensor([p for p, _ in cells])
    head = torch.tensor([h for _, h in cells])
    dz = (src_z - tgt_z)[:, pos, head]  # (b, k, d_head)
    w = torch.stack(
        [w_o[:, h * d_head : (h + 1) * d_head] for h in head.tolist()]
    )  # (k, d_model, d_head)
    delta = einsum(dz, w, "b k e, k d e -> k b d")
    mid = tgt_cache[_mid(model, layer)][:, pos].transpose(0, 1) + delta  # (k, b, d)
    post_p = _mlp_part(model, layer, mid.reshape(k * b, 1, -1))  # (k*b, 1, d)
    rows = torch.arange(k * b)
    pos_rows = repeat(pos, "k -> (k b)", b=b)
    if layer == model.cfg.n_layers - 1:
        logits = repeat(tgt_logits, "b pos v -> (k b) pos v", k=k).clone()
        logits[rows, pos_rows] = model.unembed(model.ln_final(post_p))[:, 0]
        return logits
    resid = repeat(
        tgt_cache[sites.hook("resid_post", layer)], "b pos d -> (k b) pos d", k=k
    ).clone()
    resid[rows, pos_rows] = post_p[:, 0]
    if _suffix.supports(model):
        start = int(pos.min())
        return _suffix.run_suffix(
            model, resid, layer + 1, start, tgt_cache, k, read_pos, tgt_logits
        )
    return run_from_layer(model, resid, layer + 1)
