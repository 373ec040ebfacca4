from __future__ import annotations

from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, execute, load_yaml, negative_control
from assay_sso.claims import CLAIMS, fewer_oracle_calls
from assay_sso.method import SSO, SSOConfig, surrogate


def _exp(trainer: dict, optimizer: dict | None = None, steps: int = 6, **train) -> dict:
    return {"dataset": {"name": "digits"}, "model": {"name": "linear"},
            "methods": {"trainer": {"name": "sso", **trainer},
                        "optimizer": optimizer or {"name": "sgd", "lr": 0.5, "momentum": 0.0}},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 16, "eval_every": 3, **train}}


def _ctx(exp: dict):
    """A run's context with the optimizer the run would build."""
    ctx = build_context(load(exp).run)
    ctx.optimizer = ctx.build("method", exp["methods"]["optimizer"]).build(ctx.param_groups)
    return ctx


# --- the update against the paper's rule, by hand ------------------------------------------------


def test_oracle_gives_per_example_logit_gradients():
    # cross-entropy in logit space: d loss_i / d z_i = softmax(z_i) - onehot(y_i)
    ctx = _ctx(_exp({"inner_steps": 1}))
    x, y = ctx.batch(8)
    z, g, loss = SSO.oracle(ctx, x, y)
    want = torch.softmax(z, -1) - torch.nn.functional.one_hot(y, 10)
    torch.testing.assert_close(g, want)
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(z, y)))


def test_fixed_inner_steps_follow_the_surrogate_gradient_by_hand():
    """Two fixed-rate steps on h(W, c) = mean_i [<g_i, W x_i + c - z_i> + |W x_i + c - z_i|^2
    / (2 eta)]: the gradient is G^T x / b and mean(G), with G = g + (f - z) / eta."""
    eta, rate = 0.7, 0.3
    exp = _exp({"inner_steps": 2, "inner": "fixed", "eta": eta},
               {"name": "sgd", "lr": rate, "momentum": 0.0})
    ctx = _ctx(exp)
    x, y = ctx.batch(8)
    W, c = (t.detach().clone() for t in (ctx.model.readout.weight, ctx.model.readout.bias))
    z, g, _ = SSO.oracle(ctx, x, y)
    trainer = SSO(SSOConfig(**{k: v for k, v in exp["methods"]["trainer"].items()
                               if k != "name"}))
    for _ in range(2):
        trainer.inner_step(ctx, x, z, g)
        xf = x.flatten(1)
        G = g + (xf @ W.T + c - z) / eta
        W, c = W - rate * G.T @ xf / len(x), c - rate * G.mean(0)
        torch.testing.assert_close(ctx.model.readout.weight.detach(), W)
        torch.testing.assert_close(ctx.model.readout.bias.detach(), c)


def test_one_fixed_inner_step_per_call_is_plain_sgd():
    exp = _exp({"inner_steps": 1, "inner": "fixed", "eta": 123.0}, steps=5)
    ctx = _ctx(exp)
    SSO(SSOConfig(inner_steps=1, inner="fixed", eta=123.0)).train(ctx)
    ref = _ctx(exp)                                # same seed: same init, same batches
    for _ in range(5):
        x, y = ref.batch()
        loss = torch.nn.functional.cross_entropy(ref.model(x), y)
        grads = torch.autograd.grad(loss, list(ref.model.parameters()))
        with torch.no_grad():
            for p, gr in zip(ref.model.parameters(), grads):
                p -= 0.5 * gr
    for a, b in zip(ctx.model.parameters(), ref.model.parameters()):
        torch.testing.assert_close(a.detach(), b.detach())


def test_armijo_takes_the_largest_step_with_sufficient_decrease():
    ctx = _ctx(_exp({"inner_steps": 1}))
    x, y = ctx.batch(16)
    z, g, _ = SSO.oracle(ctx, x, y)
    trainer = SSO(SSOConfig(max_inner_lr=10.0, armijo_c=0.1, backtrack=0.5))
    h_of = lambda: surrogate(ctx.model(x), z, g, 1.0)
    h = h_of()
    params = list(ctx.model.parameters())
    grads = torch.autograd.grad(h, params)
    h = float(h.detach())
    norm2 = float(sum((gr * gr).sum() for gr in grads))
    before = [p.detach().clone() for p in params]
    rate = trainer.armijo_rate(ctx, h_of(), h_of)
    assert [torch.equal(p, b) for p, b in zip(params, before)] == [True, True]   # restored

    def h_at(step: float) -> float:
        with torch.no_grad():
            for p, b, gr in zip(params, before, grads):
                p.copy_(b - step * gr)
            out = float(h_of())
            for p, b in zip(params, before):
                p.copy_(b)
        return out

    assert h_at(rate) <= h - 0.1 * rate * norm2
    assert rate < 10.0 and h_at(2 * rate) > h - 0.1 * 2 * rate * norm2


