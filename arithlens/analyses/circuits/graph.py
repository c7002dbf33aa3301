"""The computational graph edge-level circuits are made of (EAP-IG / MIB's graph).

Senders write into the residual stream: the input embeddings (``input``), each attention head
(``a{layer}.h{head}``) and each MLP (``m{layer}``). Receivers read it: each head's query, key and
value inputs separately (``a{layer}.h{head}<q>``, ``<k>``, ``<v>``), each MLP (``m{layer}``) and
the logits. An edge joins a sender to every receiver after it (a head's q/k/v inputs read the
senders of earlier layers; a layer's MLP also reads that layer's heads; the logits read all),
named ``sender->receiver`` as in EAP-IG's JSON (``a0.h1->a1.h0<v>``, ``m1->logits``).

Grouped-query attention (Llama): the key and value inputs belong to the key-value heads, named
``a{layer}.g{group}<k>`` / ``<v>`` (the bridge computes one key per group; EAP-IG's graphs of
such models ungroup the heads first, which TransformerLens 4 cannot). Parallel attention and MLP
(GPT-NeoX, GPT-J): a layer's MLP reads the stream before the layer, not its heads.

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
    ``n_heads`` heads (attention before the MLP in each block, unless ``parallel``).

    Attributes:
        n_kv_heads: key-value heads per layer (grouped-query attention); 0: one per head.
        parallel: attention and MLP read the same stream (the MLP does not read the heads).
        senders: ``input``, then per layer its heads and its MLP.
        receivers: per layer its heads' q inputs, the k and v inputs of its heads (or key-value
            heads) and its MLP, then ``logits``.
        mask: ``(receiver, sender)`` bool, True where the edge exists.
    """

    n_layers: int
    n_heads: int
    n_kv_heads: int = 0
    parallel: bool = False
    senders: tuple[str, ...] = field(init=False)
    receivers: tuple[str, ...] = field(init=False)
    mask: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        L, H, G = self.n_layers, self.n_heads, self.kv_heads
        if L < 1 or H < 1 or G < 1 or H % G:
            raise ArithlensError(
                f"a graph needs at least one layer and one head, and key-value heads dividing "
                f"the heads; got n_layers={L}, n_heads={H}, n_kv_heads={self.n_kv_heads}"
            )
        kv = "g" if self.grouped else "h"
        senders = ["input"]
        receivers = []
        for layer in range(L):
            senders += [f"a{layer}.h{h}" for h in range(H)] + [f"m{layer}"]
            receivers += [f"a{layer}.h{h}<q>" for h in range(H)]
            receivers += [f"a{layer}.{kv}{g}<{x}>" for x in "kv" for g in range(G)]
            receivers.append(f"m{layer}")
        receivers.append("logits")
        mask = torch.zeros(len(receivers), len(senders), dtype=torch.bool)
        for r, name in enumerate(receivers):
            layer, is_mlp = _reader(name, L)
            for s, sender in enumerate(senders):
                mask[r, s] = _writes_before(sender, layer, is_mlp and not self.parallel)
        object.__setattr__(self, "senders", tuple(senders))
        object.__setattr__(self, "receivers", tuple(receivers))
        object.__setattr__(self, "mask", mask)

    @property
    def kv_heads(self) -> int:
        """Key-value heads per layer (``n_heads`` without grouped-query attention)."""
        return self.n_kv_heads or self.n_heads

    @property
    def grouped(self) -> bool:
        """Whether heads share keys and values (grouped-query attention)."""
        return self.kv_heads != self.n_heads

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
        """The receiver index of a head's ``kind`` (q, k or v) input (``head`` counts key-value
        heads for k and v), or of the MLP (``kind="mlp"``) of ``layer``; ``kind="logits"``:
        the logits."""
        if kind == "logits":
            return len(self.receivers) - 1
        H, G = self.n_heads, self.kv_heads
        base = layer * (H + 2 * G + 1)
        offset = {"q": 0, "k": H, "v": H + G, "mlp": H + 2 * G}[kind]
        return base + offset + head

    def describe(self) -> str:
        """``2 layers x 4 heads`` (with key-value heads and parallel blocks when so)."""
        text = f"{self.n_layers} layers x {self.n_heads} heads"
        if self.grouped:
            text += f" ({self.kv_heads} key-value heads)"
        return text + (", parallel attention/MLP" if self.parallel else "")

    def cfg(self) -> dict[str, object]:
        """The graph's shape as EAP-IG / MIB's ``cfg`` (with arithlens's ``n_kv_heads``)."""
        cfg: dict[str, object] = dict(
            n_layers=self.n_layers, n_heads=self.n_heads, parallel_attn_mlp=self.parallel
        )
        if self.grouped:
            cfg["n_kv_heads"] = self.kv_heads
        return cfg

    @classmethod
    def from_cfg(cls, cfg: dict) -> Graph:
        """The graph of a ``cfg`` written by :meth:`cfg` or by EAP-IG / MIB."""
        return cls(
            int(cfg["n_layers"]),
            int(cfg["n_heads"]),
            int(cfg.get("n_kv_heads") or 0),
            bool(cfg.get("parallel_attn_mlp", False)),
        )


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
    """The graph of ``model`` (a bridge with ``cfg.n_layers`` and ``cfg.n_heads``; grouped-query
    attention and parallel attention/MLP blocks are read from its cfg); attention-only models
    are refused."""
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ArithlensError(f"{type(model).__name__} has no cfg: expected a TransformerBridge")
    if getattr(cfg, "attn_only", False):
        raise ArithlensError(
            "attention-only models are not supported by the edge graph yet: expected a model "
            "with an MLP in every block"
        )
    kv = getattr(cfg, "n_key_value_heads", None) or 0
    parallel = bool(getattr(cfg, "parallel_attn_mlp", False))
    return Graph(int(cfg.n_layers), int(cfg.n_heads), int(kv), parallel)
