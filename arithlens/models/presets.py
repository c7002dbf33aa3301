"""Named model shapes, and building a TransformerBridge for a task from one.

Every arithlens model is a ``transformer_lens.TransformerBridge`` booted natively from a
``TransformerBridgeConfig``, so hooks, ``run_with_cache`` and ``transformer_lens.patching``
work on it unchanged. The task (and, once trained, the training record) ride along as
attributes: ``model.task``, ``model.spec``, ``model.record``.

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> model = build_model("2L", TaskSpec(op="add", n_digits=3), seed=0)
    >>> model.cfg.n_layers, model.task.name
    (2, 'add3-reversed')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import transformer_lens.model_bridge.sources.native  # noqa: F401  (registers boot_native)
from transformer_lens.config import TransformerBridgeConfig
from transformer_lens.model_bridge import TransformerBridge

from arithlens._records import from_dict
from arithlens.contract import attach
from arithlens.errors import ArithlensError, check_choice, check_float, check_int
from arithlens.models import positions
from arithlens.tasks import AnyTask, max_length
from arithlens.tokens.tokenizer import DEFAULT_VOCAB, vocab_for

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


PRESETS: dict[str, dict[str, Any]] = {
    # Quirke & Barez-like: one layer, three heads (narrower than their d_model 510).
    "1L": dict(n_layers=1, d_model=192, n_heads=3, d_head=64, d_mlp=768),
    "2L": dict(n_layers=2, d_model=128, n_heads=4, d_head=32, d_mlp=512),
    "3L": dict(n_layers=3, d_model=128, n_heads=4, d_head=32, d_mlp=512),
    # Deeper model for multiplication.
    "4L": dict(n_layers=4, d_model=128, n_heads=4, d_head=32, d_mlp=512),
}


def preset_spec(
    preset: str,
    task: AnyTask,
    *,
    seed: int = 0,
    vocab_size: int | None = None,
    positional: str = "standard",
    n_ctx: int | None = None,
    position_range: int | None = None,
) -> ModelSpec:
    """The :class:`ModelSpec` of ``preset`` with ``positional`` position encodings and a
    context of ``n_ctx`` tokens (default: ``task``'s longest sequence; more, to evaluate the
    model on wider operands than it is trained on)."""
    check_choice("preset", preset, tuple(PRESETS))
    check_int("seed", seed, minimum=0)
    need = max_length(task)
    if n_ctx is not None and check_int("n_ctx", n_ctx, minimum=1) < need:
        raise ArithlensError(
            f"n_ctx={n_ctx} is shorter than task {task.name}'s {need} tokens: expected at least {need}"
        )
    return ModelSpec(
        **PRESETS[preset],
        n_ctx=need if n_ctx is None else n_ctx,
        d_vocab=len(vocab_for(task.format)) if vocab_size is None else vocab_size,
        seed=seed,
        positional=positional,
        position_range=position_range,
    )


def boot(
    spec: ModelSpec, task: AnyTask, *, device: str | torch.device | None = None
) -> TransformerBridge:
    """Boot a freshly initialized TransformerBridge from ``spec``, with ``task`` attached."""
    need = max_length(task)
    if need > spec.n_ctx:
        raise ArithlensError(
            f"task {task.name} needs sequences of {need} tokens but the model's context "
            f"n_ctx={spec.n_ctx} is shorter"
        )
    if spec.positional in positions.SCHEMES:
        positions.check_scheme(spec.positional, task)
    model = TransformerBridge.boot_native(spec.bridge_config(), device=device)  # type: ignore[attr-defined]  # added by transformer_lens at import
    if spec.positional in positions.SCHEMES:
        positions.install(model, spec.positional, limit=spec.position_range)
    model.eval()  # analyses expect eval mode; train() switches to training mode itself
    return attach(model, task=task, spec=spec, record=None)


def build_model(
    preset: str,
    task: AnyTask,
    *,
    seed: int = 0,
    positional: str = "standard",
    n_ctx: int | None = None,
    position_range: int | None = None,
) -> TransformerBridge:
    """A randomly initialized model of ``preset`` for ``task`` (deterministic in ``seed``), with
    ``positional`` position encodings (:data:`POSITIONALS`) and a context of ``n_ctx`` tokens
    (default: the task's longest sequence; e.g. ``max_length(wider_task)`` to evaluate it on
    wider operands with :func:`arithlens.length_generalization`); ``position_range`` bounds
    the random ids of ``"randomized"`` and ``"abacus"`` (:class:`ModelSpec`).

    Example:
        >>> from arithlens.tasks import TaskSpec
        >>> build_model("1L", TaskSpec(op="add", n_digits=2), positional="rotary").cfg.positional_embedding_type
        'rotary'
    """
    spec = preset_spec(
        preset, task, seed=seed, positional=positional, n_ctx=n_ctx, position_range=position_range
    )
    return boot(spec, task)
