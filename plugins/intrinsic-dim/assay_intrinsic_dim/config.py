"""The configs of intrinsic-dim's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class IntrinsicDimConfig(Config):
    """Paper: https://arxiv.org/abs/1804.08838 - train only z in theta = theta_0 + P z."""

    dim: int = Field(100, ge=1, le=1_000_000,
                     description="Subspace dimension d (number of trainable numbers)")
    normalize: bool = Field(True, description="Scale each column of P to unit length "
                                              "(False: entries N(0, 1/D))")
