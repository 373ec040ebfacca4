"""The configs of perp's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field

Part = Literal["bias", "norm", "readout"]


class PERPConfig(Config):
    """Paper: https://arxiv.org/abs/2312.15230 - after pruning, retrain only biases and
    normalisation parameters (everything else frozen)."""

    parts: list[Part] = Field(["bias", "norm"], min_length=1, description=(
        "Parameter groups left trainable: bias (biases of non-norm layers), norm "
        "(normalisation layers' weight and bias), readout (the output layer, linear probing)"))


class OneShotConfig(Config):
    """Paper: https://arxiv.org/abs/2312.15230 - one-shot magnitude pruning of the starting
    (pretrained) weights; the mask stays fixed while the run retrains."""

    sparsity: float = Field(0.7, ge=0, le=0.999, description="Share of the prunable weights "
                                                             "removed at the start")
    scope: Literal["global", "layer"] = Field("global", description="global: one magnitude "
                                              "threshold over all layers; layer: each layer "
                                              "pruned to the same share")
    include_readout: bool = Field(False, description="Also prune the output layer")
