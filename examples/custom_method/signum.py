"""A custom method in one file: Signum (sign of momentum SGD), used with --plugin.

    assay run examples/custom_method/experiment.yaml --plugin examples/custom_method/signum.py
"""
from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from assay import Config, Optimizer, hookimpl


class SignumConfig(Config):
    lr: float = Field(1e-3, gt=0, description="Step size of each sign update")
    momentum: float = Field(0.9, ge=0, lt=1, description="Momentum of the gradient average")


class SignumOptimizer(torch.optim.Optimizer):
    def __init__(self, params: Any, lr: float, momentum: float) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                m = self.state[p].setdefault("m", torch.zeros_like(p))
                m.mul_(group["momentum"]).add_(p.grad, alpha=1 - group["momentum"])
                p.add_(m.sign(), alpha=-group["lr"])


class Signum(Optimizer):
    """Sign of momentum SGD (Bernstein et al., 2018)."""

    name = "signum"
    Config = SignumConfig

    def build(self, param_groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        c = self.config
        groups = [{"params": g["params"], "lr": c.lr * g.get("lr_mult", 1.0)} for g in param_groups]
        return SignumOptimizer(groups, lr=c.lr, momentum=c.momentum)


@hookimpl
def assay_register_methods() -> list[Any]:
    return [Signum]
