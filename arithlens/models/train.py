"""Training small arithmetic transformers.

Loss is cross-entropy on the completion tokens only (everything after ``=``). AdamW with a
linear warmup, then a constant or cosine learning rate. Every ``eval_every`` steps the model is
scored on a held-out set (teacher-forced exact match and per-answer-digit accuracy and loss),
and a callback receives the growing :class:`TrainRecord` so a notebook can plot it live.
Two runs with the same seed on the same machine and thread count give identical weights.

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> task = TaskSpec(op="add", n_digits=2)
    >>> model = train(task, "2L", TrainConfig(steps=5, batch_size=32, eval_every=5), progress=False)
    >>> len(model.record.train_loss)
    5
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError, check_choice, check_float, check_int
from arithlens.models.contract import attach
from arithlens.models.presets import build_model
from arithlens.models.records import TrainRecord
from arithlens.tasks import (
    AnyTask,
    Problems,
    TaskSpec,
    TextProblems,
    TextTask,
    has,
    require,
    sample,
    sample_problems,
)
from arithlens.tasks.sorting import HINTS_FOR_SORT
from arithlens.tokens.tokenizer import CharTokenizer, TokenBatch, concat_batches, encode, vocab_for


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How to train.

    Attributes:
        steps: optimizer steps.
        batch_size: problems per step.
        lr: peak learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: linear warmup length.
        schedule: ``"constant"`` or ``"cosine"`` after warmup.
        grad_clip: max gradient norm (0 = off).
        cascade_fraction: share of each batch drawn balanced over carry cascade classes
            (add/sub only; uniform sampling almost never yields long cascades).
        cascade_strategy: the balanced sampler: ``"cascade"`` (uniform within each class) or
            ``"cascade_chained"`` (the biased one the committed zoo models were trained with).
        n_train: fixed training-set size; None draws fresh problems every step.
        n_test: held-out problems (never trained on).
        eval_every: steps between held-out evaluations.
        seed: seed for initialization, data and dropout-free training.
        hint: task hinting (sorting only; Awasthi & Gupta 2023): ``"successor"`` trains the
            successor hint task alongside the sort in the same batches (the model's context
            must fit the hint texts, ``SortSpec.text_length(hint=True)``). None: no hint.
        hint_fraction: share of each batch that is hint texts (of the same sequences' kind,
            drawn independently).
    """

    steps: int = 1000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    schedule: str = "constant"
    grad_clip: float = 1.0
    cascade_fraction: float = 0.25
    cascade_strategy: Literal["cascade", "cascade_chained"] = "cascade"
    n_train: int | None = None
    n_test: int = 2000
    eval_every: int = 100
    seed: int = 0
    hint: str | None = None
    hint_fraction: float = 0.5

    def __post_init__(self) -> None:
        check_int("steps", self.steps, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_int("eval_every", self.eval_every, minimum=1)
        check_int("n_test", self.n_test, minimum=1)
        check_choice("schedule", self.schedule, ("constant", "cosine"))
        check_choice("cascade_strategy", self.cascade_strategy, ("cascade", "cascade_chained"))
        if self.n_train is not None:
            check_int("n_train", self.n_train, minimum=1)
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        check_float("lr", self.lr, above=0)
        check_float("weight_decay", self.weight_decay, minimum=0)
        check_float("grad_clip", self.grad_clip, minimum=0)
        check_float("cascade_fraction", self.cascade_fraction, minimum=0, maximum=1)
        check_float("hint_fraction", self.hint_fraction, minimum=0, maximum=1)
        if self.hint is not None:
            check_choice("hint", self.hint, HINTS_FOR_SORT)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def completion_loss(logits: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
    """Mean cross-entropy over completion tokens (the answer, scratchpad and end mark)."""
    mask = batch.target_mask()
    targets = batch.tokens[:, 1:]
    losses = F.cross_entropy(logits[:, :-1].transpose(1, 2), targets, reduction="none")
    return (losses * mask).sum() / mask.sum()


@torch.no_grad()
def score_digits(model: TransformerBridge, batch: TokenBatch) -> dict[str, Any]:
    """Teacher-forced exact match, per-digit accuracy and per-digit loss on ``batch``."""
    logits = model(batch.tokens)
    mask = batch.target_mask()
    pred = logits[:, :-1].argmax(-1)
    correct = (pred == batch.tokens[:, 1:]) | ~mask
    k_pos = batch.answer_pos.clamp(min=1) - 1
    digit_logits = logits[torch.arange(len(batch))[:, None], k_pos]
    target = batch.answer_tokens().clamp(min=0)
    present = (batch.answer_pos >= 0).float()
    dl = F.cross_entropy(digit_logits.transpose(1, 2), target, reduction="none")
    dacc = (digit_logits.argmax(-1) == target).float()
    denom = present.sum(0).clamp(min=1)
    return {
        "exact": correct.all(1).float().mean().item(),
        "digit_acc": ((dacc * present).sum(0) / denom).tolist(),
        "digit_loss": ((dl * present).sum(0) / denom).tolist(),
    }


def _lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * t))

    return f


