"""The configs of lion-lyapunov's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class LionKConfig(Config):
    """Paper: https://arxiv.org/abs/2310.05898 - Lion with sign() replaced by grad K; with
    decoupled decay lam it solves min f(x) subject to x in the set {K*(lam x) < inf}."""

    lr: float = Field(1e-4, gt=0, le=10, description="Learning rate eps")
    beta1: float = Field(0.9, ge=0, lt=1, description="Interpolation factor of the update")
    beta2: float = Field(0.99, ge=0, lt=1, description="Momentum decay")
    weight_decay: float = Field(0.0, ge=0, le=1e4, description="Decoupled weight decay lam; "
                                                              "the constraint radius is 1/lam")
    kappa: Literal["l1", "l2"] = Field(
        "l1", description="K: 'l1' (sign: Lion; box ||x||_inf <= 1/lam) or 'l2' (per-tensor "
                          "normalised momentum; ball ||x_T||_2 <= 1/lam per tensor)")


class ProbeConfig(Config):
    """Paper: https://arxiv.org/abs/2310.05898 - its experimental protocol: start outside the
    constraint set, watch the iterates enter it, compare with the constrained optimum."""

    bound: float = Field(1.0, gt=0, le=1e6, description="Radius of the set to measure: 1/lam "
                                                        "of the optimizer under test")
    norm: Literal["linf", "l2"] = Field("linf", description="'linf': box over all weights; "
                                                            "'l2': every tensor's l2 norm")
    init_scale: float = Field(0.0, ge=0, le=1e3, description="Start every tensor at this "
                                                             "multiple of bound in the chosen "
                                                             "norm (0: keep the model's init)")
    reference: bool = Field(True, description="For a linear classifier and norm 'linf', solve "
                                              "the box-constrained problem with L-BFGS-B")


class LinearConfig(Config):
    bias: bool = Field(True, description="Learn a bias per output")
