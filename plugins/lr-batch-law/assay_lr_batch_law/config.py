"""The configs of lr-batch-law's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class LrBatchLawConfig(Config):
    """Paper: https://arxiv.org/abs/2006.09092 - train a fixed number of epochs; optionally
    scale the optimizer's rate from a reference batch (linear for SGD, sqrt for Adam)."""

    epochs: float = Field(8.0, gt=0, le=10000, description="Passes over the training set; "
                          "steps = round(epochs * n_train / batch_size), replacing train.steps")
    rule: Literal["none", "linear", "sqrt"] = Field(
        "none", description="Scale the optimizer's lr by (batch_size / reference_batch)^p, "
        "p = 1 (linear, SGD), 1/2 (sqrt, Adam) or 0 (none: use the lr as given)")
    reference_batch: int = Field(32, ge=1, le=2**20, description="Batch size at which the "
                                 "optimizer's lr was tuned (used by rule)")
