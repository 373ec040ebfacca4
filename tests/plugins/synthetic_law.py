"""A fixture plugin for law tests: no training, a known optimum.

val/loss = 1 + 0.1 * (ln lr - ln lr*(width))^2 + noise, with lr*(width) = 0.5 * width^-0.5.
"""
from __future__ import annotations

import math
import random
from typing import Any

from pydantic import Field

from assay import Config, Trainer, hookimpl

EXPONENT, PREFACTOR = -0.5, 0.5


class SyntheticLawConfig(Config):
    lr: float = Field(1e-2, gt=0, description="The tuned hyperparameter")
    noise: float = Field(0.02, ge=0, description="Std of the Gaussian noise on the loss")


class SyntheticLaw(Trainer):
    """Reports a closed-form loss whose optimal lr follows a known power law in width."""

    name = "synthetic-law"
    Config = SyntheticLawConfig

    def train(self, ctx: Any) -> None:
        width = ctx.run.model["width"]
        best = PREFACTOR * width ** EXPONENT
        rng = random.Random(f"{ctx.run.seed}-{self.config.lr!r}")
        loss = 1 + 0.1 * (math.log(self.config.lr) - math.log(best)) ** 2 \
            + self.config.noise * rng.gauss(0, 1)
        ctx.history.append((1, {"val/loss": loss}))
        ctx.reporter(1, {"val/loss": loss})


@hookimpl
def assay_register_methods() -> list[Any]:
    return [SyntheticLaw]
