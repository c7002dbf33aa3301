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
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformer_lens.model_bridge import TransformerBridge

from arithlens._atomic import write_file, write_text
from arithlens.errors import ArithlensError
from arithlens.version import __version__

CHUNK = 1 << 24  # bytes hashed at a time (bounded memory on multi-GB models)


def _hash_tensor(h: Any, t: torch.Tensor) -> None:
    """Feed every byte of ``t`` (its dtype, shape and values) to ``h``, in chunks."""
    t = t.detach()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    flat = t.reshape(-1)
    if flat.dtype == torch.bfloat16:  # numpy has no bfloat16: hash its raw 16-bit pattern
        flat = flat.view(torch.int16)
    step = max(1, CHUNK // max(1, flat.element_size()))
    for i in range(0, flat.numel(), step):
        h.update(flat[i : i + step].cpu().contiguous().numpy().tobytes())


def fingerprint(model: TransformerBridge, tokens: list[torch.Tensor], **settings: Any) -> str:
    """A SHA-256 of every weight of ``model`` (all values, names, shapes, dtypes), the prompt
    tokens, the settings and the arithlens version: any change to any of them gives another
    fingerprint.

    Example:
        >>> import torch
        >>> m = torch.nn.Linear(2, 2)
        >>> a = fingerprint(m, [torch.zeros(1, 3)], metric="logit_diff")
        >>> with torch.no_grad():
        ...     m.weight[1, 1] += 1e-3
        >>> a == fingerprint(m, [torch.zeros(1, 3)], metric="logit_diff")
        False
    """
    payload = {"arithlens_version": __version__, **settings}
    h = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
    for t in tokens:
        _hash_tensor(h, t)
    _hash_weights(h, model)
    return h.hexdigest()[:32]


def weights_fingerprint(model: TransformerBridge) -> str:
    """A SHA-256 of every weight of ``model`` alone (names, shapes, dtypes, values): what a
    saved result checks to refuse another model.

    Example:
        >>> import torch
        >>> weights_fingerprint(torch.nn.Linear(2, 2)) == weights_fingerprint(torch.nn.Linear(2, 2))
        False
    """
    h = hashlib.sha256(b"weights")
    _hash_weights(h, model)
    return h.hexdigest()[:32]


def _hash_weights(h: Any, model: TransformerBridge) -> None:
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        _hash_tensor(h, p)


class SweepStore:
    """Per-layer results of one sweep in ``folder``."""

    def __init__(self, folder: str | Path, key: str) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ArithlensError(
                f"resume_dir {self.folder} cannot be used as a folder ({type(e).__name__}: "
                f"{e.strerror or e}): expected a folder path that is not a file"
            ) from None
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
        """The stored values of ``layer``, or None when it is not done yet."""
        path = self._path(layer)
        if not path.exists():
            return None
        try:
            return load_file(str(path))["values"]
        except (SafetensorError, OSError, KeyError, ValueError) as e:
            raise ArithlensError(
                f"{path} is truncated or corrupted ({type(e).__name__}: {e}): delete it to "
                "recompute that layer"
            ) from None

    def put(self, layer: int, values: torch.Tensor) -> None:
        data = {"values": values.contiguous().clone()}
        write_file(self._path(layer), lambda tmp: save_file(data, str(tmp)))
