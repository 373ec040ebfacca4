"""The configs of conadv's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class ConAdvConfig(Config):
    """Paper: https://arxiv.org/abs/2106.00221 - FGSM adversarial training whose
    perturbations come from weights ``staleness`` steps old."""

    mode: Literal["stale", "sync", "vanilla"] = Field(
        "stale", description="stale: ConAdv (perturbation from old weights); sync: synchronous "
                             "FGSM adversarial training; vanilla: no perturbation")
    epsilon: float = Field(0.1, gt=0, le=100, description="FGSM radius (L-infinity, in input "
                                                          "units)")
    staleness: int = Field(1, ge=1, le=10_000, description="tau: age in steps of the weights "
                                                           "that build the perturbation (stale)")
    adv_weight: float = Field(0.5, ge=0, le=1, description="w: weight of the adversarial loss; "
                                                           "1 - w goes to the clean loss")


class LambConfig(Config):
    """Paper: https://arxiv.org/abs/1904.00962 - Adam's direction, scaled per layer by the
    trust ratio ||w|| / ||update||, for large batches."""

    lr: float = Field(1e-2, gt=0, le=10, description="Learning rate")
    beta1: float = Field(0.9, ge=0, lt=1, description="First-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="Second-moment decay")
    eps: float = Field(1e-6, gt=0, le=1, description="Denominator epsilon")
    weight_decay: float = Field(0.0, ge=0, le=10, description="Decoupled weight decay")
