from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from assay import load
from assay.lib.adapters import LoRA, LoRAConfig, adapters
from assay import Data
from assay._run.loop import build_context, execute
from assay._plugins.registry import registry
from assay_lora_ga.claims import faster_than_lora, near_full_finetuning, twice_as_fast
from assay_lora_ga.method import (
    LoraGA, LoraGAConfig, estimate_gradients, gradient_factors, sample_batches,
)


class Net(nn.Module):
    def __init__(self, n_in: int = 10, width: int = 24, n_out: int = 4) -> None:
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(n_in, width), nn.Linear(width, width)])
        self.readout = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = torch.tanh(layer(x))
        return self.readout(x)


def _setup(seed: int = 0) -> tuple[Net, Data]:
    torch.manual_seed(seed)
    x = torch.randn(256, 10)
    y = (x[:, :4] + 0.3 * x[:, 4:8]).argmax(1)
    data = Data((x, y), (x[:64], y[:64]), task="classification", n_outputs=4,
                input_shape=(10,))
    return Net(), data


def _full_gradient(net: nn.Module, data: Data, name: str) -> torch.Tensor:
    net.zero_grad()
    F.cross_entropy(net(data.train[0]), data.train[1]).backward()
    return net.get_submodule(name).weight.grad.detach().clone()


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum() / (a.norm() * b.norm()))


# --- the initialisation -------------------------------------------------------------------------

def test_factors_put_the_first_step_on_the_rank_2r_gradient():
    # B B^T G + G A^T A must equal c^2 * G_2r (the best rank-2r approximation of G)
    torch.manual_seed(0)
    G = torch.randn(9, 7, dtype=torch.float64)
    r, gamma = 3, 4.0
    A, B = gradient_factors(G, r, gamma)
    c2 = 9 ** 0.5 / gamma
    U, S, Vh = torch.linalg.svd(G, full_matrices=False)
    G2r = U[:, :2 * r] @ torch.diag(S[:2 * r]) @ Vh[:2 * r]
    torch.testing.assert_close(B @ B.T @ G + G @ A.T @ A, c2 * G2r)
    # A spans the top-r right singular vectors, B the next r left ones
    torch.testing.assert_close(A.T @ A / c2, Vh[:r].T @ Vh[:r])
    torch.testing.assert_close(B @ B.T / c2, U[:, r:2 * r] @ U[:, r:2 * r].T)


def test_narrow_layer_gets_zero_columns_where_the_gradient_has_no_more_directions():
    A, B = gradient_factors(torch.randn(4, 20), rank=3, gamma=1.0)   # min dim 4 < 2r = 6
    assert A.shape == (3, 20) and B.shape == (4, 3)
    assert B[:, 0].norm() > 0 and torch.all(B[:, 1:] == 0)


def test_estimated_gradient_is_the_batch_average():
    net, data = _setup()
    batches = sample_batches(data, 2, 128, seed=0)
    assert len(batches) == 2 and all(len(x) == 128 for x, _ in batches)
    est = estimate_gradients(net, [net.hidden[1].weight], batches, F.cross_entropy)[0]
    net.zero_grad()
    for x, y in batches:
        (F.cross_entropy(net(x), y) / 2).backward()
    torch.testing.assert_close(est, net.hidden[1].weight.grad)


def test_output_is_unchanged_at_init():
    net, data = _setup()
    before = net(data.val[0]).detach()
    adapted = LoraGA(LoraGAConfig(rank=3, grad_batches=2, grad_batch_size=64)).apply(net, data)
    torch.testing.assert_close(adapted(data.val[0]), before, atol=1e-5, rtol=1e-5)
    layers = adapters(adapted)
    assert set(layers) == {"hidden.0", "hidden.1", "readout"}
    assert all(float(layer.lora_B.detach().abs().sum()) > 0 for layer in layers.values())
    assert {n for n, p in adapted.named_parameters() if p.requires_grad} == {
        f"{m}.lora_{f}" for m in layers for f in "AB"}


