"""Key heads and circuit faithfulness (Zhang et al. 2024; Nikankin et al. 2025).

:func:`key_heads` ranks heads by their direct effect on the answer under path patching
(sender head -> logits, everything else frozen) and reports how few heads carry a chosen share
of the total. :func:`faithfulness` mean-ablates every head outside a circuit and compares the
metric with the full model's.

Example:
    >>> batch = model.encoder.pairs(128, change="a.units")             # doctest: +SKIP
    >>> kh = key_heads(model, batch, share=0.8)                        # doctest: +SKIP
    >>> kh.n_for_share, kh.fraction                                    # doctest: +SKIP
    >>> faithfulness(model, batch, kh.heads[:6]).ratio                 # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.patching.metrics import PairBatch, prepare
from arithlens.patching.path import path_patch
from arithlens.tasks import Pairs

Head = tuple[int, int]


@dataclass(frozen=True)
class KeyHeads:
    """Heads ranked by the size of their direct effect on the metric.

    Attributes:
        effects: ``(layer, head)`` path-patching effect (patched minus unpatched metric).
        heads: all heads, largest ``|effect|`` first.
        share: the share of the total ``|effect|`` asked for.
        n_for_share: fewest top heads whose ``|effect|`` reaches ``share`` of the total.
        fraction: ``n_for_share`` over the number of heads.
    """

    effects: torch.Tensor
    heads: list[Head]
    share: float
    n_for_share: int
    fraction: float

    def to_frame(self) -> pd.DataFrame:
        """One row per head in rank order: effect, share of the total, cumulative share."""
        mag = torch.tensor([abs(float(self.effects[h])) for h in self.heads])
        total = float(mag.sum()) or 1.0
        return pd.DataFrame(
            {
                "rank": range(1, len(self.heads) + 1),
                "layer": [h[0] for h in self.heads],
                "head": [h[1] for h in self.heads],
                "effect": [float(self.effects[h]) for h in self.heads],
                "share": (mag / total).numpy(),
                "cumulative_share": (mag.cumsum(0) / total).numpy(),
            }
        )

    def plot(self) -> go.Figure:
        """Cumulative share of the effect against the number of top heads."""
        f = self.to_frame()
        fig = go.Figure(go.Scatter(x=f["rank"], y=f["cumulative_share"], mode="lines+markers"))
        fig.add_hline(y=self.share, line=dict(dash="dash"))
        fig.update_layout(
            title=f"{self.n_for_share} of {len(self.heads)} heads ({self.fraction:.1%}) carry "
            f"{self.share:.0%} of the direct effect",
            xaxis_title="top-k heads",
            yaxis_title="cumulative share of |effect|",
            template="plotly_white",
        )
        return fig


def key_heads(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    *,
    share: float = 0.8,
    metric: str = "logit_diff",
    digits: str | int | list = "all",
    progress: bool = True,
) -> KeyHeads:
    """Rank every head by its path-patching effect on the logits (senders: all heads)."""
    if not 0 < share <= 1:
        raise ArithlensError(f"share={share!r} is invalid: expected 0 < share <= 1")
    res = path_patch(
        model, pairs, receivers="logits", metric=metric, digits=digits, progress=progress
    )
    effects = res.effect()
    L, H = effects.shape
    heads = sorted(
        ((layer, h) for layer in range(L) for h in range(H)), key=lambda x: -abs(float(effects[x]))
    )
    mag = torch.tensor([abs(float(effects[x])) for x in heads])
    cum = mag.cumsum(0) / mag.sum().clamp_min(1e-12)
    n = int((cum < share - 1e-9).sum()) + 1
    return KeyHeads(effects, heads, share, n, n / (L * H))


def check_heads(model: TransformerBridge, heads: list[Head]) -> list[Head]:
    """``heads`` as ``(layer, head)`` tuples, each checked to exist."""
    L, H = model.cfg.n_layers, model.cfg.n_heads
    out = []
    for x in heads:
        try:
            layer, h = (int(v) for v in x)
        except (TypeError, ValueError):
            raise ArithlensError(f"head {x!r} is invalid: expected a (layer, head) pair") from None
        if not (0 <= layer < L and 0 <= h < H):
            raise ArithlensError(
                f"head ({layer}, {h}) does not exist: the model has layers 0..{L - 1} and heads "
                f"0..{H - 1}"
            )
        out.append((layer, h))
    return out


@dataclass(frozen=True)
class Faithfulness:
    """Metric of the circuit (every other head mean-ablated) against the full model.

    Attributes:
        circuit: the kept heads.
        full: mean metric of the full model on the clean prompts.
        circuit_value: the same with every head outside the circuit mean-ablated.
        ablated: the same with every head mean-ablated (the floor).
        ratio: ``circuit_value / full`` (Nikankin et al.'s faithfulness).
    """

    circuit: list[Head]
    full: float
    circuit_value: float
    ablated: float
    ratio: float


@torch.no_grad()
def faithfulness(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    circuit: list[Head],
    *,
    metric: str = "logit_diff",
    digits: str | int | list = "all",
) -> Faithfulness:
    """Mean-ablate (over the clean prompts, per position) every head outside ``circuit``."""
    circuit = check_heads(model, circuit)
    batch, met = prepare(pairs, metric, digits, model)
    L = model.cfg.n_layers
    names = [f"blocks.{layer}.attn.hook_z" for layer in range(L)]
    logits, cache = model.run_with_cache(batch.clean.tokens, names_filter=lambda n: n in names)
    means = {n: cache[n].mean(0, keepdim=True) for n in names}

    def run(keep: set[Head]) -> float:
        hooks = []
        for layer, name in enumerate(names):
            drop = torch.tensor([(layer, h) not in keep for h in range(cache[name].shape[2])])

            def hook(z, hook=None, name=name, drop=drop):
                return torch.where(drop[None, None, :, None], means[name], z)

            hooks.append((name, hook))
        return float(met(model.run_with_hooks(batch.clean.tokens, fwd_hooks=hooks)).mean())

    full = float(met(logits).mean())
    value, floor = run(set(circuit)), run(set())
    return Faithfulness(circuit, full, value, floor, value / full if full else float("nan"))
