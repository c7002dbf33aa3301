"""Checkpoints: a folder with ``model.safetensors`` and one ``arithlens.json``.

The JSON holds the model spec, the task spec, the vocabulary, the training record and the
arithlens version. Nothing is ever pickled. Folders are written atomically (built in a
temporary sibling, then renamed), so a crash never leaves a half-written checkpoint.

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> from arithlens.models import build_model
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "m"
    >>> _ = save(build_model("2L", TaskSpec(op="add", n_digits=2)), folder)
    >>> load(folder).task.name
    'add2-reversed'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformer_lens.model_bridge import TransformerBridge

from arithlens._atomic import write_dir
from arithlens.errors import ArithlensError
from arithlens.models.contract import any_task_of, attach, record_of, spec_of
from arithlens.models.presets import boot
from arithlens.models.records import ModelSpec, TrainRecord
from arithlens.tasks import task_from_dict
from arithlens.tokens.tokenizer import DEFAULT_VOCAB, vocab_for
from arithlens.version import __version__

WEIGHTS = "model.safetensors"
META = "arithlens.json"
FORMAT_VERSION = 1


def _version_tuple(v: Any) -> tuple[int, ...]:
    try:
        if not isinstance(v, str):
            raise ValueError
        return tuple(int(x) for x in v.split(".")[:3])
    except ValueError:
        raise ArithlensError(
            f"arithlens_version {v!r} is not a version like '0.1.0' (a string)"
        ) from None


def metadata(model: TransformerBridge, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON content saved next to ``model``'s weights."""
    record = record_of(model)
    return {
        "arithlens_version": __version__,
        "format_version": FORMAT_VERSION,
        "model": model.spec.to_dict(),
        "task": model.task.to_dict(),
        "vocab": vocab_for(model.task.format),
        "record": record.to_dict() if record is not None else None,
        **(extra or {}),
    }


def save(
    model: TransformerBridge,
    folder: str | Path,
    *,
    extra: dict[str, Any] | None = None,
    card: str | None = None,
) -> Path:
    """Save ``model`` (weights, spec, task, record) to ``folder`` atomically.

    Args:
        model: a model built by arithlens (has ``.spec`` and ``.task``).
        folder: target folder; replaced as a whole if it exists.
        extra: more JSON-ready keys to store (e.g. measured accuracy).
        card: optional model card text, written as ``README.md``.
    """
    if spec_of(model) is None:
        raise ArithlensError("model has no .spec/.task: only arithlens-built models can be saved")
    any_task_of(model)  # raises if no task is attached
    meta = metadata(model, extra)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}

    def fill(tmp: Path) -> None:
        save_file(state, str(tmp / WEIGHTS))
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if card is not None:
            (tmp / "README.md").write_text(card, encoding="utf-8")

    return write_dir(folder, fill)


def read_metadata(folder: str | Path) -> dict[str, Any]:
    """Read and check ``arithlens.json`` (presence, JSON syntax, version)."""
    folder = Path(folder)
    path = folder / META
    if not folder.is_dir():
        raise ArithlensError(f"checkpoint folder {str(folder)!r} does not exist")
    if not path.is_file():
        raise ArithlensError(f"checkpoint {str(folder)!r} is missing {META}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArithlensError(f"{str(path)!r} is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise ArithlensError(f"{str(path)!r} holds a {type(meta).__name__}: expected an object")
    for key in ("arithlens_version", "model", "task"):
        if key not in meta:
            raise ArithlensError(f"{str(path)!r} lacks the key {key!r}")
    try:
        version = _version_tuple(meta["arithlens_version"])
    except ArithlensError as e:
        raise ArithlensError(f"{str(path)!r}: {e}") from None
    if version > _version_tuple(__version__):
        raise ArithlensError(
            f"{str(path)!r} was written by arithlens {meta['arithlens_version']}, newer than the "
            f"installed {__version__}: upgrade arithlens to load it"
        )
    fmt = meta.get("format_version", FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        raise ArithlensError(
            f"{str(path)!r} has format_version={fmt!r}: this arithlens reads format_version="
            f"{FORMAT_VERSION}"
        )
    task = meta.get("task")
    try:
        fmt = task_from_dict(task).format if isinstance(task, dict) else None
    except ArithlensError as e:
        raise ArithlensError(f"{str(path)!r}: {e}") from None
    expected = vocab_for(fmt) if isinstance(fmt, str) else DEFAULT_VOCAB
    vocab = meta.get("vocab", expected)
    if vocab != expected:
        raise ArithlensError(
            f"{str(path)!r} has vocab={vocab!r} but the character tokenizer's vocabulary is "
            f"{expected!r}: the weights would read other tokens"
        )
    return meta


def _read_weights(folder: Path) -> dict[str, torch.Tensor]:
    path = folder / WEIGHTS
    if not path.is_file():
        raise ArithlensError(f"checkpoint {str(folder)!r} is missing {WEIGHTS}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ArithlensError(f"{str(path)!r} is corrupted or truncated: {e}") from None


def load(folder: str | Path, *, device: str | torch.device | None = None) -> TransformerBridge:
    """Load a checkpoint folder as a TransformerBridge with ``.task``, ``.spec``, ``.record``."""
    folder = Path(folder)
    meta = read_metadata(folder)
    try:
        spec = ModelSpec.from_dict(meta["model"])
        task = task_from_dict(meta["task"])
        record = TrainRecord.from_dict(meta["record"]) if meta.get("record") else None
    except ArithlensError as e:
        raise ArithlensError(f"{str(folder / META)!r}: {e}") from None
    state = _read_weights(folder)
    model = boot(spec, task, device=device)
    expected = model.state_dict()
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        raise ArithlensError(
            f"{str(folder / WEIGHTS)!r} does not match its config: missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]}"
        )
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise ArithlensError(
                f"{str(folder / WEIGHTS)!r}: tensor {name!r} has shape {tuple(tensor.shape)}, "
                f"expected {tuple(expected[name].shape)} from {META}"
            )
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            bad = int((~torch.isfinite(tensor)).sum())
            raise ArithlensError(
                f"{str(folder / WEIGHTS)!r}: tensor {name!r} holds {bad} NaN or infinite values"
            )
    model.load_state_dict(state)
    model.eval()
    return attach(model, record=record, meta=meta)