def _batches(
    task: AnyTask, cfg: TrainConfig, test: Problems | TextProblems
) -> Callable[[int], TokenBatch]:
    """A function step -> training tokens (fixed set or fresh draws; never the test set)."""
    rng = np.random.default_rng(cfg.seed + 1000)
    if cfg.hint is not None:
        require(task, "hint", f"hint={cfg.hint!r}")
    if not has(task, "carries"):  # no held-out exclusion, no cascades: fresh draws (+ hints)
        return _text_batches(cast(TextTask, task), cfg, rng)
    task, test = cast(TaskSpec, task), cast(Problems, test)
    cascade = task.op != "mul" and cfg.cascade_fraction > 0
    if cfg.n_train is not None:
        pool = sample(task, cfg.n_train, rng, exclude=test, unique=True)
        return lambda step: encode(pool[rng.integers(0, len(pool), size=cfg.batch_size)])

    def draw(step: int) -> TokenBatch:
        n_casc = int(round(cfg.batch_size * cfg.cascade_fraction)) if cascade else 0
        parts = [sample(task, cfg.batch_size - n_casc, rng, exclude=test)]
        if n_casc:
            parts.append(sample(task, n_casc, rng, strategy=cfg.cascade_strategy, exclude=test))
        return encode(Problems.concat(parts))

    return draw


def _text_batches(
    task: TextTask, cfg: TrainConfig, rng: np.random.Generator
) -> Callable[[int], TokenBatch]:
    """Fresh sorting or numeracy problems every step; with a hint (sorting), ``hint_fraction``
    of the rows are hint texts. Problems are not held out from training: the short ones are
    too few (ten sequences of length 1, ten one-digit numbers), so the held-out score measures
    the training distribution, not memorization."""
    if cfg.n_train is not None:
        raise ArithlensError("n_train (a fixed training set) is for arithmetic tasks")
    n_hint = int(round(cfg.batch_size * cfg.hint_fraction)) if cfg.hint else 0
    tok = CharTokenizer(vocab_for(task.format))

    def draw(step: int) -> TokenBatch:
        main = encode(sample_problems(task, cfg.batch_size - n_hint, rng), tok)
        if not n_hint:
            return main
        return concat_batches([main, encode(sample_problems(task, n_hint, rng), tok, hint=True)])

    return draw


def held_out(task: AnyTask, cfg: TrainConfig) -> Problems | TextProblems:
    """The held-out set training never sees: uniform + cascade-balanced halves (add/sub); for
    sorting and numeracy, problems of the task's distribution (see :func:`_text_batches`)."""
    if not has(task, "carries"):
        return sample_problems(task, cfg.n_test, cfg.seed + 7)
    task = cast(TaskSpec, task)
    if task.op == "mul" or cfg.cascade_fraction == 0:
        return sample(task, cfg.n_test, cfg.seed + 7, unique=True)
    half = cfg.n_test // 2
    uni = sample(task, cfg.n_test - half, cfg.seed + 7, unique=True)
    if half == 0:
        return uni
    return Problems.concat(
        [
            uni,
            sample(
                task, half, cfg.seed + 8, strategy=cfg.cascade_strategy, exclude=uni, unique=True
            ),
        ]
    )


def _model_for(
    task: AnyTask, model: TransformerBridge | str, cfg: TrainConfig
) -> TransformerBridge:
    """The model to train: built from a preset name, and long enough for hinted texts."""
    if cfg.hint is not None:
        require(task, "hint", f"hint={cfg.hint!r}")
    if isinstance(model, str):
        need = task.text_length(hint=True) if cfg.hint else None
        model = build_model(model, task, seed=cfg.seed, n_ctx=need)
    if cfg.hint and model.cfg.n_ctx < task.text_length(hint=True):
        raise ArithlensError(
            f"hint={cfg.hint!r} texts of {task.name} have {task.text_length(hint=True)} tokens "
            f"but the model's context is n_ctx={model.cfg.n_ctx}: build it with a longer n_ctx"
        )
    return model


def train(
    task: AnyTask,
    model: TransformerBridge | str = "2L",
    config: TrainConfig | None = None,
    *,
    callback: Callable[[TrainRecord, int], Any] | None = None,
    progress: bool = True,
) -> TransformerBridge:
    """Train ``model`` (a bridge, or a preset name) on ``task``; returns it with ``.record`` set.

    Args:
        task: the task (arithmetic, or sorting with an optional hint, ``config.hint``).
        model: a TransformerBridge from :func:`build_model`, or a preset name.
        config: training settings.
        callback: called as ``callback(record, step)`` after every evaluation; return
            ``False`` to stop early.
        progress: show a tqdm bar.
    """
    cfg = config or TrainConfig()
    torch.manual_seed(cfg.seed)
    model = _model_for(task, model, cfg)
    test = held_out(task, cfg)
    test_batch = encode(test)
    draw = _batches(task, cfg, test)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg))
    record = TrainRecord(config=cfg.to_dict())
    start = time.perf_counter()
    bar = tqdm(range(cfg.steps), desc=f"train {task.name}", disable=not progress)
    for step in bar:
        model.train()
        batch = draw(step)
        loss = completion_loss(model(batch.tokens), batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        record.train_loss.append(float(loss.item()))
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            model.eval()
            s = score_digits(model, test_batch)
            record.eval_steps.append(step + 1)
            record.eval_exact.append(s["exact"])
            record.eval_digit_acc.append(s["digit_acc"])
            record.eval_digit_loss.append(s["digit_loss"])
            bar.set_postfix(loss=f"{loss.item():.4f}", exact=f"{s['exact']:.4f}")
            if callback is not None and callback(record, step + 1) is False:
                break
    record.wall_s = time.perf_counter() - start
    model.eval()
    return attach(model, record=record)
