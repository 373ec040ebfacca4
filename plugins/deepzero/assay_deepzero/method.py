"""DeepZero's gradient estimators (Chen et al., 2024, arXiv:2310.02025, Sec. 3-4), with the
perturbed forward passes of one step evaluated together (``torch.func.vmap``, the paper's
"forward parallelization").

CGE (coordinate-wise gradient estimation, Eq. 2): one forward difference per weight,

    g_i = (L(w + mu e_i) - L(w)) / mu,        i = 1..d        (d + 1 forward passes a step)

a deterministic estimate whose only error is the finite-difference bias O(mu). The step is
w <- w - lr * g (decoupled weight decay, as zo-bench's trainers).

RGE (randomized gradient estimation, Eq. 1) is zo-bench's ZO-SGD estimator: Gaussian
directions z_j, the two-point coefficient c_j = (L(w + eps z_j) - L(w - eps z_j)) / (2 eps)
and the step w <- w - lr * mean_j c_j z_j, with zo-bench's options (``ZOSGD.Config``: lr, eps,
n_queries, weight_decay). ``deepzero-rge`` evaluates the 2q probes of a step in one vmapped
call instead of one by one, so that q = d/2 (the same d forward passes a step as CGE) is
affordable. zo-bench regenerates each z_j per parameter from a seed (to store nothing), which
costs ~0.3 s a step at q = 900; ``directions: matrix`` (the default) draws the (q, d) Gaussian
matrix at once instead, and ``directions: zo-bench`` regenerates zo-bench's own numbers (the
tests check that a step then equals ZO-SGD's, seed for seed).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from assay import Paper
from assay_zo_bench.method import ZOSGD
from torch import nn

from assay_deepzero.config import CGEConfig, ParallelRGEConfig

if TYPE_CHECKING:
    from assay import RunContext

PAPER = Paper(title="DeepZero: Scaling up Zeroth-Order Optimization for Deep Model Training",
              arxiv="2310.02025", year=2024)

Params = list[tuple[str, nn.Parameter]]


def flat_loss(ctx: RunContext, params: Params, x: torch.Tensor,
              y: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``f(flat) = L(w = flat; x, y)``: the run's loss with the trainable weights replaced by
    the flat vector ``flat`` (vmappable; the module itself is untouched)."""
    names = [n for n, _ in params]
    shapes = [p.shape for _, p in params]
    sizes = [p.numel() for _, p in params]

    def loss(flat: torch.Tensor) -> torch.Tensor:
        weights = {n: c.view(s) for n, c, s in zip(names, flat.split(sizes), shapes)}
        return ctx.loss(lambda inp: torch.func.functional_call(ctx.model, weights, (inp,)),
                        x, y)
    return loss


def batched(fn: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor,
            chunk: int) -> torch.Tensor:
    """``fn`` at every row of ``points``, ``chunk`` rows per vmapped call."""
    return torch.cat([torch.func.vmap(fn)(part) for part in points.split(chunk)])


def cge(fn: Callable[[torch.Tensor], torch.Tensor], w: torch.Tensor, mu: float,
        chunk: int) -> tuple[float, torch.Tensor]:
    """``(L(w), g)`` with g_i = (L(w + mu e_i) - L(w)) / mu for every coordinate i."""
    base = fn(w)
    probes = w.unsqueeze(0) + mu * torch.eye(w.numel(), dtype=w.dtype, device=w.device)
    return float(base), (batched(fn, probes, chunk) - base) / mu


def flatten(params: Params) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for _, p in params])


def sgd_update(params: Params, g: torch.Tensor, lr: float,
               weight_decay: float) -> Callable[[], None]:
    """The step w <- (1 - lr wd) w - lr g for a flat estimate ``g`` (zo-bench's ZO-SGD rule)."""

    @torch.no_grad()
    def update() -> None:
        for (_, p), part in zip(params, g.split([p.numel() for _, p in params])):
            if weight_decay:
                p.mul_(1 - lr * weight_decay)
            p.add_(part.view_as(p), alpha=-lr)
    return update


