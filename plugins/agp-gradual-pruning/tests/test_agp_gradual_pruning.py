from __future__ import annotations

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.lib import pruning as M
from assay.testing import execute, negative_control
from assay_agp_gradual_pruning.claims import large_sparse_beats_small_dense, minimal_loss_at_90
from assay_agp_gradual_pruning.method import AGP, AGPConfig, agp_sparsity
from torch import nn

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

def _seed(sparse=0.975, small=0.965, dense=0.98, nnz=8970, reached=0.9):
    """One seed's numbers, as the claim's arms report them."""
    return {"sparse90/val/acc": sparse, "small/val/acc": small, "dense/val/acc": dense,
            "sparse90/sparsity/nonzero_params": nnz, "small/cost/params": 8970,
            "sparse90/sparsity/actual": reached}


def _decide(check, seeds):
    return decide([check(m) for m in seeds])


def test_large_sparse_beats_small_dense_decides_from_the_interval_over_seeds():
    good = [_seed(0.975), _seed(0.978), _seed(0.972)]
    assert _decide(large_sparse_beats_small_dense, good).status == "PASS"
    worse = [_seed(0.960), _seed(0.958), _seed(0.962)]
    assert _decide(large_sparse_beats_small_dense, worse).status == "FAIL"
    mixed = [_seed(0.975), _seed(0.958), _seed(0.969)]
    assert _decide(large_sparse_beats_small_dense, mixed).status == "INCONCLUSIVE"
    # "more accurate" is strict: the same accuracy in every seed is not a PASS
    tie = [_seed(0.965)] * 3
    assert _decide(large_sparse_beats_small_dense, tie).status == "FAIL"
    # an unfair comparison (twice the nonzero parameters) fails whatever the accuracy
    unfair = [_seed(0.975, nnz=20000), _seed(0.978, nnz=20000), _seed(0.972, nnz=20000)]
    assert _decide(large_sparse_beats_small_dense, unfair).status == "FAIL"


def test_minimal_loss_at_90_decides_from_the_interval_over_seeds():
    good = [_seed(0.975), _seed(0.972), _seed(0.970)]
    assert _decide(minimal_loss_at_90, good).status == "PASS"
    worse = [_seed(0.950), _seed(0.952), _seed(0.948)]
    assert _decide(minimal_loss_at_90, worse).status == "FAIL"
    mixed = [_seed(0.975), _seed(0.950)]
    assert _decide(minimal_loss_at_90, mixed).status == "INCONCLUSIVE"
    short = [_seed(0.975, reached=0.5)] * 3                 # never reached its target
    assert _decide(minimal_loss_at_90, short).status == "FAIL"


def test_a_baseline_at_chance_or_diverged_makes_the_claim_invalid():
    at_chance = [_seed(0.975), _seed(0.975, small=0.11), _seed(0.975)]
    d = _decide(large_sparse_beats_small_dense, at_chance)
    assert d.status == "INVALID" and "small" in d.reason
    nan = [_seed(0.975), _seed(0.975, dense=float("nan")), _seed(0.975)]
    d = _decide(minimal_loss_at_90, nan)
    assert d.status == "INVALID" and "dense" in d.reason


@pytest.fixture
def runs(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) for a negative control, its artifacts beside it."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_sparse_arm_replaced_by_small_dense_does_not_pass(runs):
    """large-sparse-beats-small-dense with the small dense net in the large-sparse arm: both
    arms are one network, the gain is 0, and "more accurate" must not PASS."""
    out = negative_control("agp-gradual-pruning:large-sparse-beats-small-dense",
                           arms={"sparse90": "small"}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_one_shot_pruning_at_the_end_does_not_pass(runs):
    """minimal-loss-at-90 with the gradual schedule removed: 90% of the weights cut in one
    step at the end of training, with no steps left to recover, must not PASS."""
    one_shot = {"methods.pruning.initial_sparsity": 0.9, "methods.pruning.start_fraction": 0.99,
                "methods.pruning.end_fraction": 1.0}
    out = negative_control("agp-gradual-pruning:minimal-loss-at-90",
                           overrides={"sparse90": one_shot}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.parametrize("arm", ["dense", "sparse90", "small"])
def test_claim_arms_are_valid_experiments(arm):
    from assay_agp_gradual_pruning.claims import CLAIMS

    claim = next(c for c in CLAIMS if arm in c.arms)
    run = load(claim.arm_path(arm)).run
    assert run.model["name"] == "mlp" and run.train.steps == 1200
