"""The configs of sso's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class SSOConfig(Config):
    """Paper: https://arxiv.org/abs/2302.02607 - one expensive target-space gradient per
    batch, then m cheap steps on a surrogate of the batch loss."""

    inner_steps: int = Field(10, ge=1, le=1000, description="m: parameter updates per oracle "
                                                             "call (1 with inner: fixed is SGD)")
    eta: float = Field(1.0, gt=0, description="Step size of SGD in target space (the "
                                              "surrogate's proximal weight is 1/eta)")
    inner: Literal["armijo", "fixed"] = Field(
        "armijo", description="armijo: each inner step's size by backtracking line search on "
                              "the surrogate (needs optimizer sgd, momentum 0); fixed: the "
                              "optimizer's own rate")
    max_inner_lr: float = Field(10.0, gt=0, description="Armijo: first step size tried at "
                                                        "every oracle call")
    armijo_c: float = Field(0.1, gt=0, lt=1, description="Armijo: sufficient-decrease constant")
    backtrack: float = Field(0.5, gt=0, lt=1, description="Armijo: step shrink factor")
    target_loss: float = Field(0.2, gt=0, description="Record the first oracle call at which "
                                                      "the full training loss is at most this")