class ParallelZO(ZOSGD):
    """zo-bench's trainer loop shape, with one vectorised estimate per step: ``estimate_step``
    returns (loss at w, forward passes, the update to apply)."""

    def estimate_step(self, ctx: RunContext, params: Params, x: torch.Tensor, y: torch.Tensor,
                      lr: float, gens: dict[str, torch.Generator]
                      ) -> tuple[float, int, Callable[[], None]]:
        raise NotImplementedError

    def train(self, ctx: RunContext) -> None:
        from assay import NonFiniteLoss

        c: Any = self.config
        schedule: Any = ctx.methods.get("schedule")
        params = self.params(ctx.model)
        gens = {"z": torch.Generator(device=ctx.device),
                "seeds": torch.Generator().manual_seed(ctx.run.seed + 7919)}
        running, count, passes = 0.0, 0, 0
        for step in range(ctx.total_steps):
            lr = c.lr * (schedule.factor(step, ctx.total_steps) if schedule else 1.0)
            x, y = ctx.batch()
            with torch.no_grad():
                loss, n, update = self.estimate_step(ctx, params, x, y, lr, gens)
            if not math.isfinite(loss):
                raise NonFiniteLoss(f"train loss became {loss} at step {step + 1}")
            ctx.hooked_step(update, step + 1)
            running, count, passes = running + loss, count + 1, passes + n
            if (step + 1) % ctx.eval_every == 0 or step + 1 == ctx.total_steps:
                ctx.last_train_loss, running, count = running / count, 0.0, 0
                ctx.final_metrics["zo/forward_passes"] = float(passes)
                ctx.evaluate_and_report(step + 1)


class CGE(ParallelZO):
    """DeepZero's CGE: coordinate-wise forward differences, an SGD step on them."""

    name = "deepzero-cge"
    Config = CGEConfig
    paper = PAPER

    def estimate_step(self, ctx: RunContext, params: Params, x: torch.Tensor, y: torch.Tensor,
                      lr: float, gens: dict[str, torch.Generator]
                      ) -> tuple[float, int, Callable[[], None]]:
        c: Any = self.config
        w = flatten(params)
        loss, g = cge(flat_loss(ctx, params, x, y), w, c.mu, c.chunk)
        return loss, w.numel() + 1, sgd_update(params, g, lr, c.weight_decay)


class ParallelRGE(ParallelZO):
    """RGE as zo-bench defines it (Gaussian directions, two-point coefficients, the mean of
    c_j z_j as the step), probed in parallel."""

    name = "deepzero-rge"
    Config = ParallelRGEConfig
    paper = PAPER

    def directions(self, params: Params, seeds: list[int], gen: torch.Generator) -> torch.Tensor:
        """(q, d) directions z_j, one per seed: i.i.d. N(0, 1) entries either way; with
        ``zo-bench`` the very numbers ZO-SGD draws for those seeds (``ZOSGD.estimate`` with one
        seed and coefficient 1 regenerates z_j)."""
        if self.config.directions == "matrix":  # type: ignore[attr-defined]
            matrix_gen = torch.Generator().manual_seed(seeds[0])
            return torch.randn(len(seeds), sum(p.numel() for _, p in params),
                               generator=matrix_gen)
        return torch.stack([torch.cat([z.reshape(-1) for z in self.estimate(
            params, [s], [1.0], gen)]) for s in seeds])

    def estimate_step(self, ctx: RunContext, params: Params, x: torch.Tensor, y: torch.Tensor,
                      lr: float, gens: dict[str, torch.Generator]
                      ) -> tuple[float, int, Callable[[], None]]:
        c: Any = self.config
        # query seeds drawn one at a time from the same stream as ZO-SGD's
        seeds = [int(torch.randint(2**31 - 1, (1,), generator=gens["seeds"]))
                 for _ in range(c.n_queries)]
        w, z = flatten(params), self.directions(params, seeds, gens["z"])
        fn = flat_loss(ctx, params, x, y)
        plus = batched(fn, w + c.eps * z, c.chunk)
        minus = batched(fn, w - c.eps * z, c.chunk)
        g = ((plus - minus) / (2 * c.eps)) @ z / c.n_queries        # mean_j c_j z_j
        loss = float((plus + minus).mean() / 2)      # as zo-bench reports its probes' mean
        return loss, 2 * c.n_queries, sgd_update(params, g, lr, c.weight_decay)
