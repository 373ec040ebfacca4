from __future__ import annotations

from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_fira.claims import CHANCE
from assay_gradnormlorp.claims import near_adamw, not_above_galore, small_state
from assay_gradnormlorp.method import WeightNorm, WeightNormConfig


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden, self.readout = torch.nn.Linear(5, 4), torch.nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(torch.tanh(self.hidden(x)))


def _mlp() -> Net:
    torch.manual_seed(0)
    return Net()


def test_normalisation_keeps_the_function_and_splits_magnitude_from_direction():
    net = _mlp()
    x = torch.randn(6, 5)
    before, w = net(x).detach(), net.hidden.weight.detach().clone()
    groups = WeightNorm(WeightNormConfig()).apply(net, data=None)
    torch.testing.assert_close(net(x), before)
    pw = net.hidden.parametrizations.weight
    g, v = pw.original0, pw.original1
    torch.testing.assert_close(g.squeeze(1), w.norm(dim=1))           # one magnitude per row
    torch.testing.assert_close(net.hidden.weight, g * v / v.norm(dim=1, keepdim=True))
    assert not hasattr(net.readout, "parametrizations")          # the readout is left alone
    assert {id(p) for p in groups[0]["params"]} == {id(p) for p in net.parameters()}


def test_direction_gradient_is_the_row_orthogonal_part_scaled_by_g_over_norm():
    """dL/dV_i = (g_i / ||V_i||) (G_i - (G_i . v_i) v_i), G = dL/dW, v_i = V_i / ||V_i||."""
    net = _mlp()
    WeightNorm(WeightNormConfig()).apply(net, data=None)
    pw = net.hidden.parametrizations.weight
    with torch.no_grad():                            # move g and V off their initial tie
        pw.original0.mul_(torch.tensor([[2.0], [0.5], [1.5], [3.0]]))
        pw.original1.add_(0.3 * torch.randn_like(pw.original1))
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    w = net.hidden.weight.detach().clone().requires_grad_(True)
    out = net.readout(torch.tanh(x @ w.T + net.hidden.bias))
    (gw,) = torch.autograd.grad(torch.nn.functional.cross_entropy(out, y), w)
    torch.nn.functional.cross_entropy(net(x), y).backward()
    v, g = pw.original1.detach(), pw.original0.detach()
    unit = v / v.norm(dim=1, keepdim=True)
    want = g / v.norm(dim=1, keepdim=True) * (gw - (gw * unit).sum(1, keepdim=True) * unit)
    torch.testing.assert_close(pw.original1.grad, want, rtol=1e-4, atol=1e-6)
    # the direction's gradient has no component along V: its rows are orthogonal to V's
    assert (pw.original1.grad * v).sum(1).abs().max() < 1e-5


def _bytes_run(**methods) -> dict:
    return {"dataset": {"name": "bytes", "seq_len": 16},
            "model": {"name": "transformer", "width": 32, "depth": 1, "n_heads": 2},
            "methods": methods, "backend": {"name": "cpu", "threads": 1},
            "train": {"steps": 3, "batch_size": 4, "eval_every": 3}}


def test_galore_keeps_the_directions_low_rank_and_the_magnitudes_dense():
    run = _bytes_run(parameterization={"name": "gradnormlorp"},
                     optimizer={"name": "fira-galore", "lr": 3e-3, "rank": 4,
                                "target": "matrices"})
    ctx = build_context(load(run).run)
    method = ctx.methods["optimizer"]
    method.setup(ctx)
    opt = method.build(ctx.param_groups)
    x, y = ctx.batch()
    ctx.loss(ctx.model, x, y).backward()
    opt.step()
    qkv = ctx.model.blocks[0].qkv.parametrizations.weight
    assert opt.state[qkv.original1]["exp_avg"].shape == (96, 4)       # V: 96 x 32, rank 4
    assert opt.state[qkv.original0]["exp_avg"].shape == (96, 1)       # g: dense
    assert not hasattr(ctx.model.readout, "parametrizations")


def test_a_weight_normalised_transformer_trains_with_a_small_state():
    run = _bytes_run(parameterization={"name": "gradnormlorp"},
                     optimizer={"name": "fira-galore", "lr": 1e-2, "rank": 4,
                                "target": "matrices"})
    run["train"] = {"steps": 40, "batch_size": 8, "eval_every": 20}
    result = execute(load(run).run)
    assert result.status == "finished", result.error
    assert result.metrics["val/loss"] < result.history[0][1]["val/loss"] < 5.6
    adam_mb = 2 * 4 * result.metrics["cost/trainable_params"] / 2**20
    assert result.metrics["fira-galore/state_mb"] < 0.6 * adam_mb


