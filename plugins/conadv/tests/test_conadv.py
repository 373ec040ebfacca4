from __future__ import annotations

from importlib import resources

import pytest
import torch
import torch.nn.functional as F
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, build_context, load_yaml, negative_control
from assay_conadv.claims import CHANCE, matches_sync, not_below_vanilla
from assay_conadv.method import ConAdv, Lamb, LambConfig, fgsm

# --- the update against the paper's rule, by hand ------------------------------------------------


def test_fgsm_is_eps_times_the_sign_of_the_input_gradient_by_hand():
    # linear softmax regression: d CE / d x_i = W^T (softmax(W x_i + b) - onehot(y_i)) / n
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    x, y = torch.randn(4, 5), torch.tensor([0, 2, 1, 2])
    want = 0.3 * ((F.softmax(model(x), -1) - F.one_hot(y, 3)) @ model.weight).sign()
    got = fgsm(model, dict(model.named_parameters()), F.cross_entropy, x, y, 0.3)
    torch.testing.assert_close(got, want.detach())
    assert model.weight.grad is None                  # the model's own grads are untouched


def _exp(mode: str, steps: int = 4, **trainer) -> dict:
    return {"dataset": {"name": "mnist1d", "n_train": 64, "n_val": 32},
            "model": {"name": "linear"},
            "methods": {"trainer": {"name": "conadv", "mode": mode, "epsilon": 0.2, **trainer},
                        "optimizer": {"name": "sgd", "lr": 0.5, "momentum": 0.0}},
            "backend": {"name": "cpu", "threads": 1},
            "train": {"steps": steps, "batch_size": 16, "eval_every": steps}}


def _train(exp: dict):
    """Train through the trainer, recording every batch it draws."""
    ctx = build_context(load(exp).run)
    ctx.optimizer = ctx.build("method", exp["methods"]["optimizer"]).build(ctx.param_groups)
    w0 = {k: v.detach().clone() for k, v in ctx.model.named_parameters()}
    batches, draw = [], ctx.batch

    def recording(n=None):
        batches.append(draw(n))
        return batches[-1]

    ctx.batch = recording
    trainer = ConAdv(ConAdv.Config(**{k: v for k, v in exp["methods"]["trainer"].items()
                                      if k != "name"}))
    trainer.train(ctx)
    return ctx, w0, batches


def _by_hand(w0: dict, batches: list, *, mode: str, tau: int = 1, eps: float = 0.2,
             w: float = 0.5, lr: float = 0.5) -> dict:
    """theta_{s} = theta_{s-1} - lr * grad [(1-w) CE(x) + w CE(x + delta)] at theta_{s-1};
    delta = eps sign(grad_x CE) at theta_{s-1} (sync) or theta_{max(0, s-1-tau)} (stale)."""
    history = [{k: v.clone() for k, v in w0.items()}]
    for s, (x, y) in enumerate(batches, start=1):
        x = x.flatten(1)
        cur = history[-1]
        src = cur if mode == "sync" else history[max(0, s - 1 - tau)]
        xv = x.clone().requires_grad_(True)
        out = xv @ src["readout.weight"].T + src["readout.bias"]
        (gx,) = torch.autograd.grad(F.cross_entropy(out, y), xv)
        delta = eps * gx.sign()
        p = {k: v.clone().requires_grad_(True) for k, v in cur.items()}
        clean, adv = (F.cross_entropy(inp @ p["readout.weight"].T + p["readout.bias"], y)
                      for inp in (x, x + delta))
        loss = (1 - w) * clean + w * adv
        grads = torch.autograd.grad(loss, list(p.values()))
        history.append({k: (v - lr * g).detach() for (k, v), g in zip(p.items(), grads)})
    return history[-1]


@pytest.mark.parametrize("mode,tau", [("stale", 1), ("stale", 2), ("sync", 1)])
def test_steps_match_the_rule_written_out_by_hand(mode, tau):
    ctx, w0, batches = _train(_exp(mode, staleness=tau))
    want = _by_hand(w0, batches, mode=mode, tau=tau)
    for k, v in ctx.model.named_parameters():
        torch.testing.assert_close(v.detach(), want[k], rtol=1e-5, atol=1e-6)
    # and the stale rule is not the synchronous one: the perturbation's age matters
    if mode == "stale":
        sync = _by_hand(w0, batches, mode="sync")
        assert (sync["readout.weight"] - want["readout.weight"]).abs().max() > 1e-4


def test_vanilla_mode_is_plain_training():
    ctx, w0, batches = _train(_exp("vanilla", steps=3))
    p = {k: v.clone() for k, v in w0.items()}
    for x, y in batches:
        q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        loss = F.cross_entropy(x.flatten(1) @ q["readout.weight"].T + q["readout.bias"], y)
        grads = torch.autograd.grad(loss, list(q.values()))
        p = {k: (v - 0.5 * g).detach() for (k, v), g in zip(q.items(), grads)}
    torch.testing.assert_close(ctx.model.readout.weight.detach(), p["readout.weight"])


