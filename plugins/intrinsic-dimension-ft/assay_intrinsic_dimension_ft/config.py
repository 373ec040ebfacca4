"""The configs of intrinsic-dimension-ft's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class SubspaceAdapterConfig(Config):
    """Paper: https://arxiv.org/abs/2012.13255 - fine-tune only z in theta_0 + P z."""

    dim: int = Field(100, ge=1, le=1_000_000, description="Subspace dimension d (the number "
                                                          "of trainable numbers)")
    normalize: bool = Field(True, description="Scale each column of P to unit length "
                                              "(False: entries N(0, 1/D))")
