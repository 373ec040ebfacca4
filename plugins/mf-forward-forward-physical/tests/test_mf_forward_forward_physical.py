from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import (
    MethodContract,
    ModelContract,
    execute,
    load_data,
    load_yaml,
    negative_control,
)
from assay_mf_forward_forward_physical.claims import CLAIMS, near_backprop, reaches_accuracy
from assay_mf_forward_forward_physical.ff import (
    embed_label,
    ff_loss,
    goodness,
    predict_scores,
    wrong_labels,
)
from assay_mf_forward_forward_physical.method import MFForwardForward
from assay_mf_forward_forward_physical.physical import (
    PhysicalLayer,
    PhysicalNet,
    PhysicalNetConfig,
    PhysicalNetModel,
)

PKG = "assay_mf_forward_forward_physical"


# --- the forward-forward local loss, by hand ---------------------------------------------------

def test_goodness_and_pairwise_loss_match_a_hand_computation():
    h = torch.tensor([[3.0, -4.0], [1.0, 0.0]])
    assert goodness(h, "sumsq").tolist() == [25.0, 1.0]
    p = torch.tensor([0.6, 0.8])
    # cos(|h|, p): row 1 |h| = (3, 4): (1.8 + 3.2) / 5 = 1; row 2 (1, 0): 0.6
    torch.testing.assert_close(goodness(h, "cosine", p), torch.tensor([1.0, 0.6]))
    g_pos, g_neg = torch.tensor([1.0, 0.6]), torch.tensor([0.5, 0.6])
    # softplus(-4 * 0.5) = log(1 + e^-2); softplus(0) = log 2; mean of the two
    want = (math.log(1 + math.exp(-2.0)) + math.log(2.0)) / 2
    assert ff_loss(g_pos, g_neg, theta=4.0).item() == pytest.approx(want, rel=1e-6)
    # Hinton's rule: softplus(theta - G+) + softplus(G- - theta), theta = 1
    want_t = (math.log(1 + math.exp(0.0)) + math.log(1 + math.exp(-0.5))
              + math.log(1 + math.exp(0.4)) + math.log(1 + math.exp(-0.4))) / 2
    assert ff_loss(g_pos, g_neg, 1.0, "threshold").item() == pytest.approx(want_t, rel=1e-6)


def test_the_loss_rewards_positives_with_more_goodness():
    hi, lo = torch.tensor([0.9]), torch.tensor([0.1])
    assert ff_loss(hi, lo, 4.0) < ff_loss(lo, hi, 4.0)
    assert ff_loss(torch.tensor([5.0]), lo, 2.0, "threshold") < ff_loss(lo, lo, 2.0,
                                                                         "threshold")


def test_labels_are_appended_and_negatives_are_always_wrong():
    x = torch.arange(8.0).view(2, 1, 2, 2)
    out = embed_label(x, torch.tensor([2, 0]), 3, scale=5.0)
    assert out.tolist() == [[0, 1, 2, 3, 0, 0, 5], [4, 5, 6, 7, 5, 0, 0]]
    assert embed_label(x, None, 3)[:, 4:].abs().sum() == 0
    y = torch.randint(10, (5000,), generator=torch.Generator().manual_seed(0))
    neg = wrong_labels(y, 10, torch.Generator().manual_seed(1))
    assert (neg != y).all() and set(neg.tolist()) == set(range(10))
    counts = torch.bincount((neg - y) % 10, minlength=10)[1:]          # shifts 1..9 uniform
    assert counts.min() > 0.8 * 5000 / 9


def test_predict_scores_asks_every_label():
    x = torch.zeros(3, 2)
    scores = predict_scores(lambda xs, labels: labels.float() * 10 + xs.sum(1), x, 4)
    assert scores.shape == (3, 4) and scores[0].tolist() == [0, 10, 20, 30]


# --- the physical layer -----------------------------------------------------------------------

def _layer(physics: str, noise: float = 0.0) -> PhysicalLayer:
    torch.manual_seed(0)
    return PhysicalLayer(5, 7, noise, physics, twin_mismatch=0.1)