def test_lamb_matches_its_update_rule_by_hand():
    """pytorch_optimizer's LAMB: m, v without bias correction (a per-step scalar that the
    trust ratio cancels), u = m / (sqrt(v) + eps),
    w <- w - lr * min(||w||, 10) / (||u|| + eps) u."""
    lr, b1, b2, eps = 0.05, 0.9, 0.999, 1e-6
    w = torch.nn.Parameter(torch.tensor([[0.5, -1.0], [2.0, 0.3]]))
    opt = Lamb(LambConfig(lr=lr, beta1=b1, beta2=b2, eps=eps)).build([{"params": [w]}])
    ref, m, v = w.detach().clone(), torch.zeros(2, 2), torch.zeros(2, 2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        g = torch.randn(2, 2, generator=gen)
        w.grad = g.clone()
        opt.step()
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        u = m / (v.sqrt() + eps)
        ref = ref - lr * ref.norm().clamp(max=10) / (u.norm() + eps) * u
        torch.testing.assert_close(w.detach(), ref)
    # the trust ratio makes the step lr * ||w|| whatever the gradient's scale
    w.grad = 1e3 * torch.randn(2, 2, generator=gen)
    before = w.detach().clone()
    opt.step()
    assert float((w.detach() - before).norm()) == pytest.approx(lr * float(before.norm()), rel=1e-3)


class TestConAdvContract(MethodContract):
    @pytest.fixture(params=[ConAdv, Lamb])
    def component(self, request):
        return request.param


def test_arm_files_differ_only_in_the_perturbation_mode():
    runs = {arm: load_yaml(resources.files("assay_conadv").joinpath(f"configs/{arm}_mnist1d.yaml"))
            for arm in ("conadv", "sync", "vanilla")}
    modes = {arm: raw["methods"]["trainer"].pop("mode") for arm, raw in runs.items()}
    assert modes == {"conadv": "stale", "sync": "sync", "vanilla": "vanilla"}
    for raw in runs.values():
        raw.pop("name")
        load(raw)
    assert runs["conadv"] == runs["sync"] == runs["vanilla"]
    assert runs["conadv"]["train"]["batch_size"] == 2048


# --- the checks ----------------------------------------------------------------------------------


def _seed(conadv: float, sync: float = 0.65, vanilla: float = 0.62) -> dict[str, float]:
    return {"conadv/val/acc": conadv, "sync/val/acc": sync, "vanilla/val/acc": vanilla}


def _status(check, seeds):
    return decide([check(m) for m in seeds]).status


def test_checks_decide_from_the_interval_over_seeds():
    close = [_seed(a) for a in (0.650, 0.648, 0.652, 0.649, 0.651)]
    assert _status(matches_sync, close) == "PASS"
    assert _status(not_below_vanilla, close) == "PASS"
    behind = [_seed(a) for a in (0.630, 0.632, 0.628, 0.631, 0.629)]
    assert _status(matches_sync, behind) == "FAIL"
    below_vanilla = [_seed(a) for a in (0.600, 0.605, 0.598, 0.602, 0.601)]
    assert _status(not_below_vanilla, below_vanilla) == "FAIL"
    noisy = [_seed(a) for a in (0.66, 0.63, 0.655, 0.635, 0.645)]
    assert _status(matches_sync, noisy) == "INCONCLUSIVE"


def test_a_baseline_at_chance_is_invalid():
    seeds = [_seed(0.65), _seed(0.65, sync=CHANCE), _seed(0.65)]
    d = decide([matches_sync(m) for m in seeds])
    assert d.status == "INVALID" and "sync" in d.reason and "seed 1" in d.reason
    nan = [_seed(0.65, vanilla=float("nan"))] * 3
    assert decide([not_below_vanilla(m) for m in nan]).status == "INVALID"


# --- negative controls (smoke budget: 40 steps, 3 seeds) ----------------------------------------


@pytest.mark.slow
def test_negative_control_conadv_cut_to_three_steps_does_not_match_sync(tmp_path):
    """ConAdv trained for 3 steps instead of 40: far below synchronous training, so the
    parity check must not PASS (replacing it by sync itself would tie, which >= passes)."""
    out = negative_control("conadv:matches-sync",
                           overrides={"conadv": {"train.steps": 3, "train.eval_every": 3}},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_huge_perturbations_fall_below_vanilla(tmp_path):
    """ConAdv trained only on perturbations of 3 input standard deviations: its clean
    accuracy must not PASS as 'not below vanilla'."""
    out = negative_control("conadv:not-below-vanilla",
                           overrides={"conadv": {"methods.trainer.epsilon": 3.0,
                                                 "methods.trainer.adv_weight": 1.0}},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
