"""Probe sweep speed: every layer x position x carry target of the zoo's 2-layer 3-digit model.

``probe_sweep_s``: ``al.probes.fit(model, "carry", n=10000, controls=("majority",
"control_task"))`` end to end: sampling, caching the residual stream (3 streams x 13 positions),
whitening, and fitting 117 carry probes plus their 117 Hewitt & Liang control probes (held-out
split 8000 / 2000). ``with_random_init_s``: the same with the random-init control as well
(a second model's activations and 117 more probes).

``sklearn_ratio``: the same 234 logistic fits (same whitened features, same penalty
``C = 1 / (l2 * n_train)``) as a loop of ``sklearn.linear_model.LogisticRegression`` (lbfgs),
divided by our fitting time on the same cached activations (our time includes the whitening,
sklearn's does not). Goal: ``probe_sweep_s <= 10`` on 2 CPU threads.

Last line: ``probe_sweep_s=<s> sklearn_ratio=<x>``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import arithlens as al
from arithlens.probes import fit, linear
from arithlens.probes.activations import collect, hooks
from arithlens.probes.targets import encode_targets, resolve
from arithlens.tasks import sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-sklearn", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = al.load("add3-2L")
    fit(model, "carry.tens", n=500, controls=("majority",), progress=False)  # warm up

    t0 = time.perf_counter()
    res = fit(model, "carry", n=a.n, controls=("majority", "control_task"), progress=False)
    sweep = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit(model, "carry", n=a.n, progress=False)
    full = time.perf_counter() - t0
    best = res.best()
    print(best[["target", "layer", "pos_label", "score", "control", "majority"]].to_string())
    print(f"sites={res.score[0].size} targets={len(res.targets)} problems={a.n}")
    print(f"probe_sweep_s={sweep:.2f} (controls: majority, control task)")
    print(f"with_random_init_s={full:.2f}")

    # the same fits, ours vs a scikit-learn loop, on the same cached activations
    problems = sample(model.task, a.n, seed=0, unique=True)
    n_train = int(a.n * 0.8)
    from arithlens.tokens.tokenizer import encode

    acts = collect(
        model, encode(problems).tokens, [h for _, h in hooks(model, "resid")], list(range(13))
    )
    X = acts.reshape(-1, *acts.shape[-2:])
    enc = encode_targets(resolve(model.task, "carry"), problems, min_per_class=20, seed=0)
    y = torch.from_numpy(np.concatenate([enc.y, enc.control])).long()
    l2 = 1e-3
    t0 = time.perf_counter()
    mean, T = linear.whitener(X[:, :n_train])
    Xw = torch.baddbmm(-torch.bmm(mean, T), X, T)
    W, b = linear.fit_logistic(Xw[:, :n_train], y[:, :n_train], [2] * len(y), l2=l2)
    ours = time.perf_counter() - t0
    ours_acc = (
        (
            linear.logistic_logits(Xw[:, n_train:], W, b, [2] * len(y)).argmax(-1)
            == y[:, n_train:].T[None]
        )
        .float()
        .mean(1)
    )
    if a.no_sklearn:
        print(f"probe_sweep_s={sweep:.2f}")
        return
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    diffs = []
    for s in range(X.shape[0]):
        Xs = Xw[s].numpy()
        for k in range(len(y)):
            clf = LogisticRegression(C=1 / (l2 * n_train), max_iter=1000)
            clf.fit(Xs[:n_train], y[k, :n_train].numpy())
            diffs.append(
                abs(clf.score(Xs[n_train:], y[k, n_train:].numpy()) - float(ours_acc[s, k]))
            )
    theirs = time.perf_counter() - t0
    print(
        f"fits={X.shape[0] * len(y)} ours_fit_s={ours:.2f} sklearn_s={theirs:.2f} max_abs_acc_diff={max(diffs):.4f}"
    )
    print(f"probe_sweep_s={sweep:.2f} sklearn_ratio={theirs / ours:.2f}")


if __name__ == "__main__":
    main()
