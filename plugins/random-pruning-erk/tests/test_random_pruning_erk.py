from __future__ import annotations

import math

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_random_pruning_erk.claims import (
    erk_beats_uniform,
    gap_shrinks_with_width,
    matches_dense,
)
from assay_random_pruning_erk.method import RandomPruning, layer_densities, raw_score

MLP = {"hidden.0.weight": (256, 64), "hidden.1.weight": (256, 256), "readout.weight": (10, 256)}


def kept(shapes, densities):
    return sum(densities[n] * math.prod(s) for n, s in shapes.items())


@pytest.mark.parametrize("density", [0.5, 0.1, 0.05, 0.01])
@pytest.mark.parametrize("distribution", ["erk", "er", "uniform"])
def test_densities_hit_the_global_target_and_stay_at_most_one(density, distribution):
    d = layer_densities(MLP, density, distribution)
    total = sum(math.prod(s) for s in MLP.values())
    assert kept(MLP, d) == pytest.approx(density * total)
    assert all(0 < v <= 1 for v in d.values())


def test_erk_follows_the_fan_ratio_when_nothing_is_capped():
    # 95% sparsity on the digits MLP: eps = 0.05 * 84480 / (320 + 512 + 266) = 3.847
    d = layer_densities(MLP, 0.05, "erk")
    eps = 0.05 * 84480 / 1098
    assert d["hidden.0.weight"] == pytest.approx(eps * 320 / 16384)
    assert d["hidden.1.weight"] == pytest.approx(eps * 512 / 65536)
    assert d["readout.weight"] == pytest.approx(eps * 266 / 2560)


def test_capping_and_redistribution_on_a_hand_example():
    # A: 2 -> 10 (20 weights, ratio 12/20 = 0.6); B: 100 -> 100 (10000 weights, ratio 0.02).
    # Target density 0.5 -> 5010 weights kept. eps = 5010 / (12 + 200) = 23.6 makes A's
    # density 14 > 1: A goes dense (20 weights) and B takes the other 4990 of its 10000.
    shapes = {"A": (10, 2), "B": (100, 100)}
    d = layer_densities(shapes, 0.5, "erk")
    assert d == pytest.approx({"A": 1.0, "B": 0.499})


def test_two_layers_capped_in_turn():
    # ratios: A (4x2) 0.75, B (8x4) 0.375, C (100x100) 0.02; target 0.3 of 10040 = 3012.
    # pass 1: eps = 3012 / (6+12+200) = 13.8 -> A, B over 1; A (largest ratio) goes dense.
    # pass 2: eps = (3012-8) / 212 = 14.2 -> B still over; dense.  pass 3: C = 2972 / 10000.
    shapes = {"A": (4, 2), "B": (8, 4), "C": (100, 100)}
    d = layer_densities(shapes, 0.3, "erk")
    assert d == pytest.approx({"A": 1.0, "B": 1.0, "C": 0.2972})


def test_erk_counts_kernel_dims_and_er_does_not():
    assert raw_score((16, 8, 3, 3), "erk") == pytest.approx((16 + 8 + 3 + 3) / (16 * 8 * 9))
    assert raw_score((16, 8, 3, 3), "er") == pytest.approx((16 + 8) / (16 * 8))
    assert raw_score((16, 8, 3, 3), "uniform") == 1.0


def _experiment(**pruning):
    return {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 64},
            "methods": {"optimizer": {"name": "adamw", "lr": 3e-3},
                        "pruning": {"name": "random-pruning-erk", **pruning}},
            "backend": {"name": "cpu", "threads": 1},
            "train": {"steps": 60, "batch_size": 64, "eval_every": 30}}


def test_mask_is_fixed_from_init_and_reaches_the_target(monkeypatch):
    seen = []
    original = RandomPruning.prune

    def recording(self, ctx, step):
        original(self, ctx, step)
        seen.append({k: (p == 0).clone() for k, p in self.params.items()})

    monkeypatch.setattr(RandomPruning, "prune", recording)
    result = execute(load(_experiment(sparsity=0.8)).run, keep_state=True)
    assert result.status == "finished", result.error
    assert result.metrics["sparsity/actual"] == pytest.approx(0.8, abs=2e-3)
    # a random sparse net starts slow (weak signal at init) but learns: 3x chance in 60 steps
    assert result.metrics["val/acc"] > 0.3, result.metrics
    assert all(torch.equal(z[k], seen[0][k]) for z in seen for k in z)   # one mask, all run
    # ERK keeps the 64x64 layer sparser than the 64->10 readout
    w = result.state_dict
    assert (w["hidden.1.weight"] == 0).float().mean() > (w["readout.weight"] == 0).float().mean()


