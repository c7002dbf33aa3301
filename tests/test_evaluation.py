"""Evaluation, zoo and report, on the committed zoo models (their accuracy is re-measured here)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

import arithlens as al
from arithlens.analyses.evaluation import evaluate, length_generalization, text_scores
from arithlens.errors import ArithlensError
from arithlens.models import zoo
from arithlens.models.run import greedy_complete
from arithlens.tasks import Problems, has, max_cascade, sample
from arithlens.tokens.tokenizer import encode

SORT_FLOOR = 0.97  # both sorters' cards: >= 0.98 on sequences of the trained lengths
BASELINE_FLOOR = 0.265  # its card: 0.2700 (absolute positions do not learn mixed lengths here)

# What each zoo model must reach on its held-out set, re-measured here (not read back): the
# reversed 2-layer addition models >= 99.9%; add5-plain-2L (retrained on unbiased class-balanced
# data: 0.9972) >= 99.5%; mul2-3L >= 99% (its card says why); the 1-layer models at least what
# their cards record, less 0.5 points.
FLOORS = {
    "add3-1L": 0.995,
    "add3-2L": 0.999,
    "add5-2L": 0.999,
    "add5-plain-1L": 0.90,
    "add5-plain-2L": 0.995,
    "mul2-3L": 0.99,
    "add1to8-abacus-2L": 0.999,
    "add1to8-2L": BASELINE_FLOOR,
    "add1to8-nope-2L": 0.164,  # its card: 0.1690
    "add1to8-randomized-2L": 0.323,  # its card: 0.3280
    "sort1to10-v36-2L": SORT_FLOOR,
    "sort1to10-v36-hint-2L": SORT_FLOOR,
    "max-float3.3-2L": 0.982,  # its card: 0.9870 (independent numbers only: see the card)
    "max-float3.3-close-3L": 0.995,  # its card: 0.9990
    "get_digit-int6-2L": 0.999,  # its card: 1.0000
    "count-int8-3L": 0.995,  # its card: 1.0000
}


@pytest.mark.full
@pytest.mark.parametrize("name", sorted(zoo.RECIPES))
def test_every_zoo_model_reaches_its_card_on_its_held_out_set_re_measured(name):
    from arithlens.models.train import held_out

    assert set(FLOORS) == set(zoo.RECIPES)
    folder = zoo.zoo_dir() / name
    meta = json.loads((folder / "arithlens.json").read_text())
    card = meta["record"]["final"]["held_out"]
    recipe = zoo.RECIPES[name]
    test = held_out(recipe.task, recipe.config)
    if not isinstance(test, Problems):
        exact = float(text_scores(al.load(name), test)[1].mean())
    else:
        exact = evaluate(al.load(name), test).exact_match
    assert len(test) == card["n"]
    # the card's number is what the committed weights score, to one problem in its set
    assert abs(exact - card["exact_match"]) <= 1 / card["n"] + 1e-12
    assert exact >= FLOORS[name]
    assert f"{card['exact_match']:.4f}" in (folder / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(zoo.RECIPES))
def test_every_zoo_model_clears_its_floor_on_part_of_its_held_out_set(name):
    """The quick guard `make test` keeps of the card test above (marked full): the committed
    weights score near their floor on the first 200 problems of the held-out set (5 standard
    errors of a 200-problem share below it), and over twice what random weights of the same
    recipe score."""
    from arithlens.models.train import held_out

    recipe = zoo.RECIPES[name]
    test = held_out(recipe.task, recipe.config)[:200]

    def exact(model) -> float:
        if has(recipe.task, "digits"):
            return evaluate(model, test).exact_match
        return float(text_scores(model, test)[1].mean())

    got = exact(al.load(name))
    assert got >= FLOORS[name] - 0.05, (name, got)
    assert exact(al.probes.random_init_like(al.load(name))) < got / 2


def _card_by_length(name: str, key: str, lengths: list[int], trained: int) -> pd.Series:
    """Exact match by length re-measured on the card's problems (n=1000, seed 0), checked
    against the card's table (value and trained flag) to 1e-3."""
    card = json.loads((zoo.zoo_dir() / name / "arithlens.json").read_text())
    rows = {r[key]: r for r in card["record"]["final"]["length"]}
    table = length_generalization(al.load(name), lengths, n=1000).set_index(key)
    for length in lengths:
        assert abs(table.exact_match[length] - rows[length]["exact_match"]) <= 1e-3 + 1e-12
        assert rows[length]["trained"] == (length <= trained)
    return table.exact_match


