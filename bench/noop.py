"""A trainer that does no training: the objective is a closed-form function of the learning
rate. Sweeping it measures assay's own per-trial overhead (Optuna + Dask + MLflow)."""
from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from assay import Config, Trainer, hookimpl


class NoopConfig(Config):
    lr: float = Field(1e-3, gt=0, description="The only knob: objective = (log10 lr + 3)^2")


class Noop(Trainer):
    """Reports one value and returns."""

    name = "noop"
    Config = NoopConfig

    def train(self, ctx: Any) -> None:
        value = (math.log10(self.config.lr) + 3) ** 2
        ctx.history.append((1, {"val/loss": value}))
        ctx.reporter(1, {"val/loss": value})


@hookimpl
def assay_register_methods() -> list[Any]:
    return [Noop]
