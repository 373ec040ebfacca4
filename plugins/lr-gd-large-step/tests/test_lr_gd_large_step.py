from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pytest
from assay import load
from assay.claims import decide
from assay.testing import (
    DatasetContract,
    MethodContract,
    execute,
    load_data,
    load_yaml,
    negative_control,
)
from assay_lr_gd_large_step.claims import (
    CLAIMS,
    faster_with_larger_step,
    loss_misleads,
    normalized_faster,
    perceptron_limit,
)
from assay_lr_gd_large_step.dataset import Separable, SeparableConfig
from assay_lr_gd_large_step.method import LrGd, MarginLoss, batch_perceptron, first_separating
from pydantic import ValidationError

# --- the data ---------------------------------------------------------------------------------


def test_points_keep_the_margin_and_are_labelled_by_the_teachers_side():
    data = Separable(SeparableConfig(n_train=300, in_dim=6, margin=0.3)).load(seed=0)
    w = data.info["teacher"]
    for x, y in (data.train, data.val):
        score = x.double().numpy() @ w.T
        assert np.abs(score).min() >= 0.3
        np.testing.assert_array_equal(y.numpy(), np.sign(score).astype(np.float32))
    assert data.task == "regression" and data.n_outputs == 1
    other = Separable(SeparableConfig(n_train=300, in_dim=6, margin=0.3)).load(seed=1)
    assert not np.allclose(other.info["teacher"], w)            # a new problem per seed


def test_whitening_is_refused():
    with pytest.raises(ValidationError, match="whiten"):
        SeparableConfig(whiten=True)


# --- the method, by hand ----------------------------------------------------------------------

def _experiment(lr: float, steps: int, normalized: bool = False, stop: bool = False,
                form: str = "logistic") -> dict:
    return {"dataset": {"name": "lr-gd-separable", "n_train": 40, "n_val": 40, "in_dim": 4,
                        "margin": 0.05},
            "model": {"name": "linear", "bias": False, "init": "zeros"},
            "methods": {"loss": {"name": "lr-gd-margin-loss", "form": form},
                        "trainer": {"name": "lr-gd", "normalized": normalized,
                                    "stop_at_separation": stop},
                        "optimizer": {"name": "sgd", "lr": lr, "momentum": 0.0}},
            "train": {"steps": steps, "batch_size": 40, "eval_every": steps}}


def _gd_by_hand(a, y, lr, steps, normalized=False):
    """LR+GD (or Normalized LR+GD) in float64, from w = 0: every iterate."""
    w, out = np.zeros(a.shape[1]), []
    for _ in range(steps + 1):
        out.append(w)
        m = y * (a @ w)
        loss = np.mean(np.logaddexp(0.0, -m))
        grad = -((y / (1 + np.exp(m))) @ a) / len(y)
        w = w - (lr / loss if normalized else lr) * grad
    return np.stack(out)


@pytest.mark.parametrize("normalized", [False, True])
def test_steps_follow_the_update_rule_written_out_by_hand(normalized):
    run = load(_experiment(lr=0.5, steps=6, normalized=normalized)).run
    result = execute(run, keep_state=True)
    assert result.status == "finished", result.error
    x, y = load_data(run).train
    a, labels = x.double().numpy(), y.double().numpy().ravel()
    want = _gd_by_hand(a, labels, 0.5, 6, normalized)[-1]
    np.testing.assert_allclose(result.state_dict["readout.weight"].double().numpy().ravel(),
                               want, rtol=1e-4, atol=1e-6)


def test_iterations_to_separate_is_the_first_iterate_with_zero_training_error():
    run = load(_experiment(lr=3.0, steps=400, stop=True)).run
    result = execute(run)
    x, y = load_data(run).train
    a, labels = x.double().numpy(), y.double().numpy().ravel()
    first = first_separating(a, labels, _gd_by_hand(a, labels, 3.0, 400))
    assert first is not None and result.metrics["lrgd/iters_to_separate"] == first
    assert result.metrics["train/err"] == 0.0 and result.metrics["lrgd/separated"] == 1.0


def test_the_batch_perceptron_by_hand():
    a = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]])
    y = np.array([1.0, 1.0, -1.0])
    p = batch_perceptron(a, y, 2)
    # p_0 = 0: every margin is 0, each point counts 1/2: p_1 = (1/3)(1/2)(a1 + a2 - a3)
    np.testing.assert_allclose(p[1], np.array([2.0, 0.5]) / 6)
    # at p_1 every margin is positive: nothing misclassified, p_2 = p_1
    np.testing.assert_allclose(p[2], p[1])
    assert first_separating(a, y, p) == 1


def test_a_huge_step_follows_the_perceptron_and_a_small_one_does_not():
    big = execute(load(_experiment(lr=1e6, steps=30)).run)
    small = execute(load(_experiment(lr=0.3, steps=30)).run)
    assert big.metrics["lrgd/min_cos_perceptron"] > 0.9999
    assert small.metrics["lrgd/min_cos_perceptron"] < 0.999


def test_the_squared_form_overflows_at_a_huge_step_and_counts_as_never_separated():
    result = execute(load(_experiment(lr=1e6, steps=200, form="squared", stop=True)).run)
    assert result.status == "finished", result.error
    assert result.metrics["lrgd/diverged"] == 1.0
    assert result.metrics["lrgd/iters_to_separate"] == 201


class TestSeparableContract(DatasetContract):
    @pytest.fixture
    def component(self):
        return Separable


class TestMarginLossContract(MethodContract):
    @pytest.fixture
    def component(self):
        return MarginLoss


class TestLrGdContract(MethodContract):
    @pytest.fixture
    def component(self):
        return LrGd


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_lr_gd_large_step").joinpath(arm))).run
    assert run.methods["trainer"]["name"] == "lr-gd" and run.model["init"] == "zeros"


