"""Number representations: spectra, helix fits, causal tests, Fourier filters and heuristic
neurons, each against a reference that does not share its code path (hand-written DFT sums,
numpy's lstsq and FFT, by-construction signals, the unpatched activation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import arithlens as al
from arithlens.analyses.numbers.causal import ablate_subspace, number_pairs, patch_fits
from arithlens.analyses.numbers.filter import band_frequencies, filter_matrix, filter_table
from arithlens.analyses.numbers.helix import fit_basis, fit_helix
from arithlens.analyses.numbers.neurons import classify
from arithlens.errors import ArithlensError


def _dft_magnitude(x: np.ndarray, k: int) -> float:
    """|sum_t x_t e^{-2 pi i k t / N}| by hand, per column, averaged (centred first)."""
    x = x - x.mean(0)
    t = np.arange(len(x))[:, None]
    re = (x * np.cos(2 * np.pi * k * t / len(x))).sum(0)
    im = (x * np.sin(2 * np.pi * k * t / len(x))).sum(0)
    return float(np.hypot(re, im).mean())


def test_a_spectrum_recovers_the_sinusoids_it_was_built_from():
    a = np.arange(100)
    rng = np.random.default_rng(0)
    amp10, amp4 = rng.uniform(1, 2, 6), rng.uniform(0.2, 0.5, 6)
    phase = rng.uniform(0, 2 * np.pi, 6)
    x = amp10 * np.cos(2 * np.pi * a[:, None] / 10 + phase) + amp4 * np.sin(
        2 * np.pi * a[:, None] / 4
    )
    s = al.numbers.spectrum(x, a)
    k10, k4 = 10, 25  # frequencies of periods 10 and 4
    assert s.magnitude[k10 - 1] == pytest.approx(_dft_magnitude(x, k10), rel=1e-9)
    assert s.magnitude[k10 - 1] == pytest.approx(amp10.mean() * 50, rel=1e-9)  # A N / 2
    assert s.magnitude[k4 - 1] == pytest.approx(amp4.mean() * 50, rel=1e-9)
    assert [p for p, _ in s.top(2)] == [10.0, 4.0]
    want = (amp10**2).mean() ** 0  # the shares: energies of the two peaks over their sum
    e10, e4 = (amp10.mean() * 50) ** 2, (amp4.mean() * 50) ** 2
    assert s.top(1)[0][1] == pytest.approx(e10 / (e10 + e4), abs=1e-4) and want == 1
    # a shuffled order spreads the energy: the peak is far above its null, the null flat
    assert s.ratio_to_null()[k10 - 1] > 4
    assert s.null.max() / s.null.mean() < 3


def test_a_spectrum_refuses_what_it_cannot_transform():
    with pytest.raises(ArithlensError, match="not consecutive"):
        al.numbers.spectrum(np.ones((5, 2)), [0, 1, 2, 4, 5])
    with pytest.raises(ArithlensError, match="do not fit 4 numbers"):
        al.numbers.spectrum(np.ones((5, 2)), [0, 1, 2, 3])


def _helix(a: np.ndarray, periods: tuple, d: int = 20, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    cols = [a / a.max()] + [f(2 * np.pi * a / t) for t in periods for f in (np.cos, np.sin)]
    basis = np.stack(cols, 1)
    C = rng.standard_normal((d, basis.shape[1]))
    return basis @ C.T + 3.0 + noise * rng.standard_normal((len(a), d)), C


def test_the_helix_regression_equals_lstsq_on_the_same_design():
    a = np.arange(60)
    x, _ = _helix(a, (5, 12), noise=0.3)
    fit = fit_helix(x, a, periods=(5, 12), k=20, search=False)
    design = np.column_stack(
        [np.ones(60), a / 59] + [f(2 * np.pi * a / t) for t in (5, 12) for f in (np.cos, np.sin)]
    )
    coef = np.linalg.lstsq(design, x, rcond=None)[0]  # in the model's space, no PCA
    assert np.allclose(fit.reconstruct(a), design @ coef, atol=1e-8)
    resid = ((x - design @ coef) ** 2).sum()
    # R^2 in the PCA space (k = d keeps every axis) equals R^2 of the full fit
    assert fit.r2 == pytest.approx(1 - resid / ((x - x.mean(0)) ** 2).sum(), rel=1e-9)


def test_a_noisy_helix_is_recovered_with_its_periods():
    a = np.arange(100)
    x, C = _helix(a, (5, 10), noise=0.05, seed=1)
    fit = fit_helix(x, a, periods=(2, 5, 10, 100), k=20)
    assert fit.periods == (5, 10)
    assert fit.cv_r2 > 0.99
    assert np.allclose(fit.C, C, atol=0.05)  # C in the basis order a, cos5, sin5, cos10, sin10
    # C+ reads the circles back: cos and sin of the period-10 terms of each number
    proj = fit.project(x)
    assert np.allclose(proj[:, 3], np.cos(2 * np.pi * a / 10), atol=0.1)
    # the baselines are worse fits of a helix: the circle lacks a, the shuffled fit everything
    assert fit_basis(x, a, "circle", (5, 10), k=20).r2 < fit.r2
    assert fit_basis(x, a, "helix-shuffled", (5, 10), k=20).r2 < 0.5


def test_helix_bad_input_is_named():
    a = np.arange(10)
    with pytest.raises(ArithlensError, match="periods=.* are invalid"):
        fit_helix(np.ones((10, 3)), a, periods=(2, 0))
    with pytest.raises(ArithlensError, match="too few for the periods"):
        fit_helix(
            np.random.default_rng(0).standard_normal((6, 3)),
            np.arange(6),
            (2, 3, 5, 7),
            search=False,
        )
    with pytest.raises(ArithlensError, match="kind='spiral' is unknown"):
        fit_basis(np.ones((10, 3)), a, "spiral")


@pytest.fixture(scope="module")
def gpt2():
    return al.load("add2-gpt2")


def test_number_activations_check_single_tokens_and_sites(gpt2, tmp_path):
    assert al.numbers.single_token_numbers(gpt2) == list(range(100))
    acts = al.numbers.number_activations(gpt2, "resid_post", 0, numbers=range(20), n_context=3)
    # a stands first in '{a}+{b}=': its row is the model's activation on the prompt alone
    _, cache = gpt2.run_with_cache(gpt2.encoder.tokenizer("7+3=", return_tensors="pt")["input_ids"])
    assert np.allclose(acts.values[7], cache["blocks.0.hook_resid_post"][0, 0].double(), atol=1e-5)
    emb = al.numbers.number_activations(gpt2, "embed", numbers=range(10))
    ids = al.numbers.number_token_ids(gpt2, list(range(10)))
    assert np.allclose(emb.values, gpt2.W_E[ids].detach().double())
    with pytest.raises(ArithlensError, match="site='logits' is not a number site"):
        al.numbers.number_activations(gpt2, "logits", 0)
    with pytest.raises(ArithlensError, match="layer=9 is not in the model"):
        al.numbers.number_activations(gpt2, "resid_post", 9)
    with pytest.raises(ArithlensError, match="operand 120 has 3 digits"):
        al.numbers.number_activations(gpt2, "resid_post", 0, numbers=[1, 120])
    toy = al.load(al.llm.toy_checkpoint(tmp_path / "toy"), template="{a}+{b}=")
    split = [x for x in range(100) if x not in al.numbers.single_token_numbers(toy)]
    assert split  # the toy BPE splits some numbers
    with pytest.raises(ArithlensError, match=f"numbers \\[{split[0]}.* are not single tokens"):
        al.numbers.number_activations(toy, "resid_post", 0, numbers=[0, split[0]])


def test_patching_every_pca_axis_equals_patching_the_activation(gpt2):
    acts = al.numbers.number_activations(gpt2, "resid_post", 0, n_context=2)
    pairs = number_pairs(gpt2, acts.numbers, n=24)
    fit = fit_helix(acts.values, acts.numbers, k=128)
    ld = patch_fits(gpt2, pairs, 0, {"helix": fit}, pca_dim=len(fit.components))
    assert ld["full"] > 1  # the clean a matters
    assert ld["pca"] == pytest.approx(ld["full"], abs=1e-5)
    assert ld["mean"] < ld["full"] / 2
    # by hand: the clean run's first-answer logit minus the corrupted run's; patching a's token
    # before block 0 is all of the difference a makes (after it, block 0's attention at later
    # positions has read a already: measured 14.3 of 19.9)
    rows = torch.arange(len(pairs))
    with torch.no_grad():
        clean = gpt2(pairs.clean)[:, -1][rows, pairs.answer]
        corrupt = gpt2(pairs.corrupt)[:, -1][rows, pairs.answer]
    emb = al.numbers.number_activations(gpt2, "resid_pre", 0, n_context=1)
    first = patch_fits(gpt2, pairs, 0, {"helix": fit_helix(emb.values, emb.numbers)}, "resid_pre")
    assert first["full"] == pytest.approx(float((clean - corrupt).mean()), abs=1e-4)
    assert ld["full"] < first["full"] - 1


def test_the_random_subspace_is_seeded(gpt2):
    acts = al.numbers.number_activations(gpt2, "resid_post", 0, n_context=2)
    pairs = number_pairs(gpt2, acts.numbers, n=16)
    fit = fit_helix(acts.values, acts.numbers, periods=(10, 100), search=False)
    one = ablate_subspace(gpt2, pairs, 0, fit, n_random=2, seed=3)
    two = ablate_subspace(gpt2, pairs, 0, fit, n_random=2, seed=3)
    other = ablate_subspace(gpt2, pairs, 0, fit, n_random=2, seed=4)
    assert one == two and one["random_drop"] != other["random_drop"]
    assert one["whole_drop"] > one["random_drop"]


def test_the_filter_removes_exactly_the_band_numpys_fft_removes():
    rng = np.random.default_rng(0)
    d, n = 64, 20  # W^T has full column rank: every logit pattern over the numbers is reachable
    w = torch.from_numpy(rng.standard_normal((d, n)))
    o = torch.from_numpy(rng.standard_normal(d))
    z = (w.T @ o).numpy()
    for band in ("low", "high"):
        freqs = band_frequencies(n, band, split=5)
        f = np.fft.rfft(z)
        f[freqs] = 0  # the reference: zero the band's coefficients, keep the constant
        want = np.fft.irfft(f, n)
        got = (w.T @ (o - filter_matrix(w, freqs) @ o)).numpy()
        assert np.allclose(got, want, atol=1e-9)
    assert band_frequencies(20, "low", split=5) == [1, 2, 3]  # periods 20, 10, 6.7
    assert band_frequencies(20, "random", split=5, seed=1) != band_frequencies(20, "low", split=5)
    with pytest.raises(ArithlensError, match="band='mid' is unknown"):
        band_frequencies(20, "mid")


def test_the_filter_table_on_add3_reads_its_digits():
    table = filter_table(al.load("add3-2L"), n=60, split=5, n_random=1, progress=False)
    base = table.iloc[0]
    assert base["band"] == "none" and base["accuracy"] == pytest.approx(1.0)
    shares = table[["accuracy", "off_small", "off_tens", "off_other", "not_number"]].sum(1)
    assert np.allclose(shares, 1.0)  # every prompt is counted once
    mlp_high = table.query("module == 'mlp' and layer == 'all' and band == 'high'")
    assert float(mlp_high["accuracy"].iloc[0]) < 0.9  # measured 0.687 on 300 prompts


def test_the_neuron_classifier_labels_hand_built_neurons():
    a, b = np.meshgrid(np.arange(30), np.arange(30))
    a, b = a.ravel(), b.ravel()
    rng = np.random.default_rng(0)
    acts = np.stack(
        [
            ((a >= 10) & (a <= 19)) + 0.05 * rng.standard_normal(900),  # a in 10..19
            ((a + b) % 5 == 2) * 2.0 + 0.05 * rng.standard_normal(900),  # result mod 5
            (b < 8) * 1.0,  # b in 0..7
            ((a + b) > 40) * 1.0,  # result above 40
            rng.standard_normal(900),  # noise
        ],
        1,
    )
    table = classify(acts, a, b)
    assert table["label"].tolist() == [
        "a range",
        "result mod 5",
        "b range",
        "result range",
        "none",
    ]
    assert table["detail"].tolist()[:4] == ["10..19", "mod 5", "0..7", "41..58"]
    with pytest.raises(ArithlensError, match="threshold=0 is invalid"):
        classify(acts, a, b, threshold=0)


def test_cli_numbers_writes_its_tables_and_pictures(tmp_path, capsys):
    from arithlens.cli import main

    out = tmp_path / "n"
    argv = ["numbers", "add3-2L", "--layers", "0", "--site", "resid_pre", "--pairs", "12"]
    assert main([*argv, "--prompts", "30", "--split", "5", "--out", str(out)]) == 0
    for name in ("spectra.csv", "causal.csv", "filter.csv", "numbers.html"):
        assert (out / name).is_file()
    causal = pd.read_csv(out / "causal.csv")
    assert causal["full"].iloc[0] > 1 and causal["n_pairs"].iloc[0] == 12
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("best layer 0: helix") and "numbers.html" in last
    assert main([*argv, "--layers", "5", "--out", str(tmp_path / "b")]) != 0
    assert "--layers [5] are not in the model" in capsys.readouterr().err
