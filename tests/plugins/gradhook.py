"""A fixture plugin: a loss-slot method that also uses the ``before_step`` gradient hook."""
from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from pydantic import Field

from assay import Config, Loss, hookimpl


class FrozenCEConfig(Config):
    freeze_after: int = Field(3, ge=0, description="Zero every gradient from this step on")


class FrozenCE(Loss):
    """Cross-entropy whose gradients are zeroed (in ``before_step``) after a number of steps;
    it records the gradient norm it saw at each step."""

    name = "frozen-ce"
    Config = FrozenCEConfig

    def setup(self, ctx: Any) -> None:
        self.norms: list[float] = []

    def compute(self, model: Any, x: Any, y: Any, data: Any) -> Any:
        return F.cross_entropy(model(x), y)

    def before_step(self, ctx: Any, step: int) -> None:
        grads = [p.grad for p in ctx.model.parameters() if p.grad is not None]
        self.norms.append(float(sum(g.norm() ** 2 for g in grads)) ** 0.5)
        if step > self.config.freeze_after:
            for g in grads:
                g.zero_()


@hookimpl
def assay_register_methods() -> list[Any]:
    return [FrozenCE]
