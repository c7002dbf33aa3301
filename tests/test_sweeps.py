"""Sweeps: the same numbers in-process, on local worker processes and on a real two-worker Dask
cluster; a killed sweep resumes and computes only what is missing; failures are collected with
their spec; bad input is named."""

from __future__ import annotations

import json

import pytest

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.sweeps import Job, grid, run_sweep

FN = "arithlens.sweeps:example_job"
TRAIN = "arithlens.figures.jobs:train_and_score"


def test_grid_fingerprints_and_serial_results(tmp_path):
    jobs = grid(FN, x=[1, 2, 3], seed=[0, 1])
    assert len(jobs) == 6 and jobs[1].kwargs == {"x": 1, "seed": 1}
    assert len({j.fingerprint for j in jobs}) == 6  # a spec per result file
    assert Job(FN, {"x": 1, "seed": 0}).fingerprint == jobs[0].fingerprint  # pure of the spec
    res = run_sweep(jobs, store=tmp_path, progress=False)
    assert res.ok and res.computed == 6 and res.reused == 0
    assert res.table["square"].tolist() == [1, 1, 4, 4, 9, 9]
    saved = json.loads((tmp_path / f"{jobs[2].fingerprint}.json").read_text())
    assert saved["kwargs"] == {"x": 2, "seed": 0} and saved["result"]["square"] == 4


def test_a_killed_sweep_resumes_with_only_the_missing_jobs(tmp_path):
    jobs = grid(FN, x=[1, 2, 3, 4], seed=[0])
    run_sweep(jobs[:2], store=tmp_path, progress=False)  # the sweep was killed after two jobs
    res = run_sweep(jobs, store=tmp_path, progress=False)
    assert res.reused == 2 and res.computed == 2
    assert res.table["square"].tolist() == [1, 4, 9, 16]
    again = run_sweep(jobs, store=tmp_path, progress=False)
    assert again.computed == 0 and again.reused == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{j.fingerprint}.json" for j in jobs
    )  # no litter from the atomic writes


def test_failures_are_collected_with_their_spec(tmp_path):
    jobs = [Job(FN, {"x": 2}), Job(FN, {"x": "two"}), Job("arithlens.sweeps:nothing", {})]
    res = run_sweep(jobs, store=tmp_path, progress=False)
    assert not res.ok and res.table["square"].tolist() == [4]
    assert [f["kwargs"] for f in res.failures] == [{"x": "two"}, {}]
    assert "TypeError" in res.failures[0]["error"] and "AttributeError" in res.failures[1]["error"]
    assert len(list(tmp_path.iterdir())) == 1  # a failed job leaves no result to reuse


def test_local_workers_give_the_in_process_numbers(tmp_path):
    jobs = grid(TRAIN, seed=[0, 1], fmt=["reversed"])
    serial = run_sweep(jobs, progress=False)
    local = run_sweep(jobs, backend="local", workers=2, progress=False)
    assert local.ok and local.table["exact"].tolist() == serial.table["exact"].tolist()
    assert local.table["loss"].tolist() == serial.table["loss"].tolist()


def test_a_real_two_worker_dask_cluster_gives_the_in_process_numbers():
    pytest.importorskip("distributed")
    jobs = grid(TRAIN, seed=[0, 1], fmt=["reversed"])
    serial = run_sweep(jobs, progress=False)
    dask = run_sweep(jobs, backend="dask", workers=2, progress=False)
    assert dask.ok and dask.table["exact"].tolist() == serial.table["exact"].tolist()
    assert dask.table["loss"].tolist() == serial.table["loss"].tolist()
    assert dask.table["pid"].nunique() >= 1 and set(dask.table["pid"]).isdisjoint(
        serial.table["pid"]
    )


def test_sweep_bad_input_is_named(tmp_path):
    with pytest.raises(ArithlensError, match="backend='ray' is unknown"):
        run_sweep(grid(FN, x=[1]), backend="ray")
    with pytest.raises(ArithlensError, match="cannot be fingerprinted"):
        run_sweep([Job(FN, {"x": object()})])
    with pytest.raises(ArithlensError, match="is not 'package.module:function'"):
        Job("square")
    with pytest.raises(ArithlensError, match="address='tcp://127.0.0.1:9' needs backend='dask'"):
        run_sweep(grid(FN, x=[1]), address="tcp://127.0.0.1:9")
    pytest.importorskip("distributed")
    with pytest.raises(ArithlensError, match="cannot be reached"):
        run_sweep(
            grid(FN, x=[1]),
            backend="dask",
            address="tcp://127.0.0.1:9",
            progress=False,
            connect_timeout_s=1,
        )
    assert al.sweeps.BACKENDS == ("serial", "local", "dask")


def test_run_each_names_the_first_failure():
    from arithlens.sweeps import run_each

    with pytest.raises(ArithlensError, match="figure bad failed on its worker: TypeError"):
        run_each(FN, "figure", [{"name": "bad", "x": 2}], workers=1, cluster=None, progress=False)
