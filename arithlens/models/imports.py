"""Bring your own model: arithmetic transformers trained elsewhere, converted to arithlens models.

Three layouts are read, each with ``torch.load(weights_only=True)`` or safetensors (a file that
would need code unpickled is refused, never executed):

- ``"hooked"``: a HookedTransformer state dict (``embed.W_E``, ``blocks.0.attn.W_Q``, ...) and
  its config (``n_layers``, ``d_model``, ``n_heads``, ``d_head``, ``d_mlp``, ``n_ctx``,
  ``d_vocab``, ``act_fn``, ``normalization_type``, ``positional_embedding_type``), converted by
  transformer_lens's ``convert_tl_checkpoint``.
- ``"nanogpt"``: a nanoGPT ``ckpt.pt`` (``model`` with ``transformer.wte.weight``,
  ``transformer.h.{i}.attn.c_attn.weight`` ..., a ``_orig_mod.`` prefix allowed, and
  ``model_args``).
- ``"adder"``: a tiny low-rank adder (``model_state`` and ``model_config`` with ``pos_rank``,
  ``qkv_rank``, ``attn_out_rank``, ``ffn_rank``, ``use_rmsnorm``, ``tie_qkv``): low-rank
  products are multiplied out, tied K=V or Q=K projections written out per projection.

Every model becomes a native TransformerBridge that reads arithlens's own character tokens: the
embedding and unembedding rows are re-indexed from the source's vocabulary (``vocab``: the
source's token for each id, in id order, e.g. ``"0123456789+=_."`` for the adders, whose PAD
and EOS become arithlens's ``_`` and end mark ``.``); tokens of arithlens's vocabulary the
source lacks get an unembedding bias of ``-1e4`` (the model never predicts them). So
``evaluate``, patching, probes, the lens and the widgets work unchanged, and the model saves as an
arithlens checkpoint.

Example:
    >>> model = al.load("ckpt.pth", source="hooked", config="cfg.json",
    ...                 task=al.TaskSpec(op="add", n_digits=5), vocab="0123456789+=")  # doctest: +SKIP
    >>> model = al.load("adder.pt", source="adder", task=al.TaskSpec(op="add", n_digits=10))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError, check_choice
from arithlens.models.presets import boot
from arithlens.models.records import ModelSpec
from arithlens.tasks import TaskSpec, max_length, require, sample
from arithlens.tokens.tokenizer import DEFAULT_VOCAB, encode

SOURCES = ("hooked", "nanogpt", "adder")
ADDER_VOCAB = "0123456789+=_."
"""The tiny adders' ids: digits 0-9, ``+`` 10, ``=`` 11, PAD 12 (arithlens ``_``), EOS 13
(arithlens's end mark ``.``)."""
ABSENT = -1e4
"""Unembedding bias of an arithlens token the source vocabulary lacks."""
TIE_QKV = ("none", "shareA_tieKV", "shareA_tieQK")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The tensors and plain values in ``path`` (safetensors, or a torch file loaded with
    ``weights_only=True``); an :class:`ArithlensError` for a missing file or one that would
    need code unpickled."""
    path = Path(path)
    if not path.is_file():
        raise ArithlensError(f"checkpoint {str(path)!r} does not exist: expected a file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    try:
        out = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ArithlensError(
            f"{str(path)!r} needs code unpickled to load ({str(e).splitlines()[0]}): arithlens "
            "reads only tensors and plain values (torch.load weights_only=True); save the state "
            "dict and config as plain dicts"
        ) from None
    if not isinstance(out, dict):
        raise ArithlensError(f"{str(path)!r} holds a {type(out).__name__}: expected a dict")
    return out


def _fit_context(spec_args: dict, state: dict, task: TaskSpec) -> None:
    """Give a checkpoint trained without the end mark as an input one more position (in
    place); refuse one whose context is shorter than the task's texts."""
    need = max_length(task)
    if spec_args["n_ctx"] == need - 1:
        # trained without the end mark as an input (it predicts nothing): one more position,
        # never read by an earlier one under causal attention
        pos = state["pos_embed.weight"]
        state["pos_embed.weight"] = torch.cat([pos, torch.zeros_like(pos[:1])])
        spec_args["n_ctx"] = need
    if spec_args["n_ctx"] < need:
        raise ArithlensError(
            f"the checkpoint's context n_ctx={spec_args['n_ctx']} is shorter than task "
            f"{task.name}'s {need} tokens: expected the task it was trained on"
        )


def convert(
    path: str | Path,
    source: str,
    *,
    task: TaskSpec,
    vocab: str | None = None,
    config: str | Path | dict | None = None,
    device: str | torch.device | None = None,
) -> TransformerBridge:
    """The model in ``path`` (layout ``source``) as an arithlens model of ``task``.

    Args:
        path: the checkpoint file.
        source: ``"hooked"``, ``"nanogpt"`` or ``"adder"``.
        task: the task it was trained on, in arithlens's rendering (operands most significant
            digit first, padded; ``format`` as the model writes its answer).
        vocab: the source's token for each id, in id order (default for ``"adder"``:
            :data:`ADDER_VOCAB`; required otherwise).
        config: the HookedTransformer config (a dict or a JSON file; ``"hooked"`` only).
    """
    check_choice("source", source, SOURCES)
    require(task, "digits", "importing a third-party arithmetic checkpoint")
    if vocab is None and source != "adder":
        raise ArithlensError(
            f"vocab is required for source={source!r}: the source's token for each id, in id "
            "order (e.g. '0123456789+=')"
        )
    vocab = ADDER_VOCAB if vocab is None else vocab
    if config is not None and source != "hooked":
        raise ArithlensError(f"config applies to source='hooked', not {source!r}")
    raw = read_checkpoint(path)
    if source == "hooked":
        spec_args, state = _hooked(raw, config)
    elif source == "nanogpt":
        spec_args, state = _nanogpt(raw)
    else:
        spec_args, state = _adder(raw)
    src_vocab = state["embed.weight"].shape[0]
    if len(vocab) != src_vocab:
        raise ArithlensError(
            f"vocab {vocab!r} has {len(vocab)} tokens but the checkpoint's embedding has "
            f"{src_vocab} rows: expected one token per id"
        )
    _check_vocab(task, vocab)
    _fit_context(spec_args, state, task)
    spec = ModelSpec(**spec_args, d_vocab=len(DEFAULT_VOCAB))
    model = boot(spec, task, device=device)
    target = model.state_dict()
    state = _complete(_reindex(state, vocab), target)
    model.load_state_dict({k: v.to(target[k].dtype) for k, v in state.items()}, strict=True)
    return model


def _check_vocab(task: TaskSpec, vocab: str) -> None:
    if len(set(vocab)) != len(vocab):
        raise ArithlensError(f"vocab {vocab!r} repeats a token: expected one token per id")
    needed = set("".join(encode(sample(task, 64, seed=0)).texts)) | {"."}
    missing = sorted(needed - set(vocab))
    if missing:
        raise ArithlensError(
            f"vocab {vocab!r} lacks {missing}, which task {task.name} writes: expected the "
            "source's token for each id"
        )


def _reindex(state: dict[str, torch.Tensor], vocab: str) -> dict[str, torch.Tensor]:
    """Embedding and unembedding rows moved from the source's ids to arithlens's."""
    src = torch.tensor([vocab.index(c) if c in vocab else 0 for c in DEFAULT_VOCAB])
    known = torch.tensor([c in vocab for c in DEFAULT_VOCAB])
    out = dict(state)
    out["embed.weight"] = state["embed.weight"][src] * known[:, None]
    out["unembed.weight"] = state["unembed.weight"][src] * known[:, None]
    bias = state.get("unembed.bias", torch.zeros(len(vocab)))[src]
    out["unembed.bias"] = torch.where(known, bias, torch.full_like(bias, ABSENT))
    return out


def _complete(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict:
    """``state`` with the biases the source has none of set to zero; any other missing or
    extra key, or a shape that does not fit, is an error naming it."""
    out = dict(state)
    for key, value in target.items():
        if key not in out:
            if not key.endswith(".bias"):
                raise ArithlensError(f"the checkpoint lacks {key!r} (or its source key)")
            out[key] = torch.zeros_like(value)
        elif tuple(out[key].shape) != tuple(value.shape):
            raise ArithlensError(
                f"{key!r} has shape {tuple(out[key].shape)}: expected {tuple(value.shape)} "
                "for the checkpoint's config"
            )
    extra = sorted(set(out) - set(target))
    if extra:
        raise ArithlensError(f"the checkpoint has keys arithlens cannot place: {extra[:5]}")
    return out


def _get(state: dict, key: str, what: str) -> Any:
    if key not in state:
        raise ArithlensError(f"{what} lacks {key!r}: expected the layout of its source")
    return state[key]


# ----------------------------------------------------------------------------- HookedTransformer


HOOKED_OPTIONS = {
    "normalization_type": ("LN", "LNPre", "RMS", None),
    "positional_embedding_type": ("standard",),
}


def _hooked(state: dict, config: str | Path | dict | None) -> tuple[dict, dict]:
    from transformer_lens.utilities.tl_checkpoint_conversion import convert_tl_checkpoint

    if config is None:
        raise ArithlensError("source='hooked' needs config=: the HookedTransformer config")
    if not isinstance(config, dict):
        try:
            config = json.loads(Path(config).read_text())
        except (OSError, ValueError) as e:
            raise ArithlensError(
                f"config {str(config)!r} is not a readable JSON file: {e}"
            ) from None
    assert isinstance(config, dict)
    for key in ("n_layers", "d_model", "n_heads", "d_head", "d_mlp", "n_ctx", "d_vocab"):
        _get(config, key, "the config")
    for key, allowed in HOOKED_OPTIONS.items():
        value = config.get(key, allowed[0])
        if value not in allowed:
            raise ArithlensError(
                f"config {key}={value!r} is not supported: expected one of {list(allowed)}"
            )
    spec_args = dict(
        n_layers=int(config["n_layers"]),
        d_model=int(config["d_model"]),
        n_heads=int(config["n_heads"]),
        d_head=int(config["d_head"]),
        d_mlp=int(config["d_mlp"]),
        act_fn=config.get("act_fn", "gelu"),
        normalization_type=config.get("normalization_type", "LN"),
        attn_only=bool(config.get("attn_only", False)),
        n_ctx=int(config["n_ctx"]),
        eps=float(config.get("eps", 1e-5)),
    )
    cfg = ModelSpec(**spec_args, d_vocab=int(config["d_vocab"])).bridge_config()
    try:
        converted = convert_tl_checkpoint(state, cfg)
    except ValueError as e:
        raise ArithlensError(
            f"the HookedTransformer state dict does not fit its config: {e}"
        ) from None
    return spec_args, converted


# ----------------------------------------------------------------------------- nanoGPT


def _nanogpt(ckpt: dict) -> tuple[dict, dict]:
    args = _get(ckpt, "model_args", "the nanoGPT checkpoint")
    raw = _get(ckpt, "model", "the nanoGPT checkpoint")
    sd = {k.removeprefix("_orig_mod."): v for k, v in raw.items()}
    for key in ("n_layer", "n_head", "n_embd", "block_size", "vocab_size"):
        _get(args, key, "model_args")
    L, H, d = int(args["n_layer"]), int(args["n_head"]), int(args["n_embd"])
    what = "the nanoGPT state dict"
    state = {
        "embed.weight": _get(sd, "transformer.wte.weight", what),
        "pos_embed.weight": _get(sd, "transformer.wpe.weight", what),
        "ln_final.weight": _get(sd, "transformer.ln_f.weight", what),
        "unembed.weight": sd.get("lm_head.weight", sd["transformer.wte.weight"]),
    }
    if "transformer.ln_f.bias" in sd:
        state["ln_final.bias"] = sd["transformer.ln_f.bias"]
    for i in range(L):
        p = f"transformer.h.{i}."
        for src, dst in (("ln_1", "ln1"), ("ln_2", "ln2")):
            state[f"blocks.{i}.{dst}.weight"] = _get(sd, p + f"{src}.weight", what)
            if p + f"{src}.bias" in sd:
                state[f"blocks.{i}.{dst}.bias"] = sd[p + f"{src}.bias"]
        w = _get(sd, p + "attn.c_attn.weight", what)
        for name, part in zip("qkv", w.split(d, 0)):
            state[f"blocks.{i}.attn.{name}.weight"] = part
        if p + "attn.c_attn.bias" in sd:
            for name, part in zip("qkv", sd[p + "attn.c_attn.bias"].split(d, 0)):
                state[f"blocks.{i}.attn.{name}.bias"] = part
        for src, dst in (
            ("attn.c_proj", "attn.o"),
            ("mlp.c_fc", "mlp.in"),
            ("mlp.c_proj", "mlp.out"),
        ):
            state[f"blocks.{i}.{dst}.weight"] = _get(sd, p + f"{src}.weight", what)
            if p + f"{src}.bias" in sd:
                state[f"blocks.{i}.{dst}.bias"] = sd[p + f"{src}.bias"]
    spec_args = dict(
        n_layers=L,
        d_model=d,
        n_heads=H,
        d_head=d // H,
        d_mlp=int(state["blocks.0.mlp.in.weight"].shape[0]) if L else 4 * d,
        act_fn="gelu",  # nanoGPT's nn.GELU(): the exact erf GELU
        normalization_type="LN",
        n_ctx=int(args["block_size"]),
        eps=1e-5,
    )
    return spec_args, state


# ----------------------------------------------------------------------------- tiny adders


def _product(sd: dict, key: str, what: str) -> torch.Tensor:
    """``x @ W`` of a low-rank (``key.A @ key.B``) or full (``key.weight``, an ``nn.Linear``:
    ``x @ weight.T``) projection, as ``W (in, out)``."""
    if f"{key}.A" in sd:
        return _get(sd, f"{key}.A", what) @ _get(sd, f"{key}.B", what)
    return _get(sd, f"{key}.weight", what).T


def _adder(ckpt: dict) -> tuple[dict, dict]:
    cfg = _get(ckpt, "model_config", "the adder checkpoint")
    sd = _get(ckpt, "model_state", "the adder checkpoint")
    what = "the adder's model_state"
    for key in ("n_layer", "d_model", "n_head", "d_ff", "max_seq_len", "vocab_size"):
        _get(cfg, key, "model_config")
    tie = cfg.get("tie_qkv", "none")
    if tie not in TIE_QKV:
        raise ArithlensError(
            f"model_config tie_qkv={tie!r} is not supported: expected one of {list(TIE_QKV)}"
        )
    L, d, H = int(cfg["n_layer"]), int(cfg["d_model"]), int(cfg["n_head"])
    rms = bool(cfg.get("use_rmsnorm", False))
    emb = _get(sd, "token_emb.weight", what)
    pos = (
        _get(sd, "pos_emb.A", what) @ _get(sd, "pos_emb.B", what)
        if "pos_emb.A" in sd
        else _get(sd, "pos_emb.weight", what)
    )
    state = {
        "embed.weight": emb,
        "pos_embed.weight": pos,
        "unembed.weight": sd.get("lm_head.weight", emb),  # tied to the token embedding
        "ln_final.weight": _get(sd, "ln_f.weight", what),
    }
    if not rms:
        state["ln_final.bias"] = _get(sd, "ln_f.bias", what)
    for i in range(L):
        p = f"blocks.{i}."
        for ln in ("ln1", "ln2"):
            state[p + f"{ln}.weight"] = _get(sd, p + f"{ln}.weight", what)
            if not rms:
                state[p + f"{ln}.bias"] = _get(sd, p + f"{ln}.bias", what)
        q, k, v = _adder_qkv(sd, p + "attn.", tie, d, what)
        for name, w in zip("qkv", (q, k, v)):
            state[p + f"attn.{name}.weight"] = w.T.contiguous()
        state[p + "attn.o.weight"] = _product(sd, p + "attn.proj", what).T.contiguous()
        state[p + "mlp.in.weight"] = _product(sd, p + "mlp.fc1", what).T.contiguous()
        state[p + "mlp.out.weight"] = _product(sd, p + "mlp.fc2", what).T.contiguous()
    spec_args = dict(
        n_layers=L,
        d_model=d,
        n_heads=H,
        d_head=d // H,
        d_mlp=int(cfg["d_ff"]),
        act_fn="gelu",  # F.gelu: the exact erf GELU
        normalization_type="RMS" if rms else "LN",
        n_ctx=int(cfg["max_seq_len"]),
        eps=1e-8 if rms else 1e-5,
    )
    return spec_args, state


def _adder_qkv(sd: dict, p: str, tie: str, d: int, what: str) -> tuple[torch.Tensor, ...]:
    """``W_q, W_k, W_v (in, out)`` of an adder's attention, ties written out."""
    if tie == "none":
        return tuple(_product(sd, p + "qkv", what).split(d, 1))
    a = _get(sd, p + "qkv_A", what)
    if tie == "shareA_tieKV":
        kv = a @ _get(sd, p + "qkv_Bkv", what)
        return a @ _get(sd, p + "qkv_Bq", what), kv, kv
    qk = a @ _get(sd, p + "qkv_Bqk", what)  # shareA_tieQK
    return qk, qk, a @ _get(sd, p + "qkv_Bv", what)


__all__ = ["ADDER_VOCAB", "SOURCES", "convert", "read_checkpoint"]
