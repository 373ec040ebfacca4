"""Annealed Gaussian gradient noise, as a wrapper around any optimizer, and the paper's
"simple" (poor) initialisation for deep networks.

Rule (arXiv:1511.06807, method section): before optimizer step t (t = 0, 1, 2, ...), every
gradient entry gets independent noise

    g_t <- g_t + N(0, sigma_t^2),      sigma_t^2 = eta / (1 + t) ** gamma

with eta in {0.01, 0.3, 1.0} and gamma = 0.55 in the paper. The noise is in gradient units,
so the optimizer (SGD, Adam, ...) sees it exactly as it sees batch noise.

Design: assay's loop has no "between backward and step" slot, so ``grad-noise`` sits in the
optimizer slot and wraps an inner optimizer given as ``inner: {name, **config}`` (any
optimizer-slot method: sgd, adamw, lion, another wrapper). It builds the inner optimizer and
registers a torch step pre-hook that adds the noise right before each ``step()``; the inner
optimizer, its state and its param groups are untouched, so schedules and lr multipliers work
as usual. The noise has its own generator seeded from the run seed, so a seeded run repeats
exactly and batch order is not disturbed.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from assay import Config, Optimizer, Paper, Parameterization
from assay.lib.optim import WrappedOptimizer
from torch import nn

from assay_grad_noise.config import GaussianInitConfig, GradNoiseConfig

if TYPE_CHECKING:
    from assay import Data, RunContext

PAPER = Paper(title="Adding Gradient Noise Improves Learning for Very Deep Networks",
              arxiv="1511.06807", year=2015)

NOISE_SEED_OFFSET = 7919          # keeps the noise stream apart from other seeded streams


def noise_std(step: int, eta: float, gamma: float) -> float:
    """sigma_t for optimizer step ``step`` (0-based): sqrt(eta / (1 + t)^gamma)."""
    return math.sqrt(eta / (1 + step) ** gamma)


class GradNoise(WrappedOptimizer):
    """Annealed Gaussian gradient noise on top of any optimizer."""

    name = "grad-noise"
    Config = GradNoiseConfig
    paper = PAPER

    def __init__(self, config: Config | None = None) -> None:
        super().__init__(config)
        self.inner: Optimizer | None = None
        self.generator = torch.Generator().manual_seed(NOISE_SEED_OFFSET)
        self.n_steps = 0               # optimizer steps taken so far: t in sigma_t

    def setup(self, ctx: RunContext) -> None:
        self.generator.manual_seed(ctx.run.seed + NOISE_SEED_OFFSET)
        super().setup(ctx)

    def after_step(self, ctx: RunContext, step: int) -> None:
        super().after_step(ctx, step)
        if step == ctx.total_steps:
            ctx.final_metrics["grad_noise/final_std"] = noise_std(self.n_steps - 1,
                                                                  self.config.eta,
                                                                  self.config.gamma)

    def wrap(self, opt: torch.optim.Optimizer) -> torch.optim.Optimizer:
        opt.register_step_pre_hook(self._add_noise)
        return opt

    @torch.no_grad()
    def _add_noise(self, opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        std = noise_std(self.n_steps, self.config.eta, self.config.gamma)
        self.n_steps += 1
        if std == 0:
            return
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                noise = torch.randn(p.grad.shape, generator=self.generator, dtype=p.grad.dtype)
                p.grad.add_(noise.to(p.grad.device), alpha=std)


class GaussianInit(Parameterization):
    """Re-initialise every Linear/Conv weight from N(0, std^2) and zero the biases."""

    name = "grad-noise-gaussian-init"
    Config = GaussianInitConfig
    paper = PAPER

    def apply(self, model: nn.Module, data: Data) -> list[dict[str, Any]]:
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                    module.weight.normal_(0.0, self.config.std)
                    if module.bias is not None:
                        module.bias.zero_()
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]
