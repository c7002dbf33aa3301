"""Sweeps: a grid of independent jobs, each a pure function of its spec, run in this process,
on local worker processes or on a Dask cluster, with every result stored as one file keyed by
the spec's fingerprint, so a rerun computes only what is missing and a killed sweep resumes.

A job is ``fn`` (``"package.module:function"``, importable on every worker) and its keyword
arguments (JSON values: the spec must be fingerprinted); ``fn(**kwargs)`` returns a dict of JSON
values. Seeds are arguments like any other: a job's result depends on its spec alone.

Backends: ``serial`` (this process), ``local`` (``concurrent.futures.ProcessPoolExecutor``,
forked workers (spawned where fork is missing) with one torch thread each) and ``dask`` (``distributed.Client(address)``, or,
without an address, a ``LocalCluster`` of ``workers`` single-threaded worker processes). Dask is
the supported cluster engine: its ``Client(address)`` reaches SLURM / PBS through dask-jobqueue and
Kubernetes through dask-kubernetes, it installs from PyPI as pure Python, and a real two-worker
cluster starts inside a test in seconds.

Example:
    >>> jobs = grid("arithlens.sweeps:example_job", x=[1, 2, 3], seed=[0])
    >>> run_sweep(jobs, progress=False).table["square"].tolist()
    [1, 4, 9]
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import multiprocessing
import os
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from arithlens._atomic import write_text
from arithlens.errors import ArithlensError, check_int

BACKENDS = ("serial", "local", "dask")


@dataclass(frozen=True)
class Job:
    """One job: ``fn`` (``"module:function"``) called with ``kwargs``."""

    fn: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if ":" not in self.fn:
            raise ArithlensError(
                f"fn={self.fn!r} is not 'package.module:function': a job names an importable "
                "function so every worker can run it"
            )

    @property
    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of the spec and the arithlens version."""
        from arithlens.version import __version__

        try:
            text = json.dumps(
                {"fn": self.fn, "kwargs": self.kwargs, "arithlens": __version__},
                sort_keys=True,
                allow_nan=False,
            )
        except (TypeError, ValueError) as e:
            raise ArithlensError(
                f"the job {self.fn} with {self.kwargs!r} cannot be fingerprinted ({e}): expected "
                "JSON values (numbers, strings, lists, dicts) as arguments"
            ) from e
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def grid(fn: str, **axes: list[Any]) -> list[Job]:
    """Every combination of the ``axes`` values as jobs of ``fn`` (the last axis varies
    fastest)."""
    names = list(axes)
    for k, v in axes.items():
        if not isinstance(v, (list, tuple, range)):
            raise ArithlensError(f"axis {k}={v!r} is not a list of values")
    return [Job(fn, dict(zip(names, combo))) for combo in itertools.product(*axes.values())]


@dataclass
class SweepResult:
    """What a sweep gave: ``table`` (one row per finished job: its arguments, its result's
    fields, ``fingerprint``), ``failures`` (``{"job", "kwargs", "error"}`` per failed job),
    ``computed`` (jobs run now) and ``reused`` (results read from the store)."""

    table: pd.DataFrame
    failures: list[dict[str, Any]]
    computed: int
    reused: int

    @property
    def ok(self) -> bool:
        return not self.failures


def run_each(
    fn: str,
    what: str,
    specs: list[dict[str, Any]],
    workers: int,
    cluster: str | None,
    progress: bool = True,
) -> pd.DataFrame:
    """One job of ``fn`` per spec (each with a ``name``) on ``workers`` local processes, or on
    the Dask scheduler ``cluster``; the table, or an :class:`ArithlensError` naming the first
    ``what`` (``"figure"``, ``"zoo model"``) that failed."""
    backend = "dask" if cluster is not None else "local"
    jobs = [Job(fn, spec) for spec in specs]
    res = run_sweep(jobs, backend=backend, workers=workers, address=cluster, progress=progress)
    if res.failures:
        first = res.failures[0]
        raise ArithlensError(
            f"{what} {first['kwargs'].get('name')} failed on its worker: "
            f"{first['error'].splitlines()[0]}"
        )
    return res.table


