"""The configs of gradnormlorp's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class WeightNormConfig(Config):
    """Paper: GradNormLoRP (catalog id 57) - weight normalisation W = g V / ||V|| of the hidden
    linear layers, so that a low-rank optimizer (GaLore) sees better-conditioned gradients."""

    readout: bool = Field(False, description="Also normalise the model's readout layer")
