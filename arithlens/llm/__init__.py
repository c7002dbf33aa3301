"""Pretrained LLMs: loading (Hub id or local folder, offline-safe), number tokenization,
arithmetic prompt building, key heads and circuit faithfulness, precise fine-tuning.

Example:
    >>> import arithlens as al
    >>> model = al.load("gpt2", template="{a}+{b}=", shots=3)         # doctest: +SKIP
    >>> al.llm.tokenization_summary(model.encoder.tokenizer)          # doctest: +SKIP
    >>> batch = model.encoder.pairs(128, change="a.units")            # doctest: +SKIP
    >>> al.patching.activation_patch(model, batch, "z", by=("layer", "head"))  # doctest: +SKIP
"""

from arithlens.llm.circuits import Faithfulness, KeyHeads, faithfulness, key_heads
from arithlens.llm.finetune import (
    compare_finetuning,
    component_masks,
    copy_model,
    finetune,
    head_lines,
    split_problems,
)
from arithlens.llm.loading import attach_prompts, random_init, resolve
from arithlens.llm.prompts import PromptBuilder
from arithlens.llm.tokenization import number_tokenization, tokenization_summary
from arithlens.llm.toy import toy_checkpoint

__all__ = [
    "Faithfulness",
    "KeyHeads",
    "PromptBuilder",
    "compare_finetuning",
    "component_masks",
    "copy_model",
    "head_lines",
    "faithfulness",
    "finetune",
    "key_heads",
    "attach_prompts",
    "number_tokenization",
    "random_init",
    "split_problems",
    "toy_checkpoint",
    "resolve",
    "tokenization_summary",
]
