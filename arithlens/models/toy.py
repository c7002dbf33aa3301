"""Tiny local Hugging Face checkpoints, made offline: GPT-2, GPT-NeoX (Pythia) and Llama (grouped-
query attention), each with a tokenizer trained here. Nothing is downloaded. The weights are
random: these exercise the pretrained-model code paths (tests, notebook 05 without Hub access),
they know no arithmetic.

- ``bpe``: byte-level BPE trained on synthetic arithmetic text (merges digits irregularly, like
  GPT-2's tokenizer).
- ``digits``: one token per character, with a ``<s>`` BOS token added like Llama's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from arithlens._atomic import write_dir
from arithlens.errors import check_choice

ARCHS = ("gpt2", "neox", "llama")


def arithmetic_corpus(n: int = 4000, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        a, b = rng.integers(0, 1000, size=2)
        op = "+-*"[rng.integers(0, 3)]
        c = {"+": a + b, "-": a - b, "*": a * b}[op]
        lines.append(f"{a}{op}{b}={c}")
    return lines + ["What is 12 plus 34? Answer: 46", "the cat sat on the mat"]


def make_tokenizer(kind: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=320,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=["<|endoftext|>"],
        )
        tok.train_from_iterator(arithmetic_corpus(), trainer)
        return PreTrainedTokenizerFast(
            tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
        )
    chars = sorted(set("".join(arithmetic_corpus())) | set(" ?:\n"))
    vocab = {"<s>": 0, "<unk>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 0)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", unk_token="<unk>", pad_token="<unk>"
    )


def toy_checkpoint(folder: str | Path, arch: str = "gpt2", seed: int = 0) -> Path:
    """Write a randomly initialized 2-layer, d_model 64, 4-head model of ``arch`` (one of
    :data:`ARCHS`) and its tokenizer to ``folder`` (written whole or not at all); load it with
    ``al.load(folder, template="{a}+{b}=")``.

    Example:
        >>> import arithlens as al
        >>> path = al.llm.toy_checkpoint("toy-gpt2")                    # doctest: +SKIP
        >>> model = al.load(path, template="{a}+{b}=")                  # doctest: +SKIP
    """
    check_choice("arch", arch, ARCHS)
    folder = Path(folder)
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        GPTNeoXConfig,
        GPTNeoXForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedModel,
    )

    tok = make_tokenizer("digits" if arch == "llama" else "bpe")
    V = len(tok)
    torch.manual_seed(seed)
    model: PreTrainedModel
    if arch == "gpt2":
        model = GPT2LMHeadModel(
            GPT2Config(vocab_size=V, n_positions=96, n_embd=64, n_layer=2, n_head=4)
        )
    elif arch == "neox":
        model = GPTNeoXForCausalLM(
            GPTNeoXConfig(
                vocab_size=V,
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=128,
                max_position_embeddings=96,
            )
        )
    else:
        model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=V,
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=96,
            )
        )

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)

    return write_dir(folder, fill)
