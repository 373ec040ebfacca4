from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import (
    MethodContract,
    build_context,
    execute,
    load_data,
    load_yaml,
    negative_control,
)
from assay_advani_saxe_highdim.claims import (
    CLAIMS,
    early_stopping_flat,
    overtraining_peak,
    small_init,
)
from assay_advani_saxe_highdim.method import CurveGD, ScaledInit


def _experiment(n_train: int, scale: float, steps: int, in_dim: int = 40) -> dict:
    return {"dataset": {"name": "linear-teacher", "in_dim": in_dim, "out_dim": 1,
                        "singular_values": [1.0], "noise": 1.0, "whiten": False,
                        "per_seed": True, "n_train": n_train, "n_val": 500},
            "model": {"name": "linear", "bias": False},
            "methods": {"parameterization": {"name": "advani-saxe-init", "scale": scale},
                        "trainer": {"name": "advani-saxe-gd"},
                        "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.0}},
            "train": {"steps": steps, "batch_size": n_train, "eval_every": steps}}


def test_initial_weights_have_the_requested_norm():
    for scale in (0.01, 1.0, 3.0):
        ctx = build_context(load(_experiment(20, scale, 1, in_dim=400)).run)
        assert abs(float(ctx.model.readout.weight.detach().norm()) / scale - 1) < 0.1


def test_test_curve_is_the_validation_error_of_gd_iterates_written_out_by_hand():
    run = load(_experiment(n_train=30, scale=0.5, steps=25)).run
    w = build_context(run).model.readout.weight.detach().double().clone()    # w_0
    result = execute(run)
    data = load_data(run)
    (x, y), (xv, yv) = ((t.double() for t in split) for split in (data.train, data.val))
    curve = []
    for _ in range(26):
        curve.append(float(((xv @ w.T - yv) ** 2).mean()))
        w = w - 0.05 * 2 * ((x @ w.T - y).T @ x) / len(y)
    assert result.metrics["as/test_final"] == pytest.approx(curve[-1], rel=1e-4)
    assert result.metrics["as/test_early_stopped"] == pytest.approx(min(curve), rel=1e-4)
    assert result.metrics["as/best_step"] == min(range(26), key=curve.__getitem__)
    assert result.metrics["as/alpha"] == 30 / 40


def test_weights_outside_the_span_of_the_data_stay_frozen():
    # P = 10 < N = 40: GD moves w only inside the row space of X
    run = load(_experiment(n_train=10, scale=1.0, steps=200)).run
    w0 = build_context(run).model.readout.weight.detach().clone()
    w = execute(run, keep_state=True).state_dict["readout.weight"]
    x, _ = load_data(run).train
    q, _ = torch.linalg.qr(x.T)                                   # (40, 10) row-space basis
    null = torch.eye(40) - q @ q.T
    torch.testing.assert_close(w @ null, w0 @ null, atol=1e-5, rtol=1e-4)
    assert float(((w - w0) @ q).norm()) > 0.1                     # ... and did learn inside it


def test_per_seed_data_make_seeds_independent_problems():
    a, b = (load_data(load({**_experiment(10, 0.01, 1), "train": {"seed": s, "steps": 1}}).run)
            for s in (0, 1))
    assert not torch.equal(a.train[0], b.train[0])


class TestScaledInitContract(MethodContract):
    @pytest.fixture
    def component(self):
        return ScaledInit


class TestCurveGDContract(MethodContract):
    @pytest.fixture
    def component(self):
        return CurveGD


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_advani_saxe_highdim").joinpath(arm))).run
    assert run.dataset["per_seed"] and run.dataset["in_dim"] == 200


# --- the checks on made-up numbers ------------------------------------------------------------

def _arm(arm: str, final: dict[float, float], early: dict[float, float] | None = None) -> dict:
    m = {}
    for n, alpha in enumerate(sorted(final)):
        m[f"{arm}/trials/{n}/dataset.n_train"] = alpha * 200
        m[f"{arm}/trials/{n}/as/test_final"] = final[alpha]
        m[f"{arm}/trials/{n}/as/test_early_stopped"] = (early or final)[alpha]
    return m


PEAK = {0.25: 2.1, 0.5: 2.5, 1.0: 11.0, 2.0: 2.0, 4.0: 1.4}
FLAT = {0.25: 1.9, 0.5: 1.7, 1.0: 1.6, 2.0: 1.4, 4.0: 1.2}


def test_overtraining_peak_and_early_stopping_decide_over_seeds():
    good = [_arm("small", {**PEAK, 1.0: v}, FLAT) for v in (11.0, 10.5, 11.5)]
    assert decide([overtraining_peak(m) for m in good]).status == "PASS"
    assert decide([early_stopping_flat(m) for m in good]).status == "PASS"
    no_peak = [_arm("small", {**PEAK, 1.0: v}, {**FLAT, 2.0: 0.2}) for v in (3.0, 3.2, 2.8)]
    assert decide([overtraining_peak(m) for m in no_peak]).status == "FAIL"
    assert decide([early_stopping_flat(m) for m in no_peak]).status == "FAIL"
    mixed = [_arm("small", {**PEAK, 1.0: v}) for v in (11.0, 4.0)]
    assert decide([overtraining_peak(m) for m in mixed]).status == "INCONCLUSIVE"


def test_small_init_decides_and_guards():
    seeds = [{**_arm("small", PEAK), **_arm("large", {0.5: v, 1.0: 12.0, 2.0: 2.0})}
             for v in (2.95, 3.05, 3.0)]
    assert decide([small_init(m) for m in seeds]).status == "PASS"
    same = [{**_arm("small", PEAK), **_arm("large", PEAK)}] * 3
    assert decide([small_init(m) for m in same]).status == "FAIL"
    nan = {**_arm("small", PEAK), **_arm("large", {0.5: math.nan, 1.0: 12.0, 2.0: 2.0})}
    d = decide([small_init(nan)] * 3)
    assert d.status == "INVALID" and "large" in d.reason
    missing = _arm("small", {a: v for a, v in PEAK.items() if a != 1.0})
    assert decide([overtraining_peak(missing)] * 3).status == "INVALID"


# --- negative controls (smoke budget, with the overrides a meaningful control needs) ------------

SHORT = {"sweep.trials": 7, "train.steps": 2000}


@pytest.mark.slow
def test_negative_control_without_noise_there_is_no_overtraining_peak(tmp_path):
    """overtraining-peak on a noiseless teacher: nothing to overfit, so no peak at alpha = 1
    and the check must not PASS."""
    out = negative_control("advani-saxe-highdim:overtraining-peak", overrides={
        "small": {"dataset.noise": 0.0, **SHORT}}, seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_without_noise_early_stopped_errors_are_not_flat(tmp_path):
    """early-stopping-flat on a noiseless teacher: with alpha >= 1 the teacher is recovered
    (error near 0) while alpha = 0.5 keeps the unspanned half of it (error 0.5)."""
    out = negative_control("advani-saxe-highdim:early-stopping-flat", overrides={
        "small": {"dataset.noise": 0.0, **SHORT}}, seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_small_init_in_both_arms_adds_nothing(tmp_path):
    out = negative_control("advani-saxe-highdim:small-init", arms={"large": "small"},
                           overrides={"small": SHORT, "large": SHORT}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
