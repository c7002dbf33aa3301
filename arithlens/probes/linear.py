"""Batched linear probes: one optimization fits every site x target at once.

``X`` holds one design matrix per site, ``(site, example, feature)``; targets are shared by all
sites, ``(target, example)``. Logistic probes are multinomial with an L2 penalty (classes a
target lacks are masked out), fitted jointly with L-BFGS: the problems are independent, so the
joint optimum is every problem's optimum. Ridge probes are solved in closed form per site.
Features are whitened with the training split's mean and covariance (:func:`whitener`), so the
L2 penalty is on whitened weights: it penalizes the variance of the probe's logit over the
data, which is invariant to rotations and scalings of the activation space.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> X = torch.randn(3, 400, 8, generator=g)          # 3 sites, 400 examples, 8 features
    >>> y = (X[0, :, :1].T > 0).long()                   # 1 target: sign of feature 0 at site 0
    >>> W, b = fit_logistic(X, y, [2], l2=1e-3)
    >>> acc = (logistic_logits(X, W, b, [2]).argmax(-1)[..., 0] == y[0]).float().mean(-1)
    >>> bool(acc[0] > 0.97), bool(acc[1] < 0.7)
    (True, True)
"""

from __future__ import annotations

import torch
from jaxtyping import Float, Int
from torch import Tensor


def whitener(
    X: Float[Tensor, "site n d"], rel_eps: float = 1e-6
) -> tuple[Float[Tensor, "site 1 d"], Float[Tensor, "site d r"]]:
    """Per-site mean and whitening map ``T``: ``(X - mean) @ T`` has identity covariance.

    Directions whose variance is below ``rel_eps`` times the largest are dropped (their columns
    of ``T`` are zero); ``r`` is the largest rank kept at any site. Residual streams are highly
    correlated and often low-rank (the embedding stream has rank ~ vocabulary + positions);
    whitening makes every probe problem well conditioned, so L-BFGS converges in tens of steps.
    """
    mean = X.mean(1, keepdim=True)
    Xc = X - mean
    cov = torch.bmm(Xc.transpose(1, 2), Xc) / X.shape[1]
    ev, P = torch.linalg.eigh(cov.double())
    keep = ev > ev[:, -1:].clamp_min(1e-30) * rel_eps
    r = max(int(keep.sum(1).max()), 1)
    ev, P, keep = ev[:, -r:], P[:, :, -r:], keep[:, -r:]
    T = (P / ev.clamp_min(1e-30).sqrt()[:, None, :]) * keep[:, None, :]
    return mean, T.to(X.dtype)


def _class_mask(n_classes: list[int], C: int) -> Tensor:
    return torch.arange(C)[None, :] < torch.tensor(n_classes)[:, None]  # (K, C)


def logistic_logits(
    X: Float[Tensor, "site n d"],
    W: Float[Tensor, "site d k c1"],
    b: Float[Tensor, "site k c1"],
    n_classes: list[int],
) -> Float[Tensor, "site n k c"]:
    """Class logits of every probe on every example; class 0 is the reference (logit 0) and
    classes a target lacks are at -inf."""
    S, N, _ = X.shape
    K, C1 = W.shape[2], W.shape[3]
    z = torch.baddbmm(b.reshape(S, 1, K * C1), X, W.reshape(S, -1, K * C1)).reshape(S, N, K, C1)
    z = torch.nn.functional.pad(z, (1, 0))
    return z.masked_fill(~_class_mask(n_classes, C1 + 1).to(z.device), float("-inf"))


