from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import (
    DatasetContract,
    MethodContract,
    ModelContract,
    execute,
    negative_control,
)
from assay_convex_relu.claims import gap_shrinks, matches_adam
from assay_convex_relu.data import Spirals, SpiralsConfig
from assay_convex_relu.method import (
    ConvexReLU,
    design,
    load_neurons,
    neurons,
    objective,
    sample_patterns,
    solve_convex,
)
from assay_convex_relu.model import TwoLayerReLU, TwoLayerReLUNet


class TestSpiralsContract(DatasetContract):
    @pytest.fixture
    def component(self):
        return Spirals


class TestNetContract(ModelContract):
    @pytest.fixture
    def component(self):
        return TwoLayerReLU


class TestTrainerContract(MethodContract):
    @pytest.fixture
    def component(self):
        return ConvexReLU


def test_spirals_are_balanced_interleaved_and_fresh_per_seed():
    data = Spirals(SpiralsConfig(n_train=200, n_val=200)).load(seed=0)
    x, y = data.train
    assert set(y.reshape(-1).tolist()) == {1.0, -1.0} and abs(float(y.mean())) < 0.2
    radius = x.norm(dim=1)
    assert float(radius.max()) <= 1.0 + 1e-6
    # interleaved: a point's nearest neighbour on the other class is closer than the centre
    # is to the rim for most points, and no line through the origin separates the classes
    signs = torch.sign(x @ torch.randn(2, 64)) * y
    assert float(signs.mean(0).abs().max()) < 0.5
    assert not torch.equal(x, Spirals(SpiralsConfig(n_train=200)).load(seed=1).train[0])


def tiny_problem(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((n, 2)), dtype=torch.float32)
    y = torch.tensor(np.sign(rng.standard_normal(n)), dtype=torch.float32).unsqueeze(1)
    return x, y


def test_objective_by_hand():
    torch.manual_seed(0)
    net = TwoLayerReLUNet(2, 3)
    x, y = tiny_problem(5)
    w, b, a = net.hidden.weight, net.hidden.bias, net.readout.weight[0]
    f = torch.relu(x @ w.T + b) @ a
    expected = ((f - y[:, 0]) ** 2).sum() / 10 + 0.05 / 2 * (w.pow(2).sum() + b.pow(2).sum()
                                                              + a.pow(2).sum())
    torch.testing.assert_close(objective(net, x, y, 0.05), expected)


def test_patterns_are_distinct_hyperplane_splits():
    x, _ = tiny_problem(30)
    z = design(x)
    d = sample_patterns(z, 200, seed=3)
    assert d.shape[0] == 30 and len({tuple(c) for c in d.T}) == d.shape[1] <= 200
    assert np.array_equal(d, sample_patterns(z, 200, seed=3))
    assert set(np.unique(d)) <= {0.0, 1.0} and d.any(axis=0).all()


def test_convex_solution_is_a_net_with_the_same_objective_and_patterns():
    """The mapping v -> (v / sqrt||v||, sqrt||v||) keeps each neuron's pattern and makes the
    net's J equal the program's value."""
    x, y = tiny_problem(30)
    z = design(x)
    d = sample_patterns(z, 40, seed=0)
    v, w, value = solve_convex(z, y[:, 0].double().numpy(), d, 1e-2, "CLARABEL")
    u, alpha = neurons(v, w)
    net = TwoLayerReLUNet(2, len(alpha) + 5)
    load_neurons(net, u, alpha)
    with torch.no_grad():
        j = float(objective(net.double(), x.double(), y.double(), 1e-2))
    assert math.isclose(j, value, rel_tol=1e-5), (j, value)
    big = np.linalg.norm(v, axis=0) > 1e-3 * np.linalg.norm(v, axis=0).max()
    for i in np.flatnonzero(big):                       # the neuron fires on D_i's points
        fires = (z @ v[:, i]) > 1e-6 * np.linalg.norm(v[:, i])
        assert not (fires & (d[:, i] == 0)).any()


