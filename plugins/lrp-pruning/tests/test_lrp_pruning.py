from __future__ import annotations

import copy
import warnings
from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build, build_context, load_yaml, negative_control
from assay_lrp_pruning.claims import CLAIMS, lrp_beats_l1_and_taylor
from assay_lrp_pruning.lrp import (
    forward_acts,
    l1_filter_scores,
    lrp_filter_relevance,
    taylor_filter_scores,
)
from assay_lrp_pruning.method import FilterPruning, remove_filters
from torch import nn


def tiny_cnn(channels: int = 3, depth: int = 3, seed: int = 0) -> tuple[nn.Module, torch.Tensor,
                                                                          torch.Tensor]:
    data = build("dataset", {"name": "digits", "classes": [0, 1, 2]}).load(0)
    torch.manual_seed(seed)
    model = build("model", {"name": "cnn", "channels": channels, "depth": depth}).build(data)
    with torch.no_grad():                     # biases of both signs, as after training
        for conv in model.convs:
            conv.bias.uniform_(-0.2, 0.2)
    return model.double(), data.train[0][:6].double(), data.train[1][:6]


def dense_matrix(fn, shape: tuple[int, ...]) -> torch.Tensor:
    """The matrix M of a linear map (no bias) on flattened inputs: fn(x).flatten() = M x."""
    n = torch.tensor(shape).prod().item()
    basis = torch.eye(n, dtype=torch.double).view(n, *shape)
    return fn(basis).flatten(1).T


def lrp_by_hand(model: nn.Module, x: torch.Tensor, k: int, eps: float) -> list[torch.Tensor]:
    """LRP written as sums over explicit contributions z_ij = a_i M_ji (one example): epsilon at
    the readout and the pooling, z+ (positive weights, no bias) through the conv layers."""
    acts, logits = forward_acts(model, x[None])
    acts = [a[0].flatten() for a in acts]
    c, hw = model.convs[-1].out_channels, acts[-1].numel() // model.convs[-1].out_channels
    pool = torch.kron(torch.eye(c, dtype=torch.double), torch.full((1, hw), 1 / hw))

    def eps_rule(mat: torch.Tensor, bias: torch.Tensor, a: torch.Tensor, r: torch.Tensor):
        zij = mat * a[None, :]                         # (out, in)
        z = zij.sum(1) + bias
        z = z + eps * torch.where(z >= 0, 1.0, -1.0)
        return (zij / z[:, None] * r[:, None]).sum(0)

    r = torch.zeros(logits.shape[1], dtype=torch.double)
    r[k] = logits[0, k]
    pooled = pool @ acts[-1]
    r = eps_rule(model.readout.weight.detach(), model.readout.bias.detach(), pooled, r)
    r = eps_rule(pool, torch.zeros(c, dtype=torch.double), acts[-1], r)
    out = [r.view(c, -1).sum(1)]
    spatial = tuple(x.shape[1:])
    for i in range(len(model.convs) - 1, 0, -1):
        conv = model.convs[i]
        in_shape = (conv.in_channels, *spatial)
        mat = dense_matrix(lambda b, conv=conv: F.conv2d(b, conv.weight.detach(), None,
                                                         padding=conv.padding), in_shape)
        pos = mat.clamp(min=0)
        r = eps_rule(pos, torch.zeros(pos.shape[0], dtype=torch.double), acts[i], r)
        out.append(r.view(conv.in_channels, -1).sum(1))
    return out[::-1]


def test_forward_acts_is_the_models_forward():
    model, x, _ = tiny_cnn()
    torch.testing.assert_close(forward_acts(model, x)[1], model(x))


def test_lrp_matches_the_explicit_contribution_sums():
    model, x, y = tiny_cnn()
    mine = lrp_filter_relevance(model, x, y, eps=1e-6, conv_rule="zplus")
    for n in range(len(y)):
        hand = lrp_by_hand(model, x[n], int(y[n]), eps=1e-6)
        for layer, (a, b) in enumerate(zip(mine, hand)):
            torch.testing.assert_close(a[n], b, msg=f"example {n}, conv layer {layer}")


