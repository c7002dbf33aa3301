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

from arithlens._atomic import check_writable, write_dir
from arithlens.errors import ArithlensError


@dataclass
class Context:
    """What a figure may use: ``quick`` sizes, an extra pretrained ``model`` (key heads), a
    progress flag and a seed."""

    quick: bool = False
    model: Any = None
    progress: bool = True
    seed: int = 0


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
    os.environ.setdefault("BROWSER_PATH", browser)
    try:
        fig.write_image(str(path), width=fig.layout.width or 1000, height=fig.layout.height or 500)
    except Exception as e:  # kaleido missing or the browser failed: report, keep the HTML
        return f"static export failed: {type(e).__name__}: {e}"
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
    spec: FigureSpec, res: FigureOutput, quick: bool, png_note: str | None, seconds: float
) -> str:
    lines = [
        f"# {spec.title}",
        "",
        f"Source: {spec.source}. Mode: {'quick' if quick else 'full'}, {seconds} s.",
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


def run(
    out: str | Path,
    only: str | list[str] | None = None,
    *,
    quick: bool = False,
    model: Any = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Reproduce the figures ``only`` (default all) into ``out``; returns each figure's folder."""
    from arithlens.plots import figures_html

    specs = select(only)
    out = Path(out)
    check_writable(out)
    ctx = Context(quick=quick, model=model, progress=progress)
    done: dict[str, Path] = {}
    for spec in tqdm(specs, desc="figures", disable=not progress):
        start = time.perf_counter()
        res = spec.make(ctx)
        seconds = round(time.perf_counter() - start, 1)  # the analysis, without the export

        def fill(tmp: Path, spec=spec, res=res, seconds=seconds) -> None:
            (tmp / f"{spec.name}.html").write_text(figures_html([res.figure], spec.title))
            note = export_png(res.figure, tmp / f"{spec.name}.png")
            payload = dict(
                name=spec.name,
                title=spec.title,
                source=spec.source,
                quick=quick,
                seconds=seconds,
                numbers=res.numbers,
                paper=res.paper,
                checks=res.checks,
                traces=traces_of(res.figure),
                png=None if note else f"{spec.name}.png",
                png_note=note,
            )
            (tmp / f"{spec.name}.json").write_text(json.dumps(payload, indent=2, default=float))
            (tmp / f"{spec.name}.md").write_text(_report(spec, res, quick, note, seconds))

        done[spec.name] = write_dir(out / spec.name, fill)
    return done
