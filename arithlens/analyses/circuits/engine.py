"""One forward pass with every receiver's input under control: the machinery edge scoring and
circuit evaluation share.

A receiver's input is the residual stream where it reads it plus ``delta``: the ablated
senders' (replacement - current) outputs. Query, key and value inputs are separated per head by
recomputing that head's q / k / v from its own input (the block's first layer norm and the
head's W_Q / W_K / W_V), so changing one head's key input changes nothing else; an MLP reads
its layer norm's input, the logits the final layer norm's input. With ``leaves`` every
receiver input is a fresh leaf tensor, so one backward pass gives the metric's gradient with
respect to each receiver's input (EAP).

Example:
    >>> outs = sender_outputs(model, tokens)            # (batch, pos, sender, d_model)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses.circuits.graph import QKV, Graph
from arithlens.models import sites


@dataclass
class Control:
    """What one controlled forward pass does.

    Attributes:
        replacement: ``(batch, pos, sender, d)`` outputs the ablated edges carry instead (the
            corrupt run's, or the clean mean); None: nothing ablated.
        ablate: ``(receiver, sender, pos)`` weights (1 = the edge at that position carries the
            replacement); None: nothing ablated.
        leaves: make every receiver input a leaf that keeps its gradient.
        embed: ``(batch, pos, d)`` replacing the input embeddings (EAP-IG's interpolation).
    """

    replacement: Tensor | None = None
    ablate: Tensor | None = None
    leaves: bool = False
    embed: Tensor | None = None
    inputs: dict[int, Tensor] = field(default_factory=dict)
    current: dict[int, Tensor] = field(default_factory=dict)


def sender_outputs(
    model: TransformerBridge, tokens: Int[Tensor, "batch pos"], graph: Graph
) -> Float[Tensor, "batch pos sender d"]:
    """What every sender writes into the residual stream on ``tokens``: the embeddings, each
    head's ``z @ W_O`` (without the output bias, which no edge carries) and each MLP's output."""
    control = Control()
    with torch.no_grad():
        _run(model, tokens, graph, control)
    return torch.stack([control.current[s] for s in range(len(graph.senders))], 2)


def _delta(control: Control, graph: Graph, receivers: list[int], like: Tensor) -> Tensor | None:
    """``(batch, pos, len(receivers), d)``: sum over ablated senders of (replacement - current)
    at each position; None when nothing is ablated."""
    if control.ablate is None or control.replacement is None:
        return None
    weights = control.ablate[receivers]  # (r, s, pos)
    if not bool(weights.any()):
        return None
    senders = sorted({int(s) for s in weights.any(-1).nonzero()[:, 1].tolist()})
    diff = torch.stack(
        [control.replacement[:, :, s] - control.current[s] for s in senders], 2
    )  # (batch, pos, s', d)
    w = weights[:, senders].permute(2, 0, 1).to(diff.dtype)  # (pos, r, s')
    return torch.einsum("bpsd,prs->bprd", diff, w)


def _inputs(control: Control, graph: Graph, receivers: list[int], stream: Tensor) -> Tensor:
    """``(batch, pos, len(receivers), d)``: each receiver's input, the stream plus its delta
    (leaves when asked)."""
    x = stream[:, :, None, :].expand(-1, -1, len(receivers), -1)
    delta = _delta(control, graph, receivers, stream)
    if delta is not None:
        x = x + delta
    if control.leaves:
        # a zero leaf added to the input: its gradient is the input's, and the stream stays
        # connected, so the gradient counts every path from this receiver to the metric
        eps = torch.zeros_like(x, requires_grad=True)
        x = x + eps
        for r in receivers:
            control.inputs[r] = eps  # the grad of receiver r is eps.grad[:, :, its index]
    return x


def _hooks(model: TransformerBridge, graph: Graph, control: Control) -> sites.Hooks:
    """Forward hooks that record what senders write and set what receivers read."""
    streams: dict[int, Tensor] = {}
    hooks: sites.Hooks = []

    def embed(act: Tensor, hook: Any = None) -> Tensor:
        if control.embed is not None:
            act = control.embed
        control.current[0] = act
        streams[0] = act
        return act

    hooks.append((sites.EMBEDDINGS, embed))
    for layer in range(graph.n_layers):
        block = model.blocks[layer]
        hooks += _layer_hooks(model, graph, control, layer, block, streams)
    final = [graph.receiver_index(graph.n_layers, "logits")]

    def logits_in(act: Tensor, hook: Any = None) -> Tensor:
        return _inputs(control, graph, final, act)[:, :, 0]

    hooks.append((sites.FINAL_IN, logits_in))
    return hooks


def _layer_hooks(
    model: TransformerBridge,
    graph: Graph,
    control: Control,
    layer: int,
    block: Any,
    streams: dict[int, Tensor],
) -> sites.Hooks:
    H = graph.n_heads
    hooks: sites.Hooks = []
    if layer > 0:

        def resid(act: Tensor, hook: Any = None) -> Tensor:
            streams[layer] = act
            return act

        hooks.append((sites.hook("resid_pre", layer), resid))
    for kind in QKV:
        W, b = _projection(model, kind, layer)
        n = graph.n_heads if kind == "q" else graph.kv_heads
        receivers = [graph.receiver_index(layer, kind, h) for h in range(n)]

        def qkv(
            act: Tensor, hook: Any = None, W: Tensor = W, b: Tensor = b, rs: list = receivers
        ) -> Tensor:
            if not control.leaves and _delta_free(control, rs):
                return act
            x = _inputs(control, graph, rs, streams[layer])  # (batch, pos, head, d)
            return torch.einsum("bphd,hde->bphe", block.ln1(x), W) + b

        hooks.append((sites.hook(kind, layer), qkv))

    def z(act: Tensor, hook: Any = None) -> Tensor:
        out = torch.einsum("bphe,hed->bphd", act, model.W_O[layer])
        for h in range(H):
            control.current[graph.head_index(layer, h)] = out[:, :, h]
        return act

    hooks.append((sites.hook("z", layer), z))
    mlp = [graph.receiver_index(layer, "mlp")]

    def mlp_in(act: Tensor, hook: Any = None) -> Tensor:
        return _inputs(control, graph, mlp, act)[:, :, 0]

    def mlp_out(act: Tensor, hook: Any = None) -> Tensor:
        control.current[graph.mlp_index(layer)] = act
        return act

    hooks += [(sites.MLP_IN.at(layer), mlp_in), (sites.hook("mlp_out", layer), mlp_out)]
    return hooks


def _projection(model: TransformerBridge, kind: str, layer: int) -> tuple[Tensor, Tensor]:
    """``W_{kind}[layer]`` ``(head, d_model, d_head)`` and its bias (zeros for a bias-free
    projection, as Llama's)."""
    W = getattr(model, f"W_{kind.upper()}")[layer]
    try:
        b = getattr(model, f"b_{kind.upper()}")[layer]
    except AttributeError:
        b = torch.zeros(W.shape[0], W.shape[-1], dtype=W.dtype, device=W.device)
    return W, b


def _delta_free(control: Control, receivers: list[int]) -> bool:
    """Whether no edge into ``receivers`` is ablated (their inputs are the stream itself)."""
    return control.ablate is None or not bool(control.ablate[receivers].any())


def _run(
    model: TransformerBridge, tokens: Tensor, graph: Graph, control: Control
) -> Float[Tensor, "batch pos vocab"]:
    """The logits of ``tokens`` under ``control``."""
    return model.run_with_hooks(tokens, fwd_hooks=_hooks(model, graph, control))


def run_controlled(
    model: TransformerBridge,
    tokens: Int[Tensor, "batch pos"],
    graph: Graph,
    control: Control,
) -> Float[Tensor, "batch pos vocab"]:
    """The logits of ``tokens`` with the receivers' inputs set by ``control``."""
    return _run(model, tokens, graph, control)


def receiver_grads(
    model: TransformerBridge,
    tokens: Int[Tensor, "batch pos"],
    graph: Graph,
    metric: Callable[[Tensor], Tensor],
    control: Control | None = None,
) -> Float[Tensor, "batch pos receiver d"]:
    """The gradient of ``metric(logits).mean()`` with respect to every receiver's input, in
    the pass ``control`` sets (default: the plain pass on ``tokens``)."""
    control = Control() if control is None else control
    control.leaves = True
    control.inputs.clear()
    with torch.enable_grad():
        logits = _run(model, tokens, graph, control)
        metric(logits).mean().backward()
    grads = []
    seen: dict[int, int] = {}
    for r in range(len(graph.receivers)):
        x = control.inputs[r]
        i = seen.setdefault(id(x), 0)
        g = x.grad if x.grad is not None else torch.zeros_like(x)
        grads.append(g[:, :, i] if g.dim() == 4 else g)
        seen[id(x)] = i + 1
    model.zero_grad(set_to_none=True)
    return torch.stack(grads, 2)
