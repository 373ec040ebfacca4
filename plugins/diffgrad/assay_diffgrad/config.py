"""The configs of diffgrad's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class DiffGradConfig(Config):
    """Paper: https://arxiv.org/abs/1909.11015 - Adam's step scaled per coordinate by the
    sigmoid of how much the gradient changed since the last step."""

    lr: float = Field(1e-3, gt=0, le=10, description="Learning rate")
    beta1: float = Field(0.9, ge=0, lt=1, description="First-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="Second-moment decay")
    eps: float = Field(1e-8, gt=0, le=1, description="Denominator epsilon")
    weight_decay: float = Field(0.0, ge=0, le=10, description="Decoupled weight decay")
