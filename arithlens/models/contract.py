"""The model contract: what arithlens attaches to a ``TransformerBridge``, in one place.

A model arithlens can analyse carries, besides its weights: the task it solves (``task``), the
encoder that turns problems into its tokens (``encoder``; the character encoder of ``task`` when
unset), and where known its architecture spec (``spec``, arithlens-built models), its training
record (``record``), the folder it was loaded from (``source``, Hugging Face models) and the
metadata of the checkpoint it was read from (``meta``). They
are set only by :func:`attach` and read only through the accessors below, so the contract is
declared once; users read them as ``model.task`` and so on.

Example:
    >>> from arithlens.tasks import AnyTask, TaskSpec
    >>> from arithlens.models import build_model
    >>> model = build_model("1L", TaskSpec(op="add", n_digits=3))
    >>> task_of(model).name, spec_of(model).n_layers, record_of(model)
    ('add3-reversed', 1, None)
"""

from __future__ import annotations

from typing import Any, Protocol, cast, runtime_checkable

from transformer_lens.model_bridge import TransformerBridge
from transformer_lens.model_bridge.sources.native.model import NativeModel

from arithlens.errors import ArithlensError
from arithlens.models.records import ModelSpec, TrainRecord
from arithlens.tasks import AnyTask, TaskFamily, TaskSpec, has
from arithlens.tokens.encoders import CharEncoder, Encoder

_KEEP: Any = object()


def attach(
    model: TransformerBridge,
    *,
    task: AnyTask | None = _KEEP,
    encoder: Any = _KEEP,
    spec: ModelSpec | None = _KEEP,
    record: TrainRecord | None = _KEEP,
    source: str | None = _KEEP,
    meta: dict | None = _KEEP,
) -> TransformerBridge:
    """Set the given contract fields on ``model`` (the others are left as they are); an
    ``encoder`` also sets ``task`` to its task. Returns ``model``."""
    if encoder is not _KEEP and encoder is not None:
        if task is not _KEEP and task is not None and task != encoder.task:
            raise ArithlensError(
                f"task {task.name} differs from the encoder's task {encoder.task.name}"
            )
        task = encoder.task
    if task is not _KEEP and task is not None and not isinstance(task, TaskFamily):
        raise ArithlensError(
            f"task is a {type(task).__name__}: expected arithlens.tasks.TaskSpec, SortSpec or "
            "NumeracySpec"
        )
    given = dict(task=task, encoder=encoder, spec=spec, record=record, source=source, meta=meta)
    for name, value in given.items():
        if value is not _KEEP:
            setattr(model, name, value)
    return model


def task_of(model: TransformerBridge) -> TaskSpec:
    """The arithmetic task ``model`` solves; raises if nothing was attached, or if the model
    sorts (see :func:`any_task_of`)."""
    task = any_task_of(model)
    if not has(task, "carries"):
        raise ArithlensError(
            f"model solves {task.name}, a {task.family} task: this analysis needs an arithmetic "
            "task (sorting and numeracy models take length_generalization, text_scores, their "
            "probes and the attention views; numeracy models also patching of numeracy_pairs, "
            "lens.trace and the ProblemExplorer)"
        )
    return cast(TaskSpec, task)


def any_task_of(model: TransformerBridge) -> AnyTask:
    """The task ``model`` solves, of any family; raises if nothing was attached."""
    task = getattr(model, "task", None)
    if not isinstance(task, TaskFamily):
        raise ArithlensError(
            "model has no task: load it with arithlens.load (zoo name, checkpoint folder, or a "
            "Hugging Face model with a prompt template)"
        )
    return cast(AnyTask, task)


def spec_of(model: TransformerBridge) -> ModelSpec | None:
    """The arithlens architecture spec (None for Hugging Face models)."""
    return getattr(model, "spec", None)


def record_of(model: TransformerBridge) -> TrainRecord | None:
    """The training record (None when the model was not trained by arithlens)."""
    return getattr(model, "record", None)


def source_of(model: TransformerBridge) -> str | None:
    """The folder a Hugging Face model was loaded from (None otherwise)."""
    return getattr(model, "source", None)


def attached_encoder(model: TransformerBridge) -> Any:
    """The encoder attached to ``model`` (None when it uses its task's character encoder)."""
    return getattr(model, "encoder", None)


def is_native(model: TransformerBridge) -> bool:
    """Whether ``model`` is a native arithlens model (``TransformerBridge.boot_native``), whose
    blocks can be run one by one from a cached residual."""
    return isinstance(getattr(model, "original_model", None), NativeModel)


def check_task(
    model: TransformerBridge, task: AnyTask, what: str = "problems", *, any_width: bool = False
) -> Encoder:
    """The model's encoder, after checking that ``what`` (of ``task``) is of the model's task
    (with ``any_width``, operands may have another number of digits: length generalization).

    Example:
        >>> from arithlens.models import build_model
        >>> model = build_model("1L", TaskSpec(op="add", n_digits=3))
        >>> check_task(model, TaskSpec(op="sub", n_digits=3))
        Traceback (most recent call last):
        ...
        arithlens.errors.ArithlensError: problems are of task sub3-reversed but the model solves add3-reversed: draw problems from model.task (al.tasks.sample(model.task, n)) or load a model of task sub3-reversed
    """
    enc = encoder_of(model)
    if not isinstance(task, TaskFamily):
        raise ArithlensError(
            f"{what} have task {task!r}: expected a task of arithlens.tasks (TaskSpec, "
            "SortSpec or NumeracySpec)"
        )
    same = task == enc.task or (any_width and enc.task.same_but_width(task))
    if not same:
        raise ArithlensError(
            f"{what} {'are' if what.endswith('s') else 'is'} of task {task.describe()} but the "
            f"model solves {enc.task.describe()}: "
            f"draw problems from model.task (al.tasks.sample(model.task, n)) or load a model of "
            f"task {task.describe()}"
        )
    return enc


def encoder_of(model: TransformerBridge) -> Encoder:
    """The model's encoder: ``model.encoder`` if set, else the character encoder of
    ``model.task``."""
    enc = attached_encoder(model)
    return enc if enc is not None else CharEncoder(any_task_of(model))


@runtime_checkable
class ArithmeticEncoder(Encoder, Protocol):
    """An encoder of an arithmetic task (what :func:`arithmetic_encoder` returns)."""

    @property
    def task(self) -> TaskSpec: ...


def arithmetic_encoder(model: TransformerBridge) -> ArithmeticEncoder:
    """:func:`encoder_of` for the analyses that need an arithmetic task (carries, digit
    places, cascade classes): a sorting or numeracy model raises, naming its family."""
    task_of(model)
    return cast(ArithmeticEncoder, encoder_of(model))
