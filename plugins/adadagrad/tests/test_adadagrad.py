from __future__ import annotations

import math
from importlib import resources

import pytest
import torch
from assay import load
from assay.claims import decide
from assay.testing import MethodContract, execute, load_yaml, negative_control
from assay_adadagrad.claims import CLAIMS, fewer_steps_same_accuracy
from assay_adadagrad.method import (
    AdaGradNorm,
    AdaGradNormConfig,
    AdaptiveBatch,
    example_variance,
    mean_grad_sq,
    next_batch,
)

# --- AdaGrad-Norm against its rule, by hand ------------------------------------------------------


def test_adagrad_norm_update_by_hand_over_three_steps():
    a = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    b = torch.nn.Parameter(torch.tensor([0.5]))
    opt = AdaGradNorm(AdaGradNormConfig(lr=0.3, b0=0.5)).build(
        [{"params": [a]}, {"params": [b], "lr_mult": 2.0}])
    ra, rb, b2 = a.detach().clone(), b.detach().clone(), 0.25
    for ga, gb in [([1.0, 2.0], [2.0]), ([-0.5, 0.0], [1.0]), ([3.0, -1.0], [0.0])]:
        a.grad, b.grad = torch.tensor(ga), torch.tensor(gb)
        opt.step()
        b2 += sum(v * v for v in ga + gb)                 # one norm over every group
        ra = ra - 0.3 * torch.tensor(ga) / math.sqrt(b2)
        rb = rb - 0.6 * torch.tensor(gb) / math.sqrt(b2)
        torch.testing.assert_close(a.detach(), ra)
        torch.testing.assert_close(b.detach(), rb)


# --- the norm test --------------------------------------------------------------------------------


def test_next_batch_follows_the_norm_test():
    # variance 8, |g|^2 1, eta 0.5: 8 / 16 = 0.5 > 0.25 fails; needs ceil(8 / 0.25) = 32
    assert next_batch(16, 8.0, 1.0, 0.5, 1000) == 32
    assert next_batch(64, 8.0, 1.0, 0.5, 1000) == 64          # 8 / 64 <= 0.25: passes
    assert next_batch(16, 8.0, 1.0, 0.5, 20) == 20            # the cap
    assert next_batch(40, 12.0, 1.0, 0.5, 1000) == 48          # 12/40 fails: ceil(48)
    assert next_batch(30, 8.0, 0.0, 0.5, 500) == 500          # zero gradient: the cap


def _tiny():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    x, y = torch.randn(9, 5), torch.randint(3, (9,))
    return model, x, y


def test_example_variance_matches_a_loop_over_examples():
    model, x, y = _tiny()
    loss_fn = torch.nn.functional.cross_entropy
    rows = []
    for i in range(len(x)):
        grads = torch.autograd.grad(loss_fn(model(x[i:i + 1]), y[i:i + 1]),
                                    list(model.parameters()))
        rows.append(torch.cat([g.flatten() for g in grads]).double())
    g = torch.stack(rows)
    want = float(((g - g.mean(0)) ** 2).sum() / (len(x) - 1))
    assert example_variance(model, loss_fn, x, y, chunk=4) == pytest.approx(want, rel=1e-5)
    loss = loss_fn(model(x), y)
    assert mean_grad_sq(model, loss) == pytest.approx(float(g.mean(0).pow(2).sum()), rel=1e-5)


# --- the trainer --------------------------------------------------------------------------------


def _exp(trainer: dict, steps: int = 40, batch: int = 16) -> dict:
    return {"dataset": {"name": "mnist1d", "n_train": 400, "n_val": 100},
            "model": {"name": "mlp", "width": 16, "depth": 1},
            "methods": {"trainer": {"name": "adadagrad", **trainer},
                        "optimizer": {"name": "adagrad-norm", "lr": 1.0}},
            "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": batch, "eval_every": 2}}


def test_fixed_batch_stops_at_the_sample_budget():
    result = execute(load(_exp({"adaptive": False, "sample_budget": 100})).run)
    assert result.status == "finished", result.error
    m = result.metrics                                        # 6 steps: 96 < 100, 7: 112
    assert (m["adabatch/steps"], m["adabatch/samples"], m["adabatch/final_batch"]) == (7, 112, 16)
    assert [s for s, _ in result.history] == [2, 4, 6, 7]


def test_adaptive_batch_grows_monotonically_by_the_test():
    result = execute(load(_exp({"eta": 0.05, "max_batch": 256})).run)
    assert result.status == "finished", result.error
    sizes = [h["adabatch/batch"] for _, h in result.history]
    assert sizes == sorted(sizes) and sizes[-1] > 16
    assert result.metrics["adabatch/increases"] >= 1
    loose = execute(load(_exp({"eta": 1e6})).run)             # always passes: stays at 16
    assert loose.metrics["adabatch/final_batch"] == 16 and loose.metrics["adabatch/steps"] == 40


