"""Evaluation, zoo and report, on the committed zoo models (their accuracy is re-measured here)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.evaluation import evaluate, greedy_complete, length_generalization
from arithlens.models import zoo
from arithlens.tasks import Problems, max_cascade, sample
from arithlens.tokenizer import encode


def test_every_zoo_model_is_committed_with_its_card_and_measured_accuracy():
    for name in zoo.RECIPES:
        folder = zoo.zoo_dir() / name
        assert (folder / "model.safetensors").is_file() and (folder / "README.md").is_file()
        meta = json.loads((folder / "arithlens.json").read_text())
        held = meta["record"]["final"]["held_out"]
        assert held["n"] >= 1000
        assert f"{held['exact_match']:.4f}" in (folder / "README.md").read_text()
        # Targets: >= 99.9% for the 2-layer addition models. mul2-3L reaches 99.2% (its card and
        # the issue note say why); the 1-layer models are recorded as measured.
        floors = {"add3-2L": 0.999, "add5-2L": 0.999, "add5-plain-2L": 0.999, "mul2-3L": 0.99}
        floor = floors.get(name, 0.0)
        assert held["exact_match"] >= floor, name


@pytest.mark.parametrize("name", ["add3-2L", "add5-2L", "add5-plain-2L"])
def test_zoo_addition_models_are_accurate_on_a_new_cascade_balanced_sample(name):
    model = zoo.load(name)
    res = evaluate(model, n=3000, seed=123, strategy="cascade")
    assert res.exact_match >= 0.998
    assert set(res.by_cascade().cascade) == {f"S{s}" for s in range(max_cascade(model.task) + 1)}


def test_zoo_multiplication_model_fails_only_where_its_card_says():
    model = zoo.load("mul2-3L")
    res = evaluate(model, n=3000, seed=5)
    assert res.exact_match >= 0.99
    # The card reports that held-out errors are problems whose commuted twin was never trained
    # on; re-measure that on the held-out set.
    from arithlens.models.train import held_out

    recipe = zoo.RECIPES["mul2-3L"]
    test = held_out(recipe.task, recipe.config)
    res = evaluate(model, test)
    keys = set(test.ints())
    wrong = [p for p, ok in zip(test.ints(), res.exact) if not ok]
    no_twin = [(a, b) for a, b in wrong if a == b or (b, a) in keys]
    assert len(wrong) >= 1 and len(no_twin) >= len(wrong) - 1


def test_two_layer_beats_one_layer_on_long_cascades(zoo_add3_2l, zoo_add3_1l):
    p = sample(zoo_add3_2l.task, 2000, seed=9, strategy="cascade")
    two = evaluate(zoo_add3_2l, p).by_cascade().set_index("cascade").exact_match
    one = evaluate(zoo_add3_1l, p).by_cascade().set_index("cascade").exact_match
    assert (two >= one - 1e-9).all()


def test_breakdowns_are_consistent_with_per_problem_results(zoo_add3_1l):
    res = evaluate(zoo_add3_1l, n=2000, seed=1, strategy="cascade")
    correct = res.digit_correct
    # Exact match means every digit is right (and the end mark); per digit means agree.
    assert not (res.exact & ~correct.all(1)).any()
    assert np.allclose(res.per_digit().values, correct.mean(0))
    by_class = res.by_class()
    assert by_class["count"].sum() == correct.size
    weighted = (by_class.accuracy * by_class["count"]).sum() / by_class["count"].sum()
    assert weighted == pytest.approx(correct.mean())
    ca = res.by_cascade()
    assert (ca.exact_match * ca["count"]).sum() / len(res.problems) == pytest.approx(
        res.exact_match
    )
    frame = res.to_frame()
    assert set(frame.metric) >= {
        "exact_match",
        "digit_accuracy",
        "digit_accuracy_by_class",
        "exact_match_by_cascade",
    }


def test_teacher_forced_exact_match_equals_greedy_decoding(zoo_add3_1l):
    p = sample(zoo_add3_1l.task, 600, seed=2, strategy="cascade")
    res = evaluate(zoo_add3_1l, p)
    batch = encode(p)
    completions = greedy_complete(zoo_add3_1l, batch)
    truth = [t[int(k) :].rstrip(".") for t, k in zip(batch.texts, batch.prompt_len)]
    greedy_exact = np.array([c == t for c, t in zip(completions, truth)])
    assert np.array_equal(greedy_exact, res.exact)


def test_a_deliberately_broken_model_scores_low(tiny_model):
    res = evaluate(tiny_model, n=500)
    assert res.exact_match < 0.05


def test_scratchpad_models_are_scored_by_greedy_decoding(tiny_model):
    task = dataclasses.replace(tiny_model.task, format="scratchpad")
    model = al.build_model("2L", task)
    res = evaluate(model, n=50)
    assert res.mode == "greedy" and res.exact_match < 0.1


def test_length_generalization_reports_each_width_and_refuses_what_does_not_fit(zoo_add3_2l):
    frame = length_generalization(zoo_add3_2l, [1, 2, 3], n=300)
    assert frame.n_digits.tolist() == [1, 2, 3]
    assert frame.set_index("n_digits").exact_match[3] >= 0.99
    with pytest.raises(ArithlensError, match="n_digits=4 needs 16 tokens.*n_ctx=13"):
        length_generalization(zoo_add3_2l, [4])


def test_operand_wider_than_context_is_refused(zoo_add3_2l):
    wide = Problems.from_ints(al.TaskSpec(op="add", n_digits=5), [(12345, 1)])
    with pytest.raises(
        ArithlensError, match="problems are of task add5-reversed but the model solves add3-rev"
    ):
        evaluate(zoo_add3_2l, wide)
    with pytest.raises(
        ArithlensError, match="'12345\\+00001=.*' has 19 tokens but the model's context is n_ctx=13"
    ):
        evaluate(zoo_add3_2l, wide, any_width=True)


def test_unknown_zoo_name_lists_the_known_ones():
    with pytest.raises(ArithlensError, match="'add9-9L' is unknown.*add3-2L"):
        zoo.load("add9-9L")
    with pytest.raises(ArithlensError, match="'no/such-model' is not in the local Hugging Face"):
        al.load("no/such-model", offline=True)
    with pytest.raises(ArithlensError, match="folder 'no/such/model' does not exist"):
        al.load("no/such/model", offline=True)  # two slashes: a path, never a Hub id
    with pytest.raises(ArithlensError, match="zoo models are"):
        al.load(Path(__file__).parent)  # a folder that is no model
