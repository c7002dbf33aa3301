"""Load a pretrained Hugging Face model as a TransformerBridge, with arithmetic prompts attached.

``load_pretrained`` accepts a Hub id (``gpt2``, ``EleutherAI/pythia-160m``,
``meta-llama/Llama-3.2-1B``) or a local folder. Offline (``offline=True`` or
``HF_HUB_OFFLINE=1``) a Hub id is resolved in the local cache only; when it is not there an
:class:`~arithlens.ArithlensError` names the model and the cache folder, and nothing is fetched.
The architecture is checked against TransformerBridge's supported list before any weights load.

Example:
    >>> model = load_pretrained("gpt2", template="{a}+{b}=", shots=3)     # doctest: +SKIP
    >>> model.encoder.sample(8)                                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models import zoo
from arithlens.models.contract import attach, source_of
from arithlens.tasks import TaskSpec
from arithlens.tokens.prompts import PromptBuilder

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Any one of these makes a folder's tokenizer loadable (fast JSON, BPE pair, SentencePiece,
# tiktoken).
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model", "spiece.model")


def load_tokenizer(folder: Path, tokenizer: Any = None) -> Any:
    """The tokenizer of ``folder`` (or ``tokenizer``: an object, or a folder holding one),
    checked: never an empty or silently substituted one.

    Raises:
        ArithlensError: naming the folder and the files it lacks, or a tokenizer that cannot
            write the digits 0-9.
    """
    from transformers import AutoTokenizer

    if tokenizer is None or isinstance(tokenizer, (str, Path)):
        where = Path(tokenizer).expanduser() if tokenizer is not None else folder
        if not where.is_dir():
            raise ArithlensError(f"tokenizer folder {str(where)!r} does not exist")
        found = [f for f in TOKENIZER_FILES if (where / f).is_file()] + [
            f.name for f in where.glob("*.tiktoken")
        ]
        if not found:
            raise ArithlensError(
                f"folder {str(where)!r} has no tokenizer files (expected one of "
                f"{list(TOKENIZER_FILES)} or a *.tiktoken file): copy the model's tokenizer "
                "there, or pass tokenizer= (a tokenizer object or a folder that holds one)"
            )
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(where))
        except (OSError, ValueError) as e:
            raise ArithlensError(
                f"the tokenizer in {str(where)!r} could not be loaded ({type(e).__name__}: "
                f"{str(e)[:200]})"
            ) from None
    ids = tokenizer("0123456789", add_special_tokens=False)["input_ids"]
    text = "".join(tokenizer.decode([i]) for i in ids)
    if len(tokenizer) < 10 or text != "0123456789":
        raise ArithlensError(
            f"tokenizer {type(tokenizer).__name__} (vocabulary of {len(tokenizer)}) does not "
            f"write the digits 0-9 back as they were ({text!r}): expected the model's own "
            "tokenizer"
        )
    return tokenizer


def _offline(offline: bool | None) -> bool:
    if offline is not None:
        return offline
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def resolve(name_or_path: str | Path, *, offline: bool | None = None) -> Path:
    """A local folder holding ``config.json`` for ``name_or_path`` (downloading only online)."""
    path = Path(name_or_path).expanduser()
    # a Hub id is "name" or "owner/name" ("meta-llama/Llama-3.2-1B": dots are allowed)
    text = str(name_or_path)
    looks_local = text.startswith((".", "/", "~")) or text.count("/") > 1 or "\\" in text
    if not path.exists() and looks_local:
        raise ArithlensError(
            f"folder {str(path)!r} does not exist (nor is it a zoo name: "
            f"{zoo.names()}, or a Hub id like 'gpt2' or 'EleutherAI/pythia-160m')"
        )
    if path.exists() and not path.is_dir():
        raise ArithlensError(f"{str(path)!r} is a file: expected a model folder")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ArithlensError(
                f"folder {path} has no config.json: expected a Hugging Face model folder"
            )
        return path
    from huggingface_hub import constants, snapshot_download

    name = str(name_or_path)
    if _offline(offline):
        try:
            return Path(snapshot_download(name, local_files_only=True))
        except Exception:
            raise ArithlensError(
                f"model {name!r} is not in the local Hugging Face cache {constants.HF_HUB_CACHE} "
                f"and no folder {str(path)!r} exists; offline mode is on (offline=True or HF_HUB_OFFLINE=1): download it once with "
                f"network access, or pass a local folder (zoo models: {zoo.names()})"
            ) from None
    try:
        return Path(
            snapshot_download(
                name,
                allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken"],
            )
        )
    except Exception as e:
        raise ArithlensError(
            f"no folder {str(path)!r} exists and model {name!r} could not be fetched from the "
            f"Hugging Face Hub ({type(e).__name__}: "
            f"{str(e)[:200]}); check the name, your network, or pass a local folder (zoo models: "
            f"{zoo.names()})"
        ) from None


def architecture(folder: Path) -> str:
    """The architecture named in ``folder/config.json``, checked against TransformerBridge."""
    from transformer_lens.factories.architecture_adapter_factory import SUPPORTED_ARCHITECTURES

    try:
        arch = json.loads((folder / "config.json").read_text())["architectures"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        raise ArithlensError(f"{folder / 'config.json'} names no architecture") from None
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ArithlensError(
            f"architecture {arch!r} ({folder}) is not supported by TransformerBridge "
            f"({len(SUPPORTED_ARCHITECTURES)} are, e.g. GPT2LMHeadModel, GPTNeoXForCausalLM, "
            "LlamaForCausalLM)"
        )
    return arch


def load_pretrained(
    name_or_path: str | Path,
    *,
    task: TaskSpec | None = None,
    template: str = "{a}{op}{b}=",
    shots: int = 0,
    operand_range: tuple[int, int] | None = None,
    dtype: str = "float32",
    device: str | torch.device | None = None,
    device_map: str | dict | None = None,
    n_devices: int | None = None,
    offline: bool | None = None,
    tokenizer: Any = None,
) -> TransformerBridge:
    """Boot a Hugging Face causal LM as a TransformerBridge with ``model.encoder`` (a
    :class:`PromptBuilder`) and ``model.task`` set, in eval mode.

    ``device_map`` / ``n_devices`` spread models larger than one device (TransformerBridge's
    accelerate dispatch); they exclude ``device``. ``tokenizer`` (an object or a folder)
    replaces the folder's own tokenizer, which must otherwise be present.
    """
    if dtype not in DTYPES:
        raise ArithlensError(f"dtype={dtype!r} is unknown: expected one of {list(DTYPES)}")
    folder = resolve(name_or_path, offline=offline)
    architecture(folder)
    tokenizer = load_tokenizer(folder, tokenizer)
    kwargs = dict(dtype=DTYPES[dtype], tokenizer=tokenizer)
    if device_map is not None or n_devices is not None:
        kwargs |= dict(device_map=device_map, n_devices=n_devices)
    else:
        kwargs["device"] = device
    model = TransformerBridge.boot_transformers(str(folder), **kwargs)
    model.eval()
    task = task or TaskSpec(op="add", n_digits=2, format="plain", pad=False)
    attach_prompts(
        model, PromptBuilder(tokenizer, task, template, shots, operand_range=operand_range)
    )
    return attach(model, source=str(folder), spec=None, record=None)


def attach_prompts(model: TransformerBridge, builder: PromptBuilder) -> None:
    """Use ``builder`` for this model's problems (``model.encoder``, ``model.task``)."""
    attach(model, encoder=builder)


def random_init(model: TransformerBridge, seed: int = 1) -> TransformerBridge:
    """The same Hugging Face architecture with freshly initialized weights (nothing is read but
    the config), with the same prompts attached."""
    source = source_of(model)
    if source is None:
        raise ArithlensError(
            "the random-init control needs an arithlens model (with .spec) or a model loaded "
            "with arithlens.load (with .source); otherwise pass controls=('majority', 'control_task')"
        )
    torch.manual_seed(seed)
    rand = TransformerBridge.boot_transformers(
        source, load_weights=False, tokenizer=model.encoder.tokenizer
    )
    rand.eval()
    attach_prompts(rand, model.encoder)
    rand.source = source
    return rand
