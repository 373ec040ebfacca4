"""The configs of snnk-urf's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field, field_validator


class URFEstimateConfig(Config):
    """Paper: https://arxiv.org/abs/2310.13225 - measures the URF estimate of f(w^T x + b)
    (relative mean squared error over pairs, per number of features m) before training."""

    activation: Literal["cos", "gauss"] = Field("cos", description="The unit's activation f")
    dim: int = Field(32, ge=1, le=4096, description="Dimension d of w and x")
    pairs: int = Field(200, ge=2, le=100_000, description="(w, x, b) triples estimated")
    features: list[int] = Field([16, 32, 64, 128, 256, 512, 1024], min_length=2,
                                description="Numbers of random features m measured")
    draws: int = Field(20, ge=1, le=10_000, description="Independent feature draws per m "
                                                       "(errors averaged over them)")
    radius: float = Field(1.0, gt=0, le=10, description="|w| = |x| = radius")
    correction: bool = Field(True, description="Keep the -a^2|v|^2/2 terms (false: biased, "
                                               "for negative controls only)")

    @field_validator("features")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(m < 1 for m in v) or len(set(v)) != len(v):
            raise ValueError(f"features must be distinct positive counts, got {v}")
        return v


class SNNKMLPConfig(Config):
    """Paper: https://arxiv.org/abs/2310.13225 - an MLP whose chosen hidden layers are ReLU-SNNK
    layers with m random features."""

    width: int = Field(256, ge=1, le=65536, description="Hidden units per layer")
    depth: int = Field(2, ge=1, le=64, description="Number of hidden layers")
    features: int = Field(64, ge=1, le=65536, description="Random features m of each SNNK "
                                                          "layer")
    snnk_layers: list[int] = Field([1], description="Hidden layers (0-based) replaced by SNNK "
                                                    "layers")
