"""The configs of ntk's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class DigitsParityConfig(Config):
    """Paper: https://arxiv.org/abs/1806.07572 - inputs on a sphere, a scalar target."""

    n_train: int = Field(128, ge=2, le=1000, description="Training images drawn per seed")
    n_val: int = Field(128, ge=1, le=797, description="Test images drawn per seed")
    data_seed: int = Field(0, ge=0, description="Mixed with the run seed to draw the images")


class NTKParamConfig(Config):
    """Paper: https://arxiv.org/abs/1806.07572 - N(0, 1) weights scaled by 1/sqrt(fan_in)."""

    beta: float = Field(0.1, ge=0, le=10, description="Bias multiplier (the paper's beta)")
    output_scale: float = Field(1.0, gt=0, le=1e4, description="Multiply the output by alpha "
                                                               "and every rate by 1/alpha^2")
    mean_field: bool = Field(False, description="Also multiply alpha by sqrt(base_width / "
                                                "width): mean-field readout scaling")
    base_width: int = Field(64, ge=1, le=65536, description="Width at which mean_field equals "
                                                            "the NTK scaling")


class KernelWatchGDConfig(Config):
    """Paper: https://arxiv.org/abs/1806.07572 - GD on the squared error, kernel watched."""

    tol: float = Field(1e-3, gt=0, description="Stop once the training error is below this")
    stop_at_tol: bool = Field(True, description="End the run at the tolerance")
    chunk: int = Field(32, ge=1, le=4096, description="Examples per Jacobian block")