@pytest.mark.full
def test_the_length_generalization_models_cards_are_re_measured():
    """The cards' exact match by operand length is what the committed weights score, and
    abacus positions generalize where absolute ones do not."""
    abacus = _card_by_length("add1to8-abacus-2L", "n_digits", [8, 12], 8)
    baseline = _card_by_length("add1to8-2L", "n_digits", [8, 12], 8)
    assert abacus[12] >= 0.9  # the benchmark's goal, at 1000 problems
    assert abacus[12] > baseline[12] + 0.5


@pytest.mark.full
def test_the_sorters_cards_are_re_measured_and_the_hint_does_not_help_here():
    """Task hinting as measured here: both sorters sort the trained lengths, and at 20 elements
    the unhinted sorter is far ahead of the hinted one (the paper's setting differs)."""
    plain = _card_by_length("sort1to10-v36-2L", "length", [10, 20], 10)
    hinted = _card_by_length("sort1to10-v36-hint-2L", "length", [10, 20], 10)
    assert min(plain[10], hinted[10]) >= SORT_FLOOR
    assert plain[20] > hinted[20] + 0.5


@pytest.mark.parametrize(
    "name, floor", [("add3-2L", 0.998), ("add5-2L", 0.998), ("add5-plain-2L", 0.985)]
)
def test_zoo_addition_models_are_accurate_on_a_new_cascade_balanced_sample(name, floor):
    model = al.load(name)
    res = evaluate(model, n=3000, seed=123, strategy="cascade")
    assert res.exact_match >= floor  # add5-plain-2L measured 0.992
    assert set(res.by_cascade().cascade) == {f"S{s}" for s in range(max_cascade(model.task) + 1)}


def test_zoo_multiplication_model_fails_only_where_its_card_says():
    model = al.load("mul2-3L")
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
    card = json.loads((zoo.zoo_dir() / "mul2-3L" / "arithlens.json").read_text())
    errors_on_card = round((1 - card["record"]["final"]["held_out"]["exact_match"]) * len(test))
    assert errors_on_card == 8  # what the card reports; the claim below is about these errors
    assert abs(len(wrong) - errors_on_card) <= 1
    assert len(no_twin) >= len(wrong) - 1


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
    # equal in exact arithmetic; allow a problem whose teacher-forced logits are a near-tie
    top2 = zoo_add3_1l(batch.tokens)[:, :-1].topk(2, -1).values
    gap = (top2[..., 0] - top2[..., 1]).masked_fill(~batch.target_mask(), float("inf")).amin(1)
    clear = (gap > 1e-3).numpy()
    assert clear.mean() > 0.95 and np.array_equal(greedy_exact[clear], res.exact[clear])


def test_a_deliberately_broken_model_scores_low(tiny_model):
    res = evaluate(tiny_model, n=500)
    assert res.exact_match < 0.05


class Oracle(torch.nn.Module):
    """A stand-in model that writes, after each prompt, the completion ``write(problem text)``
    one character per step (logits +10 on its next character), reading only its own prefix."""

    def __init__(self, task, write):
        super().__init__()
        self.task, self.write = task, write
        self.tok = al.CharTokenizer()
        self.cfg = SimpleNamespace(n_ctx=al.tasks.max_length(task))

    def forward(self, tokens):
        logits = torch.zeros(*tokens.shape, self.tok.size)
        for r, row in enumerate(tokens.tolist()):
            text = self.tok.decode(row)
            prompt = text[: text.index("=") + 1]
            goal = prompt + self.write(prompt)
            for t in range(len(text)):
                nxt = goal[t + 1] if t + 1 < len(goal) else "_"
                logits[r, t, self.tok.encode(nxt)[0]] = 10.0
        return logits


def test_scratchpad_scoring_reads_the_models_own_greedy_steps():
    task = al.TaskSpec(op="add", n_digits=2, format="scratchpad")
    problems = sample(task, 200, seed=4)
    texts = {t[: t.index("=") + 1]: t[t.index("=") + 1 :] for t in encode(problems).texts}
    perfect = evaluate(Oracle(task, lambda p: texts[p]), problems)
    truth = al.tasks.answer_digits(problems)
    assert perfect.mode == "greedy" and perfect.exact.all() and (perfect.pred_digits == truth).all()

    def wrong_final_units(p):  # right steps, then a wrong units digit in the final answer
        steps, answer = texts[p].rsplit(">", 1)
        bad = answer[:-2] + str((int(answer[-2]) + 1) % 10) + answer[-1:]
        return steps + ">" + bad

    res = evaluate(Oracle(task, wrong_final_units), problems)
    assert not res.exact.any()
    assert (res.pred_digits[:, 0] == (truth[:, 0] + 1) % 10).all()
    assert (res.pred_digits[:, 1:] == truth[:, 1:]).all()

    def wrong_step_right_answer(p):  # a wrong intermediate digit; the answer is still right
        steps, answer = texts[p].rsplit(">", 1)
        return steps[0] + str((int(steps[1]) + 1) % 10) + steps[2:] + ">" + answer  # "A6C1,"

    res = evaluate(Oracle(task, wrong_step_right_answer), problems)
    assert res.exact.all()  # exact match scores the final answer the model wrote


