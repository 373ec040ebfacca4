"""The configs of learned-proximal-networks's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class LaplaceDenoisingConfig(Config):
    """Paper: https://arxiv.org/abs/2310.14344 - Laplace prior, Gaussian noise (Sec. 4.1)."""

    n_train: int = Field(100_000, ge=16, le=10_000_000, description="Training pairs")
    n_val: int = Field(10_000, ge=16, le=1_000_000, description="Validation pairs")
    scale: float = Field(1.0, gt=0, description="b: the prior's scale, p(x) ~ exp(-|x| / b)")
    sigma: float = Field(0.5, gt=0, description="Standard deviation of the Gaussian noise")


class ProximalMatchingConfig(Config):
    """Paper: https://arxiv.org/abs/2310.14344 - proximal matching loss, gamma annealed."""

    form: Literal["pm", "mse", "l1"] = Field("pm", description="pm: proximal matching; mse: "
                                             "squared error (baseline); l1: absolute error")
    gamma_start: float = Field(1.0, gt=0, description="gamma of proximal matching at step 0")
    gamma_end: float = Field(0.1, gt=0, description="gamma at the last step (geometric decay)")
    grid_max: float = Field(3.0, gt=0, description="The denoiser is measured on [-g, g]")
    grid_points: int = Field(601, ge=3, le=100_001, description="Grid points of the measure")


class LPNConfig(Config):
    """Paper: https://arxiv.org/abs/2310.14344 - f = grad psi for an input-convex psi."""

    width: int = Field(64, ge=1, le=4096, description="Hidden units per layer")
    depth: int = Field(3, ge=1, le=16, description="Softplus layers of psi")
    alpha: float = Field(0.0, ge=0, description="Strong convexity: psi gets alpha/2 ||y||^2")
    beta: float = Field(10.0, gt=0, description="Softplus sharpness, softplus(beta t) / beta")