def run_job(fn: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Import ``fn`` and call it (what every worker runs); a result that is not a dict of
    JSON values is an error."""
    module, _, name = fn.partition(":")
    func: Callable[..., Any] = getattr(importlib.import_module(module), name)
    out = func(**kwargs)
    if not isinstance(out, dict):
        raise ArithlensError(f"{fn} returned {type(out).__name__}: expected a dict")
    json.dumps(out, allow_nan=True)
    return out


def _guarded(fn: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, error text)``: failures travel back as values."""
    try:
        return True, run_job(fn, kwargs)
    except Exception as e:  # a failed job is collected with its spec, never dropped
        return False, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"


def _stored(jobs: list[Job], folder: Path | None) -> tuple[dict[str, dict[str, Any]], list[Job]]:
    """Results already in ``folder`` by fingerprint, and the distinct jobs still to run."""
    done: dict[str, dict[str, Any]] = {}
    todo: list[Job] = []
    seen: set[str] = set()
    for job in jobs:
        fp = job.fingerprint
        if fp in seen:
            continue
        seen.add(fp)
        path = folder / f"{fp}.json" if folder is not None else None
        if path is not None and path.is_file():
            saved = json.loads(path.read_text())
            if saved.get("fn") != job.fn or saved.get("kwargs") != job.kwargs:
                raise ArithlensError(
                    f"{path} holds another job's result ({saved.get('fn')}): expected {job.fn}"
                )
            done[fp] = saved["result"]
        else:
            todo.append(job)
    return done, todo


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_sweep(
    jobs: list[Job],
    store: str | Path | None = None,
    backend: str = "serial",
    workers: int = 2,
    address: str | None = None,
    progress: bool = True,
    connect_timeout_s: float = 10.0,
) -> SweepResult:
    """Run ``jobs`` (those whose result is not in ``store`` yet) on ``backend``.

    Example:
        >>> res = run_sweep(grid("arithlens.sweeps:example_job", x=[2], seed=[0]), progress=False)
        >>> res.computed, res.table["square"].tolist()
        (1, [4])
    """
    if backend not in BACKENDS:
        raise ArithlensError(f"backend={backend!r} is unknown: expected one of {BACKENDS}")
    check_int("workers", workers, minimum=1)
    if address is not None and backend != "dask":
        raise ArithlensError(f"address={address!r} needs backend='dask' (got {backend!r})")
    folder = Path(store) if store is not None else None
    done, todo = _stored(jobs, folder)
    reused = len(done)
    failures: list[dict[str, Any]] = []
    bar = tqdm(total=len(todo), desc="jobs", disable=not progress)

    def finish(job: Job, ok: bool, value: Any) -> None:
        bar.update(1)
        if not ok:
            failures.append(dict(job=job.fn, kwargs=job.kwargs, error=str(value)))
            return
        fp = job.fingerprint
        done[fp] = value
        if folder is not None:
            record = dict(fn=job.fn, kwargs=job.kwargs, result=value)
            write_text(folder / f"{fp}.json", json.dumps(record, sort_keys=True))

    try:
        if backend == "serial" or not todo:
            for job in todo:
                finish(job, *_guarded(job.fn, job.kwargs))
        elif backend == "local":
            _run_local(todo, workers, finish)
        else:
            _run_dask(todo, workers, address, finish, connect_timeout_s)
    finally:
        bar.close()
    rows = []
    for job in jobs:
        fp = job.fingerprint
        if fp in done:
            rows.append({**job.kwargs, **done[fp], "fingerprint": fp})
    return SweepResult(pd.DataFrame(rows), failures, len(todo) - len(failures), reused)


def _run_local(todo: list[Job], workers: int, finish: Callable[..., None]) -> None:
    # fork where the platform has it: a worker starts with arithlens already imported (a spawned
    # one spends ~16 s importing it on a 2-core machine); torch re-creates its thread pool in
    # the child, as DataLoader workers rely on; spawn elsewhere
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
        futures = {pool.submit(_guarded, job.fn, job.kwargs): job for job in todo}
        for fut in as_completed(futures):
            finish(futures[fut], *fut.result())


def _run_dask(
    todo: list[Job],
    workers: int,
    address: str | None,
    finish: Callable[..., None],
    connect_timeout_s: float = 10.0,
) -> None:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as e:  # pragma: no cover - installed with the dev extra
        raise ArithlensError(
            "backend='dask' needs dask[distributed]: pip install distributed"
        ) from e
    cluster = None
    try:
        if address is None:
            import dask

            methods = multiprocessing.get_all_start_methods()
            with dask.config.set(
                {
                    "distributed.worker.multiprocessing-method": "fork"
                    if "fork" in methods
                    else "spawn"
                }
            ):
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
            client = Client(cluster)
        else:
            client = Client(address, timeout=f"{connect_timeout_s}s")
    except (OSError, TimeoutError) as e:
        if cluster is not None:
            cluster.close()
        raise ArithlensError(
            f"the Dask cluster at {address!r} cannot be reached ({e}): expected a running "
            "scheduler (dask scheduler / dask-jobqueue) at that address"
        ) from e
    try:
        client.run(_init_worker)
        futures = [client.submit(_guarded, job.fn, job.kwargs, pure=False) for job in todo]
        jobs = {f.key: job for f, job in zip(futures, todo)}
        for fut in dask_completed(futures):
            finish(jobs[fut.key], *fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def example_job(x: int, seed: int = 0) -> dict[str, Any]:
    """A job for examples and tests: ``x`` squared, and the process that computed it."""
    return {"square": x * x, "seed": seed, "pid": os.getpid()}
