"""The configs of convex-relu's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class SpiralsConfig(Config):
    """Paper: https://arxiv.org/abs/2201.01965 - the two-spiral benchmark, targets +-1."""

    n_train: int = Field(100, ge=4, le=100_000, description="Training points (half per class)")
    n_val: int = Field(200, ge=4, le=100_000, description="Validation points")
    turns: float = Field(1.5, gt=0, le=10, description="Turns of each spiral")
    noise: float = Field(0.0, ge=0, le=1, description="Std of Gaussian noise on the points")


class ConvexReLUConfig(Config):
    """Paper: https://arxiv.org/abs/2201.01965 - solve the sampled convex program, or restart
    the nonconvex training (the baseline)."""

    mode: Literal["convex", "nonconvex"] = Field(
        "convex", description="convex: the sampled convex program (cvxpy); nonconvex: the "
                              "run's optimizer on J from `restarts` initialisations")
    beta: float = Field(1e-3, gt=0, description="Weight decay beta of the objective J")
    patterns: int = Field(500, ge=1, le=100_000, description="P: Gaussian hyperplanes sampled "
                                                             "for the activation patterns")
    solver: Literal["CLARABEL", "SCS", "ECOS"] = Field("CLARABEL", description="cvxpy solver")
    restarts: int = Field(10, ge=1, le=1000, description="nonconvex: initialisations; each "
                                                         "takes train.steps / restarts steps")
    active_tol: float = Field(1e-3, gt=0, lt=1, description="A neuron counts as active when "
                                                            "its |alpha| exceeds this fraction "
                                                            "of the largest")


class TwoLayerReLUConfig(Config):
    """Paper: https://arxiv.org/abs/2201.01965 - one hidden ReLU layer, scalar output."""

    width: int = Field(512, ge=1, le=100_000, description="Hidden neurons m")
