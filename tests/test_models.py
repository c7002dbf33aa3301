"""Models: building, deterministic training, checkpoints (never pickled, written atomically)."""

from __future__ import annotations

import json
import time

import pytest
import torch
from transformer_lens import patching

import arithlens.models.checkpoint as ckpt
from arithlens.errors import ArithlensError
from arithlens.models import TrainConfig, build_model, save, train
from arithlens.models.checkpoint import load
from arithlens.tasks import TaskSpec, sample
from arithlens.tokens.tokenizer import encode


def weights_equal(m1, m2) -> bool:
    s1, s2 = m1.state_dict(), m2.state_dict()
    return s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)


def test_training_is_deterministic_given_a_seed():
    task = TaskSpec(op="add", n_digits=2)
    cfg = TrainConfig(steps=8, batch_size=32, eval_every=4, n_test=64, seed=3)
    m1 = train(task, "2L", cfg, progress=False)
    m2 = train(task, "2L", cfg, progress=False)
    assert weights_equal(m1, m2)
    m3 = train(
        task,
        "2L",
        TrainConfig(steps=8, batch_size=32, eval_every=4, n_test=64, seed=4),
        progress=False,
    )
    assert not weights_equal(m1, m3)


def test_training_learns_two_digit_addition_and_records_it():
    task = TaskSpec(op="add", n_digits=2)
    seen = []
    cfg = TrainConfig(steps=300, batch_size=128, eval_every=100, n_test=400, lr=3e-3)
    start = time.perf_counter()
    model = train(task, "2L", cfg, callback=lambda rec, step: seen.append(step), progress=False)
    elapsed = time.perf_counter() - start
    rec = model.record
    assert seen == [100, 200, 300]
    assert rec.eval_steps == [100, 200, 300]
    assert len(rec.train_loss) == 300 and rec.train_loss[-1] < 0.1 * rec.train_loss[0]
    assert rec.eval_exact[-1] >= 0.8 and rec.eval_exact[-1] > rec.eval_exact[0]
    assert len(rec.eval_digit_acc[-1]) == task.answer_width
    assert 0.5 * elapsed < rec.wall_s <= elapsed  # the training loop, not the set-up around it


def test_callback_returning_false_stops_training():
    task = TaskSpec(op="add", n_digits=1)
    model = train(
        task,
        "2L",
        TrainConfig(steps=100, batch_size=16, eval_every=5, n_test=20),
        callback=lambda rec, step: step < 10,
        progress=False,
    )
    assert model.record.eval_steps == [5, 10]
    assert len(model.record.train_loss) == 10


def test_checkpoint_round_trip_gives_identical_logits(tmp_path, tiny_model, add3_task):
    folder = save(tiny_model, tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["arithlens.json", "model.safetensors"]
    loaded = load(folder)
    tokens = encode(sample(add3_task, 16, seed=0)).tokens
    assert torch.equal(loaded(tokens), tiny_model(tokens))
    assert loaded.task == add3_task and loaded.spec == tiny_model.spec


def test_loaded_model_works_with_hooks_and_transformer_lens_patching(
    tmp_path, tiny_model, add3_task
):
    loaded = load(save(tiny_model, tmp_path / "m"))
    batch = encode(sample(add3_task, 8, seed=1))
    n_pos = batch.tokens.shape[1]
    logits, cache = loaded.run_with_cache(batch.tokens)
    assert cache["blocks.1.hook_resid_post"].shape == (8, n_pos, 128)
    assert cache["blocks.0.attn.hook_pattern"].shape == (8, 4, n_pos, n_pos)
    # Corrupt exactly one token: the units digit of b (position 6 in "123+456=...").
    corrupt = batch.tokens.clone()
    corrupt[:, 6] = (corrupt[:, 6] + 5) % 10
    pos = int(batch.predict_pos("units")[0])
    target = batch.answer_tokens()[:, :1]

    def metric(lg):
        return lg[:, pos].log_softmax(-1).gather(1, target).mean()

    res = patching.get_act_patch_resid_pre(loaded, corrupt, cache, metric)
    assert res.shape == (2, n_pos)
    clean_value, corrupt_value = metric(logits).item(), metric(loaded(corrupt)).item()
    assert abs(clean_value - corrupt_value) > 1e-3
    # The runs differ only at position 6, so patching it in layer 0 restores the clean metric;
    # positions after the metric position cannot matter (causal attention).
    assert res[0, 6].item() == pytest.approx(clean_value, abs=1e-4)
    assert res[:, pos + 1 :].sub(corrupt_value).abs().max().item() < 1e-5


def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, tiny_model, monkeypatch):
    folder = save(tiny_model, tmp_path / "m")
    before = (folder / "arithlens.json").read_text()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        save(tiny_model, folder)
    assert (folder / "arithlens.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temp folder left behind


def test_missing_truncated_mismatched_and_future_checkpoints_are_named(tmp_path, tiny_model):
    folder = save(tiny_model, tmp_path / "m")
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArithlensError, match="model.safetensors.*corrupted or truncated"):
        load(folder)
    weights.unlink()
    with pytest.raises(ArithlensError, match="missing model.safetensors"):
        load(folder)

    folder = save(tiny_model, tmp_path / "m2")
    meta = json.loads((folder / "arithlens.json").read_text())
    meta["model"]["d_mlp"] = 256
    (folder / "arithlens.json").write_text(json.dumps(meta))
    with pytest.raises(
        ArithlensError, match=r"tensor 'blocks\.0\.mlp\..*' has shape \(512.*expected \(256"
    ):
        load(folder)

    meta["model"]["d_mlp"] = 512
    meta["arithlens_version"] = "99.0.0"
    (folder / "arithlens.json").write_text(json.dumps(meta))
    with pytest.raises(ArithlensError, match="written by arithlens 99.0.0"):
        load(folder)

    (folder / "arithlens.json").write_text("{not json")
    with pytest.raises(ArithlensError, match="not valid JSON"):
        load(folder)
    (folder / "arithlens.json").unlink()
    with pytest.raises(ArithlensError, match="missing arithlens.json"):
        load(folder)
    with pytest.raises(ArithlensError, match="does not exist"):
        load(tmp_path / "nowhere")


