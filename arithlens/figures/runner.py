"""The runner behind ``arithlens figures``: compute, draw and write each figure; recheck and
redraw a saved one from its numbers alone.

Per figure :func:`run` writes a folder with ``<name>.html`` (interactive), ``<name>.png``
(static, kaleido), ``<name>.json`` (numbers, paper, checks, seconds and every plotted trace's
data) and ``<name>.md`` (ours next to the paper's). Each folder is written atomically, so an
interrupted run keeps every figure already finished.

Example:
    >>> runs = al.figures.run("figures/", only=["carry_taxonomy"], quick=True)  # doctest: +SKIP
    >>> al.figures.recheck("figures/carry_taxonomy").passed                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from arithlens._atomic import check_writable, write_dir
from arithlens.errors import ArithlensError, check_int
from arithlens.figures.base import Context, FigureOutput, FigureSpec, export_png, traces_of
from arithlens.figures.registry import REGISTRY
from arithlens.plots import figures_html


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


def _write(
    out: Path,
    spec: FigureSpec,
    res: FigureOutput,
    quick: bool,
    seeds: tuple,
    seconds: float,
    png: bool = True,
) -> Path:
    """Write one figure's folder (HTML, PNG unless ``png`` is False, JSON, report) atomically;
    returns the folder."""

    def fill(tmp: Path) -> None:
        (tmp / f"{spec.name}.html").write_text(figures_html([res.figure], spec.title))
        note = export_png(res.figure, tmp / f"{spec.name}.png") if png else "not asked (png=False)"
        payload = dict(
            name=spec.name,
            title=spec.title,
            source=spec.source,
            quick=quick,
            seeds=list(seeds),
            seconds=seconds,
            numbers=res.numbers,
            paper=res.paper,
            checks=res.checks,
            traces=traces_of(res.figure),
            png=None if note else f"{spec.name}.png",
            png_note=note,
        )
        (tmp / f"{spec.name}.json").write_text(json.dumps(payload, indent=2, default=float))
        (tmp / f"{spec.name}.md").write_text(_report(spec, res, quick, note, seconds, seeds))

    return write_dir(out / spec.name, fill)


def _saved(folder: Path) -> tuple[FigureSpec, dict[str, Any]]:
    """The spec and payload of a figure folder written by :func:`run`."""
    found = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if len(found) != 1:
        raise ArithlensError(
            f"{folder} holds {len(found)} JSON files: expected a figure folder written by "
            "figures.run (one <name>.json)"
        )
    payload = json.loads(found[0].read_text())
    name = payload.get("name")
    if name not in REGISTRY:
        raise ArithlensError(f"{found[0]} names figure {name!r}: expected one of {list(REGISTRY)}")
    return REGISTRY[name], payload


def recheck(folder: str | Path, *, png: bool = True) -> FigureRun:
    """Redraw a saved figure from its saved numbers, without any model: evaluate the current
    checks, draw the figure and write the summary again, and rewrite the folder (HTML, PNG,
    JSON, report) atomically. For a result made before a check or a drawing changed.
    ``png=False`` skips the static export (about 2 s a figure).

    Example:
        >>> al.figures.recheck("figures/digit_phases").failed                 # doctest: +SKIP

    Raises:
        ArithlensError: not a figure folder, or numbers saved without what the figure plots
            (written by an arithlens before figures kept their plotted series: rerun it).
    """
    folder = Path(folder)
    spec, payload = _saved(folder)
    try:
        res = spec.show(payload["numbers"])
    except (KeyError, IndexError, TypeError) as e:
        raise ArithlensError(
            f"{folder / spec.name}.json lacks what figure {spec.name!r} draws ({type(e).__name__}: "
            f"{e}): it was saved by an older arithlens; rerun `arithlens figures --only "
            f"{spec.name}`"
        ) from None
    seeds = tuple(payload.get("seeds", ()))
    _write(folder.parent, spec, res, payload["quick"], seeds, payload["seconds"], png)
    return FigureRun(folder, dict(res.checks), payload["seconds"])


def run(
    out: str | Path,
    only: str | list[str] | None = None,
    *,
    quick: bool = False,
    model: Any = None,
    progress: bool = True,
    seeds: int | None = None,
    png: bool = True,
    jobs: int = 1,
    cluster: str | None = None,
) -> dict[str, FigureRun]:
    """Reproduce the figures ``only`` (default all) into ``out``.

    Example:
        >>> runs = al.figures.run("figures/", quick=True)  # doctest: +SKIP
        >>> {name: r.passed for name, r in runs.items()}  # doctest: +SKIP

    Args:
        seeds: how many training seeds (0, 1, ...) the training figures repeat each run over;
            default 1 in quick mode, 3 in full mode.
        png: export each figure as PNG too (kaleido and a local Chromium, ~2 s a figure).
        jobs: figures made at once, each on its own worker process (:mod:`arithlens.sweeps`,
            backend ``local``); 1: one after another in this process.
        cluster: a Dask scheduler address: the figures run there (backend ``dask``).

    Returns:
        per figure, its folder and the status of each of its checks.
    """
    specs = select(only)
    out = Path(out)
    check_writable(out)
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1):
        raise ArithlensError(f"seeds={seeds!r} is invalid: expected a positive integer")
    check_int("jobs", jobs, minimum=1)
    if jobs > 1 or cluster is not None:
        if model is not None:
            raise ArithlensError(
                "a model passed in (key_heads' --model) stays in this process: expected jobs=1 "
                "and no cluster"
            )
        return _run_sweep(out, specs, quick, seeds, png, jobs, cluster, progress)
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
        folder = _write(out, spec, res, quick, ctx.seeds, seconds, png)
        done[spec.name] = FigureRun(folder, dict(res.checks), seconds)
    return done


def _run_sweep(
    out: Path,
    specs: list[FigureSpec],
    quick: bool,
    seeds: int | None,
    png: bool,
    jobs: int,
    cluster: str | None,
    progress: bool,
) -> dict[str, FigureRun]:
    """One sweep job per figure (:func:`arithlens.figures.jobs.figure_job`)."""
    from arithlens.sweeps import run_each

    specs_ = [dict(name=s.name, out=str(out), quick=quick, seeds=seeds, png=png) for s in specs]
    table = run_each("arithlens.figures.jobs:figure_job", "figure", specs_, jobs, cluster, progress)
    rows = {r["name"]: r for r in table.to_dict("records")}
    return {
        s.name: FigureRun(
            Path(rows[s.name]["folder"]), rows[s.name]["checks"], rows[s.name]["seconds"]
        )
        for s in specs
    }
