"""Attribution patching and integrated gradients against references that share no code with
them: activation patching on a model linear in the patched activation (where the first-order
estimate is exact), the completeness of integrated gradients at the model's input, and scipy's
correlations for the agreement report."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from arithlens.errors import ArithlensError
from arithlens.patching import (
    activation_patch,
    agreement,
    attribution_patch,
    encode_pairs,
    make_metric,
)
from arithlens.tasks import corrupt_pairs


@pytest.fixture(scope="module")
def linear_model(add3_task):
    # attention only and no LayerNorm: the logits are affine in the last layer's z. Weights x3
    # so that attention is far from uniform and effects are large (up to ~0.45 logits)
    from arithlens.models import ModelSpec, boot

    spec = ModelSpec(
        n_layers=2,
        d_model=32,
        n_heads=4,
        d_head=8,
        d_mlp=0,
        attn_only=True,
        normalization_type=None,
        n_ctx=13,
        seed=5,
    )
    model = boot(spec, add3_task)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3)
    return model


@pytest.mark.parametrize("ig_steps", [1, 4])
def test_attribution_equals_activation_patching_where_the_metric_is_linear(
    linear_model, add3_task, ig_steps
):
    batch = encode_pairs(corrupt_pairs(add3_task, 16, change="a.units", seed=1))
    metric = make_metric("logit_diff", batch)
    by = ("layer", "pos", "head")
    exact = activation_patch(linear_model, batch, "z", by=by, metric=metric, progress=False)
    est = attribution_patch(linear_model, batch, "z", by=by, metric=metric, ig_steps=ig_steps)
    last = linear_model.cfg.n_layers - 1
    assert torch.allclose(est.effect()[last], exact.effect()[last], atol=1e-5)
    assert exact.effect()[last].abs().max() > 0.1  # not zeros compared
    # layer 0 reaches the logits through layer-1 attention too: not linear, not equal
    assert (est.effect()[0] - exact.effect()[0]).abs().max() > 0.05


def test_integrated_gradients_are_complete_at_the_input(zoo_add3_2l):
    # at the interpolated input (block 0's residual stream) the attributions of all positions
    # sum to metric(clean) - metric(corrupt) as the steps grow; one step (plain attribution
    # patching) is far off
    batch = encode_pairs(corrupt_pairs(zoo_add3_2l.task, 32, change="a.units", seed=2))
    metric = make_metric("logit_diff", batch)
    with torch.no_grad():
        gap = float(
            metric(zoo_add3_2l(batch.clean.tokens)).mean()
            - metric(zoo_add3_2l(batch.corrupt.tokens)).mean()
        )
    by = ("layer", "pos")
    total = {
        k: float(
            attribution_patch(zoo_add3_2l, batch, "resid_pre", by=by, metric=metric, ig_steps=k)
            .effect()[0]
            .sum()
        )
        for k in (1, 64)
    }
    assert abs(total[64] - gap) < 0.03 * abs(gap), (total, gap)
    assert abs(total[1] - gap) > 0.3 * abs(gap), (total, gap)
    with pytest.raises(ArithlensError, match="ig_steps=0"):
        attribution_patch(zoo_add3_2l, batch, "z", ig_steps=0)


def test_agreement_is_scipys_correlations_over_the_live_cells():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=40)
    ref[:25] = 0.0  # cells that cannot matter in either method
    est = 0.2 * ref + 0.05 * rng.normal(size=40)
    est[:20] = 0.0  # zero in both for 20 cells, live in the estimate alone for 5
    ag = agreement(torch.tensor(est), torch.tensor(ref), ks=(1, 5))
    live = (est != 0) | (ref != 0)
    assert ag.nonzero == 20 and ag.cells == 40
    assert ag.pearson == pytest.approx(stats.pearsonr(est[live], ref[live])[0], abs=1e-12)
    assert ag.spearman == pytest.approx(stats.spearmanr(est[live], ref[live])[0], abs=1e-12)
    top = lambda x, k: set(np.argsort(-np.abs(x))[:k])  # noqa: E731
    assert ag.top_k[5] == len(top(est, 5) & top(ref, 5)) / 5
    assert ag.top_cell_same == (np.argmax(np.abs(est)) == np.argmax(np.abs(ref)))
    assert ag.scale == pytest.approx(np.polyfit(ref[live], est[live], 1)[0], abs=0.05)
    with pytest.raises(ArithlensError, match="same grid"):
        agreement(torch.zeros(3), torch.zeros(4))


def test_readme_agreement_table_is_built_from_the_committed_measurement():
    import importlib.util
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    path = root / "benchmarks/attribution_agreement.py"
    spec = importlib.util.spec_from_file_location("attribution_agreement", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = json.loads((root / "assets/measurements/attribution_agreement.json").read_text())
    readme = (root / "docs" / "analyses.md").read_text()
    block = readme.split("<!-- agreement:start -->\n", 1)[1].split("<!-- agreement:end -->")[0]
    # regenerate with: python benchmarks/attribution_agreement.py --write
    assert block.splitlines() == bench.table(data)
    assert len(data["rows"]) == 12
    data["rows"][0]["pearson"] = 0.123
    assert "| 0.123 |" in bench.table(data)[2]
