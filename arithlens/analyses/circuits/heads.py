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
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import torch
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from arithlens._saving import Saveable
from arithlens.choices import Ablate, Mlps
from arithlens.errors import ArithlensError, check_choice
from arithlens.models import sites
from arithlens.patching.metrics import PairBatch
from arithlens.patching.path import path_patch
from arithlens.patching.runs import prepare
from arithlens.tasks import Pairs

Head = tuple[int, int]


@dataclass(frozen=True)
class KeyHeads(Saveable):
    """Heads ranked by the size of their direct effect on the metric.

    Attributes:
        effects: ``(layer, head)`` path-patching effect (patched minus unpatched metric).
        mlps: the path-patching variant: ``"recompute"`` (Wang et al.) or ``"freeze"``.
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
    mlps: Mlps = "recompute"

    def __post_init__(self) -> None:  # heads come back from JSON as lists
        object.__setattr__(self, "heads", [tuple(h) for h in self.heads])

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
            f"{self.share:.0%} of the path-patching effect (MLPs {self.mlps}d)",
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
    mlps: Mlps = "recompute",
    progress: bool = True,
) -> KeyHeads:
    """Rank every head by its path-patching effect on the logits (senders: all heads).

    Example:
        >>> kh = key_heads(model, model.encoder.pairs(128, "a.units"))   # doctest: +SKIP
        >>> kh.heads[:3], kh.n_for_share                                  # doctest: +SKIP

    Args:
        mlps: the path-patching variant (:func:`~arithlens.patching.path_patch`):
            ``"recompute"`` (Wang et al., default) or ``"freeze"`` (direct paths only).
    """
    if not 0 < share <= 1:
        raise ArithlensError(f"share={share!r} is invalid: expected 0 < share <= 1")
    res = path_patch(
        model,
        pairs,
        receivers="logits",
        metric=metric,
        digits=digits,
        mlps=mlps,
        progress=progress,
    )
    effects = res.effect()
    L, H = effects.shape
    heads = sorted(
        ((layer, h) for layer in range(L) for h in range(H)), key=lambda x: -abs(float(effects[x]))
    )
    mag = torch.tensor([abs(float(effects[x])) for x in heads])
    cum = mag.cumsum(0) / mag.sum().clamp_min(1e-12)
    n = int((cum < share - 1e-9).sum()) + 1
    return KeyHeads(effects, heads, share, n, n / (L * H), mlps)


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


Component = tuple
"""A circuit member: ``(layer, head)``, ``("mlp", layer)`` or ``("mlp", layer, neuron)``."""

ABLATE = ("heads", "heads+mlps", "heads+neurons")


@dataclass(frozen=True)
class Faithfulness(Saveable):
    """Metric of the circuit (every other component mean-ablated) against the full model.

    Attributes:
        circuit: the kept components.
        full: mean metric of the full model on the clean prompts.
        circuit_value: the same with every component outside the circuit mean-ablated.
        ablated: the same with every component mean-ablated (the floor).
        ratio: ``circuit_value / full`` (the raw ratio, Nikankin et al.'s form).
        normalized: ``(circuit_value - ablated) / (full - ablated)``: the share of the gap
            between the all-ablated floor and the full model that the circuit recovers.
        ablate: which components a circuit is chosen from (the rest are ablated):
            ``"heads"`` (MLPs always kept), ``"heads+mlps"`` or ``"heads+neurons"``.
        ablation: the ablation distribution, in words.
    """

    circuit: list[Component]
    full: float
    circuit_value: float
    ablated: float
    ratio: float
    normalized: float
    ablate: str
    ablation: str

    def __post_init__(self) -> None:  # members come back from JSON as lists
        object.__setattr__(self, "circuit", [tuple(c) for c in self.circuit])


def _check_circuit(model: TransformerBridge, circuit: list, ablate: str) -> list[Component]:
    """Heads as ``(layer, head)``, MLP layers as ``("mlp", layer)``, neurons as
    ``("mlp", layer, neuron)``; MLP members only where ``ablate`` ablates MLPs."""
    heads, mlps = [], []
    for x in circuit:
        if isinstance(x, (tuple, list)) and x and x[0] == "mlp":
            ok = len(x) in (2, 3) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in x[1:]
            )
            if not ok:
                raise ArithlensError(
                    f"circuit member {x!r} is invalid: expected ('mlp', layer) or "
                    "('mlp', layer, neuron)"
                )
            if ablate == "heads":
                raise ArithlensError(
                    f"circuit member {x!r} is an MLP but ablate='heads' keeps every MLP: pass "
                    "ablate='heads+mlps' or 'heads+neurons'"
                )
            if len(x) == 3 and ablate != "heads+neurons":
                raise ArithlensError(
                    f"circuit member {x!r} is a neuron: expected ablate='heads+neurons'"
                )
            d_mlp = getattr(model.cfg, "d_mlp", 0) or 0
            if not 0 <= x[1] < model.cfg.n_layers or (len(x) == 3 and not 0 <= x[2] < d_mlp):
                raise ArithlensError(
                    f"circuit member {x!r} does not exist: the model has layers "
                    f"0..{model.cfg.n_layers - 1} and MLP neurons 0..{d_mlp - 1}"
                )
            mlps.append(tuple(x))
        else:
            heads.append(x)
    return [*check_heads(model, heads), *mlps]


@torch.no_grad()
def faithfulness(
    model: TransformerBridge,
    pairs: Pairs | PairBatch,
    circuit: list[Component],
    *,
    metric: str = "logit_diff",
    digits: str | int | list = "all",
    ablate: Ablate = "heads",
) -> Faithfulness:
    """Mean-ablate every component outside ``circuit`` and compare with the full model and
    with everything ablated.

    Each ablated component's activation is replaced by its mean over the clean prompts of
    ``pairs``, position by position (heads at ``hook_z``, MLP layers at ``hook_mlp_out``,
    neurons at ``mlp.hook_post``).

    Example:
        >>> f = faithfulness(model, batch, [(0, 2), (0, 3), ("mlp", 0)], ablate="heads+mlps")  # doctest: +SKIP
        >>> f.normalized, f.ratio                                                              # doctest: +SKIP

    Args:
        circuit: heads ``(layer, head)``; with ``ablate="heads+mlps"`` also MLP layers
            ``("mlp", layer)``; with ``ablate="heads+neurons"`` also single neurons
            ``("mlp", layer, neuron)`` (``("mlp", layer)`` keeps all of a layer's neurons).
        ablate: ``"heads"`` (only heads are ablated; MLPs always kept), ``"heads+mlps"`` or
            ``"heads+neurons"``.
    """
    check_choice("ablate", ablate, ABLATE)
    circuit = _check_circuit(model, circuit, ablate)
    batch, met = prepare(pairs, metric, digits, model)
    L = model.cfg.n_layers
    znames = sites.layers("z", L)
    mname = {"heads+mlps": "mlp_out", "heads+neurons": "mlp_post"}
    mnames = sites.layers(mname[ablate], L) if ablate in mname else []
    if mnames and getattr(model.cfg, "attn_only", False):
        raise ArithlensError(f"ablate={ablate!r} needs MLPs: the model is attention-only")
    missing = [n for n in mnames if n not in model.hook_dict]
    if missing:
        raise ArithlensError(
            f"ablate={ablate!r} needs hook {missing[0]!r}, which this architecture does not expose"
        )
    names = znames + mnames
    logits, cache = model.run_with_cache(batch.clean.tokens, names_filter=lambda n: n in names)
    means = {n: cache[n].mean(0, keepdim=True) for n in names}

    def run(keep: set) -> float:
        hooks: sites.Hooks = []
        for layer, name in enumerate(znames):
            drop = torch.tensor([(layer, h) not in keep for h in range(cache[name].shape[2])])

            def hook(z: Tensor, hook: Any = None, name: str = name, drop: Tensor = drop):
                return torch.where(drop[None, None, :, None], means[name], z)

            hooks.append((name, hook))
        for layer, name in enumerate(mnames):
            if ("mlp", layer) in keep:
                continue
            width = cache[name].shape[-1]
            drop = torch.tensor([("mlp", layer, i) not in keep for i in range(width)])
            if ablate == "heads+mlps":
                drop = torch.ones(width, dtype=torch.bool)

            def mlp_hook(a: Tensor, hook: Any = None, name: str = name, drop: Tensor = drop):
                return torch.where(drop, means[name], a)

            hooks.append((name, mlp_hook))
        return float(met(model.run_with_hooks(batch.clean.tokens, fwd_hooks=hooks)).mean())

    full = float(met(logits).mean())
    value, floor = run(set(circuit)), run(set())
    gap = full - floor
    return Faithfulness(
        circuit,
        full,
        value,
        floor,
        value / full if full else float("nan"),
        (value - floor) / gap if gap else float("nan"),
        ablate,
        f"mean over the {len(batch)} clean prompts, per position",
    )
