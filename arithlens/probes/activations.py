"""Which activations a probe can read, and caching them for many problems at once.

``"resid"`` is the residual stream between blocks: stream 0 is the embeddings (``emb``),
stream i+1 the output of block i (``L<i>``). The others are per block: ``resid_pre``,
``resid_mid``, ``resid_post``, ``attn_out``, ``mlp_out`` and ``z`` (each head's output before
``W_O``, giving sites per head).

Example:
    >>> hooks(model, "resid")      # doctest: +SKIP
    [('emb', 'blocks.0.hook_resid_pre'), ('L0', 'blocks.1.hook_resid_pre'), ('L1', 'blocks.1.hook_resid_post')]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models import sites

ACTIVATIONS = ("resid", "resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "z")
"""What a probe can read: the residual stream, or a per-block site of
:mod:`arithlens.models.sites`."""


def hooks(model: TransformerBridge, activation: str) -> list[tuple[str, str]]:
    """``(layer label, hook name)`` for every layer of ``activation``."""
    n = model.cfg.n_layers
    if activation == "resid":
        return sites.stream(n)
    if activation not in ACTIVATIONS:
        raise ArithlensError(
            f"activation {activation!r} is unknown: expected one of {list(ACTIVATIONS)}"
        )
    return [(f"L{i}", hook) for i, hook in enumerate(sites.layers(activation, n))]


def select(name: str, values: Sequence[int] | None, size: int, what: str) -> list[int]:
    """Indices ``values`` checked against ``0..size-1`` (all when ``None``)."""
    if values is None:
        return list(range(size))
    out = [int(v) for v in values]
    bad = [v for v in out if not 0 <= v < size]
    if bad or not out:
        raise ArithlensError(
            f"{name}={list(values)!r} is invalid: expected {what} in 0..{size - 1}"
        )
    return out


@torch.no_grad()
def collect(
    model: TransformerBridge,
    tokens: Tensor,
    hook_names: list[str],
    positions: list[int],
    *,
    chunk: int = 2048,
) -> Float[Tensor, "layer n pos *d"]:
    """Cache ``hook_names`` at ``positions`` for every row of ``tokens``, ``chunk`` rows a time.

    Returns ``(layer, pos, n, d)``, or ``(layer, pos, head, n, d_head)`` for ``z``: one
    contiguous ``(n, d)`` design matrix per site.
    """
    wanted = set(hook_names)
    pos = torch.as_tensor(positions)
    out: Tensor | None = None
    for i in range(0, len(tokens), chunk):
        _, cache = model.run_with_cache(tokens[i : i + chunk], names_filter=lambda n: n in wanted)
        for li, h in enumerate(hook_names):
            act = cache[h][:, pos].float()  # (rows, pos, *, d)
            if out is None:
                shape = (len(hook_names), *act.shape[1:-1], len(tokens), act.shape[-1])
                out = torch.empty(shape)
            out[li, ..., i : i + len(act), :] = act.movedim(0, -2)
    assert out is not None
    return out
