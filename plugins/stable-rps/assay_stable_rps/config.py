"""The configs of stable-rps's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class PruneAtInitConfig(Config):
    """Paper: https://arxiv.org/abs/2310.11611 - the MAG / SNIP baselines: a global mask at
    initialisation keeping ``density`` of all linear weights, fixed while training."""

    density: float = Field(1 / 32, gt=0, le=1, description="Share of the linear weights kept "
                           "(the RPS arm's compression)")
    criterion: Literal["magnitude", "snip"] = Field("magnitude", description="Score: |w| "
                                                    "(MAG) or |w * grad| on one batch (SNIP)")
    snip_batch: int = Field(256, ge=1, le=1 << 16, description="Batch size of SNIP's score")


Mapping = Literal["randomfold", "roast"]


class StableRPSConfig(Config):
    """Paper: https://arxiv.org/abs/2310.11611 - all linear weights read from one shared array
    of compression * n floats through a Pareto-continuous random map, with the array's
    gradient scaled slot by slot."""

    compression: float = Field(1 / 32, gt=0, le=1, description="Array size / number of "
                               "shared weights (1: every weight its own slot)")
    mapping: Mapping = Field("randomfold", description="randomfold: STABLE-RPS's folded "
                             "chunks (1x is "
                             "a bijection); roast: ROAST's randomly placed blocks")
    block: int = Field(32, ge=1, le=1 << 20, description="ROAST's chunk size (mapping roast)")
    init_std: float = Field(0.04, gt=0, le=10, description="Initial std of the array (sigma); "
                            "each layer's scale restores its own init std")
    grad_scale: bool = Field(True, description="Divide each slot's gradient by the sum of the "
                             "squared layer scales mapped to it (STABLE-RPS)")
    readout: bool = Field(True, description="Share the readout layer's weights too")
