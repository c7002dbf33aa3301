"""Fit linear probes for every layer x position (x head) of a model at once, with controls.

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")                                  # doctest: +SKIP
    >>> res = al.probes.fit(model, target="carry", n=5000)          # doctest: +SKIP
    >>> res.best("carry.tens")                                      # doctest: +SKIP
    >>> res.plot(value="selectivity")                               # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens.choices import ControlTypes, Strategy
from arithlens.errors import ArithlensError, check_choice, check_float, check_int
from arithlens.models.contract import any_task_of, arithmetic_encoder, check_task, spec_of
from arithlens.models.presets import boot
from arithlens.models.records import ModelSpec
from arithlens.models.run import check_fits
from arithlens.probes import linear
from arithlens.probes.activations import collect, hooks, select
from arithlens.probes.results import ProbeResult
from arithlens.probes.targets import Encoded, Target, encode_targets, resolve
from arithlens.tasks import Problems
from arithlens.tokens.encoders import Encoder

CONTROLS = ("majority", "control_task", "random_init")
MAX_FLOATS = 2**26  # activations per fitting chunk (256 MB of float32)


def random_init_like(model: TransformerBridge, seed: int = 1) -> TransformerBridge:
    """A freshly initialized model with ``model``'s architecture, task and encoder (the
    untrained control): arithlens models re-boot their spec; Hugging Face models are rebuilt
    from their config with the architecture's initialization (no weights are read)."""
    spec = spec_of(model)
    if isinstance(spec, ModelSpec):
        return boot(
            replace(spec, seed=spec.seed + seed), any_task_of(model), device=model.cfg.device
        )
    from arithlens.models.hf import random_init as llm_random_init

    return llm_random_init(model, seed=seed)


def _split(problems: Problems, test_fraction: float, seed: int) -> tuple[Problems, slice, slice]:
    """Problems shuffled so the training split comes first (slices, not copies, of the data)."""
    if not 0.05 <= test_fraction <= 0.5:
        raise ArithlensError(f"test_fraction={test_fraction!r} is invalid: expected 0.05..0.5")
    n_train = len(problems) - int(round(len(problems) * test_fraction))
    perm = np.random.default_rng(seed).permutation(len(problems))
    return problems[perm], slice(0, n_train), slice(n_train, None)


