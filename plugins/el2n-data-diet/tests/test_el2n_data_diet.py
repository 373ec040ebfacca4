from __future__ import annotations

from types import SimpleNamespace

import pydantic
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from assay import Data, load
from assay.claims import decide
from assay.testing import build, build_context, execute, negative_control
from assay_el2n_data_diet._scores import el2n, grand
from assay_el2n_data_diet.claims import (
    el2n_beats_random, flags_noisy_labels, grand_beats_random,
)
from assay_el2n_data_diet.dataset import NoisyDigits, NoisyDigitsConfig
from assay_el2n_data_diet.method import DataDiet, DataDietConfig


def test_el2n_is_the_norm_of_softmax_minus_onehot():
    # a linear "model" with fixed logits [2, 0, 0] for x = [1]: p = (e^2, 1, 1) / (e^2 + 2)
    model = nn.Linear(1, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[2.0], [0.0], [0.0]]))
    x, y = torch.ones(2, 1), torch.tensor([0, 1])
    z = torch.e ** 2 + 2
    p = torch.tensor([torch.e ** 2 / z, 1 / z, 1 / z])
    want = torch.stack([(p - torch.tensor([1.0, 0, 0])).norm(),
                        (p - torch.tensor([0, 1.0, 0])).norm()])
    torch.testing.assert_close(el2n(model, x, y), want)


def test_grand_matches_a_per_example_autograd_loop():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    x, y = torch.randn(9, 5), torch.randint(3, (9,))
    want = []
    for i in range(9):
        loss = F.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
        grads = torch.autograd.grad(loss, list(model.parameters()))
        want.append(torch.sqrt(sum(g.pow(2).sum() for g in grads)))
    torch.testing.assert_close(grand(model, x, y), torch.stack(want))


class _FixedScores(DataDiet):
    def scores(self, ctx):
        return torch.tensor([0.1, 0.9, 0.5, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 1.0])


def _fake_ctx(noisy):
    data = Data((torch.zeros(10, 2), torch.zeros(10, dtype=torch.long)),
                (torch.zeros(2, 2), torch.zeros(2, dtype=torch.long)), "classification", 2, (2,),
                info={"noisy_idx": torch.tensor(noisy)})
    return SimpleNamespace(data=data, run=SimpleNamespace(seed=0), final_metrics={})


def test_select_keeps_the_top_scores_after_the_skipped_ones():
    # ranking by score: 9, 1, 3, 5, 7, 2, 8, 6, 4, 0
    ctx = _fake_ctx([9, 1, 0])
    kept = _FixedScores(DataDietConfig(keep_fraction=0.4, skip_fraction=0.2)).select(ctx)
    assert kept.tolist() == [2, 3, 5, 7]
    m = ctx.final_metrics
    assert m["data/kept"] == 4 and m["data/kept_fraction"] == 0.4
    assert m["data/noise_precision"] == pytest.approx(2 / 3)   # top-3 = {9, 1, 3}
    assert m["data/noise_kept"] == 0.0 and m["data/noise_rate"] == pytest.approx(0.3)
    kept = _FixedScores(DataDietConfig(keep_fraction=0.3)).select(_fake_ctx([0]))
    assert kept.tolist() == [1, 3, 9]


def test_random_subset_has_the_same_size_and_is_seeded():
    a = DataDiet(DataDietConfig(score="random", keep_fraction=0.3)).select(_fake_ctx([0]))
    b = DataDiet(DataDietConfig(score="random", keep_fraction=0.3)).select(_fake_ctx([0]))
    assert a.numel() == 3 and torch.equal(a, b)


def test_fractions_beyond_the_dataset_are_rejected():
    with pytest.raises(pydantic.ValidationError, match="exceeds 1"):
        DataDietConfig(keep_fraction=0.8, skip_fraction=0.3)


def test_noisy_digits_flips_exactly_the_recorded_labels():
    data = NoisyDigits(NoisyDigitsConfig(noise=0.1)).load(0)
    clean = build("dataset", "digits").load(0)
    assert torch.equal(data.train[0], clean.train[0])        # the core split, same seed
    flipped = (data.train[1] != clean.train[1]).nonzero().flatten()
    assert torch.equal(flipped, data.info["noisy_idx"])
    assert flipped.numel() == round(0.1 * data.n_train)
    assert torch.equal(data.val[1], clean.val[1])


