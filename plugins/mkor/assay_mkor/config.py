"""The configs of mkor's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class MKORConfig(Config):
    """Paper: https://arxiv.org/abs/2306.01685 - KFAC with inverse factors updated by
    rank-1 Sherman-Morrison steps every ``inv_freq`` steps, then SGD with momentum."""

    lr: float = Field(0.1, gt=0, le=100, description="Learning rate of the SGD-momentum step")
    momentum: float = Field(0.9, ge=0, lt=1, description="Heavy-ball momentum of that step")
    weight_decay: float = Field(0.0, ge=0, le=10, description="L2 penalty (coupled, as SGD's)")
    gamma: float = Field(0.95, gt=0, lt=1, description="Decay of an inverse factor toward the "
                                                       "identity before each rank-1 update")
    inv_freq: int = Field(1, ge=1, le=10**6, description="Steps between inverse-factor updates "
                                                         "(the paper's point: cheap enough for 1)")
    stabilize_at: float = Field(2.0, gt=0, le=1e6, description="Norm-based stabilizer: an "
                                "inverse-factor entry above this resets the layer's factors")
    zeta: float = Field(0.1, gt=0, le=1, description="Stabilizer's blend toward the identity")
    rescale: bool = Field(True, description="Rescale each preconditioned gradient to the norm "
                                            "of the raw one")


class StepsToLossConfig(Config):
    """How the steps to a training-loss target are counted."""

    target_loss: float = Field(0.05, gt=0, description="Record the first step at which the "
                                                       "full training loss is at most this")
    probe_every: int = Field(10, ge=1, le=10**6, description="Steps between evaluations of "
                                                             "the full training loss")
    stop_at_target: bool = Field(True, description="End the run at the first step the target "
                                                   "is reached")
