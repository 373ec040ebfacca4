"""Zeroth-order trainers from the ZO-Bench study: ZO-SGD (MeZO), ZO-SGD-Sign and ZO-Adam.

Each step estimates the gradient from loss values only (arXiv:2402.11592, Sec. 3, Eq. 2, the
randomized gradient estimator with q two-point queries):

    for j in 1..q:  z_j ~ N(0, I)                       # regenerated from a seed, never stored
                    c_j = (L(w + eps z_j) - L(w - eps z_j)) / (2 eps)
    g_hat = (1/q) sum_j c_j z_j                          # E[g_hat] -> grad L as eps -> 0

and then takes an optimizer step on ``g_hat``:

    zo-bench       (ZO-SGD)       w <- w - lr * g_hat
    zo-bench-sign  (ZO-SGD-Sign)  w <- w - lr * sign(g_hat)
    zo-bench-adam  (ZO-Adam)      w <- w - lr * m_hat / (sqrt(v_hat) + adam_eps)   (Adam on g_hat)

Only forward passes run, under ``torch.no_grad()``: no activations are kept and no gradient is
ever stored. The seed trick (MeZO, arXiv:2305.17333, Algorithm 1): ``z_j`` for parameter ``i`` is
drawn from a generator seeded with ``(seed_j, i)``, so the update re-creates it instead of
keeping it. ZO-SGD and ZO-SGD-Sign with q = 1 therefore keep no state at all; ZO-Adam keeps two
moment tensors per parameter (which the paper counts against it).

The two probes either run on perturbed copies of the weights (``inplace: false``, the default:
the weights are never touched, so they are bit-for-bit unchanged after the probes) or perturb the
weights in place as MeZO does (``inplace: true``: +eps z, -2 eps z, +eps z; no extra copy, but
float rounding makes the restore exact only to within a few ulps).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from assay import Config, Paper, Trainer
from torch import nn

from assay_zo_bench.config import ZOAdamConfig, ZOSGDConfig, ZOSignConfig

PAPER = Paper(title="Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning: "
                    "A Benchmark", arxiv="2402.11592", year=2024)


def _direction(p: torch.Tensor, seed: int, index: int, gen: torch.Generator) -> torch.Tensor:
    """z for parameter ``index`` under query seed ``seed``: the same numbers every time."""
    gen.manual_seed((seed * 1_000_003 + index) % (2**63 - 1))
    return torch.randn(p.shape, generator=gen, dtype=p.dtype, device=p.device)


class _LossOf(nn.Module):
    """Lets ``torch.func.functional_call`` swap the model's weights for one loss evaluation."""

    def __init__(self, model: nn.Module, ctx: Any) -> None:
        super().__init__()
        self.model, self._ctx = model, ctx

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._ctx.loss(self.model, x, y)


