"""Does the model use what a carry probe finds? Flip the activation along the probe direction.

At each probed site (layer x position [x head]) the activation of each example is moved along
a carry direction ``u`` of a binary carry (or borrow) probe, by default the difference of the
two class means (the logistic probe's own weight vector with ``along="probe"``; whitened
logistic probes favour discriminative low-variance directions that the model may not read): ``"reflect"`` mirrors it
through the probe's decision boundary (the probe now reads the opposite carry, with the same
margin); ``"project"`` moves it onto the boundary. The model then runs on from there, and we
count how often the answer digit that receives the carry changes exactly as a flipped carry
would change it (``d -> d+1`` when a carry is added, ``d -> d-1`` when it is removed; reversed
for borrows). The same displacement norm along a random direction is the control.

Only examples whose carried digit the model gets right are used. Sites after the position
that predicts the digit cannot affect it (causal attention) and are reported as NaN.

Two kinds of site are marked in :meth:`CausalResult.to_frame`, so that nobody reads them as an
internal carry variable: ``edits_input`` (the activation is the embedding of an input token: a
flip there edits the input, e.g. the preceding answer token; left out of
:meth:`CausalResult.best` by default) and ``carry_is_answer`` (the carry into the top answer
digit of an addition *is* that digit, so flipping it flips the answer by definition).

Example:
    >>> res = al.probes.fit(model, "carry", n=5000)          # doctest: +SKIP
    >>> flips = al.probes.causal_flip(model, res, n=256)     # doctest: +SKIP
    >>> flips.best()                                         # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens._plotting import draw
from arithlens._saving import Saveable
from arithlens.choices import Along, FlipMode
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.models.contract import arithmetic_encoder
from arithlens.models.run import forward_chunked
from arithlens.models.sites import EMBEDDINGS
from arithlens.probes.results import ProbeResult, SiteTable
from arithlens.tasks import TaskSpec, answer_digits, carries
from arithlens.tokens.tokenizer import TokenBatch

MODES = ("reflect", "project")
VALUES = ("flip", "random", "changed")


@dataclass(frozen=True)
class CausalResult(SiteTable, Saveable):
    """Flip rates per carry target and site.

    Attributes:
        flip: ``(target, layer, pos[, head])`` share of examples whose carried digit changed as
            a flipped carry predicts, after moving along the probe direction.
        random: same, for a random direction with the same displacement norm.
        changed: share whose carried digit prediction changed at all (probe direction).
        n_examples: ``(target,)`` examples used (the model's correct ones).
        targets, axes, layer_labels, pos_labels, positions: as in :class:`ProbeResult`.
        mode: ``"reflect"`` or ``"project"``; along: ``"mean_diff"`` or ``"probe"``.
        activation: the probed activation; seed: the example and random-direction seed;
        n_sampled: problems drawn before keeping the correct ones.
        input_layers: layer labels on the embedding stream (a flip there edits an input token).
        answer_targets: targets whose carry is itself the top answer digit of an addition.
    """

    SAVED_AS: ClassVar[str] = "causal result"

    flip: np.ndarray
    random: np.ndarray
    changed: np.ndarray
    n_examples: np.ndarray
    targets: list[str]
    axes: tuple[str, ...]
    layer_labels: list[str]
    pos_labels: list[str]
    positions: list[int]
    mode: FlipMode
    along: Along
    activation: str
    seed: int
    n_sampled: int
    input_layers: list[str] = field(default_factory=list)
    answer_targets: list[str] = field(default_factory=list)

    VALUES: ClassVar[tuple[str, ...]] = VALUES

    def to_frame(self) -> pd.DataFrame:
        """One row per target x site: flip, random, changed, n_examples, and the marks
        ``edits_input`` and ``carry_is_answer`` (see the module docstring)."""
        frame, idx = self._site_frame()
        frame["n_examples"] = self.n_examples[idx[0]]
        inputs = set(self.input_layers)
        frame["edits_input"] = frame["layer"].isin(inputs)
        frame["carry_is_answer"] = frame["target"].isin(self.answer_targets)
        return frame

    def best(self, *, inputs: bool = False) -> pd.DataFrame:
        """The site with the highest flip rate per target; sites that edit an input token
        (``edits_input``) are left out unless ``inputs=True``. The ``carry_is_answer`` column
        stays: read those targets' flips as flips of the answer digit itself."""
        frame = self.to_frame().dropna(subset=["flip"])
        if not inputs:
            frame = frame[~frame["edits_input"]]
        return frame.loc[frame.groupby("target", sort=False)["flip"].idxmax()].reset_index(
            drop=True
        )

    def plot(self, value: str = "flip", targets: list[str] | None = None):
        """Heatmap layer x position of ``value`` per target."""
        return draw(self, value=value, targets=targets)


def _carry_place(task: TaskSpec, res: ProbeResult, target: str) -> int:
    k = res.target_index(target)
    if not target.startswith("carry.") or res.kinds[k] != "class" or res.classes[k] != [0, 1]:
        raise ArithlensError(
            f"target {target!r} is not a binary carry probe (classes {res.classes[k]}): the "
            "causal flip needs 'carry.<place>' probes with classes [0, 1] (op add or sub)"
        )
    return task.answer_digit(target.split(".", 1)[1])


def _flipped(task: TaskSpec, digit: Tensor, carry: Tensor) -> Tensor:
    """The answer digit with its incoming carry (borrow) flipped."""
    step = 1 - 2 * carry  # +1 where a carry is added, -1 where removed
    return (digit + (step if task.op == "add" else -step)) % 10


def causal_flip(
    model: TransformerBridge,
    probes: ProbeResult,
    *,
    targets: list[str] | None = None,
    n: int = 256,
    mode: FlipMode = "reflect",
    along: Along = "mean_diff",
    seed: int = 1,
    progress: bool = True,
) -> CausalResult:
    """Flip rate of the carried answer digit when moving along each carry probe's direction.

    Args:
        model: the model the probes were fitted on.
        probes: a :class:`ProbeResult` with ``carry.<place>`` targets.
        targets: which carry targets (default: every ``carry.*`` target in ``probes``).
        n: fresh problems to sample (only those the model answers right at that digit count).
        mode: ``"reflect"`` (cross the boundary with the same margin) or ``"project"``.
        along: the carry direction moved along: ``"mean_diff"`` (the difference of the class
            means) or ``"probe"`` (the logistic probe's weight vector; see
            :meth:`ProbeResult.direction`). (Named ``along``, not ``direction``, because in
            patching ``direction`` means denoise / noise.)
        seed: problem sampling and random-direction seed.
    """
    encoder = arithmetic_encoder(model)
    task = encoder.task
    check_int("n", n, minimum=1)
    check_choice("mode", mode, MODES)
    check_choice("along", along, ("mean_diff", "probe"))
    if probes.task != task.to_dict():
        raise ArithlensError(
            f"the probes were fitted on task {probes.task} but the model's task is {task.to_dict()}"
        )
    names = targets or [t for t in probes.targets if t.startswith("carry.")]
    if not names:
        raise ArithlensError(f"no carry targets among {probes.targets}: fit target='carry' first")
    places = [_carry_place(task, probes, t) for t in names]
    digit_ids = encoder.digit_token_ids()
    if digit_ids is None:
        raise ArithlensError(
            "the causal flip needs one token per answer digit; this tokenizer merges digits, so "
            "a flipped digit has no token of its own"
        )
    problems = encoder.sample(n, seed + 7919)
    batch = encoder.encode(problems)
    flips = _Flips(
        model=model,
        probes=probes,
        batch=batch,
        clean=forward_chunked(model, batch.tokens).argmax(-1),
        carry=torch.from_numpy(carries(problems)),
        digits=torch.from_numpy(answer_digits(problems)),
        digit_ids=digit_ids,
        mode=mode,
        along=along,
        gen=torch.Generator().manual_seed(seed),
        out={v: np.full((len(names), *probes.score.shape[1:]), np.nan) for v in VALUES},
        n_used=np.zeros(len(names), dtype=np.int64),
    )
    bar = tqdm(total=len(names) * len(probes.hooks), desc="causal flip", disable=not progress)
    for ti, (name, k) in enumerate(zip(names, places)):
        flips.target(ti, name, k, task, bar)
    bar.close()
    return CausalResult(
        flip=flips.out["flip"],
        random=flips.out["random"],
        changed=flips.out["changed"],
        n_examples=flips.n_used,
        targets=names,
        axes=probes.axes,
        layer_labels=probes.layer_labels,
        pos_labels=probes.pos_labels,
        positions=probes.positions,
        mode=mode,
        along=along,
        activation=probes.activation,
        seed=seed,
        n_sampled=n,
        # the embedding stream: a flip there edits an input token
        input_layers=[
            lab
            for lab, hook in zip(probes.layer_labels, probes.hooks)
            if hook == EMBEDDINGS or "embed" in hook
        ],
        # the carry into the top digit of an addition is that digit
        answer_targets=[
            t for t, k in zip(names, places) if task.op == "add" and k == task.answer_width - 1
        ],
    )


@dataclass
class _Flips:
    """The examples of one causal-flip run and the rates filled in, target by target."""

    model: TransformerBridge
    probes: ProbeResult
    batch: TokenBatch
    clean: Tensor  # (batch, pos) the model's own greedy tokens
    carry: Tensor  # (batch, digit) incoming carries
    digits: Tensor  # (batch, digit) answer digits
    digit_ids: Tensor  # token id of each digit 0-9
    mode: str
    along: str
    gen: torch.Generator
    out: dict[str, np.ndarray]
    n_used: np.ndarray

    def target(self, ti: int, name: str, k: int, task: TaskSpec, bar: Any) -> None:
        """Rates at every site for carry target ``name`` into answer digit ``k``, on the
        examples whose digit ``k`` the model gets right."""
        probes, batch = self.probes, self.batch
        ppos = int(batch.predict_pos(k)[0])
        truth = batch.answer_tokens()[:, k]
        ok = self.clean[:, ppos] == truth
        self.n_used[ti] = int(ok.sum())
        if self.n_used[ti] == 0:
            bar.update(len(probes.hooks))
            return
        tokens, digit = batch.tokens[ok], truth[ok]
        want = self.digit_ids[_flipped(task, self.digits[ok, k], self.carry[ok, k])]
        head_axis = "head" in probes.axes
        n_heads = probes.score.shape[3] if head_axis else 1
        sites = [(p, h) for p in probes.positions if p <= ppos for h in range(n_heads)]
        for li, hook in enumerate(probes.hooks):
            for kind in ("flip", "random"):
                pred = _intervene(
                    self.model,
                    probes,
                    name,
                    li,
                    hook,
                    sites,
                    tokens,
                    ppos,
                    self.mode,
                    kind,
                    self.along,
                    self.gen,
                )
                rates = {kind: (pred == want[None]).float().mean(1)}
                if kind == "flip":
                    rates["changed"] = (pred != digit[None]).float().mean(1)
                for si, (p, h) in enumerate(sites):
                    idx = (ti, li, probes.positions.index(p)) + ((h,) if head_axis else ())
                    for v, rate in rates.items():
                        self.out[v][idx] = float(rate[si])
            bar.update()


@torch.no_grad()
def _intervene(
    model: TransformerBridge,
    probes: ProbeResult,
    target: str,
    layer: int,
    hook: str,
    sites: list[tuple[int, int]],
    tokens: Tensor,
    ppos: int,
    mode: str,
    kind: str,
    along: str,
    gen: torch.Generator,
) -> Tensor:
    """Predicted digit at ``ppos`` after moving each site's activation: ``(site, example)``.

    All sites run in one batch: row block ``i`` holds every example with site ``i`` moved.
    """
    head_axis = "head" in probes.axes
    dirs = [
        probes.direction(target, layer, p, h if head_axis else None, kind=along) for p, h in sites
    ]
    U = torch.stack([u for u, _ in dirs])  # (site, d)
    c = torch.tensor([c for _, c in dirs])
    R = torch.randn(U.shape, generator=gen)
    R = R / R.norm(dim=1, keepdim=True)
    n_ex = len(tokens)
    pos = torch.tensor([p for p, _ in sites]).repeat_interleave(n_ex)
    head = torch.tensor([h for _, h in sites]).repeat_interleave(n_ex)
    u, r, cc = U.repeat_interleave(n_ex, 0), R.repeat_interleave(n_ex, 0), c.repeat_interleave(n_ex)
    rows = torch.arange(len(pos))
    scale = 2.0 if mode == "reflect" else 1.0

    def move(act: Tensor, hook: Any = None) -> Tensor:
        x = act[rows, pos, head] if head_axis else act[rows, pos]
        s = (x * u).sum(-1) + cc
        delta = -scale * s[:, None] * u / (u * u).sum(-1, keepdim=True)
        if kind == "random":
            delta = delta.norm(dim=-1, keepdim=True) * r
        act = act.clone()
        if head_axis:
            act[rows, pos, head] = x + delta
        else:
            act[rows, pos] = x + delta
        return act

    stacked = tokens.repeat(len(sites), 1)
    logits = model.run_with_hooks(stacked, fwd_hooks=[(hook, move)])
    return logits[:, ppos].argmax(-1).reshape(len(sites), n_ex)
