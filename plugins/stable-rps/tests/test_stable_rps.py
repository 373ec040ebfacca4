from __future__ import annotations

import math

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, negative_control
from assay_stable_rps.baselines import PruneAtInit, snip_scores
from assay_stable_rps.claims import (
    CLAIMS,
    beats_magnitude,
    beats_narrow,
    pareto_continuous,
)
from assay_stable_rps.method import (
    StableRPS,
    StableRPSConfig,
    memory_size,
    randomfold_index,
    roast_index,
    share,
)
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 5)
        self.readout = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(torch.relu(self.hidden(x)))


def _shared(compression: float, seed: int = 0, **kw):
    torch.manual_seed(seed)
    net = Net()
    dense = [net.hidden.weight.detach().clone(), net.readout.weight.detach().clone()]
    shared = share(net, compression, gen=torch.Generator().manual_seed(seed), **kw)
    return net, shared, dense


# --- the map ----------------------------------------------------------------------------------

@pytest.mark.parametrize("n,c", [(25, 1.0), (25, 0.2), (1000, 1 / 32), (78336, 1 / 64)])
def test_memory_is_compression_times_weights(n, c):
    m = memory_size(n, c)
    assert m == round(c * n)
    assert randomfold_index(n, m, torch.Generator().manual_seed(1)).max() < m


def test_randomfold_at_1x_is_a_bijection_and_roast_is_not():
    gen = torch.Generator().manual_seed(3)
    idx = randomfold_index(1000, 1000, gen)
    assert torch.equal(idx.sort().values, torch.arange(1000))
    roast = roast_index(1000, 1000, 32, torch.Generator().manual_seed(3))
    assert roast.unique().numel() < 1000          # ROAST's blocks collide even at 1x


