"""The configs of gb-nn's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class BoostedNetConfig(Config):
    """Paper: https://arxiv.org/abs/1909.12098 - fit J hidden units at a time to the
    pseudo-residuals, then merge the stages into one hidden layer."""

    mode: Literal["boost", "joint"] = Field("boost", description="boost: stage by stage; "
                                            "joint: every unit at once (the baseline)")
    stages: int = Field(10, ge=1, le=1000, description="T: stages (must divide the width)")
    shrinkage: float = Field(1.0, gt=0, description="eta: each stage's Newton step is scaled "
                                                    "by this")
    drop_fraction: float = Field(0.3, gt=0, lt=1, description="Share of the hidden units "
                                                              "switched off when measuring")
    drop_draws: int = Field(10, ge=1, description="Random unit subsets averaged over")
