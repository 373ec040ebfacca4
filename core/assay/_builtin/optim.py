"""Built-in optimizers (torch's own) and learning-rate schedules."""
from __future__ import annotations

import math
from typing import Any

import torch

from assay._builtin.configs import (
    AdamWConfig,
    ConstantConfig,
    CosineConfig,
    SGDConfig,
    WarmupConfig,
)
from assay.kinds import Optimizer, Schedule
from assay.lib.optim import scaled_groups


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (torch.optim.SGD)."""

    name = "sgd"
    Config = SGDConfig

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        c = self.config
        return torch.optim.SGD(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                               momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0)


class AdamW(Optimizer):
    """Adam with decoupled weight decay (torch.optim.AdamW)."""

    name = "adamw"
    Config = AdamWConfig

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        c = self.config
        return torch.optim.AdamW(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                                 betas=(c.beta1, c.beta2), eps=c.eps)


class Constant(Schedule):
    """The base learning rate at every step."""

    name = "constant"
    Config = ConstantConfig

    def factor(self, step: int, total_steps: int) -> float:
        return 1.0


class Warmup(Schedule):
    """Linear warm-up, then constant."""

    name = "warmup"
    Config = WarmupConfig

    def factor(self, step: int, total_steps: int) -> float:
        w = self.config.warmup_steps
        return min(1.0, (step + 1) / (w + 1)) if w else 1.0


class Cosine(Schedule):
    """Linear warm-up, then cosine decay to ``min_factor`` of the base rate."""

    name = "cosine"
    Config = CosineConfig

    def factor(self, step: int, total_steps: int) -> float:
        c = self.config
        if step < c.warmup_steps:
            return (step + 1) / (c.warmup_steps + 1)
        progress = (step - c.warmup_steps) / max(1, total_steps - c.warmup_steps)
        return c.min_factor + (1 - c.min_factor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


OPTIMIZERS = [SGD, AdamW]
SCHEDULES = [Constant, Warmup, Cosine]