def test_randomfold_loads_every_slot_evenly():
    n, m = 1000, 37
    counts = torch.bincount(randomfold_index(n, m, torch.Generator().manual_seed(0)),
                            minlength=m)
    assert set(counts.tolist()) <= {n // m, n // m + 1}


def test_randomfold_chunk_is_a_cyclic_shift():
    n, m = 10, 4
    idx = randomfold_index(n, m, torch.Generator().manual_seed(5))
    for start in range(0, n, m):
        chunk = idx[start:start + m]
        assert torch.equal((chunk - chunk[0]) % m, torch.arange(len(chunk)))


def test_each_weight_is_scale_sign_times_its_slot():
    net, shared, dense = _shared(0.4)
    x = torch.randn(4, 3)
    net(x)
    w = torch.cat([net.hidden.weight.flatten(), net.readout.weight.flatten()])
    a = shared.array.detach()
    for i in range(w.numel()):
        assert abs(shared.sign[i].item()) == 1.0
        expected = shared.scale[i] * shared.sign[i] * a[shared.idx[i]]
        torch.testing.assert_close(w[i].detach(), expected)
    # the layer scale restores each layer's own initial std (sigma = 0.04)
    assert shared.scale[0].item() == pytest.approx(dense[0].std().item() / 0.04)
    assert shared.scale[-1].item() == pytest.approx(dense[1].std().item() / 0.04)


def test_memory_of_the_model_is_the_array_plus_biases():
    net, shared, _ = _shared(0.4)
    n = 3 * 5 + 5 * 2
    assert shared.array.numel() == round(0.4 * n)
    assert sum(p.numel() for p in net.parameters()) == round(0.4 * n) + 5 + 2
    assert not hasattr(net.hidden, "weight") or not isinstance(net.hidden.weight, nn.Parameter)


def test_at_1x_any_dense_net_is_representable():
    """Pareto-continuity: a bijective map can hold any dense weights exactly."""
    net, shared, _ = _shared(1.0)
    torch.manual_seed(7)
    target = Net()
    w = torch.cat([target.hidden.weight.flatten(), target.readout.weight.flatten()]).detach()
    with torch.no_grad():
        shared.array[shared.idx] = w / (shared.scale * shared.sign)
        net.hidden.bias.copy_(target.hidden.bias)
        net.readout.bias.copy_(target.readout.bias)
    x = torch.randn(6, 3)
    torch.testing.assert_close(net(x), target(x))


# --- forward and backward by hand -------------------------------------------------------------

def test_forward_and_scaled_gradient_by_hand():
    net, shared, _ = _shared(0.4)
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    a = shared.array.detach().clone().requires_grad_(True)
    w = shared.scale * shared.sign * a[shared.idx]
    w1, w2 = w[:15].view(5, 3), w[15:].view(2, 5)
    ref = torch.relu(x @ w1.T + net.hidden.bias) @ w2.T + net.readout.bias
    out = net(x)
    torch.testing.assert_close(out, ref)
    ((out - y) ** 2).sum().backward()
    ((ref - y) ** 2).sum().backward()
    # d loss / d slot j = sum_{i: h(i)=j} s_i g_i dL/dw_i, divided by sum_{i: h(i)=j} s_i^2
    denom = torch.zeros_like(a).scatter_add_(0, shared.idx, shared.scale ** 2)
    torch.testing.assert_close(shared.array.grad, a.grad / denom)


@pytest.mark.parametrize("init_std", [0.04, 1.0])
@pytest.mark.parametrize("grad_scale", [True, False])
def test_sgd_at_1x_moves_weights_as_dense_sgd_whatever_the_init_scale(init_std, grad_scale):
    """STABLE-RPS's stability: with the scaled gradient, an SGD step on the array is a dense
    SGD step on the weights, independent of sigma (ROAST's step would scale with s_l^2)."""
    net, _, _ = _shared(1.0, init_std=init_std, grad_scale=grad_scale)
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    net(x)
    w0 = torch.cat([net.hidden.weight.flatten(), net.readout.weight.flatten()]).detach()
    dense = Net()
    with torch.no_grad():
        dense.hidden.weight.copy_(w0[:15].view(5, 3))
        dense.readout.weight.copy_(w0[15:].view(2, 5))
        dense.hidden.bias.copy_(net.hidden.bias)
        dense.readout.bias.copy_(net.readout.bias)
    for model in (net, dense):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
    net(x)
    w1 = torch.cat([net.hidden.weight.flatten(), net.readout.weight.flatten()]).detach()
    w_dense = torch.cat([dense.hidden.weight.flatten(), dense.readout.weight.flatten()]).detach()
    # without the scaling (ROAST) the step is s_l^2 times the dense one: not the same
    assert torch.allclose(w1, w_dense) == grad_scale


def test_without_grad_scale_the_array_gets_the_raw_gradient():
    net, shared, _ = _shared(0.4, grad_scale=False)
    x = torch.randn(4, 3)
    a = shared.array.detach().clone().requires_grad_(True)
    w = shared.scale * shared.sign * a[shared.idx]
    ref = torch.relu(x @ w[:15].view(5, 3).T + net.hidden.bias) @ w[15:].view(2, 5).T
    net(x).sum().backward()
    (ref + net.readout.bias).sum().backward()
    torch.testing.assert_close(shared.array.grad, a.grad)


# --- in a run ---------------------------------------------------------------------------------

def _experiment(methods: dict, width: int = 64) -> dict:
    return {"dataset": {"name": "mnist1d", "n_train": 512, "n_val": 256},
            "model": {"name": "mlp", "width": width, "depth": 2},
            "methods": {"optimizer": {"name": "adamw", "lr": 3e-3}, **methods},
            "backend": {"name": "cpu"},
            "train": {"steps": 60, "batch_size": 64, "eval_every": 30}}


def test_run_on_the_builtin_mlp_holds_the_array_and_biases():
    exp = _experiment({"parameterization": {"name": "stable-rps", "compression": 1 / 16}})
    result = execute(load(exp).run)
    assert result.status == "finished", result.error
    n = 40 * 64 + 64 * 64 + 64 * 10
    assert result.metrics["rps/array_size"] == round(n / 16)
    assert result.metrics["cost/params"] == round(n / 16) + 64 + 64 + 10


def test_prune_at_init_keeps_the_density_globally():
    for criterion in ("magnitude", "snip"):
        exp = _experiment({"pruning": {"name": "prune-at-init", "density": 1 / 16,
                                       "criterion": criterion}})
        ctx = build_context(load(exp).run)
        method = ctx.methods["pruning"]
        method.setup(ctx)
        kept = sum(int(mk.sum()) for mk in method.masks.values())
        assert kept == round((40 * 64 + 64 * 64 + 64 * 10) / 16)
        for name, p in method.params.items():
            assert torch.all(p[~method.masks[name]] == 0)


def test_snip_score_by_hand():
    exp = _experiment({"pruning": {"name": "prune-at-init", "density": 0.5,
                                   "criterion": "snip", "snip_batch": 32}})
    ctx = build_context(load(exp).run)
    params = {n: p for n, p in ctx.model.named_parameters() if n.endswith("weight")}
    state = ctx.generator.get_state()
    scores = snip_scores(ctx, params, 32)
    ctx.generator.set_state(state)
    x, y = ctx.batch(32)
    ctx.model.zero_grad()
    ctx.loss(ctx.model, x, y).backward()
    for n, p in params.items():
        torch.testing.assert_close(scores[n], (p.detach() * p.grad).abs())


class TestStableRPSContract(MethodContract):
    @pytest.fixture
    def component(self):
        return StableRPS


class TestPruneAtInitContract(MethodContract):
    @pytest.fixture
    def component(self):
        return PruneAtInit


def test_config_rejects_bad_compression():
    with pytest.raises(ValueError):
        StableRPSConfig(compression=0.0)
    with pytest.raises(ValueError):
        StableRPSConfig(compression=1.5)


# --- the checks -------------------------------------------------------------------------------

LRS = [3e-4, 1e-3, 3e-3, 1e-2, 3e-2]


def _sweep(m: dict, arm: str, acc: float, params: float, best_lr: float = 3e-3,
           key: str = "cost/params") -> None:
    m[f"{arm}/best/val/acc"] = acc
    m[f"{arm}/best/methods.optimizer.lr"] = best_lr
    for n, lr in enumerate(LRS):
        m[f"{arm}/trials/{n}/methods.optimizer.lr"] = lr
        m[f"{arm}/trials/{n}/val/acc"] = acc if lr == best_lr else acc - 0.05
        m[f"{arm}/trials/{n}/{key}"] = params


def _seed(rps: float, base: float, base_params: float | None = None, edge: bool = False,
          baseline: str = "agp") -> dict[str, float]:
    m: dict[str, float] = {}
    key = "cost/params" if baseline == "narrow" else "sparsity/nonzero_params"
    for c, p in (("32", 2970.0), ("64", 1746.0)):
        _sweep(m, f"rps_{c}", rps, p, best_lr=3e-2 if edge else 3e-3)
        _sweep(m, f"{baseline}_{c}", base, p if base_params is None else base_params, key=key)
    return m


def test_beats_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.60 + d, 0.50) for d in (0.0, 0.01, -0.01)]
    assert decide([beats_magnitude(m) for m in good]).status == "PASS"
    worse = [_seed(0.45 + d, 0.50) for d in (0.0, 0.01, -0.01)]
    assert decide([beats_magnitude(m) for m in worse]).status == "FAIL"
    tie = [_seed(0.5, 0.5)] * 3
    assert decide([beats_magnitude(m) for m in tie]).status == "FAIL"   # strict: a tie is not
    mixed = [_seed(0.55, 0.50), _seed(0.45, 0.50)]
    assert decide([beats_magnitude(m) for m in mixed]).status == "INCONCLUSIVE"
    narrow = [_seed(0.60 + d, 0.50, baseline="narrow") for d in (0.0, 0.01, -0.01)]
    assert decide([beats_narrow(m) for m in narrow]).status == "PASS"


