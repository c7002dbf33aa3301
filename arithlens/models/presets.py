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

from typing import Any

import torch
import transformer_lens.model_bridge.sources.native  # noqa: F401  (registers boot_native)
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.models import positions
from arithlens.models.contract import attach
from arithlens.models.records import ModelSpec
from arithlens.tasks import AnyTask, max_length
from arithlens.tokens.tokenizer import vocab_for

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
