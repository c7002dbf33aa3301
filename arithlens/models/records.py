"""Pure data about a model, saved beside its weights: its architecture (:class:`ModelSpec`) and
what happened when arithlens trained it (:class:`TrainRecord`). The model contract
(:mod:`arithlens.models.contract`) names these types; building and training import them.

Example:
    >>> ModelSpec(n_layers=1, d_model=8, n_heads=2, d_head=4, d_mlp=16).bridge_config().n_heads
    2
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from transformer_lens.config import TransformerBridgeConfig

from arithlens._records import from_dict
from arithlens.errors import ArithlensError, check_choice, check_float, check_int
from arithlens.models import positions
from arithlens.tokens.tokenizer import DEFAULT_VOCAB

ACT_FNS = ("gelu", "gelu_new", "gelu_fast", "relu", "silu", "solu_ln")
POSITIONALS = ("standard", "rotary", *positions.SCHEMES)
"""Position encodings a model can be built with (:attr:`ModelSpec.positional`)."""


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything needed to rebuild a model's architecture (saved in every checkpoint).

    Attributes:
        n_layers: transformer blocks.
        d_model: residual stream width.
        n_heads: attention heads per layer.
        d_head: width of each head.
        d_mlp: MLP hidden width (ignored when ``attn_only``).
        act_fn: MLP activation (``gelu``, ``relu``, ...).
        normalization_type: ``"LN"``, ``"LNPre"``, ``"RMS"`` or None.
        attn_only: no MLPs.
        n_ctx: context length (longest sequence the model accepts).
        d_vocab: vocabulary size.
        seed: initialization seed.
        eps: the normalization layers' epsilon (1e-5; 1e-8 for the tiny adders' RMSNorm).
        positional: ``"standard"`` (learned absolute position embeddings), ``"rotary"``
            (rotary embeddings of the queries and keys, base ``rotary_base``; no position
            embedding), or a learned table read at other ids (:mod:`arithlens.models.positions`):
            ``"nope"`` (no position information), ``"randomized"`` (Ruoss et al. 2023: ordered
            random ids from ``0..n_ctx-1``) or ``"abacus"`` (McLeish et al. 2024: a digit's
            place in its number, randomly offset in training; reversed format only).
        rotary_base: the rotary frequencies' base (``"rotary"`` only).
        position_range: ``"randomized"`` and ``"abacus"``: training draws position ids below
            this (default ``n_ctx``, the whole table); fewer ids train each one more often.
    """

    n_layers: int
    d_model: int
    n_heads: int
    d_head: int
    d_mlp: int
    act_fn: str = "gelu"
    normalization_type: str | None = "LN"
    attn_only: bool = False
    n_ctx: int = 32
    d_vocab: int = len(DEFAULT_VOCAB)
    seed: int = 0
    eps: float = 1e-5
    positional: str = "standard"
    rotary_base: float = 10000.0
    position_range: int | None = None

    def __post_init__(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "d_head", "n_ctx", "d_vocab"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("d_mlp", self.d_mlp, minimum=0 if self.attn_only else 1)
        check_int("seed", self.seed, minimum=0)
        check_float("eps", self.eps, above=0)
        check_choice("positional", self.positional, POSITIONALS)
        check_float("rotary_base", self.rotary_base, above=1)
        if self.position_range is not None:
            check_int("position_range", self.position_range, minimum=2, maximum=self.n_ctx)
        check_choice("act_fn", self.act_fn, ACT_FNS)
        if self.normalization_type is not None:
            check_choice("normalization_type", self.normalization_type, ("LN", "LNPre", "RMS"))
        if not isinstance(self.attn_only, bool):
            raise ArithlensError(f"attn_only={self.attn_only!r} is invalid: expected a boolean")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        """Inverse of :meth:`to_dict`; names unknown keys."""
        return from_dict(cls, d, "model spec")

    def bridge_config(self) -> TransformerBridgeConfig:
        """The TransformerLens config for this spec."""
        return TransformerBridgeConfig(
            d_model=self.d_model,
            d_head=self.d_head,
            n_layers=self.n_layers,
            n_ctx=self.n_ctx,
            n_heads=self.n_heads,
            d_mlp=self.d_mlp,
            d_vocab=self.d_vocab,
            act_fn=self.act_fn,
            normalization_type=self.normalization_type,
            attn_only=self.attn_only,
            seed=self.seed,
            eps=self.eps,
            positional_embedding_type="rotary" if self.positional == "rotary" else "standard",
            rotary_base=self.rotary_base,
            default_prepend_bos=False,
        )


@dataclass(kw_only=True)
class TrainRecord:
    """What happened during training (saved with the model).

    Attributes:
        config: the TrainConfig as a dict.
        train_loss: mean completion loss per step.
        eval_steps: steps at which the held-out set was scored.
        eval_exact: held-out exact match at each eval step.
        eval_digit_acc: per answer digit (0 = units) accuracy at each eval step.
        eval_digit_loss: per answer digit loss at each eval step.
        wall_s: training wall time in seconds.
        final: final metrics (filled by evaluation, e.g. by the zoo builder).
    """

    config: dict[str, Any]
    train_loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_exact: list[float] = field(default_factory=list)
    eval_digit_acc: list[list[float]] = field(default_factory=list)
    eval_digit_loss: list[list[float]] = field(default_factory=list)
    wall_s: float = 0.0
    final: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def learned_at(self, threshold: float = 0.95) -> list[int | None]:
        """Per answer digit (0 = units), the first evaluated step from which its held-out
        accuracy stays >= ``threshold`` (None if it never does): where its phase change ended.

        Example:
            >>> r = TrainRecord(config={}, eval_steps=[10, 20, 30],
            ...                 eval_digit_acc=[[0.5, 0.1], [0.99, 0.2], [0.98, 0.97]])
            >>> r.learned_at()
            [20, 30]
        """
        acc = np.asarray(self.eval_digit_acc, dtype=float).reshape(len(self.eval_steps), -1)
        out: list[int | None] = []
        for k in range(acc.shape[1]):
            below = np.nonzero(acc[:, k] < threshold)[0]
            first = 0 if len(below) == 0 else int(below[-1]) + 1
            out.append(self.eval_steps[first] if first < len(self.eval_steps) else None)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainRecord:
        """Inverse of :meth:`to_dict`; names unknown and missing keys."""
        return from_dict(cls, d, "training record")
