"""The configs of lion's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class LionConfig(Config):
    """Paper: https://arxiv.org/abs/2302.06675 - sign-momentum updates of uniform size."""

    lr: float = Field(1e-4, gt=0, description="Learning rate; 3-10x smaller than AdamW's")
    beta1: float = Field(0.9, ge=0, lt=1, description="Interpolation factor of the update")
    beta2: float = Field(0.99, ge=0, lt=1, description="Momentum decay")
    weight_decay: float = Field(0.0, ge=0, description="Decoupled weight decay (scaled by lr)")
