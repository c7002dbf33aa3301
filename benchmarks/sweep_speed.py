"""A sweep of 8 independent jobs (4 seeds x 2 answer formats of a short 1-layer training and its
evaluation, `arithlens.figures.jobs:train_and_score`) run in this process one after another,
then through `arithlens.sweeps.run_sweep` on 2 local worker processes (one torch thread each;
the serial run also uses one thread, so the ratio is what the workers add), side by side.

Goal: >= 1.7x on a 2-core machine with identical numbers. Last line:
``sweep_speedup_2workers=<x> sweep_same_numbers=<0|1> serial_s=<s> local_s=<s>``.
"""

from __future__ import annotations

import time

import torch

from arithlens.sweeps import grid, run_sweep

JOB = "arithlens.figures.jobs:train_and_score"


def main() -> None:
    torch.set_num_threads(1)
    jobs = grid(JOB, seed=[0, 1, 2, 3], fmt=["reversed", "plain"], steps=[300])
    start = time.perf_counter()
    serial = run_sweep(jobs, progress=False)
    serial_s = time.perf_counter() - start
    start = time.perf_counter()
    local = run_sweep(jobs, backend="local", workers=2, progress=False)
    local_s = time.perf_counter() - start
    cols = ["seed", "fmt", "exact", "loss"]
    same = int(serial.ok and local.ok and serial.table[cols].equals(local.table[cols]))
    print(serial.table[cols].to_string(index=False))
    print(
        f"sweep_speedup_2workers={serial_s / local_s:.2f} sweep_same_numbers={same} "
        f"serial_s={serial_s:.1f} local_s={local_s:.1f}"
    )


if __name__ == "__main__":
    main()
