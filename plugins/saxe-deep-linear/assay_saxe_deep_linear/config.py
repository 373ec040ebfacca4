"""The configs of saxe-deep-linear's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class DeepLinearInitConfig(Config):
    """Paper: https://arxiv.org/abs/1312.6120 - orthogonal vs scaled Gaussian init."""

    init: Literal["orthogonal", "gaussian"] = Field("orthogonal", description="Init family")
    gain: float = Field(1.0, gt=0, le=100, description="Singular values (orthogonal) or "
                                                       "std x sqrt(fan_in) (gaussian)")


class FullBatchGDConfig(Config):
    """Paper: https://arxiv.org/abs/1312.6120 - batch GD, time to a loss criterion."""

    tol: float = Field(0.01, gt=0, lt=1, description="Criterion: excess loss <= tol x "
                                                     "(L_zero - L_min)")
    stop_at_criterion: bool = Field(True, description="End the run once the criterion is met")


class DeepLinearConfig(Config):
    """Paper: https://arxiv.org/abs/1312.6120 - a product of weight matrices."""

    width: int = Field(32, ge=1, le=65536, description="Units of every hidden layer")
    depth: int = Field(2, ge=1, le=256, description="Number of weight matrices (depth - 1 "
                                                    "hidden layers)")
