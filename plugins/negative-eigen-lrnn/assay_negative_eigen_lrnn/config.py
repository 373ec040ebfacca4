"""The configs of negative-eigen-lrnn's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field, model_validator


class ParityConfig(Config):
    min_length: int = Field(3, ge=1, le=4096, description="Shortest training bit string")
    train_length: int = Field(40, ge=1, le=4096, description="Longest training bit string")
    val_length: int = Field(40, ge=1, le=4096, description="Bits in every validation string")
    n_train: int = Field(16384, ge=1, le=10**7, description="Training strings")
    n_val: int = Field(512, ge=1, le=10**6, description="Validation strings")
    data_seed: int = Field(0, ge=0, description="Seed of the generated strings")

    @model_validator(mode="after")
    def _lengths(self) -> ParityConfig:
        if self.min_length > self.train_length:
            raise ValueError(f"min_length={self.min_length} exceeds "
                             f"train_length={self.train_length}")
        return self


class LRNNConfig(Config):
    """Paper: https://arxiv.org/abs/2411.12537 - let diagonal LRNN transitions reach -1."""

    eigen_range: Literal["positive", "negative"] = Field(
        "negative", description="Transition range: positive = [0, 1] (Mamba-style), "
                                "negative = [-1, 1] (the paper's extension)")
    width: int = Field(64, ge=2, le=4096, description="Channels (one diagonal state each)")
    depth: int = Field(1, ge=1, le=16, description="Number of LRNN layers")
    scan: Literal["parallel", "loop"] = Field("parallel", description="parallel: log-depth "
                                              "associative scan; loop: one step per token")
