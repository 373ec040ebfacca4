from __future__ import annotations

import math
from importlib import resources

import pytest
import yaml

from assay import load
from assay.claims import decide
from assay.testing import execute, negative_control
from assay_lr_batch_law import claims as C
from assay_lr_batch_law.method import scaled_lr


def test_rule_is_linear_for_sgd_and_square_root_for_adam():
    assert scaled_lr(0.1, 128, 32, "linear") == pytest.approx(0.4)
    assert scaled_lr(1e-3, 128, 32, "sqrt") == pytest.approx(2e-3)
    assert scaled_lr(1e-3, 8, 32, "sqrt") == pytest.approx(5e-4)
    assert scaled_lr(1e-3, 128, 32, "none") == 1e-3


def _digits(batch: int, **trainer):
    return load({"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 32},
                 "methods": {"optimizer": {"name": "sgd", "lr": 0.05},
                             "trainer": {"name": "lr-batch-law", **trainer}},
                 "backend": {"name": "cpu"},
                 "train": {"steps": 1, "batch_size": batch, "eval_every": 1000}})


def test_epochs_fix_the_data_and_the_rule_scales_the_rate():
    result = execute(_digits(64, epochs=2, rule="linear", reference_batch=32).run)
    assert result.status == "finished", result.error
    m = result.metrics
    n_train = 1437                                     # 80% of sklearn's 1797 digits
    assert m["lr_batch/steps"] == round(2 * n_train / 64)
    assert m["lr_batch/lr"] == pytest.approx(0.1)      # 0.05 at B=32, doubled at B=64
    assert m["train_full/loss"] < 1.0, m                # ln 10 = 2.30 at chance
    small = execute(_digits(16, epochs=0.5).run).metrics
    assert small["lr_batch/steps"] == round(0.5 * n_train / 16) and small["lr_batch/lr"] == 0.05


def test_exponent_stops_where_the_best_rate_saturates():
    linear = {b: 1e-3 * b for b in (8, 16, 32, 64, 128)}
    a, used = C.exponent(linear)
    assert a == pytest.approx(1.0) and used == [8, 16, 32, 64, 128]
    capped = {8: 0.008, 16: 0.016, 32: 0.032, 64: 0.03, 128: 0.031}
    a, used = C.exponent(capped)
    assert a == pytest.approx(1.0) and used == [8, 16, 32]


LRS, BATCHES = [1e-4 * 2 ** k for k in range(14)], [8, 16, 32, 64, 128]


def _landscape(p_sgd: float, p_adam: float) -> dict[str, float]:
    """One seed's grids: the best rate at batch b is lr8 * (b / 8) ** p for each optimizer."""
    m: dict[str, float] = {}
    for arm, p, lr8 in (("sgd", p_sgd, 0.01), ("adamw", p_adam, 1e-3)):
        for n, (lr, b) in enumerate((lr, b) for b in BATCHES for lr in LRS):
            m[f"{arm}/trials/{n}/{C.LR}"], m[f"{arm}/trials/{n}/{C.BATCH}"] = lr, b
            m[f"{arm}/trials/{n}/{C.OBJECTIVE}"] = 0.1 + math.log(lr / (lr8 * (b / 8) ** p)) ** 2
    return m


def _status(check, *exponents: tuple[float, float]) -> str:
    """The verdict of ``check`` over seeds given as (sgd exponent, adamw exponent)."""
    return decide([check(_landscape(s, a)) for s, a in exponents]).status


def test_exponents_are_measured_from_the_grids():
    v = C.sgd_steeper(_landscape(1.0, 0.5))
    assert v.numbers["sgd_exponent"] == pytest.approx(1.0, abs=1e-6)
    assert v.numbers["adamw_exponent"] == pytest.approx(0.5, abs=1e-6)


def test_checks_decide_from_the_interval_over_seeds():
    paper = [(1.0, 0.5), (0.9, 0.45), (1.05, 0.55)]
    assert _status(C.sgd_steeper, *paper) == "PASS"
    assert _status(C.linear_and_sqrt, *paper) == "PASS"
    same = [(0.4, 0.4), (0.45, 0.42), (0.38, 0.4)]
    assert _status(C.sgd_steeper, *same) == "FAIL"
    assert _status(C.linear_and_sqrt, *same) == "FAIL"
    flat = [(1.0, 0.0), (0.95, 0.02), (1.05, -0.02)]
    assert _status(C.sgd_steeper, *flat) == "FAIL" and _status(C.linear_and_sqrt, *flat) == "FAIL"
    disagree = [(1.0, 0.5), (0.5, 1.0)]
    assert _status(C.sgd_steeper, *disagree) == "INCONCLUSIVE"
    assert _status(C.linear_and_sqrt, *disagree) == "INCONCLUSIVE"


def test_a_best_rate_at_the_grid_edge_is_not_established():
    m = _landscape(1.0, 0.5)
    for n in range(len(LRS) * len(BATCHES)):            # keep only the lowest rates for SGD
        if m[f"sgd/trials/{n}/{C.LR}"] > 0.02:
            m[f"sgd/trials/{n}/{C.OBJECTIVE}"] = math.nan
    d = decide([C.sgd_steeper(m)] * 3)
    assert d.status == "NOT-ESTABLISHED" and "sgd: best lr at the grid edge" in d.reason, d.reason


def test_a_batch_size_that_never_left_chance_is_invalid():
    m = _landscape(1.0, 0.5)
    for n in range(len(LRS) * len(BATCHES)):            # AdamW learns nothing at B = 16
        if m[f"adamw/trials/{n}/{C.BATCH}"] == 16:
            m[f"adamw/trials/{n}/{C.OBJECTIVE}"] = 2.4
    for check in (C.sgd_steeper, C.linear_and_sqrt):
        d = decide([check(m)] * 3)
        assert d.status == "INVALID" and "adamw" in d.reason and "16" in d.reason, d.reason
    empty = {k: v for k, v in m.items() if not k.startswith("sgd/")}
    assert decide([C.sgd_steeper(empty)] * 3).status == "INVALID"


def store(tmp_path, monkeypatch) -> str:
    """A throwaway MLflow store (sqlite) with its artifacts, both under ``tmp_path``."""
    return str(tmp_path / "runs")


@pytest.mark.slow
def test_negative_control_sgd_replaced_by_adamw_does_not_pass(tmp_path, monkeypatch):
    """lr-batch-law:sgd-steeper-than-adam with the SGD arm running AdamW: the two exponents
    are the same, so the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("lr-batch-law:sgd-steeper-than-adam", arms={"sgd": "adamw"},
                           seeds=3, tracking_uri=store(tmp_path, monkeypatch))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


def test_arm_files_are_valid_and_cover_the_grid():
    for arm, path in C.ARMS.items():
        raw = yaml.safe_load(resources.files("assay_lr_batch_law").joinpath(path).read_text())
        assert raw["methods"]["optimizer"]["name"] == arm
        assert raw["objective"]["metric"] == C.OBJECTIVE
        space = raw["sweep"]["space"]
        assert raw["sweep"]["trials"] == math.prod(len(d["choice"]) for d in space.values())
        load(raw)
