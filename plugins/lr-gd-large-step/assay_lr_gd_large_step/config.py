"""The configs of lr-gd-large-step's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from assay.lib.configs import LinearTeacherConfig
from pydantic import Field, model_validator


class SeparableConfig(LinearTeacherConfig):
    """Paper: https://arxiv.org/abs/2412.08424 - separable Gaussian classes with a margin."""

    n_train: int = Field(200, ge=2, le=1_000_000, description="Training examples")
    n_val: int = Field(1000, ge=2, le=1_000_000, description="Validation examples")
    in_dim: int = Field(20, ge=1, le=4096, description="Input dimension")
    out_dim: int = Field(1, ge=1, le=1, description="One label per example (must be 1)")
    singular_values: list[float] = Field([1.0], min_length=1, max_length=1,
                                         description="Norm of the teacher direction (one value)")
    whiten: bool = Field(False, description="Must stay False: whitening would move points "
                                            "inside the margin")
    per_seed: bool = Field(True, description="A new teacher and new points for every run seed")
    margin: float = Field(0.05, ge=0, le=10, description="Smallest |teacher . x| kept")

    @model_validator(mode="after")
    def _no_whitening(self) -> SeparableConfig:
        if self.whiten:
            raise ValueError("whiten must be False: whitening moves points inside the margin")
        return self


class MarginLossConfig(Config):
    """Paper: https://arxiv.org/abs/2412.08424 - the logistic loss of a margin classifier."""

    form: Literal["logistic", "squared"] = Field(
        "logistic", description="logistic: mean log(1 + exp(-y f)); squared: mean (1 - y f)^2 "
                                "(least squares on the +-1 labels, a control)")


class LrGdConfig(Config):
    """Paper: https://arxiv.org/abs/2412.08424 - LR+GD (or Normalized LR+GD) until the data
    is separated, compared with the batch perceptron."""

    normalized: bool = Field(False, description="Normalized LR+GD: divide the step by the "
                                                "current loss f(w_t)")
    stop_at_separation: bool = Field(True, description="End the run at the first iterate with "
                                                       "zero training error")
    compare_steps: int = Field(50, ge=1, le=100_000, description="Compare w_t with the batch "
                                                                 "perceptron for t = 1 .. K")
