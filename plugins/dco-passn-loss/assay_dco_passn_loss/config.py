"""The configs of dco-passn-loss's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class CoverageLossConfig(Config):
    """Paper: https://arxiv.org/abs/2502.07154 - minimise -log(1 - (1 - p(y|x))^N), the log of
    pass@N coverage; N = 1 is cross-entropy."""

    n: int = Field(16, ge=1, le=4096, description="N of the pass@N the loss optimises (1: plain "
                                                  "cross-entropy)")
    eval_n: int = Field(16, ge=1, le=4096, description="N of the pass@N measured on the "
                                                       "validation split at every evaluation")
