"""Resumable sweeps: each finished layer of a patching sweep is written to disk at once, so an
interrupted sweep (a long run on a large model) restarts where it stopped.

A folder holds ``sweep.json`` (a fingerprint of the model, the prompts and the settings) and one
``layer_<L>.safetensors`` per finished layer, each written to a temporary file and renamed. A
folder that holds a different sweep is refused rather than mixed in.

Example:
    >>> res = activation_patch(model, batch, "z", resume_dir="runs/z_sweep")   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from arithlens._atomic import write_file, write_text
from arithlens.errors import ArithlensError


def fingerprint(model, tokens: list[torch.Tensor], **settings) -> str:
    """A hash of the model's weights' shapes and a sample of their values, the prompts, and the
    settings."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for t in tokens:
        h.update(t.cpu().numpy().tobytes())
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode() + str(tuple(p.shape)).encode())
        h.update(p.detach().flatten()[:64].float().cpu().numpy().tobytes())
    return h.hexdigest()[:32]


class SweepStore:
    """Per-layer results of one sweep in ``folder``."""

    def __init__(self, folder: str | Path, key: str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "sweep.json"
        if meta.exists():
            old = json.loads(meta.read_text()).get("key")
            if old != key:
                raise ArithlensError(
                    f"resume_dir {self.folder} holds a different sweep (fingerprint {old}, this "
                    f"one {key}): use another folder or delete it"
                )
        else:
            write_text(meta, json.dumps({"key": key}))

    def _path(self, layer: int) -> Path:
        return self.folder / f"layer_{layer}.safetensors"

    def get(self, layer: int) -> torch.Tensor | None:
        path = self._path(layer)
        return load_file(str(path))["values"] if path.exists() else None

    def put(self, layer: int, values: torch.Tensor) -> None:
        data = {"values": values.contiguous().clone()}
        write_file(self._path(layer), lambda tmp: save_file(data, str(tmp)))