def test_zplus_conserves_relevance_when_the_net_has_no_bias():
    model, x, y = tiny_cnn()
    with torch.no_grad():
        for conv in model.convs:
            conv.bias.zero_()
        model.readout.bias.zero_()
    logit = model(x)[torch.arange(len(y)), y]
    for r in lrp_filter_relevance(model, x, y, eps=1e-12):
        torch.testing.assert_close(r.sum(1), logit)


def test_lrp_matches_captum_on_a_module_only_copy():
    captum_attr = pytest.importorskip("captum.attr")
    from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule, EpsilonRule

    model, x, y = tiny_cnn()
    mine = lrp_filter_relevance(model, x, y, eps=1e-9)

    def as_sequential() -> nn.Sequential:
        # captum changes the weights it manipulates: every attribution gets a fresh copy
        m = copy.deepcopy(model)
        head = nn.Conv2d(m.readout.in_features, m.readout.out_features, 1).double()
        with torch.no_grad():
            head.weight.copy_(m.readout.weight[:, :, None, None])
            head.bias.copy_(m.readout.bias)
        layers: list[nn.Module] = []
        for conv in m.convs:
            conv.rule = Alpha1_Beta0_Rule(set_bias_to_zero=True)
            layers += [conv, nn.ReLU()]
        pool = nn.AdaptiveAvgPool2d(1)
        pool.rule, head.rule = EpsilonRule(1e-9), EpsilonRule(1e-9)
        return nn.Sequential(*layers, pool, head)

    target = [(int(k), 0, 0) for k in y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(len(model.convs)):
            seq = as_sequential()
            ref = captum_attr.LayerLRP(seq, seq[2 * i]).attribute(x, target=target)
            torch.testing.assert_close(ref.sum((2, 3)), mine[i], rtol=1e-6, atol=1e-9)


def test_taylor_scores_by_hand_with_hooks_on_the_conv_outputs():
    model, x, y = tiny_cnn()
    zs: list[torch.Tensor] = []
    hooks = [c.register_forward_hook(lambda m, i, o: zs.append(o)) for c in model.convs]
    loss = F.cross_entropy(model(x), y, reduction="sum")
    for h in hooks:
        h.remove()
    grads = torch.autograd.grad(loss, zs)
    # a * dL/da = relu(z) * dL/dz, since dL/dz = dL/da where z > 0 and relu(z) = 0 elsewhere
    hand = [(z.relu() * g).mean((2, 3)).abs().mean(0) for z, g in zip(zs, grads)]
    for a, b in zip(taylor_filter_scores(model, x, y), hand):
        torch.testing.assert_close(a, b.detach())


def test_l1_scores_and_filter_removal():
    model, x, _ = tiny_cnn()
    w = model.convs[1].weight.detach()
    torch.testing.assert_close(l1_filter_scores(model)[1], w.abs().sum((1, 2, 3)))
    keep = [torch.tensor([True, False, True])] * 3
    remove_filters(model, keep)
    acts, _ = forward_acts(model, x)
    for a in acts[1:]:
        assert torch.all(a[:, 1] == 0) and torch.any(a[:, 0] != 0)


def _ctx(criterion: str, seed: int = 3):
    exp = {"dataset": {"name": "digits", "classes": [0, 4, 9]},
           "model": {"name": "cnn", "channels": 4, "depth": 2},
           "methods": {"pruning": {"name": "lrp-filter-pruning", "criterion": criterion,
                                   "per_class": 5, "ratio": 0.5, "curve": [0.25]}},
           "backend": {"name": "cpu"}, "train": {"steps": 4, "seed": seed}}
    ctx = build_context(load(exp).run)
    return ctx, ctx.methods["pruning"]


def test_reference_examples_are_per_class_and_shared_by_every_criterion():
    (ctx_a, lrp), (ctx_b, l1) = _ctx("lrp"), _ctx("l1")
    xa, ya = lrp.reference(ctx_a)
    xb, yb = l1.reference(ctx_b)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.bincount(ya, minlength=10)[[0, 4, 9]].tolist() == [5, 5, 5]


@pytest.mark.parametrize("criterion", ["lrp", "l1", "taylor", "random"])
def test_pruning_at_the_last_step_removes_half_of_every_layer(criterion):
    ctx, method = _ctx(criterion)
    dense = ctx.evaluate()["val/acc"]
    method.prune(ctx, ctx.total_steps - 1)            # not the last step: nothing happens
    assert "prune/ratio" not in ctx.final_metrics
    method.prune(ctx, ctx.total_steps)
    m = ctx.final_metrics
    assert m["prune/dense/val_acc"] == dense and m["prune/filters_removed"] == 4.0
    assert "prune/curve/0.25/val_acc" in m
    for conv in ctx.model.convs:
        assert int((conv.weight.flatten(1).abs().sum(1) == 0).sum()) == 2


def test_a_model_the_scores_cannot_follow_is_refused():
    from assay import UserError

    exp = {"dataset": {"name": "digits"}, "model": {"name": "cnn", "norm": "batch"},
           "methods": {"pruning": {"name": "lrp-filter-pruning"}}, "backend": {"name": "cpu"},
           "train": {"steps": 2}}
    with pytest.raises(UserError, match="without norm"):
        FilterPruning().setup(build_context(load(exp).run))


class TestFilterPruningContract(MethodContract):
    @pytest.fixture
    def component(self):
        return FilterPruning


@pytest.mark.parametrize("arm", sorted({a for c in CLAIMS for a in c.arms.values()}))
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_lrp_pruning").joinpath(arm))).run
    assert run.pretrain is not None and run.methods["pruning"]["ratio"] == 0.5


def _seed(lrp: float, l1: float, taylor: float, dense: float = 0.95) -> dict[str, float]:
    m = {f"{a}/prune/dense/val_acc": dense for a in ("lrp", "l1", "taylor")}
    m.update({"lrp/val/acc": lrp, "l1/val/acc": l1, "taylor/val/acc": taylor})
    return m


def test_check_decides_from_the_interval_over_seeds():
    good = [_seed(0.90, 0.60, 0.80), _seed(0.89, 0.55, 0.79), _seed(0.91, 0.62, 0.80)]
    assert decide([lrp_beats_l1_and_taylor(m) for m in good]).status == "PASS"
    close = [_seed(0.90, 0.60, 0.89), _seed(0.88, 0.55, 0.88), _seed(0.91, 0.62, 0.90)]
    assert decide([lrp_beats_l1_and_taylor(m) for m in close]).status == "FAIL"
    mixed = [_seed(0.90, 0.60, 0.70), _seed(0.70, 0.55, 0.85), _seed(0.91, 0.62, 0.80)]
    assert decide([lrp_beats_l1_and_taylor(m) for m in mixed]).status == "INCONCLUSIVE"


def test_a_fine_tuned_model_at_chance_is_invalid():
    at_chance = [_seed(0.4, 0.3, 0.3, dense=0.36)] * 3
    d = decide([lrp_beats_l1_and_taylor(m) for m in at_chance])
    assert d.status == "INVALID" and "lrp" in d.reason
    missing = [{k: v for k, v in _seed(0.9, 0.5, 0.5).items() if not k.startswith("l1/")}] * 3
    assert decide([lrp_beats_l1_and_taylor(m) for m in missing]).status == "INVALID"


@pytest.mark.slow
def test_negative_control_lrp_arm_scoring_by_l1_does_not_pass(tmp_path):
    """The LRP arm pruned by L1 norm: its gain over L1 is zero by construction, so the claim
    must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("lrp-pruning:beats-l1-taylor-without-finetuning",
                           overrides={"lrp": {"methods.pruning.criterion": "l1"}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