def test_guards_edge_chance_and_memory():
    edge = [_seed(0.6, 0.5, edge=True)] * 3
    assert decide([beats_magnitude(m) for m in edge]).status == "NOT-ESTABLISHED"
    chance = [_seed(0.6, 0.1)] * 3
    assert decide([beats_magnitude(m) for m in chance]).status == "INVALID"
    over = [_seed(0.6, 0.5, base_params=5000.0)] * 3
    d = decide([beats_magnitude(m) for m in over])
    assert d.status == "INVALID" and "memory" in d.reason


def test_pareto_check():
    def seed(dense: float, rps: float) -> dict[str, float]:
        m: dict[str, float] = {}
        _sweep(m, "dense", dense, 78858.0)
        _sweep(m, "rps_1", rps, 78858.0)
        return m
    close = [seed(0.70, 0.70 + d) for d in (0.0, 0.001, -0.001)]
    assert decide([pareto_continuous(m) for m in close]).status == "PASS"
    far = [seed(0.70, 0.67 + d) for d in (0.0, 0.001, -0.001)]
    assert decide([pareto_continuous(m) for m in far]).status == "FAIL"


def test_claims_are_declared_with_five_seeds():
    assert {c.id for c in CLAIMS} == {"stable-rps:beats-magnitude", "stable-rps:beats-snip",
                                      "stable-rps:beats-narrow",
                                      "stable-rps:pareto-continuous"}
    assert all(c.seeds == 5 for c in CLAIMS)
    for c in CLAIMS:
        for arm in c.arms:
            assert c.arm_path(arm).exists()


def test_narrow_arms_hold_no_more_parameters_than_rps():
    def mlp_params(w: int) -> int:
        return 40 * w + w * w + 10 * w + 2 * w + 10
    n = 40 * 256 + 256 * 256 + 256 * 10
    for width, c in ((34, 32), (23, 64)):
        rps = round(n / c) + 256 + 256 + 10
        assert mlp_params(width) <= rps < mlp_params(width + 1)
    assert math.isclose(mlp_params(256), n + 522)


@pytest.mark.slow
def test_negative_control_rps_replaced_by_magnitude_pruning_does_not_pass(tmp_path):
    """beats-magnitude with the STABLE-RPS arms running the pruning arms: the gap is 0, so
    the check must not PASS (smoke budget, 3 seeds)."""
    out = negative_control("stable-rps:beats-magnitude",
                           arms={"rps_32": "agp_32", "rps_64": "agp_64"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_narrow_in_place_of_rps_does_not_pass(tmp_path):
    """beats-narrow with the STABLE-RPS arms running the narrow nets: must not PASS."""
    out = negative_control("stable-rps:beats-narrow",
                           arms={"rps_32": "narrow_32", "rps_64": "narrow_64"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