def _loss_and_grad(
    X: Tensor, XT: Tensor, Y: Tensor, XtY: Tensor, W: Tensor, b: Tensor, mask: Tensor, l2: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Penalized mean cross-entropy summed over problems, and its gradient (by hand: one
    matmul forward, one back, a few elementwise passes; autograd costs twice as much here)."""
    S, N, _ = X.shape
    K, C1 = W.shape[2], W.shape[3]
    z = torch.baddbmm(b.reshape(S, 1, K * C1), X, W.reshape(S, -1, K * C1))
    if C1 == 1:  # binary: sigmoid / softplus
        lse = torch.nn.functional.softplus(z)
        gz = torch.sigmoid(z).sub_(Y)
    else:
        z = z.view(S, N, K, C1).masked_fill(~mask, float("-inf"))
        lse = torch.logsumexp(torch.nn.functional.pad(z, (1, 0)), -1, keepdim=True)
        gz = torch.exp(z - lse).view(S, N, K * C1).sub_(Y)
    # the label term sum(z * Y) is linear in W and b: precomputed as X^T Y and sum(Y)
    linear = (W.view(S, -1, K * C1) * XtY).sum() + (b.view(S, K * C1) * Y.sum(0)).sum()
    loss = (lse.sum() - linear) / N + 0.5 * l2 * (W * W).sum()
    gW = torch.bmm(XT, gz).div_(N).view_as(W) + l2 * W
    gb = gz.sum(1).div_(N).view_as(b)
    return loss, gW, gb


@torch.no_grad()
def fit_logistic(
    X: Float[Tensor, "site n d"],
    y: Int[Tensor, "k n"],
    n_classes: list[int],
    *,
    l2: float = 1e-3,
    max_iter: int = 100,
) -> tuple[Float[Tensor, "site d k c1"], Float[Tensor, "site k c1"]]:
    """Fit ``site x target`` multinomial logistic probes jointly.

    ``y[k]`` holds class codes ``0..n_classes[k]-1``; class 0 is the reference class (logit 0),
    so a binary probe is ordinary logistic regression. Loss per problem: mean cross-entropy +
    ``l2 / 2 * ||W||^2``. Returns ``W (site, d, target, C-1)`` and ``b (site, target, C-1)``.
    """
    S, N, d = X.shape
    K, C1 = len(n_classes), max(n_classes) - 1
    Y = torch.nn.functional.one_hot(y.T, C1 + 1)[..., 1:].to(X.dtype).reshape(N, K * C1)
    mask = _class_mask(n_classes, C1 + 1)[:, 1:].to(X.device)
    XT = X.transpose(1, 2).contiguous()
    XtY = torch.matmul(XT, Y)
    W = torch.zeros(S, d, K, C1, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(S, K, C1, dtype=X.dtype, device=X.device, requires_grad=True)
    opt = torch.optim.LBFGS(
        [W, b],
        lr=1,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
        line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        loss, W.grad, b.grad = _loss_and_grad(X, XT, Y, XtY, W, b, mask, l2)
        return loss

    opt.step(closure)
    return W.detach(), b.detach()


def fit_predict(
    Xtr: Float[Tensor, "site n d"],
    ytr: Int[Tensor, " n"],
    Xte: Float[Tensor, "site m d"],
    n_classes: int,
    *,
    l2: float = 1e-3,
) -> Int[Tensor, "site m"]:
    """One multinomial probe per site for one target, on features whitened with the training
    split (:func:`whitener`); returns each site's predicted class on ``Xte``."""
    mean, T = whitener(Xtr)
    W, b = fit_logistic(torch.bmm(Xtr - mean, T), ytr[None], [n_classes], l2=l2)
    return logistic_logits(torch.bmm(Xte - mean, T), W, b, [n_classes]).argmax(-1)[..., 0]


def fit_ridge(
    X: Float[Tensor, "site n d"], y: Float[Tensor, "k n"], *, l2: float = 1e-3
) -> tuple[Float[Tensor, "site d k"], Float[Tensor, "site k"]]:
    """Ridge probes per site and target, in closed form (``X`` centred)."""
    S, N, d = X.shape
    mean_y = y.mean(1)
    gram = torch.bmm(X.transpose(1, 2), X) / N + l2 * torch.eye(d, dtype=X.dtype, device=X.device)
    rhs = torch.einsum("snd,kn->sdk", X, y - mean_y[:, None]) / N
    W = torch.linalg.solve(gram, rhs)
    return W, mean_y[None].expand(S, -1).clone()


def r2(pred: Float[Tensor, "site n k"], y: Float[Tensor, "k n"]) -> Float[Tensor, "site k"]:
    """Coefficient of determination of ``pred`` against ``y`` per site and target."""
    resid = ((pred - y.T[None]) ** 2).sum(1)
    total = ((y - y.mean(1, keepdim=True)) ** 2).sum(1)
    return 1 - resid / total.clamp_min(1e-12)[None]
