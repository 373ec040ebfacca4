"""Built-in optimizers (torch's own) and learning-rate schedules."""
from __future__ import annotations

import math
from typing import Any

import torch
from pydantic import Field

from assay.kinds import Config, Optimizer, Schedule
from assay.lib.optim import scaled_groups


class SGDConfig(Config):
    lr: float = Field(0.1, gt=0, description="Learning rate")
    momentum: float = Field(0.9, ge=0, lt=1, description="Heavy-ball momentum")
    nesterov: bool = Field(False, description="Nesterov momentum")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (coupled)")


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (torch.optim.SGD)."""

    name = "sgd"
    Config = SGDConfig

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        c = self.config
        return torch.optim.SGD(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                               momentum=c.momentum, nesterov=c.nesterov and c.momentum > 0)


class AdamWConfig(Config):
    lr: float = Field(1e-3, gt=0, description="Learning rate")
    beta1: float = Field(0.9, ge=0, lt=1, description="First-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="Second-moment decay")
    eps: float = Field(1e-8, gt=0, description="Denominator epsilon")
    weight_decay: float = Field(0.01, ge=0, description="Decoupled weight decay")


class AdamW(Optimizer):
    """Adam with decoupled weight decay (torch.optim.AdamW)."""

    name = "adamw"
    Config = AdamWConfig

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        c = self.config
        return torch.optim.AdamW(scaled_groups(param_groups, c.lr, c.weight_decay), lr=c.lr,
                                 betas=(c.beta1, c.beta2), eps=c.eps)


class ConstantConfig(Config):
    pass


class Constant(Schedule):
    """The base learning rate at every step."""

    name = "constant"
    Config = ConstantConfig

    def factor(self, step: int, total_steps: int) -> float:
        return 1.0


class WarmupConfig(Config):
    warmup_steps: int = Field(100, ge=0, description="Steps of linear warm-up from 0")


class Warmup(Schedule):
    """Linear warm-up, then constant."""

    name = "warmup"
    Config = WarmupConfig

    def factor(self, step: int, total_steps: int) -> float:
        w = self.config.warmup_steps
        return min(1.0, (step + 1) / (w + 1)) if w else 1.0


class CosineConfig(Config):
    warmup_steps: int = Field(0, ge=0, description="Steps of linear warm-up from 0")
    min_factor: float = Field(0.1, ge=0, le=1, description="Final lr as a fraction of base lr")


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