def test_length_generalization_reports_each_width_and_refuses_what_does_not_fit(zoo_add3_2l):
    frame = length_generalization(zoo_add3_2l, [1, 2, 3], n=300).set_index("n_digits")
    assert frame.index.tolist() == [1, 2, 3] and frame.trained.tolist() == [False, False, True]
    assert frame.exact_match[3] >= 0.99
    # per-digit columns: 3-digit sums have 4 answer digits, 1-digit sums 2
    assert frame.loc[3, ["units", "tens", "hundreds", "thousands"]].notna().all()
    assert frame.loc[1, ["hundreds", "thousands"]].isna().all()
    digits = frame.loc[2, ["units", "tens", "hundreds"]].astype(float)
    assert frame.digit_accuracy[2] == pytest.approx(digits.mean())
    with pytest.raises(ArithlensError, match="n_digits=4 needs 16 tokens.*n_ctx=13"):
        length_generalization(zoo_add3_2l, [4])


def test_a_model_built_with_a_longer_context_is_evaluated_beyond_its_training_width():
    task = al.TaskSpec(op="add", n_digits=2)
    wide = al.tasks.max_length(al.TaskSpec(op="add", n_digits=4))
    model = al.build_model("1L", task, n_ctx=wide)
    assert model.cfg.n_ctx == wide
    frame = length_generalization(model, [2, 3, 4], n=50).set_index("n_digits")
    assert frame.trained.tolist() == [True, False, False]
    # a 4-digit sum has a ten-thousands digit, scored; a 2-digit one has none
    assert frame.notna().loc[4, "ten_thousands"] and frame.isna().loc[2, "ten_thousands"]
    with pytest.raises(ArithlensError, match="n_ctx=5 is shorter than task add2-reversed's 10"):
        al.build_model("1L", task, n_ctx=5)


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
    with pytest.raises(ArithlensError, match="'add9-9L'.*zoo models: .*add3-2L"):
        al.load("add9-9L")
    with pytest.raises(ArithlensError, match="'no/such-model' is not in the local Hugging Face"):
        al.load("no/such-model", offline=True)
    with pytest.raises(ArithlensError, match="folder 'no/such/model' does not exist"):
        al.load("no/such/model", offline=True)  # two slashes: a path, never a Hub id
    with pytest.raises(ArithlensError, match="zoo models are"):
        al.load(Path(__file__).parent)  # a folder that is no model


def test_accuracy_by_carry_matches_a_hand_count(zoo_add3_1l):
    problems = sample(zoo_add3_1l.task, 1500, seed=8, strategy="cascade")
    res = evaluate(zoo_add3_1l, problems)
    table = res.by_carry().set_index(["digit", "carry_in"])
    for k, name in enumerate(["units", "tens", "hundreds", "thousands"]):
        carry = np.array([int((a % 10**k) + (b % 10**k) >= 10**k) for a, b in problems.ints()])
        for c in np.unique(carry):
            sel = carry == c
            assert table.loc[(name, c), "count"] == sel.sum()
            right = res.pred_digits[sel, k] == res.true_digits[sel, k]
            assert table.loc[(name, c), "accuracy"] == pytest.approx(right.mean())
    assert set(table.loc["units"].index) == {0}  # nothing carries into the units
    assert set(table.loc["thousands"].index) == {0, 1}


def test_an_evaluation_saves_and_loads(zoo_add3_2l, tmp_path):
    from arithlens.analyses.evaluation import EvalResult

    res = al.evaluate(zoo_add3_2l, n=300, seed=4, strategy="cascade")
    back = EvalResult.load(res.save(tmp_path / "eval"))
    assert back.problems.ints() == res.problems.ints() and back.mode == res.mode
    assert back.summary() == res.summary()
    pd.testing.assert_frame_equal(back.by_cascade(), res.by_cascade())
    with pytest.raises(al.ArithlensError, match="not a saved evaluation"):
        EvalResult.load(tmp_path)