def _experiment(dataset, data_method, steps=60):
    return {"dataset": dataset, "model": {"name": "mlp", "width": 64},
            "methods": {"data": data_method, "optimizer": {"name": "adamw", "lr": 3e-3}},
            "backend": {"name": "cpu", "threads": 1},
            "train": {"steps": steps, "batch_size": 64, "eval_every": 30, "seed": 0}}


def test_high_el2n_examples_are_mostly_the_flipped_labels():
    exp = _experiment({"name": "el2n-data-diet-noisy-digits", "noise": 0.1},
                      {"name": "el2n-data-diet", "n_probes": 2, "probe_epochs": 2})
    loaded = load(exp)
    ctx = build_context(loaded.run)
    DataDiet(DataDietConfig(n_probes=2, probe_epochs=2)).select(ctx)
    assert ctx.final_metrics["data/noise_precision"] > 0.4, ctx.final_metrics


def test_pruned_run_through_assay_trains_on_half_the_digits():
    # probes trained for only one epoch rank whole slow-to-learn classes on top (the kept half
    # then misses some digits entirely); three epochs give a usable ranking
    result = execute(load(_experiment({"name": "digits"}, {
        "name": "el2n-data-diet", "n_probes": 2, "probe_epochs": 3}, steps=100)).run)
    assert result.status == "finished", result.error + result.traceback
    assert result.metrics["data/kept"] == 719                # half of the 1438 training digits
    # the hard half learns slower than a random half; 100 steps reach ~0.75 (chance: 0.1)
    assert result.metrics["val/acc"] > 0.6, result.metrics


def _noisy(precision, rate=0.1):
    return {"noisy/data/noise_precision": precision, "noisy/data/noise_rate": rate}


def _halves(el2n=0.95, grand=0.93, rand=0.94):
    return {"el2n/val/acc": el2n, "grand/val/acc": grand, "random/val/acc": rand}


def _decide(check, seeds):
    return decide([check(m) for m in seeds])


def test_flags_noisy_labels_decides_from_the_interval_over_seeds():
    assert _decide(flags_noisy_labels, [_noisy(p) for p in (0.70, 0.72, 0.68)]).status == "PASS"
    assert _decide(flags_noisy_labels, [_noisy(p) for p in (0.30, 0.32, 0.28)]).status == "FAIL"
    assert _decide(flags_noisy_labels, [_noisy(p) for p in (0.70, 0.30)]).status \
        == "INCONCLUSIVE"


def test_no_flipped_labels_makes_the_noise_claim_vacuous():
    d = _decide(flags_noisy_labels, [_noisy(0.7), {}, _noisy(0.7)])
    assert d.status == "VACUOUS" and "no flipped labels" in d.reason


def test_beats_random_decides_from_the_interval_over_seeds():
    ahead = [_halves(el2n=v) for v in (0.950, 0.952, 0.948)]
    assert _decide(el2n_beats_random, ahead).status == "PASS"
    tie = [_halves(el2n=0.94)] * 3                         # "at least": a tie passes
    assert _decide(el2n_beats_random, tie).status == "PASS"
    behind = [_halves(grand=v) for v in (0.930, 0.928, 0.932)]
    assert _decide(grand_beats_random, behind).status == "FAIL"
    straddles = [_halves(el2n=v) for v in (0.950, 0.930)]
    assert _decide(el2n_beats_random, straddles).status == "INCONCLUSIVE"


def test_a_random_half_at_chance_makes_the_comparison_invalid():
    d = _decide(grand_beats_random, [_halves(), _halves(rand=0.12), _halves()])
    assert d.status == "INVALID" and "random-half" in d.reason


@pytest.fixture
def runs(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) for a negative control, its artifacts beside it."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_random_ranking_does_not_flag_noisy_labels(runs):
    """flags-noisy-labels with the EL2N ranking replaced by a random one (the baseline): about
    10% of its top-10% are flipped labels, far from 50%."""
    out = negative_control("el2n-data-diet:flags-noisy-labels",
                           overrides={"noisy": {"methods.data.score": "random"}}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_a_half_that_never_trains_does_not_beat_random(runs):
    """el2n-beats-random: replacing the EL2N half by a random one would tie, and a tie passes
    "at least that of a random half" by design; so the control removes the training on the
    EL2N half instead (learning rate 1e-8): it stays near chance and must not PASS."""
    out = negative_control("el2n-data-diet:el2n-beats-random",
                           overrides={"el2n": {"methods.optimizer.lr": 1e-8}}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
