"""The configs of zo-bench's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class ZOSGDConfig(Config):
    """Paper: https://arxiv.org/abs/2402.11592 - ZO-SGD (MeZO): SPSA gradient estimates from
    forward passes only, no back-propagation."""

    lr: float = Field(1e-3, gt=0, le=10, description="Learning rate (the schedule slot scales it)")
    eps: float = Field(1e-3, gt=0, le=1, description="Perturbation size mu of the two-point "
                                                     "estimate")
    n_queries: int = Field(1, ge=1, le=1024, description="q: random directions averaged per step "
                                                         "(2q forward passes)")
    weight_decay: float = Field(0.0, ge=0, le=10, description="Decoupled weight decay")
    inplace: bool = Field(False, description="Perturb the weights in place as MeZO does (no "
                                             "weight copy; restore exact only up to rounding)")


class ZOSignConfig(ZOSGDConfig):
    """Paper: https://arxiv.org/abs/2402.11592 - ZO-SGD-Sign: a step of fixed size lr along the
    sign of the ZO gradient estimate."""

    lr: float = Field(1e-4, gt=0, le=10, description="Step per coordinate (the schedule slot "
                                                     "scales it)")


class ZOAdamConfig(ZOSGDConfig):
    """Paper: https://arxiv.org/abs/2402.11592 - ZO-Adam: Adam moments of the ZO gradient
    estimate (two extra tensors per parameter)."""

    lr: float = Field(1e-3, gt=0, le=10, description="Learning rate (the schedule slot scales it)")
    beta1: float = Field(0.9, ge=0, lt=1, description="First-moment decay")
    beta2: float = Field(0.999, ge=0, lt=1, description="Second-moment decay")
    adam_eps: float = Field(1e-8, gt=0, le=1, description="Adam denominator epsilon")
