"""Position encodings a model is built with (``ModelSpec.positional``): each variant trains,
saves and loads, and patching on it equals transformer_lens (the resume-from-layer and
one-position paths must honour the variant's positions); the position ids each scheme feeds
the table are checked against hand-written references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _reference import assert_head_by_pos_matches_transformer_lens

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.models import POSITIONALS, build_model, positions, save
from arithlens.models.sites import EMBEDDINGS
from arithlens.patching import make_metric
from arithlens.tokens import encode, encode_pairs

TASK = al.TaskSpec(op="add", n_digits=2)


@pytest.mark.parametrize("positional", POSITIONALS)
def test_each_position_encoding_trains_saves_and_patches_exactly(positional, tmp_path):
    model = build_model("2L", TASK, seed=1, positional=positional)
    assert ("pos_embed.weight" in model.state_dict()) == (positional != "rotary")
    model = al.train(
        TASK, model, al.TrainConfig(steps=30, eval_every=30, n_test=50), progress=False
    )
    save(model, tmp_path / "m")
    back = al.load(tmp_path / "m")
    tokens = encode(al.tasks.sample(TASK, 8, seed=3)).tokens
    assert back.spec.positional == positional
    assert torch.equal(back(tokens), model(tokens))
    batch = encode_pairs(al.tasks.corrupt_pairs(TASK, 8, change="a.units", seed=0))
    metric = make_metric("logit_diff", batch)
    assert_head_by_pos_matches_transformer_lens(model, batch, metric, min_effect=1e-3)
    probes = al.probes.fit(model, "carry.tens", n=300, controls=("majority",), progress=False)
    assert probes.score.shape[1] == model.cfg.n_layers + 1


def test_an_unknown_position_encoding_is_named():
    with pytest.raises(ArithlensError, match="positional='alibi' is unknown"):
        build_model("1L", TASK, positional="alibi")


MIXED = al.TaskSpec(op="add", n_digits=6, min_digits=1, pad=False)


def _abacus_reference(text: str) -> list[int]:
    """Abacus ids by reading the text character by character."""
    out, eq = [], text.index("=")
    for i, ch in enumerate(text):
        if i == eq:
            out.append(1)
        elif not ch.isdigit():
            out.append(0)
        elif i < eq:  # place + 2, the place counted from the end of the operand
            j = i
            while j < len(text) and text[j].isdigit():
                j += 1
            out.append(j - i + 1)
        else:  # place + 2, the place counted from the answer's start
            out.append(i - eq + 1)
    return out


def _table_ids(model, tokens):
    """The position ids the model used, recovered from its embeddings: the residual before
    block 0 minus the token embedding, matched to the nearest row of the position table."""
    _, cache = model.run_with_cache(tokens, names_filter=lambda n: n == EMBEDDINGS)
    state = model.state_dict()
    pos = cache[EMBEDDINGS] - state["embed.weight"][tokens]
    dist = torch.cdist(pos.reshape(-1, pos.shape[-1]), state["pos_embed.weight"])
    return dist.argmin(-1).reshape(tokens.shape)


def test_abacus_ids_match_a_character_by_character_reference():
    problems = al.tasks.sample(MIXED, 40, seed=2)
    batch = encode(problems)
    model = build_model("1L", MIXED, positional="abacus", n_ctx=48)
    used = _table_ids(model, batch.tokens)
    for r, text in enumerate(batch.texts):
        ref = _abacus_reference(text)
        assert used[r, : len(ref)].tolist() == ref, text


def test_abacus_offsets_shift_digits_only_and_stay_in_the_table():
    batch = encode(al.tasks.sample(MIXED, 64, seed=3))
    torch.manual_seed(0)
    ids = positions.position_ids(batch.tokens, "abacus", n_ctx=48, training=True)
    base = positions.abacus_ids(batch.tokens, al.tokens.CharTokenizer())
    moved = ids != base
    offset = (ids - base).max(1).values
    assert int(ids.max()) < 48 and len(set(offset.tolist())) > 10  # offsets vary by row
    assert 0.3 < float((offset == 0).float().mean()) < 0.7  # half the rows as evaluated
    for r, text in enumerate(batch.texts):
        for i, ch in enumerate(text):  # exactly the digits and '=' move, all by one offset
            assert bool(moved[r, i]) == (ch.isdigit() or ch == "=") or int(offset[r]) == 0
            if ch.isdigit() or ch == "=":
                assert int(ids[r, i] - base[r, i]) == int(offset[r])


def test_nope_and_randomized_ids_are_what_they_claim():
    tokens = encode(al.tasks.sample(MIXED, 16, seed=4)).tokens
    nope = build_model("1L", MIXED, positional="nope", n_ctx=48)
    assert (_table_ids(nope, tokens) == 0).all()
    rand = build_model("1L", MIXED, positional="randomized", n_ctx=48)
    fixed = _table_ids(rand, tokens)
    assert (fixed == fixed[:1]).all() and torch.equal(fixed[:3], _table_ids(rand, tokens[:3]))
    assert (fixed[:, 1:] > fixed[:, :-1]).all() and int(fixed.max()) < 48
    assert not torch.equal(fixed[0], torch.arange(tokens.shape[1]))  # not the standard ids
    torch.manual_seed(1)
    train_ids = positions.position_ids(tokens, "randomized", n_ctx=48, training=True)
    assert (train_ids[:, 1:] > train_ids[:, :-1]).all()
    assert len({tuple(r) for r in train_ids.tolist()}) == len(tokens)  # one subset per row


def test_abacus_needs_the_reversed_format_and_ids_that_fit():
    with pytest.raises(ArithlensError, match="positional='abacus' needs the reversed format"):
        build_model("1L", al.TaskSpec(op="add", n_digits=2, format="plain"), positional="abacus")
    tok = al.tokens.CharTokenizer()
    with pytest.raises(ArithlensError, match="needs position id 10 but"):
        positions.position_ids(
            torch.tensor([tok.encode("123456789+1=")]), "abacus", n_ctx=8, training=False
        )


def test_mixed_lengths_are_uniform_per_operand_and_have_no_leading_zeros():
    p = al.tasks.sample(MIXED, 12000, seed=5)
    lengths = np.array([[len(str(a)), len(str(b))] for a, b in p.ints()])
    counts = np.stack([np.bincount(lengths[:, i], minlength=7)[1:] for i in range(2)])
    expected = len(p) / 6
    chi2 = ((counts - expected) ** 2 / expected).sum(1)
    assert (chi2 < 20.5).all(), counts  # chi-square, 5 dof, p = 0.001
    lead = np.array([int(str(a)[0]) for a, _ in p.ints() if a >= 10])
    assert 0 not in lead
    lead_counts = np.bincount(lead, minlength=10)[1:]
    chi2 = ((lead_counts - len(lead) / 9) ** 2 / (len(lead) / 9)).sum()
    assert chi2 < 26.1, lead_counts  # 8 dof, p = 0.001
    texts = encode(p[:50]).texts
    assert all(not t.split("+")[1].startswith("0") or t.split("+")[1][1] == "=" for t in texts)


def test_mixed_tasks_refuse_cascade_sampling_and_padding():
    with pytest.raises(ArithlensError, match="needs a fixed operand width"):
        al.tasks.sample(MIXED, 10, strategy="cascade")
    with pytest.raises(ArithlensError, match="min_digits=1 needs pad=False"):
        al.TaskSpec(op="add", n_digits=4, min_digits=1)


def test_digit_alignment_matches_patterns_read_at_positions_found_in_the_text():
    model = build_model("2L", MIXED, positional="abacus", n_ctx=48, seed=3)
    problems = al.tasks.sample(MIXED.at_width(4), 12, seed=6)
    frame = al.digit_alignment(model, problems)
    batch = encode(problems)
    _, cache = model.run_with_cache(batch.tokens)
    for (layer, head, place), got in frame.set_index(["layer", "head", "place"]).mass.items():
        masses = []
        for r, text in enumerate(batch.texts):
            a, rest = text.split("+")
            b, answer = rest.split("=")
            answer = answer.rstrip(".")
            if place >= len(answer):
                continue
            keys = [len(a) - 1 - place, len(a) + len(b) - place]  # a's and b's digit of place
            pattern = cache["pattern", layer][r, head, len(a) + len(b) + 1 + place]
            masses.append(float(pattern[keys].sum()))  # every operand has 4 digits here
        assert got == pytest.approx(sum(masses) / len(masses), abs=1e-6)
    assert set(frame.place) == {0, 1, 2, 3} and set(frame.layer) == {0, 1}


@pytest.mark.parametrize("positional", ["abacus", "standard"])
def test_a_mixed_length_model_trains_saves_and_is_analysed_at_a_longer_width(positional, tmp_path):
    task = al.TaskSpec(op="add", n_digits=3, min_digits=1, pad=False)
    model = build_model("1L", task, positional=positional, n_ctx=24, seed=0)
    cfg = al.TrainConfig(steps=40, batch_size=64, eval_every=40, n_test=100, cascade_fraction=0)
    model = al.train(task, model, cfg, progress=False)
    save(model, tmp_path / "m")
    back = al.load(tmp_path / "m")
    assert back.task == task and back.spec.positional == positional
    wide = al.tasks.sample(task.at_width(5), 64, seed=1)
    tokens = encode(wide).tokens
    assert torch.equal(back(tokens), model(tokens))
    table = al.length_generalization(back, [2, 3, 5], n=64)
    assert table.trained.tolist() == [True, True, False]
    # per-digit accuracy counts only answers that have the digit: at width 2, digit 'hundreds'
    # (the carry out) exists in some answers, 'thousands' in none
    assert np.isnan(table.loc[0, "thousands"]) and not np.isnan(table.loc[0, "hundreds"])
    pairs = encode_pairs(al.tasks.corrupt_pairs(task.at_width(5), 16, change="a.units"))
    result = al.patching.activation_patch(
        back, pairs, "resid_pre", by=("layer", "pos"), metric="logit_diff", digits=("units",)
    )
    assert tuple(result.values.shape) == (1, pairs.n_pos)
    probes = al.probes.fit(
        back, "carry.tens", problems=wide, n=64, controls=("majority",), progress=False
    )
    assert probes.pos_labels[:2] == ["0:a4", "1:a3"] and probes.task["n_digits"] == 5
    with pytest.raises(ArithlensError, match="operands of different lengths"):
        al.probes.fit(back, "carry.tens", n=64, controls=(), progress=False)


@pytest.mark.parametrize("fmt", ["index_hints", "random_spaces"])
def test_shen_et_al_formats_train_save_evaluate_and_patch(fmt, tmp_path):
    task = al.TaskSpec(op="add", n_digits=2, format=fmt)
    model = build_model("1L", task, seed=0)
    assert model.cfg.d_vocab == len(al.tokens.vocab_for(fmt)) > len(al.tokens.DEFAULT_VOCAB)
    model = al.train(
        task, model, al.TrainConfig(steps=40, eval_every=40, n_test=100), progress=False
    )
    save(model, tmp_path / "m")
    back = al.load(tmp_path / "m")
    problems = al.tasks.sample(task, 64, seed=2)
    assert torch.equal(back(encode(problems).tokens), model(encode(problems).tokens))
    res = al.evaluate(back, problems)
    # teacher-forced digits are the argmax at the position before each answer digit
    batch = encode(problems)
    logits = back(batch.tokens)
    pred = logits[torch.arange(64)[:, None], batch.answer_pos - 1].argmax(-1)
    assert np.array_equal(res.pred_digits, torch.where(pred < 10, pred, -1).numpy())
    pairs = al.tasks.corrupt_pairs(task, 64, change="a.units", seed=0)
    clean, corrupt = al.tasks.render(pairs.clean), al.tasks.render(pairs.corrupt)
    # random spaces: pairs laid out alike, and every row like the first (patching by position
    # refuses rows whose positions mean different things)
    layout = [
        (len(clean.texts[i]), clean.operand_pos[i].tolist(), clean.answer_pos[i].tolist())
        for i in range(64)
    ]
    same = [
        i
        for i in range(64)
        if len(clean.texts[i]) == len(corrupt.texts[i])
        and (clean.operand_pos[i] == corrupt.operand_pos[i]).all()
        and layout[i] == layout[0]
    ]
    batch = encode_pairs(pairs[np.asarray(same)])
    assert_head_by_pos_matches_transformer_lens(back, batch, make_metric("logit_diff", batch))
    if fmt == "index_hints":  # one layout for every problem: probes label positions by role
        probes = al.probes.fit(back, "carry.tens", n=200, controls=("majority",), progress=False)
        assert "1:a1" in probes.pos_labels and "0:h1" in probes.pos_labels
