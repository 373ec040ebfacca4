"""The configs of grad-noise's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from assay.lib.configs import InnerConfig
from pydantic import Field


class GradNoiseConfig(InnerConfig):
    """Paper: https://arxiv.org/abs/1511.06807 - add N(0, eta / (1 + t)^gamma) to every
    gradient before the inner optimizer's step."""

    eta: float = Field(0.01, ge=0, le=100, description="Noise variance at step 0 (paper: "
                                                        "0.01, 0.3 or 1.0)")
    gamma: float = Field(0.55, ge=0, le=10, description="Annealing exponent of the variance")


class GaussianInitConfig(Config):
    """Paper: https://arxiv.org/abs/1511.06807 (MNIST experiment) - the "simple init" that a
    20-layer network cannot train from without help: every weight N(0, std^2), bias zero."""

    std: float = Field(0.1, ge=0, le=10, description="Standard deviation of every weight "
                                                     "(0 gives the paper's all-zero 'bad init')")
