"""The configs of el2n-data-diet's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field, model_validator


class NoisyDigitsConfig(Config):
    noise: float = Field(0.1, ge=0, le=0.9, description="Share of training labels flipped to "
                         "another class (chosen uniformly among the other nine)")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Share of the 1797 images held out")
    data_seed: int = Field(0, ge=0, description="Seed of the split and of the flips")


class DataDietConfig(Config):
    """Paper: https://arxiv.org/abs/2107.07075 - prune the training set by EL2N or GraNd."""

    score: Literal["el2n", "grand", "random"] = Field(
        "el2n", description="el2n: softmax error norm; grand: per-example gradient norm; "
                            "random: a random subset (baseline)")
    keep_fraction: float = Field(0.5, gt=0, le=1, description="Share of training examples kept")
    skip_fraction: float = Field(0.0, ge=0, lt=1, description="Share of the highest-scoring "
                                 "examples dropped before keeping the next keep_fraction")
    n_probes: int = Field(4, ge=1, le=64, description="Independently initialised probe models "
                          "whose scores are averaged")
    probe_epochs: float = Field(3.0, ge=0, le=200, description="Epochs each probe trains before "
                                "scoring (0: at initialisation, the paper's GraNd setting)")
    probe_batch_size: int = Field(64, ge=1, le=65536, description="Batch size of probe training")
    probe_lr: float = Field(1e-3, gt=0, le=10, description="Adam learning rate of the probes")

    @model_validator(mode="after")
    def _fractions(self) -> DataDietConfig:
        if self.keep_fraction + self.skip_fraction > 1 + 1e-9:
            raise ValueError(f"keep_fraction + skip_fraction = "
                             f"{self.keep_fraction + self.skip_fraction:g} exceeds 1")
        return self
