"""Numeracy for Hugging Face models: word tokenization (where letters hide), prompt
templates, and teacher-forced scoring against a hand-written greedy decoder on a local toy
checkpoint (random weights: the mechanics, not skill)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import arithlens as al
from arithlens.analyses.evaluation import prompt_exact
from arithlens.errors import ArithlensError
from arithlens.models.toy import make_tokenizer, toy_checkpoint
from arithlens.tasks import NumeracyProblems, NumeracySpec, sample_numeracy
from arithlens.tasks.numeracy import answer
from arithlens.tokens.numbers import word_tokenization
from arithlens.tokens.numeracy_prompts import TEMPLATES, numeracy_answers, numeracy_prompts

WORDS = ["strawberry", "banana", "mississippi", "arithmetic", "cat"]


@pytest.fixture(scope="module")
def bpe():
    return make_tokenizer("bpe")


def _word_bpe():
    """A byte-level BPE trained here on a few words, so that letters merge into chunks."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator([" " + w for w in WORDS * 20] + [" straw", " berry"] * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok)


@pytest.mark.parametrize(
    "make", [lambda: make_tokenizer("bpe"), _word_bpe], ids=["digits-bpe", "word-bpe"]
)
def test_word_tokenization_reports_each_token_and_the_hidden_letters(make):
    tok = make()
    frame = word_tokenization(tok, WORDS, "r")
    for row in frame.itertuples():
        assert "".join(row.tokens) == row.word  # the tokens spell the word, context dropped
        assert row.n_tokens == len(row.tokens)
        ids = tok(" " + row.word, add_special_tokens=False)["input_ids"]
        assert row.n_tokens in (len(ids), len(ids) - 1)  # the space: its own token or not
        assert row.count == sum(c == "r" for c in row.word)
        assert sum(row.per_token) == row.count
        assert row.hidden == sum(t.count("r") for t in row.tokens if len(t) > 1)
    straw = frame.set_index("word").loc["strawberry"]
    if make is _word_bpe:  # merged: the model never sees the r's alone
        assert straw.n_tokens <= 3 and straw.hidden == 3
    else:  # trained on arithmetic text: letters stay single bytes
        assert straw.n_tokens == 10 and straw.hidden == 0


def test_numeracy_prompts_pose_every_task_with_solved_shots():
    for task_name, reprs in (("max", "float"), ("count_letter", "word"), ("get_digit", "int")):
        task = NumeracySpec(task=task_name, repr=reprs, n_digits=4)
        p = sample_numeracy(task, 5, 1)
        prompts = numeracy_prompts(p, shots=2, seed=3)
        for text, ops in zip(prompts, p.operands):
            blocks = text.split("\n\n")
            assert len(blocks) == 3 and text.count("Q:") == 3
            for block in blocks[:2]:  # each shot ends with its own exact answer
                q, a = block.rsplit("A: ", 1)
                assert a == answer(task, _parse_shot(task, q))
            assert blocks[2].endswith("A:") and all(o in blocks[2] for o in ops)
    assert set(TEMPLATES) >= {"max", "count_letter", "get_digit", "count"}
    with pytest.raises(ArithlensError, match="uses the field"):
        numeracy_prompts(p, "Q: {a} or {b}?")


def _parse_shot(task, question: str) -> tuple[str, ...]:
    """The operands of a shot, read back from its question text by the template's pattern."""
    import re

    template = TEMPLATES[task.task]
    names = re.findall(r"\{(\w)\}", template)
    pattern = re.escape(template.split("\nA:")[0])
    for name in set(names):
        pattern = pattern.replace(re.escape("{" + name + "}"), f'(?P<{name}>[^\\s"?,]+)')
    m = re.fullmatch(pattern + r"\s*", question)
    assert m, (question, pattern)
    got = m.groupdict()
    return (got["a"], got["b"]) if "a" in got else (got["x"], got["q"])


@torch.no_grad()
def test_prompt_exact_equals_a_hand_written_greedy_decoder(tmp_path):
    model = al.load(toy_checkpoint(tmp_path / "toy", "gpt2"), template="{a}+{b}=")
    tok = model.tokenizer
    task = NumeracySpec(task="max", repr="int", n_digits=3)
    p = sample_numeracy(task, 8, 0)
    prompts = numeracy_prompts(p)
    answers = numeracy_answers(p)

    def greedy(ids: list[int], k: int) -> list[int]:
        out = list(ids)
        for _ in range(k):
            out.append(int(model(torch.tensor([out]))[0, -1].argmax()))
        return out[len(ids) :]

    # half of the answers: the model's own greedy continuation (so some must be right)
    for i in range(0, len(p), 2):
        answers[i] = tok.decode(greedy(tok(prompts[i])["input_ids"], 2))
    got = prompt_exact(model, prompts, answers)
    ref = []
    for q, a in zip(prompts, answers):
        tail = tok(a, add_special_tokens=False)["input_ids"]
        written = greedy(tok(q)["input_ids"], len(tail) + 1)  # the answer and one token more
        ends = not (a[-1:].isdigit() and tok.decode(written[-1:])[:1].isdigit())
        ref.append(written[:-1] == tail and ends)
    assert got.tolist() == ref and 0 < sum(ref) < len(ref), ref
    with pytest.raises(ArithlensError, match="equal, non-empty"):
        prompt_exact(model, prompts, answers[:-1])
    one = NumeracyProblems.from_strings(task, [("12", "7")])
    assert numeracy_answers(one) == [" 12"]
    assert np.asarray(got).dtype == bool
