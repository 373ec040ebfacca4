"""The configs of step-law's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class StepLawConfig(Config):
    """Paper: https://arxiv.org/abs/2503.04715 - train on a fixed token budget D with a
    warm-up + cosine-to-a-fixed-floor learning rate."""

    tokens: int = Field(65536, ge=1, le=10**13, description="Training budget D in tokens "
                        "(examples x tokens per example); replaces train.steps")
    warmup_fraction: float = Field(0.1, ge=0, lt=1, description="Share of the steps spent "
                                   "warming the learning rate up linearly from zero")
    final_lr: float = Field(1e-5, ge=0, description="Absolute learning rate at the last step "
                            "(never above a group's peak)")
