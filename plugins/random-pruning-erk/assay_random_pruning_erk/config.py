"""The configs of random-pruning-erk's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field

Distribution = Literal["erk", "er", "uniform"]


class RandomPruningConfig(Config):
    """Paper: https://arxiv.org/abs/2202.02643 - a random mask fixed at initialisation, with
    ERK layer-wise densities; the sparse network is trained from scratch."""

    sparsity: float = Field(0.9, ge=0, le=0.999, description="Global share of zero weights "
                            "over all pruned layers")
    distribution: Distribution = Field("erk", description="Layer-wise densities: erk (paper's "
                                       "best), er (no kernel terms) or uniform")
    include_readout: bool = Field(True, description="Also prune the output layer")
    mask_seed: int = Field(0, ge=0, le=2**31, description="Added to the run seed to draw the "
                           "masks (the batch order and init stay those of the run seed)")
