"""The computational graph edge-level circuits are made of (EAP-IG / MIB's graph).

Senders write into the residual stream: the input embeddings (``input``), each attention head
(``a{layer}.h{head}``) and each MLP (``m{layer}``). Receivers read it: each head's query, key and
value inputs separately (``a{layer}.h{head}<q>``, ``<k>``, ``<v>``), each MLP (``m{layer}``) and
the logits. An edge joins a sender to every receiver after it (a head's q/k/v inputs read the
senders of earlier layers; a layer's MLP also reads that layer's heads; the logits read all),
named ``sender->receiver`` as in EAP-IG's JSON (``a0.h1->a1.h0<v>``, ``m1->logits``).

Position-resolved edges (``positions``) split each edge by the position at which the sender's
output enters the receiver's input: the residual stream at position p holds only what was
written at p, so an edge at p carries the sender's output at p into the receiver's input at p
(cross-position flow happens inside a head, between its k/v inputs at p and its output later).

Example:
    >>> g = Graph(n_layers=2, n_heads=2)
    >>> g.n_edges, g.edge_names()[:2]
    (46, ['input->a0.h0<q>', 'input->a0.h1<q>'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from arithlens.errors import ArithlensError

QKV = ("q", "k", "v")


@dataclass(frozen=True)
class Graph:
    """Senders, receivers and the edges between them, for a model of ``n_layers`` blocks of
    ``n_heads`` heads (attention before the MLP in each block).

    Attributes:
        senders: ``input``, then per layer its heads and its MLP.
        receivers: per layer its heads' q, k and v inputs and its MLP, then ``logits``.
        mask: ``(receiver, sender)`` bool, True where the edge exists.
    """

    n_layers: int
    n_heads: int
    senders: tuple[str, ...] = field(init=False)
    receivers: tuple[str, ...] = field(init=False)
    mask: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n_layers < 1 or self.n_heads < 1:
            raise ArithlensError(
                f"a graph needs at least one layer and one head, got n_layers={self.n_layers}, "
                f"n_heads={self.n_heads}"
            )
        L, H = self.n_layers, self.n_heads
        senders = ["input"]
        receivers = []
        for layer in range(L):
            senders += [f"a{layer}.h{h}" for h in range(H)] + [f"m{layer}"]
            receivers += [f"a{layer}.h{h}<{x}>" for x in QKV for h in range(H)] + [f"m{layer}"]
        receivers.append("logits")
        mask = torch.zeros(len(receivers), len(senders), dtype=torch.bool)
        for r, name in enumerate(receivers):
            layer, is_mlp = _reader(name, L)
            for s, sender in enumerate(senders):
                mask[r, s] = _writes_before(sender, layer, is_mlp)
        object.__setattr__(self, "senders", tuple(senders))
        object.__setattr__(self, "receivers", tuple(receivers))
        object.__setattr__(self, "mask", mask)

    @property
    def n_edges(self) -> int:
        """How many edges the graph has (position-summed)."""
        return int(self.mask.sum())

    def edges(self) -> list[tuple[int, int]]:
        """``(receiver, sender)`` index of every edge, receivers in order, then senders."""
        return [(int(r), int(s)) for r, s in self.mask.nonzero().tolist()]

    def edge_names(self) -> list[str]:
        """``sender->receiver`` of every edge, in :meth:`edges` order."""
        return [f"{self.senders[s]}->{self.receivers[r]}" for r, s in self.edges()]

    def head_index(self, layer: int, head: int) -> int:
        """The sender index of head ``head`` of layer ``layer``."""
        return 1 + layer * (self.n_heads + 1) + head

    def mlp_index(self, layer: int) -> int:
        """The sender index of layer ``layer``'s MLP."""
        return 1 + layer * (self.n_heads + 1) + self.n_heads

    def sender_groups(self) -> list[list[int]]:
        """Sender indices by the sub-layer that writes them, in forward order: the input, then
        per layer its heads and its MLP."""
        groups = [[0]]
        for layer in range(self.n_layers):
            groups.append([self.head_index(layer, h) for h in range(self.n_heads)])
            groups.append([self.mlp_index(layer)])
        return groups

    def receiver_index(self, layer: int, kind: str, head: int = 0) -> int:
        """The receiver index of a head's ``kind`` (q, k or v) input, or of the MLP
        (``kind="mlp"``) of ``layer``; ``layer=n_layers`` with ``kind="logits"``: the logits."""
        if kind == "logits":
            return len(self.receivers) - 1
        base = layer * (3 * self.n_heads + 1)
        if kind == "mlp":
            return base + 3 * self.n_heads
        return base + QKV.index(kind) * self.n_heads + head


def _reader(name: str, n_layers: int) -> tuple[int, bool]:
    """(layer, is an MLP) of a receiver; the logits read after the last layer."""
    if name == "logits":
        return n_layers, True
    if name.startswith("m"):
        return int(name[1:]), True
    return int(name[1:].split(".")[0]), False


def _writes_before(sender: str, layer: int, is_mlp: bool) -> bool:
    """Whether ``sender``'s output is in the stream a receiver of ``layer`` reads (attention
    reads the stream before the layer; the MLP after the layer's attention)."""
    if sender == "input":
        return True
    at = int(sender[1:].split(".")[0])
    if sender.startswith("a"):
        return at < layer or (at == layer and is_mlp)
    return at < layer


def graph_of(model: object) -> Graph:
    """The graph of ``model`` (a bridge with ``cfg.n_layers`` and ``cfg.n_heads``); models that
    run attention and MLP in parallel are refused (their MLP does not read the heads)."""
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ArithlensError(f"{type(model).__name__} has no cfg: expected a TransformerBridge")
    if getattr(cfg, "parallel_attn_mlp", False):
        raise ArithlensError(
            "parallel attention and MLP blocks (GPT-J, NeoX) are not supported by the edge "
            "graph yet: expected a model whose MLP reads the block's attention output"
        )
    if getattr(cfg, "attn_only", False):
        raise ArithlensError(
            "attention-only models are not supported by the edge graph yet: expected a model "
            "with an MLP in every block"
        )
    return Graph(int(cfg.n_layers), int(cfg.n_heads))
