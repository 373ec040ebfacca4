from __future__ import annotations

from types import SimpleNamespace

import pydantic
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from assay import load
from assay import Data
from assay._run.loop import build_context, execute
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
    clean = load({"dataset": {"name": "digits"}}).registry.get("dataset", "digits")().load(0)
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
    ctx = build_context(loaded.run, lambda step, metrics: False, loaded.registry)
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


def test_checks_pass_and_fail_on_made_up_numbers():
    noisy = {"noisy/data/noise_precision": 0.7, "noisy/data/noise_rate": 0.1}
    assert flags_noisy_labels(noisy).passed
    assert not flags_noisy_labels(dict(noisy, **{"noisy/data/noise_precision": 0.3})).passed
    accs = {"el2n/val/acc": 0.95, "grand/val/acc": 0.93, "random/val/acc": 0.94}
    assert el2n_beats_random(accs).passed and not grand_beats_random(accs).passed
