"""Sorting and task hinting (Awasthi & Gupta 2023): sampler, texts, training with a hint,
evaluation by length, the successor probe. References are written here by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import arithlens as al
from arithlens.analyses.evaluation import text_scores
from arithlens.errors import ArithlensError
from arithlens.models import build_model, save
from arithlens.models.train import TrainConfig, train
from arithlens.probes.successor import successor_targets
from arithlens.tasks import Sequences, SortSpec, render_sort, sample_sequences, task_from_dict
from arithlens.tokens import encode
from arithlens.tokens.tokenizer import CharTokenizer, concat_batches, vocab_for

TASK = SortSpec(max_len=6)
lists = st.lists(st.integers(0, 9), min_size=1, max_size=6)


def _succ(s: list[int], x: int) -> str:
    bigger = [y for y in s if y > x]
    return str(min(bigger)) if bigger else "#"


@settings(max_examples=200, deadline=None)
@given(st.lists(lists, min_size=1, max_size=5))
def test_texts_answers_and_successors_match_python(seqs):
    s = Sequences.from_lists(TASK, seqs)
    sort, hint = render_sort(s), render_sort(s, hint=True)
    for r, xs in enumerate(seqs):
        digits = "".join(map(str, xs))
        assert sort.texts[r] == "S" + digits + "=" + "".join(map(str, sorted(xs))) + "."
        assert (
            hint.texts[r] == "H" + digits + "=" + "".join(str(x) + _succ(xs, x) for x in xs) + "."
        )
        got = [sort.texts[r][p] for p in sort.answer_pos[r] if p >= 0]
        assert got == [str(x) for x in sorted(xs)]
        assert [hint.texts[r][p] for p in hint.answer_pos[r] if p >= 0] == [
            _succ(xs, x) for x in xs
        ]
        assert [sort.texts[r][p] for p in sort.operand_pos[r, 0] if p >= 0] == list(digits)
        assert int(sort.prompt_len[r]) == sort.texts[r].index("=") + 1
    assert s.lists() == [list(x) for x in seqs]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=2, max_size=6))
def test_successor_probe_targets_match_python(xs):
    s = Sequences.from_lists(SortSpec(min_len=len(xs), max_len=len(xs)), [xs])
    succ, repeat = successor_targets(s)
    ys = sorted(xs)
    assert succ[0].tolist() == [int(_succ(xs, y)) if _succ(xs, y) != "#" else 10 for y in ys[:-1]]
    assert repeat[0].tolist() == [ys[t + 1] == ys[t] for t in range(len(ys) - 1)]


def test_lengths_and_values_are_uniform():
    s = sample_sequences(SortSpec(min_len=2, max_len=7, n_values=6), 12000, seed=3)
    counts = np.bincount(s.lengths, minlength=8)[2:]
    expected = len(s) / 6
    assert ((counts - expected) ** 2 / expected).sum() < 20.5, counts  # 5 dof, p = 0.001
    vals = s.values[s.values >= 0]
    vc = np.bincount(vals, minlength=6)
    assert ((vc - len(vals) / 6) ** 2 / (len(vals) / 6)).sum() < 20.5, vc
    # positions are independent of length: the last present element is as uniform as the first
    last = s.values[np.arange(len(s)), s.lengths - 1]
    lc = np.bincount(last, minlength=6)
    assert ((lc - len(s) / 6) ** 2 / (len(s) / 6)).sum() < 20.5, lc


def test_bad_sort_inputs_are_named():
    with pytest.raises(ArithlensError, match="has 7 elements"):
        Sequences.from_lists(TASK, [[1] * 7])
    with pytest.raises(ArithlensError, match="values must be 0..4"):
        Sequences.from_lists(SortSpec(max_len=3, n_values=5), [[5]])
    with pytest.raises(ArithlensError, match="min_len"):
        SortSpec(max_len=3, min_len=4)
    with pytest.raises(ArithlensError, match="-1 padding"):
        Sequences(TASK, np.array([[1, -1, 2, -1, -1, -1]], dtype=np.int8))
    with pytest.raises(ArithlensError, match="hint=True needs sorting"):
        encode(al.tasks.sample(al.TaskSpec(op="add", n_digits=2), 2), hint=True)
    with pytest.raises(ArithlensError, match="family 'nope' is unknown"):
        task_from_dict({"family": "nope"})
    assert task_from_dict(TASK.to_dict()) == TASK


def test_more_than_ten_values_are_letters_in_a_larger_vocabulary(tmp_path):
    task = SortSpec(max_len=4, n_values=36)
    s = Sequences.from_lists(task, [[35, 10, 3]])
    assert render_sort(s).texts == ["Sza3=3az."]
    assert render_sort(s, hint=True).texts == ["Hza3=z#az3a."]
    assert vocab_for(task.format) == vocab_for("sort") + "abcdefghijklmnopqrstuvwxyz"
    model = build_model("1L", task)
    assert model.cfg.d_vocab == len(vocab_for(task.format))
    save(model, tmp_path / "m")
    assert al.load(tmp_path / "m").task == task
    assert encode(s).tokens[0, 1].item() == vocab_for(task.format).index("z")


def test_mixed_batches_pad_each_part_and_keep_answer_positions():
    seqs = sample_sequences(TASK, 5, seed=1)
    sort, hint = encode(seqs), encode(seqs, hint=True)
    both = concat_batches([sort, hint])
    tok = CharTokenizer(vocab_for("sort"))
    for r, text in enumerate(both.texts):
        assert tok.decode(both.tokens[r]) == text
        assert int(both.lengths[r]) == len(text)
    assert torch.equal(both.answer_pos[5:], hint.answer_pos)
    assert torch.equal(both.answer_tokens()[:5], sort.answer_tokens())


def test_hint_training_needs_a_sort_task_and_a_context_that_fits():
    with pytest.raises(ArithlensError, match="hint='successor' needs a task of family sort"):
        train(al.TaskSpec(op="add", n_digits=2), "1L", TrainConfig(steps=1, hint="successor"))
    short = build_model("1L", TASK)
    with pytest.raises(ArithlensError, match="n_ctx=15"):
        train(TASK, short, TrainConfig(steps=1, hint="successor"), progress=False)
    with pytest.raises(ArithlensError, match="'successor'"):
        TrainConfig(hint="count")
    from arithlens.models.train import _batches, held_out

    cfg = TrainConfig(batch_size=8, hint="successor", hint_fraction=0.25)
    batch = _batches(TASK, cfg, held_out(TASK, cfg))(0)
    assert [t[0] for t in batch.texts] == ["S"] * 6 + ["H"] * 2


def _greedy_exact(model, seqs: Sequences) -> np.ndarray:
    """Reference: decode token by token, compare the text with the sorted sequence."""
    tok = CharTokenizer(vocab_for("sort"))
    out = []
    for xs in seqs.lists():
        ids = tok.encode("S" + "".join(map(str, xs)) + "=")
        for _ in range(len(xs) + 1):
            with torch.no_grad():
                ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
            if ids[-1] == tok.encode(".")[0]:
                break
        out.append(tok.decode(ids).split("=")[1] == "".join(map(str, sorted(xs))) + ".")
    return np.array(out)


def test_a_hinted_sorter_trains_saves_loads_and_scores_like_greedy_decoding(tmp_path):
    cfg = TrainConfig(steps=150, batch_size=64, lr=3e-3, eval_every=50, hint="successor")
    model = train(TASK, "1L", cfg, progress=False)
    assert model.cfg.n_ctx == TASK.text_length(hint=True) == 21
    assert model.record.config["hint"] == "successor"
    save(model, tmp_path / "m")
    back = al.load(tmp_path / "m")
    assert back.task == TASK
    for k, v in model.state_dict().items():
        assert torch.equal(v, back.state_dict()[k])
    seqs = sample_sequences(TASK.at_width(5), 200, seed=9)
    correct, exact = text_scores(back, seqs)
    ref = _greedy_exact(back, seqs)
    assert 0.05 < ref.mean() < 0.98, ref.mean()  # a partly trained model: both kinds of rows
    assert (exact == ref).all()
    assert not correct[:, 5:].any()
    table = al.length_generalization(back, [3, 6, 8], n=100)
    assert table["trained"].tolist() == [True, True, False]
    assert table["exact_match"].iloc[0] > table["exact_match"].iloc[2]
    with pytest.raises(ArithlensError, match="length=10 needs 23 tokens"):
        al.length_generalization(back, [10], n=10)
    with pytest.raises(ArithlensError, match="a sort task"):
        al.evaluate(back, n=10)


def test_the_successor_probe_matches_sklearn_and_finds_the_successor_in_a_trained_sorter():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from arithlens.models.sites import stream

    model = al.load("sort1to10-v36-hint-2L")
    n, L = 400, 10
    table = al.probes.successor(model, length=L, n=n, seed=4).set_index("site")
    # reference: a hook loop and scikit-learn (standardized, C=100) on the same sequences and
    # split; overall accuracy at every site, and on the repeat positions where the streams are
    # well conditioned (emb: the current value alone; L0)
    seqs = sample_sequences(model.task.at_width(L), n, 4)
    y, repeat = successor_targets(seqs)
    _, cache = model.run_with_cache(encode(seqs).tokens)
    tr, te = slice(0, 300), slice(300, n)
    for site, hook in stream(model.cfg.n_layers):
        X = cache[hook][:, L + 2 : 2 * L + 1].detach().numpy()  # answer elements 0..L-2
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=100.0, max_iter=5000))
        clf.fit(X[tr].reshape(-1, X.shape[-1]), y[tr].ravel())
        hit = clf.predict(X[te].reshape(-1, X.shape[-1])).reshape(y[te].shape) == y[te]
        assert abs(table.accuracy[site] - hit.mean()) < 0.03, (
            site,
            table.accuracy[site],
            hit.mean(),
        )
        if site != "L1":
            assert abs(table.accuracy_repeat[site] - hit[repeat[te]].mean()) < 0.05, site
    assert table.accuracy_repeat["L1"] >= 0.95 > table.majority_repeat["L1"] + 0.5
    untrained = al.probes.successor(al.probes.random_init_like(model), length=L, n=n, seed=4)
    assert untrained.set_index("site").accuracy_repeat["L1"] < table.accuracy_repeat["L1"] - 0.2
    with pytest.raises(ArithlensError, match="successor probe needs a task of family sort"):
        al.probes.successor(al.load("add3-2L"))