class TestWeightNormContract(MethodContract):
    @pytest.fixture
    def component(self):
        return WeightNorm


def test_arms_differ_only_in_the_methods():
    raws = {a: load_yaml(resources.files("assay_gradnormlorp").joinpath(f"configs/{a}_bytes.yaml"))
            for a in ("adamw", "galore", "gnl")}
    methods = {a: raw.pop("methods") for a, raw in raws.items()}
    assert methods["gnl"] == {**methods["galore"], "parameterization": {"name": "gradnormlorp"}}
    for raw in raws.values():
        raw.pop("name")
    assert raws["adamw"] == raws["galore"] == raws["gnl"]


# --- the checks ----------------------------------------------------------------------------------

GRID = [3e-3, 1e-2, 3e-2, 1e-1, 3e-1]


def _seed(gnl: float, galore: float = 0.80, adamw: float = 0.78, edge: str = "",
          state_mb: float = 0.35, params: float = 135_000) -> dict[str, float]:
    m = {}
    for arm, loss in (("gnl", gnl), ("galore", galore), ("adamw", adamw)):
        best_lr = GRID[-1] if arm == edge else GRID[2]
        m[f"{arm}/best/val/loss"], m[f"{arm}/best/methods.optimizer.lr"] = loss, best_lr
        for n, x in enumerate(GRID):
            m[f"{arm}/trials/{n}/methods.optimizer.lr"] = x
            m[f"{arm}/trials/{n}/val/loss"] = loss if x == best_lr else loss + 0.1
            m[f"{arm}/trials/{n}/cost/trainable_params"] = params
            if arm != "adamw":
                m[f"{arm}/trials/{n}/fira-galore/state_mb"] = state_mb
    return m


def _status(check, seeds):
    return decide([check(m) for m in seeds]).status


def test_loss_checks_decide_from_the_interval_over_seeds():
    good = [_seed(0.790), _seed(0.788), _seed(0.792)]
    assert _status(near_adamw, good) == "PASS" and _status(not_above_galore, good) == "PASS"
    worse = [_seed(0.85), _seed(0.86), _seed(0.84)]
    assert _status(near_adamw, worse) == "FAIL" and _status(not_above_galore, worse) == "FAIL"
    straddle = [_seed(0.79), _seed(0.82), _seed(0.805)]
    assert _status(not_above_galore, straddle) == "INCONCLUSIVE"


def test_loss_check_guards():
    d = decide([not_above_galore(_seed(0.8, edge="gnl"))] * 3)
    assert d.status == "NOT-ESTABLISHED" and "gnl" in d.reason
    d = decide([near_adamw(_seed(0.8, adamw=CHANCE))] * 3)
    assert d.status == "INVALID" and "adamw" in d.reason


def test_state_check():
    adam_mb = 2 * 4 * 135_000 / 2**20                                 # ~1.03 MB
    assert _status(small_state, [_seed(0.8, state_mb=f * adam_mb) for f in (0.30, 0.31, 0.29)]
                   ) == "PASS"
    assert _status(small_state, [_seed(0.8, state_mb=f * adam_mb) for f in (0.50, 0.51, 0.49)]
                   ) == "FAIL"
    missing = {k: v for k, v in _seed(0.8).items() if "state_mb" not in k}
    assert decide([small_state(missing)] * 3).status == "INVALID"


# --- negative controls (smoke budget, 3 seeds) ---------------------------------------------------

ONE_STEP = {"train.steps": 1, "train.eval_every": 1}


@pytest.mark.slow
@pytest.mark.parametrize("claim", ["gradnormlorp:near-adamw", "gradnormlorp:not-above-galore"])
def test_negative_control_gnl_cut_to_one_step_does_not_pass(claim, tmp_path):
    """GradNormLoRP trained for one step stays near the uniform loss while its baseline
    learns (the baseline itself in its place would tie, which the ratio's <= passes)."""
    out = negative_control(claim, overrides={"gnl": ONE_STEP}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_full_rank_state_is_not_small(tmp_path):
    """At rank 64 = width no matrix is projected (fira's GaLore keeps plain Adam when the
    rank reaches a side), so the state is AdamW's: must not PASS <= 40%."""
    out = negative_control("gradnormlorp:small-state",
                           overrides={"gnl": {"methods.optimizer.rank": 64}}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
