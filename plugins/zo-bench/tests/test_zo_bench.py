from __future__ import annotations

import pytest
import torch
from torch import nn

from assay import load
from assay.testing import execute
from assay_zo_bench.claims import near_first_order, sign_trails_sgd
from assay_zo_bench.method import (
    ZOSGD, ZOAdam, ZOAdamConfig, ZOSGDConfig, ZOSign, ZOSignConfig, _direction,
)


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


def test_checks_pass_and_fail_on_made_up_numbers():
    good = {"fo/best/val/acc": 0.95, "zo/best/val/acc": 0.92, "sign/best/val/acc": 0.85}
    assert near_first_order(good).passed and sign_trails_sgd(good).passed
    assert not near_first_order(dict(good, **{"zo/best/val/acc": 0.85})).passed
    assert not sign_trails_sgd(dict(good, **{"sign/best/val/acc": 0.93})).passed


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
