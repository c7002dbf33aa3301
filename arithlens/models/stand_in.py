"""A small GPT-2 trained here on arithmetic written the way LLMs read it: the offline stand-in
for a pretrained LLM (no weights can be downloaded here, and many users work offline).

The corpus is additions of operands of 0-99 in several templates -- bare equations, questions,
sentences, few-shot blocks of the same template -- and a byte-level BPE tokenizer trained on it.
Digit runs are pre-tokenized apart from the text around them (a space before a number never
merges with it, so every template's answer starts a token), and BPE merges digits into
irregular chunks as GPT-2's tokenizer does (``tokenization_summary`` reports the scheme). A
tenth of the operand pairs is held out of training (``held_out_pair``) and scores the model.

The result is a plain Hugging Face folder (``config.json``, ``model.safetensors``, tokenizer
files): ``al.load(folder, template="{a}+{b}=")`` boots it like any Hugging Face model.

Example:
    >>> folder = train_stand_in("runs/arith-gpt2", steps=3000)            # doctest: +SKIP
    >>> model = al.load(folder, template=TEMPLATES["equation"])            # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from arithlens._atomic import write_dir
from arithlens.errors import check_int

TEMPLATES: dict[str, str] = {
    "equation": "{a}+{b}=",
    "question": "What is {a} plus {b}? ",
    "sentence": "The sum of {a} and {b} is ",
    "qa": "Q: {a} + {b}\nA: ",
}
"""The prompt templates of the corpus (the answer follows each directly); ``{a}``, ``{b}`` as in
:class:`arithlens.tokens.PromptBuilder`."""
STORY = "I had {a} apples and got {b} more, so now I have {c} apples."
"""Words around numbers (in the corpus, not a prompt: the answer is followed by text)."""
MAX_DIGITS = 2
"""Operands have 1..MAX_DIGITS digits (each length equally likely)."""


@dataclass(frozen=True)
class StandInConfig:
    """How the stand-in is built.

    Attributes:
        n_layer, n_head, n_embd: GPT-2 shape.
        n_positions: context length.
        window: tokens per training row (documents packed end to end).
        vocab_size: BPE vocabulary size.
        steps, batch_size, lr, warmup, weight_decay: AdamW training (cosine decay after
            ``warmup`` steps).
        answer_weight: loss weight of the answer tokens (the sums) relative to every other
            token (operands, words), which are unpredictable and would otherwise dominate the
            loss.
        n_docs: corpus documents for the tokenizer (training draws fresh ones every step).
        seed: corpus, initialization and order.
    """

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 128
    window: int = 64
    vocab_size: int = 600
    steps: int = 4000
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.1
    answer_weight: float = 4.0
    n_docs: int = 20000
    seed: int = 0


def held_out_pair(a: int, b: int) -> bool:
    """Whether the operand pair ``(a, b)`` is kept out of training: a tenth of all pairs, by a
    cryptographic hash of the pair, so no digit, sum or length is held out with it (a linear
    hash such as ``(7919 a + 104729 b) % 10`` holds out exactly the sums ending in 7, and a model
    trained without them scores 0 on them: what a first version did)."""
    digest = hashlib.blake2b(f"{a},{b}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % 10 == 3


def _operand(rng: np.random.Generator) -> int:
    digits = int(rng.integers(1, MAX_DIGITS + 1))
    return int(rng.integers(0 if digits == 1 else 10 ** (digits - 1), 10**digits))


def _pair(rng: np.random.Generator) -> tuple[int, int]:
    while True:
        a, b = _operand(rng), _operand(rng)
        if not held_out_pair(a, b):
            return a, b


def document(rng: np.random.Generator) -> str:
    """One training text: one to four solved problems of one template, a line each (a few-shot
    block), or a sentence with words around the numbers."""
    return annotated_document(rng)[0]


def annotated_document(rng: np.random.Generator) -> tuple[str, list[tuple[int, int]]]:
    """:func:`document` with the character spans ``(start, end)`` of the answers (the sums)."""
    if rng.random() < 0.15:
        a, b = _pair(rng)
        head = STORY[: STORY.index("{c}")].format(a=a, b=b)
        return STORY.format(a=a, b=b, c=a + b), [(len(head), len(head) + len(str(a + b)))]
    template = list(TEMPLATES.values())[int(rng.integers(0, len(TEMPLATES)))]
    text, spans = "", []
    for i in range(int(rng.integers(1, 5))):
        a, b = _pair(rng)
        text += ("\n" if i else "") + template.format(a=a, b=b)
        spans.append((len(text), len(text) + len(str(a + b))))
        text += str(a + b)
    return text, spans


def make_tokenizer(config: StandInConfig) -> Any:
    """A byte-level BPE trained on ``config.n_docs`` corpus documents; digit runs are
    pre-tokenized apart from the text, then merged into chunks by BPE."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=["<|endoftext|>"],
    )
    rng = np.random.default_rng(config.seed + 1)
    tok.train_from_iterator((document(rng) for _ in range(config.n_docs)), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )


