"""The figure registry and the runner behind ``arithlens figures``.

A figure is a function ``make(ctx) -> FigureOutput``: the plotly figure, the numbers behind it,
the paper's numbers, and the checks (invariants) that make it meaningful. :func:`run` writes,
per figure, a folder with ``<name>.html`` (interactive), ``<name>.png`` (static, kaleido),
``<name>.json`` (numbers, paper, checks, seconds and every plotted trace's data) and
``<name>.md`` (ours next to the paper's). Each folder is written atomically, so an interrupted
run keeps every figure already finished.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from tqdm.auto import tqdm

from arithlens._atomic import check_writable, write_dir, write_text
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


def error_band(fig: go.Figure, x: Any, runs: np.ndarray, name: str, color: str, **kw: Any) -> None:
    """Add ``runs`` (seeds x points) to ``fig`` as its mean line with a shaded min-max band
    (the band only when there is more than one seed)."""
    runs = np.asarray(runs, dtype=np.float64)
    x = list(x)
    if len(runs) > 1:
        # the max line, then the min line filled up to it
        for edge, fill in (
            ("max", {}),
            ("min", dict(fill="tonexty", fillcolor=_rgba(color, 0.18))),
        ):
            fig.add_scatter(
                x=x,
                y=runs.max(0) if edge == "max" else runs.min(0),
                name=f"{name} {edge}",
                mode="lines",
                line=dict(width=0),
                showlegend=False,
                legendgroup=name,
                hoverinfo="skip",
                **fill,
                **kw,
            )
    fig.add_scatter(
        x=x,
        y=runs.mean(0),
        name=name,
        mode="lines",
        line=dict(color=color),
        legendgroup=name,
        **kw,
    )


def _rgba(color: str, alpha: float) -> str:
    c = color.lstrip("#")
    r, g, b = (int(c[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


#: a qualitative palette for per-digit / per-format lines
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


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
    name: str
    title: str
    source: str
    make: Callable[[Context], FigureOutput]


REGISTRY: dict[str, FigureSpec] = {}


def register(name: str, title: str, source: str):
    """Decorator adding ``make`` to :data:`REGISTRY` under ``name``."""

    def add(make: Callable[[Context], FigureOutput]) -> Callable[[Context], FigureOutput]:
        REGISTRY[name] = FigureSpec(name, title, source, make)
        return make

    return add


def select(only: str | list[str] | None) -> list[FigureSpec]:
    """The figures named in ``only`` (a name or a list of names; all when None); unknown names
    list the known ones, and an empty list is refused."""
    if only is None:
        return list(REGISTRY.values())
    if isinstance(only, str):
        only = [only]
    if not isinstance(only, (list, tuple)) or not only:
        raise ArithlensError(
            f"only={only!r} is invalid: expected None (all figures), a figure name or a "
            f"non-empty list of them from {list(REGISTRY)}"
        )
    bad = [n for n in only if n not in REGISTRY]
    if bad:
        raise ArithlensError(f"figure {bad[0]!r} is unknown: expected one of {list(REGISTRY)}")
    return [REGISTRY[n] for n in only]


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


def _report(
    spec: FigureSpec,
    res: FigureOutput,
    quick: bool,
    png_note: str | None,
    seconds: float,
    seeds: tuple[int, ...] = (0,),
) -> str:
    lines = [
        f"# {spec.title}",
        "",
        f"Source: {spec.source}. Mode: {'quick' if quick else 'full'}, {seconds} s; "
        f"training seeds {list(seeds)} (figures that train).",
        "",
    ]
    lines += ["| | ours | paper |", "|---|---|---|"]
    keys = list(dict.fromkeys([*res.paper]))
    for k in keys:
        ours = res.numbers.get(k, "")
        lines.append(f"| {k} | {_fmt(ours)} | {res.paper[k]} |")
    lines += ["", *res.summary, "", "Checks:"]
    lines += [f"- {'PASS' if ok else 'FAIL'}: {name}" for name, ok in res.checks.items()]
    if png_note:
        lines += ["", f"No PNG: {png_note}."]
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


@dataclass(frozen=True)
class FigureRun:
    """What :func:`run` made of one figure.

    Attributes:
        folder: where its HTML, PNG, JSON and report are.
        checks: each check's claim -> whether it held.
        seconds: the analysis time (without the export).
    """

    folder: Path
    checks: dict[str, bool]
    seconds: float

    @property
    def failed(self) -> list[str]:
        """The claims that did not hold."""
        return [c for c, ok in self.checks.items() if not ok]

    @property
    def passed(self) -> bool:
        """Whether every check held."""
        return not self.failed


def recheck(folder: str | Path) -> FigureRun:
    """Evaluate the current checks of a saved figure on its saved numbers (no retraining), and
    rewrite the statuses in its JSON and report: for a result made before a check changed.

    Example:
        >>> al.figures.recheck("figures/digit_phases").failed                 # doctest: +SKIP
    """
    import importlib

    folder = Path(folder)
    found = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if len(found) != 1:
        raise ArithlensError(
            f"{folder} holds {len(found)} JSON files: expected a figure folder written by "
            "figures.run (one <name>.json)"
        )
    path = found[0]
    payload = json.loads(path.read_text())
    name = payload.get("name")
    if name not in REGISTRY:
        raise ArithlensError(f"{path} names figure {name!r}: expected one of {list(REGISTRY)}")
    module = importlib.import_module(REGISTRY[name].make.__module__)
    checks = run_checks(module.CHECKS, payload["numbers"])
    payload["checks"] = checks
    report = (folder / f"{name}.md").read_text().split("\nChecks:\n", 1)[0]
    lines = [f"- {'PASS' if ok else 'FAIL'}: {c}" for c, ok in checks.items()]
    tail = f"\nNo PNG: {payload['png_note']}.\n" if payload.get("png_note") else ""
    # each file replaced atomically: an interrupted recheck leaves the old one whole
    write_text(folder / f"{name}.md", report + "\nChecks:\n" + "\n".join(lines) + "\n" + tail)
    write_text(folder / f"{name}.json", json.dumps(payload, indent=2, default=float))
    return FigureRun(folder, checks, payload["seconds"])


def run(
    out: str | Path,
    only: str | list[str] | None = None,
    *,
    quick: bool = False,
    model: Any = None,
    progress: bool = True,
    seeds: int | None = None,
) -> dict[str, FigureRun]:
    """Reproduce the figures ``only`` (default all) into ``out``.

    Example:
        >>> runs = al.figures.run("figures/", quick=True)  # doctest: +SKIP
        >>> {name: r.passed for name, r in runs.items()}  # doctest: +SKIP

    Args:
        seeds: how many training seeds (0, 1, ...) the training figures repeat each run over;
            default 1 in quick mode, 3 in full mode.

    Returns:
        per figure, its folder and the status of each of its checks.
    """
    from arithlens.plots import figures_html

    specs = select(only)
    out = Path(out)
    check_writable(out)
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ArithlensError(f"seeds={seeds!r} is invalid: expected a positive integer")
    ctx = Context(
        quick=quick,
        model=model,
        progress=progress,
        seeds=() if seeds is None else tuple(range(seeds)),
    )
    done: dict[str, FigureRun] = {}
    for spec in tqdm(specs, desc="figures", disable=not progress):
        start = time.perf_counter()
        res = spec.make(ctx)
        seconds = round(time.perf_counter() - start, 1)  # the analysis, without the export

        def fill(tmp: Path) -> None:  # called at once by write_dir, in this iteration
            (tmp / f"{spec.name}.html").write_text(figures_html([res.figure], spec.title))
            note = export_png(res.figure, tmp / f"{spec.name}.png")
            payload = dict(
                name=spec.name,
                title=spec.title,
                source=spec.source,
                quick=quick,
                seeds=list(ctx.seeds),
                seconds=seconds,
                numbers=res.numbers,
                paper=res.paper,
                checks=res.checks,
                traces=traces_of(res.figure),
                png=None if note else f"{spec.name}.png",
                png_note=note,
            )
            (tmp / f"{spec.name}.json").write_text(json.dumps(payload, indent=2, default=float))
            (tmp / f"{spec.name}.md").write_text(
                _report(spec, res, quick, note, seconds, ctx.seeds)
            )

        folder = write_dir(out / spec.name, fill)
        done[spec.name] = FigureRun(folder, dict(res.checks), seconds)
    return done
