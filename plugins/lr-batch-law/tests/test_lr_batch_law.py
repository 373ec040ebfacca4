from __future__ import annotations

import math
from importlib import resources

import pytest
import yaml

from assay import load
from assay.testing import execute
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


def test_optimum_finds_a_parabola_vertex_between_grid_points():
    grid = [0.01 * 2 ** k for k in range(6)]
    pts = [(x, (math.log(x) - math.log(0.05)) ** 2) for x in grid]
    assert C.optimum(pts) == pytest.approx(0.05, rel=1e-6)
    assert C.optimum([(x, x) for x in grid]) == grid[0]
    assert math.isnan(C.optimum([]))


def test_exponent_stops_where_the_best_rate_saturates():
    linear = {b: 1e-3 * b for b in (8, 16, 32, 64, 128)}
    a, used = C.exponent(linear)
    assert a == pytest.approx(1.0) and used == [8, 16, 32, 64, 128]
    capped = {8: 0.008, 16: 0.016, 32: 0.032, 64: 0.03, 128: 0.031}
    a, used = C.exponent(capped)
    assert a == pytest.approx(1.0) and used == [8, 16, 32]


LRS, BATCHES = [1e-4 * 2 ** k for k in range(14)], [8, 16, 32, 64, 128]


def _landscape(p_sgd: float, p_adam: float) -> dict[str, float]:
    m: dict[str, float] = {}
    for arm, p, lr8 in (("sgd", p_sgd, 0.01), ("adamw", p_adam, 1e-3)):
        for n, (lr, b) in enumerate((lr, b) for b in BATCHES for lr in LRS):
            m[f"{arm}/trials/{n}/{C.LR}"], m[f"{arm}/trials/{n}/{C.BATCH}"] = lr, b
            m[f"{arm}/trials/{n}/{C.OBJECTIVE}"] = 0.1 + math.log(lr / (lr8 * (b / 8) ** p)) ** 2
    return m


def test_checks_pass_on_linear_and_sqrt_and_fail_otherwise():
    paper = _landscape(1.0, 0.5)
    steeper, exact = C.sgd_steeper(paper), C.linear_and_sqrt(paper)
    assert steeper.passed and exact.passed, (steeper.detail, exact.detail)
    assert steeper.numbers["sgd_exponent"] == pytest.approx(1.0, abs=1e-6)
    assert steeper.numbers["adamw_exponent"] == pytest.approx(0.5, abs=1e-6)
    same = _landscape(0.4, 0.4)
    assert not C.sgd_steeper(same).passed and not C.linear_and_sqrt(same).passed
    flat = _landscape(1.0, 0.0)
    assert not C.sgd_steeper(flat).passed and not C.linear_and_sqrt(flat).passed


def test_a_best_rate_at_the_grid_edge_is_not_a_result():
    m = _landscape(1.0, 0.5)
    for n in range(len(LRS) * len(BATCHES)):            # keep only the lowest rates for SGD
        if m[f"sgd/trials/{n}/{C.LR}"] > 0.02:
            m[f"sgd/trials/{n}/{C.OBJECTIVE}"] = math.nan
    verdict = C.sgd_steeper(m)
    assert not verdict.passed and "NOT ESTABLISHED" in verdict.detail, verdict.detail
    assert C.best_lr_per_batch(m, "sgd")[128][1] and not C.best_lr_per_batch(m, "adamw")[128][1]


def test_arm_files_are_valid_and_cover_the_grid():
    for arm, path in C.ARMS.items():
        raw = yaml.safe_load(resources.files("assay_lr_batch_law").joinpath(path).read_text())
        assert raw["methods"]["optimizer"]["name"] == arm
        assert raw["objective"]["metric"] == C.OBJECTIVE
        space = raw["sweep"]["space"]
        assert raw["sweep"]["trials"] == math.prod(len(d["choice"]) for d in space.values())
        load(raw)
