"""The configs of agp-gradual-pruning's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field, model_validator


class AGPConfig(Config):
    """Paper: https://arxiv.org/abs/1710.01878 - prune the smallest weights gradually during
    training, following a cubic sparsity schedule."""

    final_sparsity: float = Field(0.9, ge=0, le=0.999, description="s_f: share of each pruned "
                                  "layer's weights that is zero at the end")
    initial_sparsity: float = Field(0.0, ge=0, le=0.999, description="s_i: sparsity set at the "
                                    "first pruning step t0")
    start_fraction: float = Field(0.1, ge=0, lt=1, description="t0 as a fraction of the run's "
                                  "steps")
    end_fraction: float = Field(0.6, gt=0, le=1, description="t0 + n*dt as a fraction of the "
                                "run's steps (rounded down to whole dt)")
    frequency: int = Field(20, ge=1, le=100_000, description="dt: optimizer steps between two "
                           "pruning steps")
    scope: Literal["layer", "global"] = Field("layer", description="layer: every layer pruned "
                                              "to s_t (paper); global: one magnitude threshold")
    include_readout: bool = Field(True, description="Also prune the output layer")

    @model_validator(mode="after")
    def _order(self) -> AGPConfig:
        if self.end_fraction <= self.start_fraction:
            raise ValueError(f"end_fraction ({self.end_fraction}) must exceed start_fraction "
                             f"({self.start_fraction})")
        if self.initial_sparsity > self.final_sparsity:
            raise ValueError("initial_sparsity must not exceed final_sparsity")
        return self
