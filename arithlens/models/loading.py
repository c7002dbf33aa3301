"""One entry point to get a model: a zoo name, an arithlens checkpoint folder, a Hugging Face
Hub id or a local Hugging Face folder.

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")                                  # doctest: +SKIP
    >>> model = al.load("runs/add3")                                # doctest: +SKIP
    >>> model = al.load("gpt2", template="{a}+{b}=", shots=3)       # doctest: +SKIP
    >>> model = al.load("meta-llama/Llama-3.2-1B", dtype="bfloat16", offline=True)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models import checkpoint, zoo


def load(
    name_or_path: str | Path,
    *,
    device: str | torch.device | None = None,
    source: str | None = None,
    **pretrained: Any,
) -> TransformerBridge:
    """The one way to load a model: a zoo name (``"add3-2L"``), an arithlens checkpoint folder
    (``arithlens.json`` + safetensors), a Hugging Face Hub id or a local Hugging Face folder
    (``config.json``). Every model comes back as a ``TransformerBridge`` with its task and
    encoder attached (:mod:`arithlens.contract`). With ``source=`` (``"hooked"``, ``"nanogpt"``,
    ``"adder"``) the file is a model trained elsewhere, converted by
    :func:`arithlens.models.imports.convert` (``task``, ``vocab``, ``config``).

    For Hugging Face models ``pretrained`` goes to
    :func:`arithlens.models.hf.load_pretrained` (``task``, ``template``, ``shots``, ``dtype``,
    ``device_map``, ``offline``, ...); an arithlens model takes none of them."""
    s = str(name_or_path)
    path = Path(s).expanduser()
    if source is not None:  # a model trained elsewhere: see arithlens.models.imports
        from arithlens.models.imports import convert

        return convert(path, source, device=device, **pretrained)
    if s in zoo.STAND_INS:  # a Hugging Face folder trained here, with its default prompts
        from arithlens.models.hf import load_pretrained

        options = {**zoo.STAND_INS[s].prompts(), **pretrained}
        return load_pretrained(zoo.folder(s), device=device, **options)
    native = s in zoo.RECIPES or (path / "arithlens.json").is_file()
    if native and pretrained:
        raise ArithlensError(
            f"options {sorted(pretrained)} apply to Hugging Face models, not to arithlens model {s!r}"
        )
    if s in zoo.RECIPES:
        return checkpoint.load(zoo.folder(s), device=device)
    if (path / "arithlens.json").is_file():
        return checkpoint.load(path, device=device)
    if path.is_dir() and not (path / "config.json").is_file():
        raise ArithlensError(
            f"folder {s!r} holds neither an arithlens checkpoint (arithlens.json) nor a Hugging "
            f"Face model (config.json); zoo models are {zoo.names()}"
        )
    from arithlens.models.hf import load_pretrained

    return load_pretrained(s, device=device, **pretrained)
