from __future__ import annotations

import pytest
import torch
from torch import nn

from assay import load
from assay.testing import execute
from assay_agp_gradual_pruning import masks as M
from assay_agp_gradual_pruning.claims import large_sparse_beats_small_dense, minimal_loss_at_90
from assay_agp_gradual_pruning.method import AGP, AGPConfig, agp_sparsity


# --- the schedule --------------------------------------------------------------------------

@pytest.mark.parametrize("t, expected", [
    (5, 0.0),                                  # before t0: dense
    (10, 0.0),                                 # t0: s_i
    (14, 0.9 - 0.9 * 0.8 ** 3),                # (1 - 4/20)^3 = 0.512 -> 0.4392
    (22, 0.9 - 0.9 * 0.4 ** 3),                # (1 - 12/20)^3 = 0.064 -> 0.8424
    (30, 0.9),                                 # t0 + n*dt: s_f
    (500, 0.9),                                # afterwards: s_f
])
def test_schedule_is_the_cubic_formula(t, expected):
    assert agp_sparsity(t, 0.0, 0.9, t0=10, n=5, dt=4) == pytest.approx(expected)


def test_schedule_with_nonzero_initial_sparsity():
    # s_i = 0.5, s_f = 0.8, t0 = 0, n*dt = 10: at t=5, 0.8 + (0.5-0.8) * 0.5^3 = 0.7625
    assert agp_sparsity(0, 0.5, 0.8, 0, 5, 2) == pytest.approx(0.5)
    assert agp_sparsity(5, 0.5, 0.8, 0, 5, 2) == pytest.approx(0.7625)


def test_schedule_steps_from_fractions():
    method = AGP(AGPConfig(start_fraction=0.1, end_fraction=0.6, frequency=20))
    assert method.schedule(1200) == (120, 30, 20)          # prunes at 120, 140, ..., 720
    assert method.schedule(20) == (2, 1, 10)               # a tiny run still reaches s_f
    assert method.target(720, 1200) == pytest.approx(0.9)


def test_config_rejects_end_before_start():
    with pytest.raises(ValueError, match="end_fraction"):
        AGPConfig(start_fraction=0.5, end_fraction=0.4)


# --- the mask helpers ----------------------------------------------------------------------

def test_layer_masks_keep_the_largest_magnitudes_of_each_layer():
    params = {"a": torch.tensor([[0.1, -3.0], [2.0, -0.2]]),
              "b": torch.tensor([5.0, 4.0, 0.0, -1.0])}
    masks = M.magnitude_masks(params, 0.5, "layer")
    assert masks["a"].tolist() == [[False, True], [True, False]]
    assert masks["b"].tolist() == [True, True, False, False]


def test_global_masks_use_one_threshold():
    params = {"a": torch.tensor([0.1, 0.2, 0.3, 0.4]), "b": torch.tensor([5.0, 6.0, 7.0, 8.0])}
    masks = M.magnitude_masks(params, 0.5, "global")
    assert masks["a"].tolist() == [False] * 4 and masks["b"].tolist() == [True] * 4
    assert M.sparsity(masks) == 0.5
    assert M.layer_sparsity(masks) == {"a": 1.0, "b": 0.0}


def test_apply_masks_zeroes_in_place_and_sparsity_counts_it():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    params = M.prunable(net)
    assert set(params) == {"0.weight", "2.weight"}
    M.apply_masks(params, M.magnitude_masks(params, 0.75))
    assert net[0].weight.count_nonzero() == 3 and net[2].weight.count_nonzero() == 2
    assert M.sparsity(params) == pytest.approx(13 / 18)
    assert M.count_nonzero(net) == 5 + 3 + 2                 # weights left + all biases


def test_prunable_can_leave_the_readout_dense():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.readout = nn.Linear(4, 4), nn.Linear(4, 2)

    assert set(M.prunable(Net(), include_readout=False)) == {"body.weight"}


# --- through assay ---------------------------------------------------------------------------

def _experiment(**pruning):
    return {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 64},
            "methods": {"optimizer": {"name": "adamw", "lr": 3e-3},
                        "pruning": {"name": "agp-gradual-pruning", **pruning}},
            "backend": {"name": "cpu", "threads": 1},
            "train": {"steps": 80, "batch_size": 64, "eval_every": 40}}


def test_pruned_weights_stay_zero_and_final_sparsity_is_the_target(monkeypatch):
    seen: list[tuple[int, dict[str, torch.Tensor]]] = []
    original = AGP.prune

    def recording(self, ctx, step):
        original(self, ctx, step)
        seen.append((step, {k: (p == 0).clone() for k, p in self.params.items()}))

    monkeypatch.setattr(AGP, "prune", recording)
    cfg = dict(final_sparsity=0.8, start_fraction=0.1, end_fraction=0.5, frequency=8)
    result = execute(load(_experiment(**cfg)).run, keep_state=True)
    assert result.status == "finished", result.error
    assert result.metrics["sparsity/actual"] == pytest.approx(0.8, abs=1e-3)
    assert result.metrics["val/acc"] > 0.8, result.metrics
    # once zero, a weight stays zero at every later step (masks re-applied after each step)
    for (_, before), (_, after) in zip(seen, seen[1:]):
        for name in before:
            assert bool(after[name][before[name]].all()), name
    # after the last pruning step (t = 8 + 4*8 = 40) the zero pattern never changes
    frozen = [z for step, z in seen if step >= 40]
    assert all(torch.equal(z[k], frozen[0][k]) for z in frozen for k in z)
    weights = [v for k, v in result.state_dict.items() if k.endswith("weight")]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert zeros == pytest.approx(0.8, abs=1e-3)


def test_each_layer_reaches_the_target_with_layer_scope():
    result = execute(load(_experiment(final_sparsity=0.6, end_fraction=0.5)).run,
                     keep_state=True)
    for name, tensor in result.state_dict.items():
        if name.endswith("weight"):
            assert float((tensor == 0).float().mean()) == pytest.approx(0.6, abs=2e-3), name


# --- the claims' checks ----------------------------------------------------------------------

def test_checks_pass_and_fail_on_made_up_numbers():
    good = {"sparse90/val/acc": 0.975, "small/val/acc": 0.965, "dense/val/acc": 0.98,
            "sparse90/sparsity/nonzero_params": 8970, "small/cost/params": 8970,
            "sparse90/sparsity/actual": 0.9}
    assert large_sparse_beats_small_dense(good).passed
    assert minimal_loss_at_90(good).passed
    assert not large_sparse_beats_small_dense({**good, "small/val/acc": 0.975}).passed
    assert not large_sparse_beats_small_dense(
        {**good, "sparse90/sparsity/nonzero_params": 20000}).passed    # unfair comparison
    assert not minimal_loss_at_90({**good, "sparse90/val/acc": 0.955}).passed
    assert not minimal_loss_at_90({**good, "sparse90/sparsity/actual": 0.5}).passed


@pytest.mark.parametrize("arm", ["dense", "sparse90", "small"])
def test_claim_arms_are_valid_experiments(arm):
    from assay_agp_gradual_pruning.claims import CLAIMS

    claim = next(c for c in CLAIMS if arm in c.arms)
    run = load(claim.arm_path(arm)).run
    assert run.model["name"] == "mlp" and run.train.steps == 1200