def test_bad_model_input_is_named():
    task = TaskSpec(op="add", n_digits=3)
    with pytest.raises(ArithlensError, match="preset='9L'"):
        build_model("9L", task)
    with pytest.raises(ArithlensError, match="seed=-1"):
        build_model("2L", task, seed=-1)
    with pytest.raises(ArithlensError, match="seed='a'"):
        TrainConfig(seed="a")
    with pytest.raises(ArithlensError, match="steps=0"):
        TrainConfig(steps=0)


# ----------------------------------------------------------------------------- schedules and data


def test_learning_rate_follows_warmup_then_cosine_or_constant():
    import math

    from arithlens.models.train import _lr_lambda

    cos = _lr_lambda(TrainConfig(steps=110, warmup_steps=10, schedule="cosine"))
    assert [cos(s) for s in range(10)] == pytest.approx([(s + 1) / 10 for s in range(10)])
    for s in (10, 40, 60, 109):
        assert cos(s) == pytest.approx(0.5 * (1 + math.cos(math.pi * (s - 10) / 100)))
    assert cos(109) < 0.001 and cos(60) == pytest.approx(0.5)
    const = _lr_lambda(TrainConfig(steps=110, warmup_steps=10))
    assert [const(s) for s in (10, 60, 109)] == [1.0, 1.0, 1.0]


def test_a_cosine_run_ends_at_a_learning_rate_near_zero(monkeypatch):
    seen = []
    real = torch.optim.lr_scheduler.LambdaLR.step

    def spy(self, *a, **k):
        real(self, *a, **k)
        seen.append(self.optimizer.param_groups[0]["lr"])

    monkeypatch.setattr(torch.optim.lr_scheduler.LambdaLR, "step", spy)
    cfg = TrainConfig(
        steps=20, batch_size=8, warmup_steps=2, lr=1e-2, schedule="cosine", eval_every=20, n_test=16
    )
    train(TaskSpec(op="add", n_digits=1), "1L", cfg, progress=False)
    used = seen[:-1]  # LambdaLR steps once when built: entry s is the rate of step s
    assert len(used) == 20 and used[0] == pytest.approx(5e-3) and max(used) == pytest.approx(1e-2)
    assert used[-1] < 1e-4 and used[12] < used[6] < used[2]


def test_training_batches_never_hold_a_held_out_problem_and_n_train_fixes_the_pool():
    from arithlens.models.train import _batches, held_out

    task = TaskSpec(op="add", n_digits=1)  # only 100 problems: a leak would show at once
    for cfg in (
        TrainConfig(batch_size=64, n_test=30),  # fresh draws, a quarter cascade-balanced
        TrainConfig(batch_size=64, n_test=30, cascade_fraction=0.0),
        TrainConfig(batch_size=64, n_test=30, n_train=40),
    ):
        test = set(held_out(task, cfg).keys())
        assert len(test) == 30
        draw = _batches(task, cfg, held_out(task, cfg))
        seen = set()
        for step in range(200):
            keys = set(draw(step).problems.keys())
            assert not keys & test, cfg
            seen |= keys
        if cfg.n_train is None:
            assert len(seen) == 70  # every problem that is not held out gets drawn
        else:
            assert len(seen) == 40  # exactly the fixed pool