def test_physical_layer_is_an_intensity_of_a_fixed_complex_map():
    layer = _layer("exact")
    x = torch.randn(4, 5)
    w = torch.complex(layer.w_re, layer.w_im)
    torch.testing.assert_close(layer(x), (x.to(w.dtype) @ w.t()).abs().pow(2))
    assert not any(k.startswith(("w_", "t_")) for k in layer.state_dict())   # hardware


def test_black_box_physics_passes_no_gradient_and_counts_no_query():
    layer = _layer("black-box", noise=0.02)
    x = torch.randn(4, 5, requires_grad=True)
    y = layer(x)
    assert not y.requires_grad                 # torch.no_grad: nothing to backpropagate
    with pytest.raises(RuntimeError):
        y.sum().backward()
    assert x.grad is None and layer.grad_queries == 0


def test_exact_physics_backpropagates_the_true_derivative_and_counts_it():
    layer = _layer("exact")
    x = torch.randn(4, 5, requires_grad=True)
    layer(x).sum().backward()
    # d/dx sum_i |w_i x|^2 = 2 (Re W^T Re W + Im W^T Im W) x
    a, b = layer.w_re, layer.w_im
    torch.testing.assert_close(x.grad, 2 * x.detach() @ (a.t() @ a + b.t() @ b))
    assert layer.grad_queries == 1


def test_twin_physics_runs_the_device_forward_and_the_twin_backward():
    layer = _layer("twin")
    x = torch.randn(4, 5, requires_grad=True)
    y = layer(x)
    torch.testing.assert_close(y, _layer("exact")(x))               # the device's reading
    y.sum().backward()
    a, b = layer.t_re, layer.t_im
    torch.testing.assert_close(x.grad, 2 * x.detach() @ (a.t() @ a + b.t() @ b))
    rel = torch.linalg.norm(torch.cat([layer.t_re - layer.w_re, layer.t_im - layer.w_im])) / \
        torch.linalg.norm(torch.cat([layer.w_re, layer.w_im]))
    assert 0.05 < rel < 0.15 and layer.grad_queries == 1


def test_noise_is_multiplicative_at_the_configured_level():
    layer = _layer("black-box", noise=0.02)
    x = torch.randn(1, 5).repeat(20000, 1)
    clean = PhysicalLayer.intensity(x[:1], layer.w_re, layer.w_im)
    ratio = layer(x) / clean
    assert ratio.mean().item() == pytest.approx(1.0, abs=2e-3)
    assert ratio.std().item() == pytest.approx(0.02, rel=0.05)


# --- the trainer and the network --------------------------------------------------------------

def _arm(name: str, **train) -> dict:
    exp = load_yaml(resources.files(PKG).joinpath(f"configs/{name}"))
    exp["train"].update(train)
    exp["model"]["width"] = 64
    return exp


def test_mfff_updates_every_digital_layer_without_a_physical_gradient():
    """9 steps of 3 blocks: every digital layer moves, the gradient queries stay at 0."""
    run = load(_arm("mfff_digits.yaml", steps=9, eval_every=9)).run
    start = PhysicalNetModel(PhysicalNetConfig(width=64))
    result = execute(run, keep_state=True)
    assert result.status == "finished", result.error
    assert result.metrics["phys/grad_queries"] == 0
    assert result.metrics["phys/forward_queries"] == 2 * 9       # pos + neg per layer update
    torch.manual_seed(run.seed)
    data = load_data(run)
    fresh = start.build(data).state_dict()
    for k in range(3):
        key = f"digital.{k}.weight"
        assert not torch.equal(fresh[key], result.state_dict[key]), key


def test_backprop_arm_queries_the_physics_every_step():
    result = execute(load(_arm("backprop_digits.yaml", steps=6, eval_every=3)).run)
    assert result.status == "finished", result.error
    # layers 2 and 3 are backpropagated through every step; layer 1 has nothing trainable in
    # front of it, so no gradient needs to pass it (its output does not require grad)
    assert result.metrics["phys/grad_queries"] == 6 * 2


