from __future__ import annotations

import pytest
import torch
from assay import Method, load
from assay.claims import decide
from assay.testing import build_context, execute, negative_control
from assay_zo_bench.claims import LR, MAX_GAP, near_first_order, sign_trails_sgd
from assay_zo_bench.method import (
    ZOSGD,
    ZOAdam,
    ZOAdamConfig,
    ZOSGDConfig,
    ZOSign,
    ZOSignConfig,
    _direction,
)
from torch import nn


class Quadratic(nn.Module):
    """f(w) = 1/2 w^T A w + b^T w, so grad f = A w + b (the input x is ignored)."""

    def __init__(self, dim: int = 10, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        q = torch.randn(dim, dim, generator=gen)
        self.register_buffer("a", q @ q.T / dim + torch.eye(dim))
        self.register_buffer("b", torch.randn(dim, generator=gen))
        self.w = nn.Parameter(torch.randn(dim, generator=gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.w @ self.a @ self.w + self.b @ self.w

    def grad(self) -> torch.Tensor:
        return (self.a @ self.w + self.b).detach()


class FakeContext:
    """The two things a probe needs from a RunContext: the model and the loss."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return model(x)


X = Y = torch.zeros(1)


def one_step_coef(trainer, ctx, seed, gen):
    plus, minus = trainer.probe(ctx, X, Y, seed, gen)
    return (plus - minus) / (2 * trainer.config.eps)


@pytest.mark.parametrize("inplace", [False, True])
def test_spsa_estimate_points_along_the_true_gradient_on_average(inplace):
    model = Quadratic()
    ctx, gen = FakeContext(model), torch.Generator()
    trainer = ZOSGD(ZOSGDConfig(eps=1e-2, inplace=inplace))
    params = trainer.params(model)
    total, cosines = torch.zeros(10), []
    for seed in range(1000):
        (g,) = trainer.estimate(params, [seed], [one_step_coef(trainer, ctx, seed, gen)], gen)
        total += g
        cosines.append(float(torch.cosine_similarity(g, model.grad(), dim=0)))
    mean_cos = float(torch.cosine_similarity(total / 1000, model.grad(), dim=0))
    assert mean_cos > 0.95, mean_cos                 # E[z z^T g] = g
    # each single draw is noisy but positively aligned on average (about sqrt(2/(pi d)))
    assert 0.1 < sum(cosines) / len(cosines) < 0.5


def test_probes_leave_the_weights_bit_for_bit_unchanged():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ctx = FakeContext(model)
    ctx.loss = lambda m, x, y: nn.functional.cross_entropy(m(x), y)
    x, y = torch.randn(16, 5), torch.randint(3, (16,))
    trainer, gen = ZOSGD(ZOSGDConfig(eps=1e-3)), torch.Generator()
    for seed in range(20):
        plus, minus = trainer.probe(ctx, x, y, seed, gen)
        assert plus != minus                          # the probes did see perturbed weights
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k           # exactly, not approximately


def test_mezo_inplace_probes_restore_weights_up_to_rounding():
    torch.manual_seed(0)
    model = nn.Linear(6, 4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ctx = FakeContext(model)
    ctx.loss = lambda m, x, y: m(x).pow(2).mean()
    trainer, gen = ZOSGD(ZOSGDConfig(eps=1e-3, inplace=True)), torch.Generator()
    for seed in range(20):
        plus, minus = trainer.probe(ctx, torch.randn(8, 6), None, seed, gen)
        assert plus != minus
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=1e-6)


def test_directions_are_regenerated_not_stored():
    p, gen = torch.zeros(3, 4), torch.Generator()
    z1, z2 = _direction(p, 11, 0, gen), _direction(p, 11, 0, gen)
    assert torch.equal(z1, z2)
    assert not torch.equal(z1, _direction(p, 11, 1, gen))      # another parameter
    assert not torch.equal(z1, _direction(p, 12, 0, gen))      # another query
    assert ZOSGD().state_numel() == 0


def test_update_rules_match_hand_written_references():
    gen = torch.Generator()
    w0 = torch.tensor([0.5, -1.0, 2.0, 0.0])
    seeds, coefs = [3, 4], [2.0, -0.5]
    z = [_direction(w0, s, 0, gen) for s in seeds]
    g_hat = (coefs[0] * z[0] + coefs[1] * z[1]) / 2
    for cls, cfg, want in (
        (ZOSGD, ZOSGDConfig(), w0 - 0.1 * g_hat),
        (ZOSign, ZOSignConfig(), w0 - 0.1 * g_hat.sign()),
        # Adam's first step: m_hat = g, v_hat = g^2, so the step is lr * sign(g)
        (ZOAdam, ZOAdamConfig(adam_eps=1e-12), w0 - 0.1 * g_hat.sign()),
    ):
        p = nn.Parameter(w0.clone())
        trainer = cls(cfg)
        trainer.update([("w", p)], seeds, coefs, 0.1, gen)
        torch.testing.assert_close(p.detach(), want, msg=cls.name)
    adam = ZOAdam(ZOAdamConfig(beta1=0.5, beta2=0.5, adam_eps=1e-12))
    p = nn.Parameter(w0.clone())
    adam.update([("w", p)], seeds, coefs, 0.1, gen)
    adam.update([("w", p)], [5], [1.0], 0.1, gen)
    g2 = _direction(w0, 5, 0, gen)
    m = (0.5 * 0.5 * g_hat + 0.5 * g2) / 0.75
    v = (0.5 * 0.5 * g_hat**2 + 0.5 * g2**2) / 0.75
    torch.testing.assert_close(p.detach(), w0 - 0.1 * g_hat.sign() - 0.1 * m / v.sqrt())
    assert adam.state_numel() == 2 * w0.numel()


@pytest.mark.parametrize("name", ["zo-bench", "zo-bench-sign", "zo-bench-adam"])
def test_zo_trains_a_digits_mlp_forward_only(name):
    lr = {"zo-bench": 1e-2, "zo-bench-sign": 1e-2, "zo-bench-adam": 1e-2}[name]
    run = {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 16, "depth": 1},
           "methods": {"trainer": {"name": name, "lr": lr}},
           "backend": {"name": "cpu", "threads": 1},
           "train": {"steps": 250, "batch_size": 64, "eval_every": 100}}
    result = execute(load(run).run)
    assert result.status == "finished", result.error
    assert [s for s, _ in result.history] == [100, 200, 250]
    first, last = result.history[0][1]["val/loss"], result.metrics["val/loss"]
    assert last < first - 0.05, result.history
    assert result.metrics["zo/forward_passes"] == 500
    expected_state = 0 if name != "zo-bench-adam" else 2 * 4 * result.metrics["cost/params"]
    assert result.metrics["zo/state_mb"] * 2**20 == pytest.approx(expected_state)


GRIDS = {"fo": [1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0],
         "zo": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
         "sign": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2]}
BEST_LR = {"fo": 1.0, "zo": 3e-3, "sign": 3e-3}


def _seed(fo: float = 0.97, zo: float = 0.93, sign: float = 0.90,
          best_lr: dict[str, float] | None = None) -> dict[str, float]:
    """One seed's numbers: every arm's grid, the best trial at its usual rate (or the one
    given), every other trial five points lower."""
    m = {}
    for arm, acc in (("fo", fo), ("zo", zo), ("sign", sign)):
        at = (best_lr or {}).get(arm, BEST_LR[arm])
        m[f"{arm}/best/val/acc"], m[f"{arm}/best/{LR[arm]}"] = acc, at
        for n, lr in enumerate(GRIDS[arm]):
            m[f"{arm}/trials/{n}/{LR[arm]}"] = lr
            m[f"{arm}/trials/{n}/val/acc"] = acc if lr == at else acc - 0.05
    return m


def _decide(check, seeds):
    return decide([check(m) for m in seeds])


def test_checks_decide_from_the_interval_over_seeds():
    good = [_seed(zo=0.94), _seed(zo=0.945), _seed(zo=0.935)]
    assert _decide(near_first_order, good).status == "PASS"
    assert _decide(sign_trails_sgd, good).status == "PASS"
    far = [_seed(zo=0.85), _seed(zo=0.86), _seed(zo=0.84)]
    d = _decide(near_first_order, far)
    assert d.status == "FAIL" and d.effects[0].mean > MAX_GAP
    ahead = [_seed(sign=0.95), _seed(sign=0.96), _seed(sign=0.955)]
    assert _decide(sign_trails_sgd, ahead).status == "FAIL"
    # the recorded per-seed gaps fo - zo (0.047, 0.064, 0.067) straddle 0.05
    recorded = [_seed(fo=0.968, zo=0.968 - g) for g in (0.047, 0.064, 0.067)]
    assert _decide(near_first_order, recorded).status == "INCONCLUSIVE"
    # and so do the recorded differences sign - sgd (-0.006, -0.020, +0.003)
    recorded = [_seed(zo=0.908, sign=0.908 + d) for d in (-0.006, -0.020, 0.003)]
    assert _decide(sign_trails_sgd, recorded).status == "INCONCLUSIVE"


def test_a_reference_at_chance_is_invalid():
    d = _decide(near_first_order, [_seed(), _seed(fo=0.1), _seed()])
    assert d.status == "INVALID" and "seed 1" in d.reason and "fo" in d.reason
    d = _decide(sign_trails_sgd, [_seed(), _seed(), _seed(zo=0.09, sign=0.08)])
    assert d.status == "INVALID" and "zo" in d.reason


def test_best_lr_at_the_grid_edge_is_not_established():
    # the recorded seed 2 had ZO-SGD's best at 1e-2, then the grid's top: now an inner point
    assert _decide(near_first_order, [_seed(zo=0.94, best_lr={"zo": 1e-2})] * 3).status == "PASS"
    d = _decide(near_first_order, [_seed(zo=0.94), _seed(zo=0.94, best_lr={"zo": 1e-1})])
    assert d.status == "NOT-ESTABLISHED" and "zo" in d.reason
    d = _decide(sign_trails_sgd, [_seed(best_lr={"sign": 1e-5})] * 3)
    assert d.status == "NOT-ESTABLISHED" and "sign" in d.reason
    # ZO-SGD at chance at every rate has no optimum to be censored: a plain FAIL
    stuck = [_seed(zo=z, best_lr={"zo": 1e-1}) for z in (0.10, 0.09, 0.11)]
    assert _decide(near_first_order, stuck).status == "FAIL"


class Recorder(Method):
    """Records the steps at which its hooks run (a stand-in for a pruning or data method)."""

    name = "recorder"

    def __init__(self) -> None:
        super().__init__()
        self.before: list[int] = []
        self.after: list[int] = []

    def before_step(self, ctx, step: int) -> None:
        self.before.append(step)

    def after_step(self, ctx, step: int) -> None:
        self.after.append(step)


def test_every_other_methods_hooks_run_at_every_zo_step():
    run = {"dataset": {"name": "digits"}, "model": {"name": "mlp", "width": 8, "depth": 1},
           "methods": {"trainer": {"name": "zo-bench", "lr": 1e-2}},
           "backend": {"name": "cpu", "threads": 1},
           "train": {"steps": 7, "batch_size": 16, "eval_every": 5}}
    ctx = build_context(load(run).run)
    recorder = ctx.methods["recorder"] = Recorder()
    ctx.methods["trainer"].train(ctx)
    assert recorder.before == recorder.after == list(range(1, 8))
    assert ctx.steps_taken == 7


@pytest.mark.slow
def test_negative_control_zo_sgd_cut_to_one_step_is_not_near_first_order(tmp_path):
    """zo-bench:near-first-order with ZO-SGD trained for one step: it stays at chance while
    first-order SGD (its whole grid) learns, so the check must not PASS (smoke budget, 3
    seeds). Replacing ZO-SGD by first-order SGD would pass a "within 5 points" claim."""
    out = negative_control("zo-bench:near-first-order", overrides={
        "zo": {"train.steps": 1, "train.eval_every": 1}, "fo": {"sweep.trials": 6}},
        seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


@pytest.mark.slow
def test_negative_control_sign_arm_without_sign_and_more_steps_does_not_pass(tmp_path):
    """zo-bench:sign-trails-sgd with the sign arm running plain ZO-SGD for 1500 steps against
    ZO-SGD's 500, both at lr 1e-2 (the smoke budget's 20 steps, or the grid points it samples,
    leave ZO-SGD at chance: INVALID): the "sign" arm is ahead, so the check must not PASS
    (3 seeds). Plain ZO-SGD against itself would tie, which the non-strict threshold passes."""
    one_rate = {"sweep.trials": 1, "sweep.space": {"methods.trainer.lr": {"choice": [1e-2]}}}
    out = negative_control("zo-bench:sign-trails-sgd", arms={"sign": "zo"}, overrides={
        "zo": {"train.steps": 500, "train.eval_every": 500, **one_rate},
        "sign": {"train.steps": 1500, "train.eval_every": 500, **one_rate}},
        seeds=3, tracking_uri=str(tmp_path / "runs"))
    assert out.status not in ("PASS", "ERROR"), (out.status, out.error)


def test_both_probes_see_the_same_dropout_mask():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 64), nn.Dropout(0.5), nn.Linear(64, 1)).train()
    ctx = FakeContext(model)
    ctx.loss = lambda m, x, y: m(x).mean()
    trainer, gen = ZOSGD(ZOSGDConfig(eps=1e-6)), torch.Generator()
    x = torch.randn(8, 4)
    for seed in range(5):
        plus, minus = trainer.probe(ctx, x, None, seed, gen)
        assert abs(plus - minus) < 1e-3        # tiny eps: only the weights differ, not masks