# --- the checks on made-up numbers --------------------------------------------------------------

GAMMAS = [0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]


def _arm(arm: str, iters: list[float], loss: list[float], perceptron: float = 12.0) -> dict:
    m = {}
    for n, (g, t, f) in enumerate(zip(GAMMAS, iters, loss)):
        m.update({f"{arm}/trials/{n}/methods.optimizer.lr": g,
                  f"{arm}/trials/{n}/lrgd/iters_to_separate": t,
                  f"{arm}/trials/{n}/lrgd/separated": float(t <= 10_000),
                  f"{arm}/trials/{n}/lrgd/mean_loss_before": f,
                  f"{arm}/trials/{n}/lrgd/perceptron_iters": perceptron})
    return m


FAST = [10001, 900, 120, 30, 14, 12, 12, 12]
RISING = [0.6, 0.5, 0.9, 3.0, 30.0, 300.0, 3e3, 3e4]


def test_faster_with_larger_step_and_loss_misleads_decide_over_seeds():
    good = [_arm("gd", FAST, RISING)] * 3
    assert decide([faster_with_larger_step(m) for m in good]).status == "PASS"
    assert decide([loss_misleads(m) for m in good]).status == "PASS"
    slower = [_arm("gd", list(reversed(FAST)), RISING)] * 3
    assert decide([faster_with_larger_step(m) for m in slower]).status == "FAIL"
    assert decide([loss_misleads(m) for m in slower]).status == "FAIL"
    mixed = [_arm("gd", FAST, RISING), _arm("gd", [9, 12, 9, 12, 9, 12, 9, 12], RISING)]
    assert decide([faster_with_larger_step(m) for m in mixed]).status == "INCONCLUSIVE"


def test_sweep_guards():
    never = [_arm("gd", [10001] * 8, RISING)] * 3
    assert decide([faster_with_larger_step(m) for m in never]).status == "VACUOUS"
    two = {k: v for k, v in _arm("gd", FAST, RISING).items()
           if k.split("/")[2] in ("0", "1")}
    assert decide([faster_with_larger_step(two)] * 3).status == "INVALID"


def test_perceptron_limit_decides_and_guards():
    assert decide([perceptron_limit({"perceptron-limit/lrgd/min_cos_perceptron": c})
                   for c in (0.99995, 0.99999, 0.99997)]).status == "PASS"
    assert decide([perceptron_limit({"perceptron-limit/lrgd/min_cos_perceptron": c})
                   for c in (0.96, 0.97, 0.95)]).status == "FAIL"
    nan = {"perceptron-limit/lrgd/min_cos_perceptron": math.nan}
    assert decide([perceptron_limit(nan)] * 3).status == "INVALID"


def test_normalized_faster_compares_fewest_iterations_including_the_perceptron_limit():
    gd = _arm("gd", FAST, RISING, perceptron=12.0)
    fewer = {**gd, **_arm("normalized", [60, 30, 8, 6, 6, 6, 7, 9], RISING)}
    assert decide([normalized_faster(fewer)] * 3).status == "PASS"
    same = {**gd, **_arm("normalized", FAST, RISING)}
    d = decide([normalized_faster(same)] * 3)                 # a tie is not "fewer"
    assert d.status == "FAIL"
    beaten_by_limit = {**_arm("gd", FAST, RISING, perceptron=5.0),
                       **_arm("normalized", [60, 30, 8, 6, 6, 6, 7, 9], RISING)}
    assert decide([normalized_faster(beaten_by_limit)] * 3).status == "FAIL"
    never = {**gd, **_arm("normalized", [10001] * 8, RISING)}
    assert decide([normalized_faster(never)] * 3).status == "FAIL"
    edge = {**gd, **_arm("normalized", [60, 30, 20, 16, 14, 12, 10, 8], RISING)}
    d = decide([normalized_faster(edge)] * 3)
    assert d.status == "NOT-ESTABLISHED" and "normalized" in d.reason


# --- negative controls (smoke budget, with the overrides a meaningful control needs) ------------

FULL_GRID = {"sweep.trials": 8, "train.steps": 2000}


@pytest.mark.slow
def test_negative_control_normalized_steps_are_not_faster_with_larger_gamma(tmp_path):
    """faster-with-larger-step with the gd arm running Normalized LR+GD, whose step gamma/f(w)
    grows as the loss falls: a larger gamma overshoots instead of reaching the perceptron's
    count, so iterations do not fall with gamma and the check must not PASS."""
    out = negative_control("lr-gd-large-step:faster-with-larger-step", overrides={
        "gd": {"methods.trainer.normalized": True, **FULL_GRID}}, seeds=3,
        tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_normalized_steps_make_high_loss_a_sign_of_slowness(tmp_path):
    """loss-misleads with the gd arm running Normalized LR+GD: its largest gammas have the
    highest losses on the way and the most iterations, so the check must not PASS."""
    out = negative_control("lr-gd-large-step:loss-misleads", overrides={
        "gd": {"methods.trainer.normalized": True, **FULL_GRID}}, seeds=3,
        tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_a_small_step_does_not_follow_the_perceptron(tmp_path):
    out = negative_control("lr-gd-large-step:perceptron-limit", overrides={
        "perceptron-limit": {"methods.optimizer.lr": 1.0, "train.steps": 50}}, seeds=3,
        tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_lr_gd_in_the_normalized_arm_is_not_faster(tmp_path):
    out = negative_control("lr-gd-large-step:normalized-faster", arms={"normalized": "gd"},
                           overrides={"gd": FULL_GRID, "normalized": FULL_GRID}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