def test_a_run_records_calls_to_the_target_loss():
    done = execute(load(_exp({"inner_steps": 2, "target_loss": 50.0})).run)
    assert done.status == "finished", done.error
    assert done.metrics["oracle/calls_to_target"] == 1.0 and done.metrics["oracle/reached"] == 1
    never = execute(load(_exp({"inner_steps": 2, "target_loss": 1e-6})).run)
    assert never.metrics["oracle/calls_to_target"] == 7.0 and never.metrics["oracle/reached"] == 0
    assert [s for s, _ in never.history] == [3, 6]


def test_armijo_needs_plain_sgd():
    result = execute(load(_exp({}, {"name": "adamw", "lr": 1e-2})).run)
    assert result.status == "failed" and "momentum 0" in result.error


class TestSSOContract(MethodContract):
    @pytest.fixture
    def component(self):
        return SSO


@pytest.mark.parametrize("arm", ["configs/sso_digits.yaml", "configs/sgd_digits.yaml"])
def test_every_arm_file_loads(arm):
    loaded = load(load_yaml(resources.files("assay_sso").joinpath(arm)))
    assert loaded.run.train.steps == 500 and loaded.run.model["name"] == "linear"


# --- the check on made-up numbers -------------------------------------------------------------

SSO_GRID, SGD_GRID = [3.0, 10.0, 30.0, 100.0, 300.0], [1.0, 3.0, 10.0, 30.0, 100.0]


def _arm(arm: str, param: str, grid: list[float], best: float, calls: float, acc: float,
         reached: float = 1.0) -> dict[str, float]:
    m = {}
    for n, v in enumerate(grid):
        here = v == best
        m.update({f"{arm}/trials/{n}/{param}": v,
                  f"{arm}/trials/{n}/oracle/calls_to_target": calls if here else calls + 40,
                  f"{arm}/trials/{n}/oracle/reached": reached if here else 1.0,
                  f"{arm}/trials/{n}/train/full_loss": 0.05,
                  f"{arm}/trials/{n}/val/acc": acc})
    return m


def _seed(sso_calls: float, sgd_calls: float = 50.0, sso_acc: float = 0.97,
          sso_best: float = 30.0, sgd_best: float = 10.0, sgd_acc: float = 0.975,
          sgd_reached: float = 1.0) -> dict[str, float]:
    return {**_arm("sso", "methods.trainer.eta", SSO_GRID, sso_best, sso_calls, sso_acc),
            **_arm("sgd", "methods.optimizer.lr", SGD_GRID, sgd_best, sgd_calls, sgd_acc,
                   sgd_reached)}


def test_check_decides_from_the_interval_over_seeds():
    fewer = [_seed(10), _seed(12), _seed(9)]
    assert decide([fewer_oracle_calls(m) for m in fewer]).status == "PASS"
    same = [_seed(50), _seed(52), _seed(48)]
    assert decide([fewer_oracle_calls(m) for m in same]).status == "FAIL"
    less_accurate = [_seed(10, sso_acc=0.95)] * 3
    assert decide([fewer_oracle_calls(m) for m in less_accurate]).status == "FAIL"
    mixed = [_seed(10), _seed(60), _seed(20)]
    assert decide([fewer_oracle_calls(m) for m in mixed]).status == "INCONCLUSIVE"


def test_check_guards():
    edge = [_seed(10, sso_best=300.0)] * 3
    d = decide([fewer_oracle_calls(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "sso" in d.reason
    censored = [_seed(10, sgd_calls=501.0, sgd_reached=0.0)] * 3
    assert decide([fewer_oracle_calls(m) for m in censored]).status == "NOT-ESTABLISHED"
    chance = [_seed(10, sgd_acc=0.1)] * 3
    assert decide([fewer_oracle_calls(m) for m in chance]).status == "INVALID"
    no_sso = [{k: v for k, v in _seed(10).items() if not k.startswith("sso/")}] * 3
    assert decide([fewer_oracle_calls(m) for m in no_sso]).status == "INVALID"


def test_claim_declares_its_design():
    (claim,) = CLAIMS
    assert claim.seeds == 5 and set(claim.arms) == {"sso", "sgd"}


@pytest.mark.slow
def test_negative_control_sso_replaced_by_sgd_does_not_pass(tmp_path):
    """The SSO arm running the SGD file: the call ratio is 1, so the check must not PASS
    (smoke budget, 3 seeds)."""
    out = negative_control("sso:fewer-oracle-calls", arms={"sso": "sgd"}, seeds=3,
                           tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
