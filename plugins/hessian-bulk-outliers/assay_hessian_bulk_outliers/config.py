"""The configs of hessian-bulk-outliers's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field, model_validator


class BlobsConfig(Config):
    """Paper: https://arxiv.org/abs/1706.04454 - k Gaussian clusters, k classes."""

    n_classes: int = Field(4, ge=2, le=1000, description="Clusters (= classes)")
    dim: int = Field(20, ge=1, le=100_000, description="Input dimension")
    separation: float = Field(4.0, ge=0, description="Distance of each cluster mean from the "
                                                     "origin (noise has unit std per axis)")
    n_train: int = Field(1000, ge=2, le=1_000_000, description="Training examples")
    n_val: int = Field(500, ge=2, le=1_000_000, description="Validation examples")
    data_seed: int = Field(0, ge=0, description="Seed of the means and the draw")


class HessianSpectrumConfig(Config):
    """Paper: https://arxiv.org/abs/1706.04454 - outliers above the bulk of the Hessian."""

    top_k: int = Field(24, ge=2, le=1000, description="Largest eigenvalues to compute and "
                                                      "search for the gap")
    lanczos_iters: int = Field(96, ge=2, le=5000, description="Lanczos steps (Hessian-vector "
                                                              "products)")
    n_examples: int = Field(1000, ge=0, description="Fixed batch: the first n training "
                                                    "examples (0: all)")
    floor: float = Field(1e-6, gt=0, lt=1, description="Ignore eigenvalues below this x the "
                                                       "largest when looking for the gap")

    @model_validator(mode="after")
    def _enough_iters(self) -> HessianSpectrumConfig:
        if self.lanczos_iters < self.top_k:
            raise ValueError(f"lanczos_iters ({self.lanczos_iters}) must be >= top_k "
                             f"({self.top_k})")
        return self