class ZOSGD(Trainer):
    """ZO-SGD (MeZO): forward-only training with two-point SPSA gradient estimates."""

    name = "zo-bench"
    Config = ZOSGDConfig
    paper = PAPER

    # --- the estimator ----------------------------------------------------------------------

    def params(self, model: nn.Module) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    @torch.no_grad()
    def _perturb(self, params: list[tuple[str, nn.Parameter]], seed: int, scale: float,
                 gen: torch.Generator) -> None:
        for i, (_, p) in enumerate(params):
            p.add_(_direction(p, seed, i, gen), alpha=scale)

    @torch.no_grad()
    def probe(self, ctx: Any, x: torch.Tensor, y: torch.Tensor, seed: int,
              gen: torch.Generator) -> tuple[float, float]:
        """(L(w + eps z), L(w - eps z)) for the direction z of ``seed``."""
        eps, params = self.config.eps, self.params(ctx.model)
        def same_noise(fn: Any) -> float:
            # both probes must see the same dropout masks, or their difference is noise
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                return float(fn())

        if self.config.inplace:                       # MeZO: +eps z, -2 eps z, +eps z
            self._perturb(params, seed, eps, gen)
            plus = same_noise(lambda: ctx.loss(ctx.model, x, y))
            self._perturb(params, seed, -2 * eps, gen)
            minus = same_noise(lambda: ctx.loss(ctx.model, x, y))
            self._perturb(params, seed, eps, gen)
            return plus, minus
        wrapper = _LossOf(ctx.model, ctx)
        losses = []
        for sign in (1.0, -1.0):
            moved = {f"model.{n}": p + sign * eps * _direction(p, seed, i, gen)
                     for i, (n, p) in enumerate(params)}
            losses.append(same_noise(lambda: torch.func.functional_call(wrapper, moved, (x, y))))
        return losses[0], losses[1]

    def estimate(self, params: list[tuple[str, nn.Parameter]], seeds: list[int],
                 coefs: list[float], gen: torch.Generator) -> Iterator[torch.Tensor]:
        """g_hat for each parameter in turn (one parameter-sized tensor at a time)."""
        for i, (_, p) in enumerate(params):
            g = torch.zeros_like(p)
            for seed, c in zip(seeds, coefs):
                g.add_(_direction(p, seed, i, gen), alpha=c / len(seeds))
            yield g

    # --- the update -------------------------------------------------------------------------

    @torch.no_grad()
    def update(self, params: list[tuple[str, nn.Parameter]], seeds: list[int],
               coefs: list[float], lr: float, gen: torch.Generator) -> None:
        if self.config.weight_decay:
            for _, p in params:
                p.mul_(1 - lr * self.config.weight_decay)
        # ZO-SGD: w -= lr * c_j / q * z_j, one regenerated z at a time (no g_hat tensor)
        for i, (_, p) in enumerate(params):
            for seed, c in zip(seeds, coefs):
                p.add_(_direction(p, seed, i, gen), alpha=-lr * c / len(seeds))

    def state_numel(self) -> int:
        return 0

    # --- the loop ---------------------------------------------------------------------------

    def train(self, ctx: Any) -> None:
        from assay import NonFiniteLoss

        c = self.config
        schedule = ctx.methods.get("schedule")
        params = self.params(ctx.model)
        gen = torch.Generator(device=ctx.device)
        seeds_gen = torch.Generator().manual_seed(ctx.run.seed + 7919)   # query seeds
        running, count = 0.0, 0
        for step in range(ctx.total_steps):
            lr = c.lr * (schedule.factor(step, ctx.total_steps) if schedule else 1.0)
            x, y = ctx.batch()
            seeds, coefs = [], []
            for _ in range(c.n_queries):
                seed = int(torch.randint(2**31 - 1, (1,), generator=seeds_gen))
                plus, minus = self.probe(ctx, x, y, seed, gen)
                if not (math.isfinite(plus) and math.isfinite(minus)):
                    raise NonFiniteLoss(f"train loss became {plus}/{minus} at step {step + 1}")
                seeds.append(seed)
                coefs.append((plus - minus) / (2 * c.eps))
                running, count = running + (plus + minus) / 2, count + 1
            ctx.hooked_step(lambda: self.update(params, seeds, coefs, lr, gen), step + 1)
            if (step + 1) % ctx.eval_every == 0 or step + 1 == ctx.total_steps:
                ctx.last_train_loss, running, count = running / count, 0.0, 0
                ctx.final_metrics.update({
                    "zo/forward_passes": float(2 * c.n_queries * (step + 1)),
                    "zo/state_mb": 4 * self.state_numel() / 2**20})
                ctx.evaluate_and_report(step + 1)


class ZOSign(ZOSGD):
    """ZO-SGD-Sign: fixed-size steps along sign(g_hat)."""

    name = "zo-bench-sign"
    Config = ZOSignConfig

    @torch.no_grad()
    def update(self, params: list[tuple[str, nn.Parameter]], seeds: list[int],
               coefs: list[float], lr: float, gen: torch.Generator) -> None:
        if self.config.weight_decay:
            for _, p in params:
                p.mul_(1 - lr * self.config.weight_decay)
        for (_, p), g in zip(params, self.estimate(params, seeds, coefs, gen)):
            p.add_(g.sign_(), alpha=-lr)


class ZOAdam(ZOSGD):
    """ZO-Adam: Adam's moments of g_hat (state: two tensors per parameter)."""

    name = "zo-bench-adam"
    Config = ZOAdamConfig

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self._m: list[torch.Tensor] = []
        self._v: list[torch.Tensor] = []
        self._t = 0

    def state_numel(self) -> int:
        return sum(t.numel() for t in self._m + self._v)

    @torch.no_grad()
    def update(self, params: list[tuple[str, nn.Parameter]], seeds: list[int],
               coefs: list[float], lr: float, gen: torch.Generator) -> None:
        c = self.config
        if not self._m:
            self._m = [torch.zeros_like(p) for _, p in params]
            self._v = [torch.zeros_like(p) for _, p in params]
        self._t += 1
        bc1, bc2 = 1 - c.beta1 ** self._t, 1 - c.beta2 ** self._t
        for (_, p), g, m, v in zip(params, self.estimate(params, seeds, coefs, gen),
                                   self._m, self._v):
            if c.weight_decay:
                p.mul_(1 - lr * c.weight_decay)
            m.lerp_(g, 1 - c.beta1)
            v.mul_(c.beta2).addcmul_(g, g, value=1 - c.beta2)
            p.addcdiv_(m / bc1, (v / bc2).sqrt_().add_(c.adam_eps), value=-lr)