def _fit_sites(
    X: Tensor,
    y: Tensor,
    kinds: list[str],
    n_classes: list[int],
    train: slice,
    test: slice,
    l2: float,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Held-out score ``(target, site)`` of probes fitted on ``X (site, n, d)``, and weights.

    Weights are in raw activation units with one layout for every target: the logit of class
    ``c`` against class 0 is ``x @ W[site, :, k, c-1] + b[site, k, c-1]``; a scalar target uses
    slot 0 (its ridge prediction).
    """
    mean, T = linear.whitener(X[:, train])
    Xw = torch.baddbmm(-torch.bmm(mean, T), X, T)
    Xtr, Xte = Xw[:, train], Xw[:, test]
    S, _, r = Xw.shape
    K, C1 = len(kinds), max(max(n_classes) - 1, 1)
    score = torch.zeros(K, S)
    W_all, b_all = torch.zeros(S, r, K, C1), torch.zeros(S, K, C1)
    cls = [k for k, kind in enumerate(kinds) if kind == "class"]
    sca = [k for k, kind in enumerate(kinds) if kind == "scalar"]
    if cls:
        nc = [n_classes[k] for k in cls]
        yc = y[cls].long()
        W, b = linear.fit_logistic(Xtr, yc[:, train], nc, l2=l2)
        pred = linear.logistic_logits(Xte, W, b, nc).argmax(-1)  # (site, n, k)
        score[cls] = (pred == yc[:, test].T[None]).float().mean(1).T
        W_all[:, :, cls, : W.shape[3]], b_all[:, cls, : b.shape[2]] = W, b
    if sca:
        ys = y[sca].to(X.dtype)
        W, b = linear.fit_ridge(Xtr, ys[:, train], l2=l2)
        score[sca] = linear.r2(torch.bmm(Xte, W) + b[:, None], ys[:, test]).T
        W_all[:, :, sca, 0], b_all[:, sca, 0] = W, b
    W_raw = torch.einsum("sdr,srkc->sdkc", T, W_all)
    b_raw = b_all - torch.einsum("sd,sdkc->skc", mean[:, 0], W_raw)
    return score, {
        "W": W_raw,
        "b": b_raw,
        "class_mean": _class_means(X[:, train], y[:, train], kinds, C1 + 1),
    }


def _class_means(X: Tensor, y: Tensor, kinds: list[str], C: int) -> Tensor:
    """Training mean activation per site, target and class: ``(site, target, C, d)`` (zeros for
    scalar targets and absent classes)."""
    codes = torch.where(torch.tensor([k == "class" for k in kinds])[:, None], y, -1).long()
    Y = torch.nn.functional.one_hot(codes.clamp(min=0), C).to(X.dtype) * (codes >= 0)[..., None]
    counts = Y.sum(1).clamp_min(1)  # (k, C)
    return torch.einsum("snd,knc->skcd", X, Y) / counts[None, :, :, None]


def _majority(enc: Encoded, train: slice, test: slice) -> np.ndarray:
    """Held-out score of the constant predictor: the training majority class (R^2 of the
    training mean for scalar targets)."""
    out = np.empty(len(enc.names))
    for k, kind in enumerate(enc.kinds):
        ytr, yte = enc.y[k, train], enc.y[k, test]
        if kind == "class":
            out[k] = np.mean(yte == np.bincount(ytr.astype(np.int64)).argmax())
        else:
            out[k] = 1 - np.sum((yte - ytr.mean()) ** 2) / max(
                np.sum((yte - yte.mean()) ** 2), 1e-12
            )
    return out


def _probe_all(
    acts: Tensor,
    y: Tensor,
    kinds: list[str],
    n_classes: list[int],
    train: slice,
    test: slice,
    l2: float,
    bar: tqdm,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Fit every site of ``acts (layer, pos, *, n, d)`` in chunks that fit ``MAX_FLOATS``."""
    site_shape = acts.shape[:-2]
    X = acts.reshape(-1, *acts.shape[-2:])  # (site, n, d)
    per = max(1, MAX_FLOATS // (X.shape[1] * X.shape[2]))
    scores, chunks = [], []
    for s in range(0, X.shape[0], per):
        sc, w = _fit_sites(X[s : s + per], y, kinds, n_classes, train, test, l2)
        scores.append(sc)
        chunks.append(w)
        bar.update(min(per, X.shape[0] - s))
    weights = {k: torch.cat([c[k] for c in chunks]) for k in chunks[0]}
    return torch.cat(scores, 1).reshape(len(kinds), *site_shape), weights


@dataclass(frozen=True)
class ProbeOptions:
    """How :func:`fit` probes: sizes, sites, controls and the fit. Frozen; checked when made.

    Example:
        >>> opts = ProbeOptions(n=2000, controls=("majority",), progress=False)
        >>> opts.l2, opts.test_fraction
        (0.001, 0.2)
        >>> res = al.probes.fit(model, "carry", options=opts)             # doctest: +SKIP
        >>> res = al.probes.fit(model, "carry", n=2000)     # the same, by keyword  # doctest: +SKIP

    Attributes:
        n: number of distinct problems (ignored when ``problems`` is given to :func:`fit`).
        activation: one of :data:`~arithlens.probes.activations.ACTIVATIONS`.
        layers, positions: subsets (indices) of the layers and token positions (None: all).
        strategy: how the ``n`` problems are sampled.
        test_fraction: share of problems held out for scoring (0.05..0.5).
        controls: any of ``"majority"``, ``"control_task"`` (Hewitt & Liang), ``"random_init"``.
        control_types: what a control-task type is: ``"sums"`` (the column sums, or
            differences for subtraction, the target depends on) or ``"digits"`` (its operand
            digits). The share of test types seen in training is reported as
            ``control_coverage``; selectivity is NaN below
            :data:`~arithlens.probes.targets.MIN_COVERAGE`.
        l2: L2 penalty on the standardized features.
        min_per_class: raise when a class has fewer examples.
        seed: sampling, split and control-label seed.
        progress: show a progress bar.
    """

    n: int = 5000
    activation: str = "resid"
    layers: Sequence[int] | None = None
    positions: Sequence[int] | None = None
    strategy: Strategy = "uniform"
    test_fraction: float = 0.2
    controls: Sequence[str] = CONTROLS
    control_types: ControlTypes = "sums"
    l2: float = 1e-3
    min_per_class: int = 20
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        check_int("n", self.n, minimum=20)
        check_int("min_per_class", self.min_per_class, minimum=1)
        check_float("l2", self.l2, minimum=0)
        check_float("test_fraction", self.test_fraction, minimum=0.05, maximum=0.5)
        controls = [self.controls] if isinstance(self.controls, str) else list(self.controls)
        for c in controls:
            check_choice("control", c, CONTROLS)
        object.__setattr__(self, "controls", tuple(controls))

    def but(self, **changes: Any) -> ProbeOptions:
        """These options with ``changes``; an unknown name lists the known ones."""
        known = [f.name for f in fields(self)]
        bad = [k for k in changes if k not in known]
        if bad:
            raise ArithlensError(f"probe option {bad[0]!r} is unknown: expected one of {known}")
        return replace(self, **changes)


def fit(
    model: TransformerBridge,
    target: str | Target | Callable | Sequence = "carry",
    *,
    problems: Problems | None = None,
    options: ProbeOptions | None = None,
    **changes: Any,
) -> ProbeResult:
    """Fit linear probes for ``target`` on an activation at every layer x position (x head).

    Classes get multinomial logistic probes (held-out accuracy); scalars ridge probes
    (held-out R^2). All sites and targets are fitted in one batched optimization.

    Example:
        >>> res = al.probes.fit(model, "carry", n=2000, controls=["majority"])  # doctest: +SKIP

    Args:
        model: an arithlens model (with ``.task``).
        target: see :mod:`arithlens.probes.targets` (``"carry"``, ``"digit_class"``, ...).
        problems: the problems to probe on (default: ``n`` sampled with ``strategy``).
        options: a :class:`ProbeOptions` (default: its defaults).
        **changes: any :class:`ProbeOptions` field, overriding ``options`` (``n=2000``).
    """
    opts = (options or ProbeOptions()).but(**changes)
    encoder = arithmetic_encoder(model)
    problems = _problems(model, encoder, problems, opts.n, opts.seed, opts.strategy)
    task = problems.task  # the model's, or at another width (length generalization)
    targets = resolve(task, target)
    problems, train, test = _split(problems, opts.test_fraction, opts.seed)
    batch = encoder.encode(problems)
    check_fits(model, batch)
    labels = encoder.position_labels(batch)
    enc = encode_targets(
        targets,
        problems,
        min_per_class=opts.min_per_class,
        seed=opts.seed,
        control_types=opts.control_types,
    )
    layer_hooks = hooks(model, opts.activation)
    li = select("layers", opts.layers, len(layer_hooks), "layer indices")
    pi = select("positions", opts.positions, batch.tokens.shape[1], "token positions")
    layer_hooks = [layer_hooks[i] for i in li]
    names = [h for _, h in layer_hooks]
    score, control, weights, random_score = _probe_model(
        lambda m: collect(m, batch.tokens, names, pi), model, enc, opts, train, test
    )
    K, controls = len(targets), opts.controls
    return ProbeResult(
        score=score.numpy(),
        control=control.numpy(),
        random_init=random_score.numpy(),
        majority=_majority(enc, train, test) if "majority" in controls else np.full(K, np.nan),
        control_coverage=enc.coverage(train, test)
        if "control_task" in controls
        else np.full(K, np.nan),
        targets=enc.names,
        kinds=enc.kinds,
        classes=enc.classes,
        axes=("target", "layer", "pos", "head")[: score.dim()],
        layer_labels=[label for label, _ in layer_hooks],
        pos_labels=[labels[p] for p in pi],
        positions=pi,
        weights=weights,
        activation=opts.activation,
        hooks=names,
        n_train=train.stop,
        n_test=len(problems) - train.stop,
        l2=opts.l2,
        seed=opts.seed,
        control_types=opts.control_types,
        task=task.to_dict(),
    )


def _probe_model(
    activations: Callable[[TransformerBridge], Tensor],
    model: TransformerBridge,
    enc: Encoded,
    opts: ProbeOptions,
    train: slice,
    test: slice,
) -> tuple[Tensor, Tensor, dict[str, Tensor], Tensor]:
    """Score, control-task score, weights and random-init score at every site (NaN where a
    control was not asked for); ``activations(m)`` collects model ``m``'s sites, so the
    random-init twin is probed on the same problems and sites."""
    acts = activations(model)
    controls = list(opts.controls)
    n_sites = int(np.prod(acts.shape[:-2]))
    bar = tqdm(
        total=n_sites * (1 + ("random_init" in controls)),
        desc="probes",
        disable=not opts.progress,
        unit="site",
    )
    score, control, weights = _with_control_task(acts, enc, controls, train, test, opts.l2, bar)
    random_score = torch.full_like(score, float("nan"))
    if "random_init" in controls:  # the same probes on a randomly initialized twin
        racts = activations(random_init_like(model))
        ncls = [len(c) for c in enc.classes]
        random_score = _probe_all(
            racts, torch.from_numpy(enc.y), enc.kinds, ncls, train, test, opts.l2, bar
        )[0]
    bar.close()
    return score, control, weights, random_score


def _problems(
    model: TransformerBridge,
    encoder: Encoder,
    problems: Problems | None,
    n: int,
    seed: int,
    strategy: Strategy,
) -> Problems:
    """The given problems (checked to be of the model's task, at any width), or ``n``
    sampled."""
    if problems is None:
        return encoder.sample(n, seed, strategy=strategy)
    if not isinstance(problems, Problems):
        raise ArithlensError(
            f"problems is a {type(problems).__name__}: expected arithlens.tasks.Problems"
        )
    check_task(model, problems.task, any_width=True)
    return problems


def _with_control_task(
    acts: Tensor,
    enc: Encoded,
    controls: list[str],
    train: slice,
    test: slice,
    l2: float,
    bar: tqdm,
) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Scores, control-task scores (NaN unless ``"control_task"`` is a control) and the real
    targets' weights; the control task's labels are fitted in the same batched run as
    extra targets."""
    K = len(enc.names)
    both = "control_task" in controls
    y = torch.from_numpy(np.concatenate([enc.y, enc.control]) if both else enc.y)
    n_classes = [len(c) for c in enc.classes] * (2 if both else 1)
    score, weights = _probe_all(
        acts, y, enc.kinds * (2 if both else 1), n_classes, train, test, l2, bar
    )
    control = score[K:] if both else torch.full_like(score[:K], float("nan"))
    weights["W"], weights["b"] = weights["W"][:, :, :K], weights["b"][:, :K]
    weights["class_mean"] = weights["class_mean"][:, :K]
    return score[:K], control, weights
