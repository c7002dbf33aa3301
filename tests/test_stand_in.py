"""The Hugging Face stand-in's corpus, tokenizer and training script: the corpus against exact
sums, the held-out pairs never trained on, the tokenizer's number handling, and a tiny run that
writes a folder `al.load` boots like any Hugging Face model."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

import arithlens as al
from arithlens.models.stand_in import (
    STORY,
    TEMPLATES,
    StandInConfig,
    document,
    held_out_pair,
    make_tokenizer,
    train_stand_in,
)
from arithlens.tokens.numbers import tokenization_summary

SMALL = StandInConfig(
    n_layer=1,
    n_head=2,
    n_embd=16,
    n_positions=64,
    window=32,
    vocab_size=300,
    steps=3,
    batch_size=2,
    n_docs=400,
)


def _solved(text: str) -> list[tuple[int, int, int]]:
    """Every (a, b, written sum) of a document, read back by the templates' own patterns."""
    out = []
    for form in [*TEMPLATES.values(), STORY]:
        pattern = re.escape(form.replace("{c}", "\0")).replace(r"\{a\}", r"(\d+)")
        pattern = pattern.replace(r"\{b\}", r"(\d+)").replace("\0", r"(\d+)")
        if "{c}" not in form:
            pattern += r"(\d+)"
        out += [tuple(int(x) for x in m) for m in re.findall(pattern, text)]
    return out


def test_the_corpus_writes_exact_sums_and_never_a_held_out_pair():
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(600):
        doc = document(rng)
        solved = _solved(doc)
        # one to four problems, and every number of the text belongs to one of them
        assert 1 <= len(solved) <= 4 and len(re.findall(r"\d+", doc)) == 3 * len(solved), doc
        for a, b, c in solved:
            assert c == a + b and not held_out_pair(a, b) and a <= 99 and b <= 99
            seen += 1
    held = [(a, b) for a in range(100) for b in range(100) if held_out_pair(a, b)]
    assert 850 <= len(held) <= 1150  # a tenth of the pairs is kept out
    # ... and nothing else with them: every units digit of a, of b and of the sum, and every
    # operand length, in about its share (a linear hash would hold out one sum digit whole)
    for column in (
        [a % 10 for a, _ in held],
        [b % 10 for _, b in held],
        [(a + b) % 10 for a, b in held],
    ):
        assert chisquare(np.bincount(column, minlength=10)).pvalue > 1e-3
    one_digit = sum(a < 10 and b < 10 for a, b in held)
    assert 0 < one_digit < 30
    assert seen > 1000


def test_the_tokenizer_keeps_digits_apart_and_chunks_them_irregularly():
    tok = make_tokenizer(StandInConfig(n_docs=3000))
    for text in ("12+34=46", "What is 7 plus 85? 92", "Q: 40 + 9\nA: 49"):
        pieces = tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])
        for p in pieces:  # a token is all digits or holds none
            body = p.replace("Ġ", "").replace("Ċ", "")
            assert body.isdigit() or not any(c.isdigit() for c in body), (text, pieces)
    assert tokenization_summary(tok, max_digits=4)["scheme"] == "irregular"


def test_a_tiny_run_writes_a_folder_that_loads_as_a_hugging_face_model(tmp_path):
    folder = train_stand_in(tmp_path / "si", SMALL, progress=False)
    info = json.loads((folder / "stand_in.json").read_text())
    assert info["config"]["steps"] == 3 and np.isfinite(info["final_loss"])
    model = al.load(folder, template=TEMPLATES["question"])
    assert model.cfg.n_layers == 1 and model.encoder.template == TEMPLATES["question"]
    from transformers import GPT2LMHeadModel

    ref = GPT2LMHeadModel.from_pretrained(folder)
    ids = torch.tensor([model.tokenizer("12+34=")["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(model(ids), ref(ids).logits, atol=1e-4)
    with pytest.raises(al.ArithlensError, match="steps=0"):
        train_stand_in(tmp_path / "bad", StandInConfig(steps=0), progress=False)
    assert not (tmp_path / "bad").exists()
