"""Wall time for the 2-layer 3-digit reversed-addition preset to reach >= 99.9% held-out exact match.

Runs on 2 CPU threads. Training stops at the first held-out evaluation (every 25 steps, on
2000 held-out problems: half uniform, half balanced over carry cascades) at or above 99.9%.
Goal: <= 60 s. Last line: ``train_speed_s=<seconds> accuracy=<acc>``.
"""

from __future__ import annotations

import time

import torch

from arithlens.models import TrainConfig, train
from arithlens.tasks import TaskSpec

TARGET = 0.999


def main() -> None:
    torch.set_num_threads(2)
    task = TaskSpec(op="add", n_digits=3, format="reversed")
    cfg = TrainConfig(steps=2000, batch_size=256, lr=1e-3, eval_every=25, n_test=2000, seed=0)
    start = time.perf_counter()
    model = train(
        task, "2L", cfg, callback=lambda rec, step: rec.eval_exact[-1] < TARGET, progress=False
    )
    elapsed = time.perf_counter() - start
    rec = model.record
    print(f"steps={rec.eval_steps[-1]} evals={len(rec.eval_steps)} train_wall_s={rec.wall_s:.1f}")
    print(f"train_speed_s={elapsed:.1f} accuracy={rec.eval_exact[-1]:.4f}")


if __name__ == "__main__":
    main()
