"""The configs of m-fac's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class MFACPruningConfig(Config):
    """Paper: https://arxiv.org/abs/2107.03356 - OBS pruning with inverse-Fisher products
    computed from m gradients without forming the Fisher matrix."""

    sparsity: float = Field(0.8, gt=0, lt=1, description="Share of the prunable weights removed")
    curvature: Literal["mfac", "diagonal", "identity"] = Field(
        "mfac", description="mfac: the damped empirical Fisher (M-FAC); diagonal: its diagonal "
                            "(diagonal-Fisher pruning); identity: global magnitude pruning")
    n_grads: int = Field(64, ge=1, le=4096, description="m: gradients in the Fisher")
    grad_batch: int = Field(32, ge=1, description="Examples averaged into each gradient")
    damp: float = Field(1e-5, gt=0, description="lambda: the Fisher's damping")
    recomputations: int = Field(16, ge=1, le=1000, description="Rounds to reach the sparsity, "
                                                               "each with fresh gradients")
    at_step: int | None = Field(None, ge=1, description="Prune after this optimizer step "
                                                        "(None: the run's last)")
    include_readout: bool = Field(True, description="Also prune the output layer")
    check_exact: bool = Field(False, description="Compare the first round's inverse-Fisher "
                                                 "products with the dense inverse (d <= 8000)")