def test_mfff_learns_digits_above_chance():
    """300 local steps (100 updates per layer) of the claim's arm at width 64."""
    result = execute(load(_arm("mfff_digits.yaml", steps=300, eval_every=150)).run)
    assert result.status == "finished", result.error
    assert result.metrics["val/acc"] > 0.5, result.metrics


def test_trainer_refuses_a_model_it_cannot_train():
    exp = _arm("mfff_digits.yaml", steps=3, eval_every=3)
    exp["model"]["readout"] = "linear"
    result = execute(load(exp).run)
    assert result.status != "finished" and "readout" in str(result.error)


def test_goodness_readout_scores_every_label():
    net = PhysicalNet(64, 10, PhysicalNetConfig(width=16))
    out = net(torch.rand(5, 1, 8, 8))
    assert out.shape == (5, 10) and torch.isfinite(out).all()


class TestPhysicalNetContract(ModelContract):
    @pytest.fixture
    def component(self):
        return PhysicalNetModel


class TestMFForwardForwardContract(MethodContract):
    @pytest.fixture
    def component(self):
        return MFForwardForward


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files(PKG).joinpath(arm))).run
    assert run.methods["trainer"]["name"] == "mf-forward-forward"


# --- the checks -------------------------------------------------------------------------------

def _seed(ff: float, bp: float = 0.97, ff_q: float = 0.0, bp_q: float = 9000.0) -> dict:
    return {"mf-ff/val/acc": ff, "backprop/val/acc": bp, "mf-ff/phys/grad_queries": ff_q,
            "backprop/phys/grad_queries": bp_q}


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(a) for a in (0.93, 0.94, 0.95, 0.94, 0.93)]
    assert decide([reaches_accuracy(m) for m in good]).status == "PASS"
    assert decide([near_backprop(m) for m in good]).status == "PASS"
    bad = [_seed(a) for a in (0.60, 0.62, 0.58, 0.61, 0.60)]
    assert decide([reaches_accuracy(m) for m in bad]).status == "FAIL"
    assert decide([near_backprop(m) for m in bad]).status == "FAIL"
    mixed = [_seed(a) for a in (0.80, 0.92, 0.86, 0.75, 0.95)]
    assert decide([reaches_accuracy(m) for m in mixed]).status == "INCONCLUSIVE"


def test_guards_catch_a_method_that_is_not_model_free_and_a_dead_baseline():
    queried = [_seed(0.95, ff_q=3.0)] * 3
    assert decide([reaches_accuracy(m) for m in queried]).status == "INVALID"
    dead = [_seed(0.9, bp=0.1)] * 3
    d = decide([near_backprop(m) for m in dead])
    assert d.status == "INVALID" and "backprop" in d.reason
    no_bp = [_seed(0.9, bp_q=0.0)] * 3
    assert decide([near_backprop(m) for m in no_bp]).status == "INVALID"


@pytest.mark.slow
def test_negative_control_physics_drowned_in_noise_does_not_pass(tmp_path):
    """reaches-85 with the physical readings' noise at 1000% (std 10 x the signal): the
    layers see noise, the accuracy stays near chance, so the check must not PASS."""
    out = negative_control("mf-forward-forward-physical:reaches-85",
                           overrides={"mf-ff": {"model.noise": 10.0}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_gap_with_drowned_physics_does_not_pass(tmp_path):
    out = negative_control("mf-forward-forward-physical:near-backprop",
                           overrides={"mf-ff": {"model.noise": 10.0}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_drowned_physics_cannot_be_learned_where_the_real_noise_can():
    """The control's premise at more than smoke budget: with noise 10, 300 MF-FF steps stay
    near chance; with the claim's 2% they do not (test_mfff_learns_digits_above_chance)."""
    exp = _arm("mfff_digits.yaml", steps=300, eval_every=150)
    exp["model"]["noise"] = 10.0
    result = execute(load(exp).run)
    assert result.status == "finished", result.error
    assert result.metrics["val/acc"] < 0.3, result.metrics