class Spy(AdaptiveBatch):
    """Records each batch's size and the test's inputs."""

    def test(self, ctx, x, y, loss, step):
        new = super().test(ctx, x, y, loss, step)
        self.seen.append((len(x), new))
        return new


def test_each_batch_has_the_size_the_previous_test_chose():
    from assay.testing import build_context

    exp = _exp({"eta": 0.1, "max_batch": 128}, steps=12)
    ctx = build_context(load(exp).run)
    ctx.optimizer = ctx.build("method", exp["methods"]["optimizer"]).build(ctx.param_groups)
    spy = Spy(AdaptiveBatch.Config(eta=0.1, max_batch=128))
    spy.seen = []
    spy.train(ctx)
    assert spy.seen[0][0] == 16
    for (_, chosen), (size, _) in zip(spy.seen, spy.seen[1:]):
        assert size == chosen


class TestAdaGradNormContract(MethodContract):
    @pytest.fixture
    def component(self):
        return AdaGradNorm


class TestAdaptiveBatchContract(MethodContract):
    @pytest.fixture
    def component(self):
        return AdaptiveBatch


@pytest.mark.parametrize("arm", ["configs/adaptive_mnist1d.yaml", "configs/fixed_mnist1d.yaml"])
def test_every_arm_file_loads(arm):
    run = load(load_yaml(resources.files("assay_adadagrad").joinpath(arm))).run
    assert run.methods["trainer"]["sample_budget"] == 80000 and run.train.batch_size == 32


# --- the check on made-up numbers -------------------------------------------------------------

GRID = [1.0, 3.0, 10.0, 30.0, 100.0]


def _arm(arm: str, best_lr: float, acc: float, steps: float) -> dict[str, float]:
    m = {}
    for n, lr in enumerate(GRID):
        here = lr == best_lr
        m.update({f"{arm}/trials/{n}/methods.optimizer.lr": lr,
                  f"{arm}/trials/{n}/val/loss": 1.0 if here else 1.5,
                  f"{arm}/trials/{n}/val/acc": acc if here else acc - 0.1,
                  f"{arm}/trials/{n}/adabatch/steps": steps,
                  f"{arm}/trials/{n}/adabatch/final_batch": 32.0 if arm == "fixed" else 500.0})
    return m


def _seed(acc: float, steps: float = 300.0, ada_lr: float = 10.0, fixed_lr: float = 3.0,
          fixed_acc: float = 0.65) -> dict[str, float]:
    return {**_arm("adaptive", ada_lr, acc, steps), **_arm("fixed", fixed_lr, fixed_acc, 2500.0)}


def test_check_decides_from_the_interval_over_seeds():
    good = [_seed(0.652), _seed(0.648), _seed(0.655)]
    assert decide([fewer_steps_same_accuracy(m) for m in good]).status == "PASS"
    worse = [_seed(0.60), _seed(0.61), _seed(0.59)]
    assert decide([fewer_steps_same_accuracy(m) for m in worse]).status == "FAIL"
    no_fewer = [_seed(0.65, steps=2500.0)] * 3
    assert decide([fewer_steps_same_accuracy(m) for m in no_fewer]).status == "FAIL"
    mixed = [_seed(0.66), _seed(0.62), _seed(0.64)]
    assert decide([fewer_steps_same_accuracy(m) for m in mixed]).status == "INCONCLUSIVE"


def test_check_guards():
    edge = [_seed(0.65, ada_lr=100.0)] * 3
    d = decide([fewer_steps_same_accuracy(m) for m in edge])
    assert d.status == "NOT-ESTABLISHED" and "adaptive" in d.reason
    chance = [_seed(0.65, fixed_acc=0.11)] * 3
    assert decide([fewer_steps_same_accuracy(m) for m in chance]).status == "INVALID"
    missing = [{k: v for k, v in _seed(0.65).items() if not k.startswith("adaptive/")}] * 3
    assert decide([fewer_steps_same_accuracy(m) for m in missing]).status == "INVALID"


def test_claim_declares_its_design():
    (claim,) = CLAIMS
    assert claim.seeds == 5 and set(claim.arms) == {"adaptive", "fixed"}


@pytest.mark.slow
def test_negative_control_adaptive_replaced_by_fixed_does_not_pass(tmp_path):
    """The adaptive arm running the fixed-batch file: the step ratio is 1, so the check must
    not PASS (smoke budget, 3 seeds)."""
    out = negative_control("adadagrad:fewer-steps-same-accuracy", arms={"adaptive": "fixed"},
                           seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)
