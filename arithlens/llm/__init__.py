"""A convenience namespace for work on pretrained LLMs. Nothing lives here: each name is
defined on its floor (prompts and number tokenization in :mod:`arithlens.tokens`, loading and
tiny local checkpoints in :mod:`arithlens.models`, key heads and circuit faithfulness in
:mod:`arithlens.analyses.circuits`, precise fine-tuning in :mod:`arithlens.analyses.finetune`).

Example:
    >>> import arithlens as al
    >>> model = al.load("gpt2", template="{a}+{b}=", shots=3)         # doctest: +SKIP
    >>> al.llm.tokenization_summary(model.encoder.tokenizer)          # doctest: +SKIP
    >>> batch = model.encoder.pairs(128, change="a.units")            # doctest: +SKIP
    >>> al.patching.activation_patch(model, batch, "z", by=("layer", "head"))  # doctest: +SKIP
"""

from arithlens.analyses.circuits import Faithfulness, KeyHeads, faithfulness, key_heads
from arithlens.analyses.finetune import (
    compare_finetuning,
    component_masks,
    copy_model,
    finetune,
    head_lines,
    split_problems,
)
from arithlens.models.hf import attach_prompts, random_init, resolve
from arithlens.models.toy import toy_checkpoint
from arithlens.tokens.numbers import number_tokenization, tokenization_summary
from arithlens.tokens.prompts import PromptBuilder

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