def _first_step_update(adapter, name: str, lr: float = 1e-4) -> tuple[torch.Tensor, torch.Tensor]:
    """The change of the effective weight of layer ``name`` after one SGD step on the whole
    training split, and the full fine-tuning gradient G of that weight."""
    net, data = _setup()
    G = _full_gradient(net, data, name)
    torch.manual_seed(1)
    adapted = adapter.apply(net, data)
    layer = adapters(adapted)[name]
    w0 = layer.merged_weight().detach().clone()
    opt = torch.optim.SGD([p for p in adapted.parameters() if p.requires_grad], lr=lr)
    F.cross_entropy(adapted(data.train[0]), data.train[1]).backward()
    opt.step()
    return layer.merged_weight().detach() - w0, G


def test_first_step_follows_the_full_gradient_better_than_lora():
    # gradient estimated on the whole split: the same batch the SGD step then uses
    ga = LoraGA(LoraGAConfig(rank=2, alpha=2.0, gamma=1.0, grad_batches=1,
                             grad_batch_size=256))
    lora = LoRA(LoRAConfig(rank=2, alpha=2.0))
    for name in ("hidden.0", "hidden.1"):
        d_ga, G = _first_step_update(ga, name)
        d_lora, _ = _first_step_update(lora, name)
        cos_ga, cos_lora = _cos(d_ga, -G), _cos(d_lora, -G)
        # the best a rank-2r update can do: ||G_2r|| / ||G||
        s = torch.linalg.svdvals(G)
        bound = float(s[:4].norm() / s.norm())
        assert cos_ga == pytest.approx(bound, abs=0.02), (name, cos_ga, bound)
        assert cos_ga > cos_lora + 0.2, (name, cos_ga, cos_lora)
        # and its size is lr * s^2 * c^2 * ||G_2r|| (s = alpha / r = 1, c^2 = sqrt(out))
        out = G.shape[0]
        assert float(d_ga.norm()) == pytest.approx(1e-4 * math.sqrt(out) * float(s[:4].norm()),
                                                   rel=0.05)


# --- through assay: pretrain, then adapt --------------------------------------------------------

def _exp(classes, methods, steps):
    return {"dataset": {"name": "mnist1d", "n_train": 500, "n_val": 200, "classes": classes},
            "model": {"name": "mlp", "width": 32, "depth": 2},
            "methods": methods, "backend": {"name": "cpu"},
            "train": {"steps": steps, "batch_size": 64, "eval_every": steps, "seed": 1}}


def test_pretrain_then_adapt_with_lora_ga_through_assay():
    pre = execute(load(_exp([0, 1, 2, 3, 4], {"optimizer": {"name": "adamw", "lr": 3e-3}},
                            60)).run, keep_state=True)
    assert pre.status == "finished", pre.error
    opt = {"optimizer": {"name": "adamw", "lr": 3e-3, "weight_decay": 0.0}}
    exp = _exp([5, 6, 7, 8, 9], {**opt, "adapter": {"name": "lora-ga", "rank": 4,
                                                     "grad_batches": 2}}, 40)
    starts = []
    for e in (_exp([5, 6, 7, 8, 9], opt, 40), exp):
        run = load(e).run
        ctx = build_context(run, lambda step, m: False, registry(run.plugins), pre.state_dict)
        starts.append(ctx.evaluate()["val/loss"])
    assert starts[1] == pytest.approx(starts[0], rel=1e-5)          # unchanged at init
    adapted = execute(load(exp).run, init_state=pre.state_dict)
    again = execute(load(exp).run, init_state=pre.state_dict)
    assert adapted.status == "finished", adapted.error
    assert adapted.metrics["val/loss"] < 0.9 * starts[0], adapted.metrics
    assert again.metrics["val/loss"] == adapted.metrics["val/loss"]  # seeded estimate


# --- the claims' checks -------------------------------------------------------------------------

def test_checks_pass_and_fail_on_made_up_numbers():
    good = {"lora-ga/best/val/loss": 0.50, "lora/best/val/loss": 0.60,
            "lora-ga-half/best/val/loss": 0.58, "full/best/val/loss": 0.48}
    assert faster_than_lora(good).passed
    assert twice_as_fast(good).passed
    assert near_full_finetuning(good).passed
    assert not faster_than_lora(dict(good, **{"lora-ga/best/val/loss": 0.58})).passed
    assert not twice_as_fast(dict(good, **{"lora-ga-half/best/val/loss": 0.61})).passed
    assert not near_full_finetuning(dict(good, **{"full/best/val/loss": 0.40})).passed