def test_mask_seed_changes_the_mask_but_not_the_batches():
    a = execute(load(_experiment(sparsity=0.5, mask_seed=0)).run, keep_state=True)
    b = execute(load(_experiment(sparsity=0.5, mask_seed=1)).run, keep_state=True)
    za, zb = (a.state_dict["hidden.1.weight"] == 0), (b.state_dict["hidden.1.weight"] == 0)
    assert not torch.equal(za, zb)


def _seed(erk50=0.975, erk95=0.95, uniform95=0.92, erk90=0.97, erk90_w64=0.94,
          dense=0.980, dense64=0.975):
    """One seed's numbers, as the claims' arms report them."""
    return {"dense/val/acc": dense, "erk50/val/acc": erk50, "erk95/val/acc": erk95,
            "uniform95/val/acc": uniform95, "dense64/val/acc": dense64,
            "erk90_w64/val/acc": erk90_w64, "erk90/val/acc": erk90}


def _decide(check, seeds):
    return decide([check(m) for m in seeds])


def test_matches_dense_decides_from_the_interval_over_seeds():
    assert _decide(matches_dense, [_seed(erk50=v) for v in (0.977, 0.975, 0.978)]).status \
        == "PASS"
    assert _decide(matches_dense, [_seed(erk50=v) for v in (0.960, 0.958, 0.962)]).status \
        == "FAIL"
    assert _decide(matches_dense, [_seed(erk50=v) for v in (0.978, 0.960)]).status \
        == "INCONCLUSIVE"


def test_erk_beats_uniform_decides_from_the_interval_over_seeds():
    assert _decide(erk_beats_uniform, [_seed(uniform95=v) for v in (0.92, 0.925, 0.93)]).status \
        == "PASS"
    assert _decide(erk_beats_uniform, [_seed(uniform95=0.95)] * 3).status == "FAIL"
    assert _decide(erk_beats_uniform, [_seed(uniform95=v) for v in (0.92, 0.95)]).status \
        == "INCONCLUSIVE"


def test_gap_shrinks_with_width_decides_from_the_interval_over_seeds():
    assert _decide(gap_shrinks_with_width, [_seed(erk90=v) for v in (0.97, 0.972, 0.968)]
                   ).status == "PASS"
    # equal gaps (3.5 points at both widths) are not "smaller": the strict side fails
    assert _decide(gap_shrinks_with_width, [_seed(erk90=0.945)] * 3).status == "FAIL"
    assert _decide(gap_shrinks_with_width, [_seed(erk90=v) for v in (0.97, 0.93)]).status \
        == "INCONCLUSIVE"


def test_a_baseline_at_chance_or_diverged_makes_the_claim_invalid():
    d = _decide(erk_beats_uniform, [_seed(), _seed(uniform95=0.12), _seed()])
    assert d.status == "INVALID" and "uniform95" in d.reason
    d = _decide(gap_shrinks_with_width, [_seed(dense64=float("nan")), _seed(), _seed()])
    assert d.status == "INVALID" and "dense64" in d.reason
    assert _decide(matches_dense, [_seed(dense=0.1)] * 3).status == "INVALID"


@pytest.fixture
def runs(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) for a negative control, its artifacts beside it."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_erk_replaced_by_uniform_does_not_pass(runs):
    """erk-beats-uniform with the ERK arm running the uniform mask: the gain is 0 < 1 point."""
    out = negative_control("random-pruning-erk:erk-beats-uniform", arms={"erk95": "uniform95"},
                           seeds=3, tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_a_99_percent_random_mask_does_not_match_dense(runs):
    """matches-dense with its sparse arm pruned to 99% instead of 50%: a random mask that
    keeps 1% of the weights must not match the dense network."""
    out = negative_control("random-pruning-erk:matches-dense",
                           overrides={"erk50": {"methods.pruning.sparsity": 0.99}}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_same_width_twice_does_not_shrink_the_gap(runs):
    """gap-shrinks-with-width with the width-256 arms running the width-64 ones: the gap is
    the same at both "widths", so "smaller when wider" must not PASS."""
    out = negative_control("random-pruning-erk:gap-shrinks-with-width",
                           arms={"dense": "dense64", "erk90": "erk90_w64"}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


def test_claim_arms_are_valid_and_dense_arms_are_the_agp_runs():
    from assay_agp_gradual_pruning.claims import CLAIMS as AGP_CLAIMS
    from assay_random_pruning_erk.claims import CLAIMS

    arms = {arm: c.arm_path(arm) for c in CLAIMS for arm in c.arms}
    keys = {arm: load(path).run.key for arm, path in arms.items()}
    agp = {arm: load(c.arm_path(arm)).run.key for c in AGP_CLAIMS for arm in c.arms}
    assert keys["dense"] == agp["dense"] and keys["dense64"] == agp["small"]