def test_with_every_pattern_no_trained_net_beats_the_convex_value():
    """On 1-D inputs the patterns are thresholds, all found by enough hyperplanes: the
    program's value is then the global minimum, and Adam from any start stays above it."""
    rng = np.random.default_rng(1)
    x = torch.tensor(np.c_[rng.uniform(-1, 1, 12), np.zeros(12)], dtype=torch.float32)
    y = torch.tensor(np.sin(4 * x[:, 0].numpy()), dtype=torch.float32).unsqueeze(1)
    z = design(x)
    d = sample_patterns(z, 20000, seed=0)
    assert d.shape[1] == 2 * 12 - 1     # every threshold split, each side (all-ones once)
    *_, value = solve_convex(z, y[:, 0].double().numpy(), d, 1e-2, "CLARABEL")
    for start in range(3):
        torch.manual_seed(start)
        net = TwoLayerReLUNet(2, 32)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(1500):
            loss = objective(net, x, y, 1e-2)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            j = float(objective(net.double(), x.double(), y.double(), 1e-2))
        assert j >= value - 1e-6, (start, j, value)


def run(mode: str, steps: int, **trainer):
    return execute(load({
        "dataset": {"name": "convex-relu-spirals", "n_train": 40, "n_val": 40},
        "model": {"name": "convex-relu-net", "width": 200},
        "methods": {"trainer": {"name": "convex-relu", "mode": mode, **trainer},
                    "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0}},
        "backend": {"name": "cpu", "threads": 1},
        "train": {"steps": steps, "batch_size": 40, "eval_every": 1}}).run, keep_state=True)


def test_nonconvex_mode_takes_full_batch_steps_on_j_and_keeps_the_best_restart():
    one = run("nonconvex", 1, restarts=1, beta=0.01)
    data = Spirals(SpiralsConfig(n_train=40, n_val=40)).load(seed=0)
    x, y = data.train
    net = TwoLayerReLUNet(2, 200)
    net.reset(torch.Generator().manual_seed(0))         # the trainer's first restart
    loss = objective(net, x, y, 0.01)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    with torch.no_grad():
        for p, g in zip(net.parameters(), grads):
            p -= 0.1 * g
    with torch.no_grad():
        after = float(objective(net.double(), x.double(), y.double(), 0.01))
    before = float(loss.detach())
    # the kept net is the better of the start and the one step
    assert one.metrics["relu/objective"] == pytest.approx(min(before, after), rel=1e-5)
    many = run("nonconvex", 40, restarts=4, beta=0.01)
    assert many.metrics["relu/objective"] <= many.metrics["relu/restart_median"] + 1e-9
    assert [s for s, _ in many.history] == [10, 20, 30, 40]


def test_convex_mode_records_the_program_and_loads_its_net():
    r = run("convex", 1, patterns=30, beta=0.01)
    assert r.status == "finished", r.error
    m = r.metrics
    assert m["relu/objective"] == pytest.approx(m["relu/convex_value"], rel=1e-5)
    assert 1 <= m["relu/patterns"] <= 30 and m["relu/active_neurons"] >= 1
    with pytest.raises(Exception, match="width"):
        too_narrow = TwoLayerReLUNet(2, 1)
        load_neurons(too_narrow, np.ones((3, 3)), np.ones(3))


# --- checks ---------------------------------------------------------------------------------

def seed(convex=(0.2, 0.15, 0.12, 0.11, 0.105, 0.1), adam=0.12, lr_best=1e-2, active=40.0):
    m = {"adam/best/relu/objective": adam, "adam/best/methods.optimizer.lr": lr_best}
    for n, (p, j) in enumerate(zip((50, 100, 200, 500, 1000, 2000), convex)):
        m[f"convex/trials/{n}/methods.trainer.patterns"] = p
        m[f"convex/trials/{n}/relu/objective"] = j
        m[f"convex/trials/{n}/relu/active_neurons"] = active
    for n, lr in enumerate((1e-3, 3e-3, 1e-2, 3e-2, 1e-1)):
        m[f"adam/trials/{n}/methods.optimizer.lr"] = lr
        m[f"adam/trials/{n}/relu/objective"] = adam if lr == lr_best else adam + 0.05
    return m


def status(check, *seeds):
    return decide([check(s) for s in seeds]).status


def test_matches_adam_decides_from_the_interval_over_seeds():
    assert status(matches_adam, seed(), seed(adam=0.13), seed(adam=0.125)) == "PASS"
    assert status(matches_adam, seed(adam=0.1), seed(adam=0.105), seed(adam=0.1)) == "FAIL"
    tie = seed(adam=0.11)
    assert status(matches_adam, tie, tie, tie) == "FAIL"           # a tie is not "lower"
    assert status(matches_adam, seed(adam=0.1), seed(adam=0.2)) == "INCONCLUSIVE"


def test_matches_adam_guards():
    assert status(matches_adam, seed(), seed(lr_best=1e-1), seed()) == "NOT-ESTABLISHED"
    assert status(matches_adam, seed(), seed(adam=0.6), seed()) == "INVALID"
    assert status(matches_adam, seed(), seed(active=600.0), seed()) == "INVALID"
    partial = {k: v for k, v in seed().items() if not k.startswith("convex/trials/3/")}
    assert status(matches_adam, seed(), partial, seed()) == "INVALID"


def test_gap_shrinks_decides_from_the_interval_over_seeds():
    assert status(gap_shrinks, seed(), seed(), seed()) == "PASS"
    swap = seed(convex=(0.2, 0.15, 0.11, 0.12, 0.105, 0.1))         # one adjacent swap
    assert status(gap_shrinks, swap, swap, swap) != "PASS"
    flat = seed(convex=(0.1,) * 6)                                  # P changes nothing
    assert status(gap_shrinks, flat, flat, flat) == "FAIL"
    grows = seed(convex=(0.1, 0.11, 0.12, 0.13, 0.14, 0.1))
    assert status(gap_shrinks, grows, grows, grows) == "FAIL"
    assert status(gap_shrinks, grows, seed(), grows) == "INCONCLUSIVE"
    partial = {k: v for k, v in seed().items() if not k.startswith("convex/trials/5/")}
    assert status(gap_shrinks, seed(), partial, seed()) == "INVALID"


# --- negative controls (smoke budget, 3 seeds) -------------------------------------------------

ADAM_IN_CONVEX_ARM = {"methods.trainer.mode": "nonconvex", "model.width": 512,
                      "methods.optimizer.lr": 1.0e-3, "train.steps": 1000,
                      "train.eval_every": 100, "sweep.trials": 6}


@pytest.mark.slow
def test_negative_control_matches_adam_with_adam_in_the_convex_arm(tmp_path):
    """convex-relu:matches-adam with the convex arm running Adam itself (lr 1e-3, one point
    of the Adam arm's grid; both arms on the full grid, 1000 steps): its J is at best the
    Adam arm's best, so the check must not PASS."""
    out = negative_control(
        "convex-relu:matches-adam", seeds=3, tracking_uri=str(tmp_path / "runs"),
        overrides={"convex": ADAM_IN_CONVEX_ARM,
                   "adam": {"train.steps": 1000, "train.eval_every": 100,
                            "sweep.trials": 5}})
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_gap_shrinks_when_p_changes_nothing(tmp_path):
    """convex-relu:gap-shrinks with the convex arm running Adam (which ignores P): every
    trial's J is the same, so there is no trend and the check must not PASS."""
    out = negative_control("convex-relu:gap-shrinks", seeds=3,
                           tracking_uri=str(tmp_path / "runs"),
                           overrides={"convex": {**ADAM_IN_CONVEX_ARM, "train.steps": 100}})
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
