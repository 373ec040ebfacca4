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
from pydantic import Field
from torch import nn

from assay import Config, Optimizer, Paper, Parameterization

from assay.lib.optim import InnerConfig, WrappedOptimizer

if TYPE_CHECKING:
    from assay import Data
    from assay import RunContext

PAPER = Paper(title="Adding Gradient Noise Improves Learning for Very Deep Networks",
              arxiv="1511.06807", year=2015)

NOISE_SEED_OFFSET = 7919          # keeps the noise stream apart from other seeded streams


def noise_std(step: int, eta: float, gamma: float) -> float:
    """sigma_t for optimizer step ``step`` (0-based): sqrt(eta / (1 + t)^gamma)."""
    return math.sqrt(eta / (1 + step) ** gamma)


class GradNoiseConfig(InnerConfig):
    """Paper: https://arxiv.org/abs/1511.06807 - add N(0, eta / (1 + t)^gamma) to every
    gradient before the inner optimizer's step."""

    eta: float = Field(0.01, ge=0, le=100, description="Noise variance at step 0 (paper: "
                                                        "0.01, 0.3 or 1.0)")
    gamma: float = Field(0.55, ge=0, le=10, description="Annealing exponent of the variance")


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


class GaussianInitConfig(Config):
    """Paper: https://arxiv.org/abs/1511.06807 (MNIST experiment) - the "simple init" that a
    20-layer network cannot train from without help: every weight N(0, std^2), bias zero."""

    std: float = Field(0.1, ge=0, le=10, description="Standard deviation of every weight "
                                                     "(0 gives the paper's all-zero 'bad init')")


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