def _batch(
    tok: Any, rng: np.random.Generator, config: StandInConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(batch, window)`` ids of documents packed one after another (separated by the end
    token), as language models are trained, and whether each token is part of an answer. Half
    of the rows open with the end token, so a prompt reads the same with or without the BOS
    token that TransformerBridge prepends by default."""
    eos = tok.eos_token_id
    width = config.window
    rows, marks = [], []
    for _ in range(config.batch_size):
        ids: list[int] = [eos] if rng.random() < 0.5 else []
        answer: list[bool] = [False] * len(ids)
        while len(ids) < width:
            text, spans = annotated_document(rng)
            enc = tok(text, return_offsets_mapping=True)
            ids += enc["input_ids"] + [eos]
            answer += [any(s <= a < e for s, e in spans) for a, _ in enc["offset_mapping"]]
            answer.append(False)
        rows.append(ids[:width])
        marks.append(answer[:width])
    return torch.tensor(rows), torch.tensor(marks)


def weighted_loss(
    logits: torch.Tensor, ids: torch.Tensor, answer: torch.Tensor, answer_weight: float
) -> torch.Tensor:
    """Next-token cross-entropy, answer tokens weighted ``answer_weight`` times the rest
    (a weighted mean over the predicted tokens)."""
    ce = torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten(), reduction="none"
    )
    w = 1 + (answer_weight - 1) * answer[:, 1:].flatten().float()
    return (ce * w).sum() / w.sum()


def _rate(config: StandInConfig, step: int) -> float:
    """The learning-rate factor at ``step``: linear warm-up, then a cosine decay to 0."""
    if step < config.warmup:
        return (step + 1) / config.warmup
    done = (step - config.warmup) / max(1, config.steps - config.warmup)
    return float(0.5 * (1 + np.cos(np.pi * done)))


def train_stand_in(
    folder: str | Path,
    config: StandInConfig = StandInConfig(),
    *,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> Path:
    """Train the stand-in and write it to ``folder`` (written whole or not at all), with
    ``stand_in.json`` recording the config, the final loss and the wall time."""
    from transformers import GPT2Config, GPT2LMHeadModel

    check_int("steps", config.steps, minimum=1)
    torch.manual_seed(config.seed)
    tok = make_tokenizer(config)
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(tok),
            n_positions=config.n_positions,
            n_embd=config.n_embd,
            n_layer=config.n_layer,
            n_head=config.n_head,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
        )
    )
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: _rate(config, step))
    rng = np.random.default_rng(config.seed + 2)
    start, loss_value = time.time(), float("nan")
    model.train()
    bar = tqdm(range(config.steps), desc="train stand-in", disable=not progress)
    for step in bar:
        ids, answer = _batch(tok, rng, config)
        loss = weighted_loss(model(input_ids=ids).logits, ids, answer, config.answer_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        loss_value = float(loss.detach())
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss_value:.3f}")
        if on_step is not None:
            on_step(step, loss_value)
    model.eval()
    info = dict(config=asdict(config), final_loss=loss_value, wall_s=round(time.time() - start, 1))

    def fill(tmp: Path) -> None:
        import json

        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "stand_in.json").write_text(json.dumps(info, indent=1))

    return write_dir(folder, fill)


__all__ = [
    "MAX_DIGITS",
    "STORY",
    "TEMPLATES",
    "StandInConfig",
    "annotated_document",
    "document",
    "held_out_pair",
    "make_tokenizer",
    "train_stand_in",
    "weighted_loss",
]
