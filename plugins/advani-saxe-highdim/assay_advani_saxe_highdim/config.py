"""The configs of advani-saxe-highdim's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class ScaledInitConfig(Config):
    """Paper: https://arxiv.org/abs/1710.03667 - initial weights of a chosen size."""

    scale: float = Field(0.01, ge=0, le=100, description="Initial weight-vector norm: weights "
                                                         "N(0, scale^2 / fan_in)")


class CurveGDConfig(Config):
    """Paper: https://arxiv.org/abs/1710.03667 - GD, test error after every step."""

    stop_on_divergence: bool = Field(True, description="End the run once the training loss "
                                                       "overflows")
