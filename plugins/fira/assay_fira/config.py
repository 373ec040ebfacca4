"""The configs of fira's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class FiraConfig(Config):
    """Paper: https://arxiv.org/abs/2410.01623 - low-rank Adam state, full-rank updates via a
    norm-scaled residual gradient."""

    lr: float = Field(1e-3, gt=0, le=10, description="Learning rate")
    rank: int = Field(16, ge=1, le=65536, description="Rank r of the gradient projection")
    update_proj_gap: int = Field(200, ge=1, le=10**7,
                                 description="Steps between refreshes of the projection (SVD)")
    scale: float = Field(1.0, gt=0, le=100, description="alpha: multiplier of the projected-back "
                                                        "low-rank update (paper's code uses 0.25)")
    beta1: float = Field(0.9, ge=0, lt=1, description="First-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="Second-moment decay")
    eps: float = Field(1e-6, gt=0, le=1, description="Denominator epsilon")
    weight_decay: float = Field(0.0, ge=0, le=10, description="Decoupled weight decay")
    target: Literal["linear", "matrices"] = Field(
        "linear", description="Which weights are projected: 'linear' = nn.Linear weights except "
                              "the model's readout (the paper's attention/MLP layers); "
                              "'matrices' = every 2-D parameter")


class GaLoreConfig(FiraConfig):
    """Paper: https://arxiv.org/abs/2403.03507 (GaLore), the baseline Fira improves on: Adam in
    a rank-r gradient subspace, nothing outside it."""
