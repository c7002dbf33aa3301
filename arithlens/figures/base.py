"""The figure registry and the runner behind ``arithlens figures``.

A figure is a module with ``compute(ctx) -> numbers`` (JSON-ready: everything it plots),
``draw(numbers) -> go.Figure`` (from :mod:`arithlens.plots`), ``summarize(numbers) -> lines``,
its ``PAPER`` numbers and its ``CHECKS`` (claims on the numbers that can fail). Because drawing
and checking read only the numbers, :func:`recheck` redraws a saved figure without a model.
:func:`run` writes,
per figure, a folder with ``<name>.html`` (interactive), ``<name>.png`` (static, kaleido),
``<name>.json`` (numbers, paper, checks, seconds and every plotted trace's data) and
``<name>.md`` (ours next to the paper's). Each folder is written atomically, so an interrupted
run keeps every figure already finished.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import plotly.graph_objects as go

from arithlens.errors import ArithlensError


@dataclass
class Context:
    """What a figure may use: ``quick`` sizes, an extra pretrained ``model`` (key heads), a
    progress flag and the training ``seeds`` (a figure that trains repeats its runs once per seed
    and shows the spread; empty: the default, one seed in quick mode, three in full mode)."""

    quick: bool = False
    model: Any = None
    progress: bool = True
    seed: int = 0
    seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.seeds, (tuple, list)) and len(self.seeds) == 0:
            self.seeds = (self.seed,) if self.quick else tuple(self.seed + i for i in range(3))
        bad = not isinstance(self.seeds, (tuple, list))
        if (
            bad
            or len(set(self.seeds)) != len(self.seeds)
            or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in self.seeds
            )
        ):
            raise ArithlensError(
                f"seeds={self.seeds!r} is invalid: expected a non-empty sequence of distinct "
                "non-negative integers"
            )
        self.seeds = tuple(self.seeds)


def spread(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (0 for one value), min, max and the values over seeds.

    Example:
        >>> spread([0.9, 1.0, 0.95])["mean"]
        0.95
        >>> round(spread([0.9, 1.0, 0.95])["std"], 3), spread([0.5])["std"]
        (0.05, 0.0)
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or not len(v):
        raise ArithlensError(f"spread needs a non-empty list of numbers, got {values!r}")
    return dict(
        mean=round(float(v.mean()), 12),
        std=float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        min=float(v.min()),
        max=float(v.max()),
        values=[float(x) for x in v],
    )


@dataclass
class FigureOutput:
    """One reproduced figure.

    Attributes:
        figure: the plotly figure.
        numbers: the numbers behind it (JSON-ready).
        paper: the paper's numbers or claims, as text by key.
        checks: invariant name -> whether it holds on our numbers.
        summary: markdown lines comparing ours with the paper's.
    """

    figure: go.Figure
    numbers: dict[str, Any]
    paper: dict[str, str]
    checks: dict[str, bool]
    summary: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """A claim of the paper, stated on a figure's numbers so that it can fail.

    Attributes:
        claim: what must hold, in words (the key of the figure's ``checks``).
        holds: ``numbers -> bool``; reads only the figure's JSON numbers, so a test can feed it a
            counter-example.
    """

    claim: str
    holds: Callable[[dict[str, Any]], bool]


def run_checks(checks: list[Check], numbers: dict[str, Any]) -> dict[str, bool]:
    """Each check's claim -> whether it holds on ``numbers``."""
    return {c.claim: bool(c.holds(numbers)) for c in checks}


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the registry: what its module declares.

    Attributes:
        name, title, source: the figure's key, its heading and the paper it reproduces.
        compute: ``Context -> numbers`` (JSON-ready; everything :attr:`draw` plots).
        draw: ``numbers -> go.Figure``.
        summarize: ``numbers -> list of markdown lines`` (ours next to the paper's).
        paper: the paper's numbers or claims, as text by key of ``numbers``.
        checks: the paper's claims stated on ``numbers`` (:class:`Check`).
    """

    name: str
    title: str
    source: str
    compute: Callable[[Context], dict[str, Any]]
    draw: Callable[[dict[str, Any]], go.Figure]
    summarize: Callable[[dict[str, Any]], list[str]]
    paper: dict[str, str]
    checks: tuple[Check, ...]

    @classmethod
    def of(cls, module: ModuleType) -> FigureSpec:
        """The spec a figure module declares (``NAME``, ``TITLE``, ``SOURCE``, ``compute``,
        ``draw``, ``summarize``, ``PAPER``, ``CHECKS``); a missing one is named."""
        needed = ("NAME", "TITLE", "SOURCE", "compute", "draw", "summarize", "PAPER", "CHECKS")
        missing = [k for k in needed if not hasattr(module, k)]
        if missing:
            raise ArithlensError(
                f"figure module {module.__name__} lacks {missing}: a figure declares {list(needed)}"
            )
        return cls(
            module.NAME,
            module.TITLE,
            module.SOURCE,
            module.compute,
            module.draw,
            module.summarize,
            dict(module.PAPER),
            tuple(module.CHECKS),
        )

    def show(self, numbers: dict[str, Any]) -> FigureOutput:
        """The figure, checks and summary of ``numbers`` (computed now or read from a file)."""
        return FigureOutput(
            self.draw(numbers),
            numbers,
            self.paper,
            run_checks(list(self.checks), numbers),
            self.summarize(numbers),
        )

    def make(self, ctx: Context) -> FigureOutput:
        """Compute the numbers under ``ctx``, then draw, check and summarize them."""
        return self.show(self.compute(ctx))


def _browser() -> str | None:
    for path in (os.environ.get("BROWSER_PATH"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if path and Path(path).exists():
            return path
    return shutil.which("chromium") or shutil.which("google-chrome")


def export_png(fig: go.Figure, path: Path) -> str | None:
    """Write ``fig`` as PNG with kaleido and a local Chrome/Chromium; the reason on failure."""
    browser = _browser()
    if browser is None:
        return (
            "no Chrome/Chromium found for kaleido (apt-get install chromium, or set BROWSER_PATH)"
        )
    # kaleido finds the browser through BROWSER_PATH: set it for this export only
    before = os.environ.get("BROWSER_PATH")
    os.environ["BROWSER_PATH"] = before or browser
    try:
        fig.write_image(str(path), width=fig.layout.width or 1000, height=fig.layout.height or 500)
    except Exception as e:  # kaleido missing or the browser failed: report, keep the HTML
        return f"static export failed: {type(e).__name__}: {e}"
    finally:
        if before is None:
            del os.environ["BROWSER_PATH"]
    return None


def traces_of(fig: go.Figure) -> list[dict[str, Any]]:
    """The data behind ``fig``: per trace its type, name, subplot axes and x / y / z / text.

    Example:
        >>> fig = go.Figure(go.Scatter(x=[1, 2], y=[0.5, 0.9], name="reversed"))
        >>> traces_of(fig)[0]["y"]
        [0.5, 0.9]
    """
    rows = []
    for tr in fig.data:
        row: dict[str, Any] = dict(type=tr.type, name=tr.name)
        for key in ("xaxis", "yaxis", "x", "y", "z", "text"):
            value = getattr(tr, key, None) if key in tr else None
            if value is not None:
                row[key] = value if isinstance(value, str) else np.asarray(value).tolist()
        rows.append(row)
    return rows


def __getattr__(name: str) -> Any:
    # names that moved when figures became compute / draw / summarize (issue 29)
    if name in ("error_band", "PALETTE"):
        import arithlens.plots

        return getattr(arithlens.plots, name)
    if name == "register":
        raise AttributeError(
            "arithlens.figures.base.register is gone: a figure is a module declaring NAME, "
            "TITLE, SOURCE, compute, draw, summarize, PAPER and CHECKS, listed in "
            "arithlens.figures.registry.FIGURES"
        )
    raise AttributeError(f"module 'arithlens.figures.base' has no attribute {name!r}")
