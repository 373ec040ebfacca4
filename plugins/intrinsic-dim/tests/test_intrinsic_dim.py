from __future__ import annotations

import math

import pytest
from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_intrinsic_dim.claims import d_int90, small_fraction, width_stable

# The subspace itself (theta_0 + P z, only z trainable, dz = P^T dtheta) moved to
# assay.lib.subspace; its tests are in tests/test_lib_subspace.py.


def test_subspace_training_through_assay():
    loaded = load({"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 32, "depth": 1},
                   "methods": {"parameterization": {"name": "intrinsic-dim", "dim": 200},
                               "optimizer": {"name": "adamw", "lr": 1e-2, "weight_decay": 0.0}},
                   "backend": {"name": "cpu", "threads": 1},
                   "train": {"steps": 60, "batch_size": 64, "eval_every": 30}})
    result = execute(loaded.run)
    assert result.status == "finished", result.error
    assert result.metrics["cost/trainable_params"] == 200
    assert result.history[-1][1]["val/acc"] > 0.3          # chance is 0.1


def scan(width: int, accs: dict[int, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for n, (dim, acc) in enumerate(accs.items()):
        out[f"sub{width}/trials/{n}/methods.parameterization.dim"] = dim
        out[f"sub{width}/trials/{n}/val/acc"] = acc
    return out


def test_d_int90_picks_the_smallest_dim_over_90_percent():
    m = {"full32/val/acc": 0.88, **scan(32, {64: 0.80, 16: 0.5, 128: 0.85, 32: 0.7})}
    assert d_int90(m, 32) == 64                              # 0.80 >= 0.9 * 0.88
    m["full32/val/acc"] = 0.9                                # 0.80 < 0.81
    assert d_int90(m, 32) == 128
    assert d_int90(m, 32) == 128
    m["full32/val/acc"] = 0.99
    assert math.isinf(d_int90(m, 32))


BASE = {"full32/val/acc": 0.95, "full256/val/acc": 0.97,
        "full32/cost/params": 2410.0, "full256/cost/params": 19210.0}
GRID = (16, 64, 256, 1024)


def seed(d32: float, d256: float, **base: float) -> dict[str, float]:
    """One seed whose scans first reach 90% of the full model at d32 and d256 (inf: never)."""
    out = {**BASE, **base}
    for width, first in ((32, d32), (256, d256)):
        out.update(scan(width, {d: 0.96 if d >= first else 0.2 for d in GRID}))
    return out


def _decide(check, seeds):
    return decide([check(m) for m in seeds])


def test_small_fraction_decides_from_the_interval_over_seeds():
    assert _decide(small_fraction, [seed(64, 256), seed(64, 256), seed(64, 64)]).status \
        == "PASS"
    assert _decide(small_fraction, [seed(64, 1024)] * 3).status == "FAIL"     # 5.3%
    assert _decide(small_fraction, [seed(64, 256), seed(64, 1024)]).status == "INCONCLUSIVE"


def test_width_stable_decides_from_the_interval_over_seeds():
    assert _decide(width_stable, [seed(64, 64), seed(64, 64), seed(256, 256)]).status == "PASS"
    assert _decide(width_stable, [seed(64, 1024)] * 3).status == "FAIL"        # 16x
    assert _decide(width_stable, [seed(64, 64), seed(64, 1024)]).status == "INCONCLUSIVE"


def test_d_int90_beyond_or_at_the_edge_of_the_scan_is_not_established():
    never = [seed(64, 256), seed(64, math.inf), seed(64, 256)]
    d = _decide(small_fraction, never)
    assert d.status == "NOT-ESTABLISHED" and "width 256" in d.reason and "> 1024" in d.reason
    assert _decide(width_stable, never).status == "NOT-ESTABLISHED"
    # at the smallest d scanned the true d_int90 may be smaller: the ratio is a bound ...
    bottom = [seed(16, 64)] * 3
    assert _decide(width_stable, bottom).status == "NOT-ESTABLISHED"
    # ... while the fraction is at most 16 / 19210 either way: that is measured
    assert _decide(small_fraction, [seed(64, 16)] * 3).status == "PASS"


def test_a_full_model_at_chance_makes_the_claims_invalid():
    at_chance = [seed(64, 64), seed(64, 64, **{"full256/val/acc": 0.11}), seed(64, 64)]
    d = _decide(small_fraction, at_chance)
    assert d.status == "INVALID" and "full256" in d.reason
    assert _decide(width_stable, [seed(64, 64, **{"full32/val/acc": math.nan})]).status \
        == "INVALID"


@pytest.fixture
def runs(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) for a negative control, its artifacts beside it."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_a_subspace_that_cannot_train_does_not_pass(runs):
    """small-fraction with the width-256 subspace frozen (its learning rate cut to 1e-8): the
    model stays at its random initialisation in every subspace, so no small d reaches 90% of
    the full model and the claim must not PASS."""
    out = negative_control("intrinsic-dim:small-fraction",
                           overrides={"sub256": {"methods.optimizer.lr": 1e-8}}, seeds=3,
                           tracking_uri=runs)
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
