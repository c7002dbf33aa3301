"""Saving any result dataclass: its tensors and arrays to safetensors, the rest to JSON.

:class:`Saveable` gives a frozen dataclass ``save(folder)`` and ``load(folder)``: every
``torch.Tensor`` or ``numpy`` array field goes to ``result.safetensors`` (arrays come back as
arrays of the same dtype), so does a field holding a ``dict`` of tensors (non-empty); problems of
any family (a :class:`~arithlens.tasks.ProblemSet`) go to JSON as their ``to_record()``, and every
other field to
``result.json`` (a field annotated ``tuple[...]`` comes back as a tuple; tuples nested inside
other values come back as lists unless the class restores them in ``__post_init__``). Written atomically, like every arithlens folder.

Example:
    >>> kh.save("out/key_heads"); KeyHeads.load("out/key_heads")     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from arithlens._atomic import write_dir
from arithlens.errors import ArithlensError
from arithlens.tasks import ProblemSet, problems_from_record

S = TypeVar("S", bound="Saveable")


def read_saved(folder: str | Path, stem: str, what: str) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors of ``<stem>.safetensors`` and the JSON of ``<stem>.json`` in ``folder``;
    an :class:`ArithlensError` naming the folder and ``what`` was expected if either is
    missing or unreadable."""
    folder = Path(folder)
    try:
        arrays = load_file(str(folder / f"{stem}.safetensors"))
        info = json.loads((folder / f"{stem}.json").read_text())
    except (OSError, ValueError) as e:
        raise ArithlensError(f"{folder} is not a saved {what}: {e}") from None
    return arrays, info


class Saveable:
    """Mixin for frozen result dataclasses: ``save`` and ``load`` (see the module docstring).
    ``SAVED_AS`` names the kind of result in the error for a folder that holds none."""

    SAVED_AS: ClassVar[str] = "result"

    def save(self, folder: str | Path) -> Path:
        """Write ``result.safetensors`` + ``result.json`` to ``folder`` atomically."""
        arrays: dict[str, torch.Tensor] = {}
        info: dict[str, Any] = {
            "class": type(self).__name__,
            "numpy": [],
            "problem_sets": {},
            "tensor_dicts": [],
        }
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, torch.Tensor):
                arrays[f.name] = value.detach().cpu().contiguous()
            elif isinstance(value, np.ndarray):
                arrays[f.name] = torch.from_numpy(np.ascontiguousarray(value))
                info["numpy"].append(f.name)
            elif _tensor_dict(value):
                arrays |= {f"{f.name}.{k}": v.detach().cpu().contiguous() for k, v in value.items()}
                info["tensor_dicts"].append(f.name)
            elif isinstance(value, ProblemSet):  # problems of any family: JSON records
                info["problem_sets"][f.name] = value.to_record()
            else:
                fields[f.name] = value
        info["fields"] = fields
        text = json.dumps(info, indent=1, default=_plain)

        def fill(tmp: Path) -> None:
            save_file(arrays, str(tmp / "result.safetensors"))
            (tmp / "result.json").write_text(text)

        return write_dir(folder, fill)

    @classmethod
    def load(cls: type[S], folder: str | Path) -> S:
        """Read a result written by :meth:`save`."""
        arrays, info = read_saved(folder, "result", cls.SAVED_AS)
        if info.get("class") != cls.__name__:
            raise ArithlensError(
                f"{folder} holds a {info.get('class')!r}: expected a saved {cls.__name__}"
            )
        values: dict[str, Any] = dict(info["fields"])
        for name, record in info.get("problem_sets", {}).items():
            values[name] = problems_from_record(record)
        for name, task in info.get("problems", {}).items():  # folders of arithlens <= 0.1.0
            a, b = arrays.pop(f"{name}.a").numpy(), arrays.pop(f"{name}.b").numpy()
            values[name] = problems_from_record({"task": task, "a": a, "b": b})
        for name, saved in info.get("numeracy", {}).items():  # likewise
            values[name] = problems_from_record(saved)
        for name in info.get("tensor_dicts", []):
            prefix = f"{name}."
            values[name] = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            arrays = {k: v for k, v in arrays.items() if not k.startswith(prefix)}
        for name, tensor in arrays.items():
            values[name] = tensor.numpy() if name in info["numpy"] else tensor
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if str(f.type).startswith("tuple") and isinstance(values.get(f.name), list):
                values[f.name] = tuple(values[f.name])  # JSON gives lists back
        return cls(**values)


def _tensor_dict(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def _plain(value: Any) -> Any:
    """JSON for numpy scalars (the rest of a result's fields are JSON already)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
