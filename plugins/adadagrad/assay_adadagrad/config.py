"""The configs of adadagrad's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class AdaGradNormConfig(Config):
    """Paper: https://arxiv.org/abs/2402.11215 (AdaGrad-Norm, Ward, Wu and Bottou 2019): one
    accumulated squared gradient norm scales every step."""

    lr: float = Field(0.1, gt=0, description="Step size eta (divided by the accumulated norm)")
    b0: float = Field(0.01, gt=0, description="Initial accumulator b_0 (> 0)")


class AdaptiveBatchConfig(Config):
    """Paper: https://arxiv.org/abs/2402.11215 - grow the batch whenever the norm test fails."""

    adaptive: bool = Field(True, description="Grow the batch by the norm test (false: keep "
                                             "train.batch_size, the fixed-batch baseline)")
    eta: float = Field(0.9, gt=0, description="Norm-test tolerance: larger passes more often")
    max_batch: int = Field(2048, ge=2, description="Largest batch the test may ask for")
    sample_budget: int | None = Field(None, ge=1, description="Stop once this many examples "
                                                              "were processed (None: no cap)")
    test_every: int = Field(1, ge=1, description="Run the norm test every k steps")
    variance_sample: int | None = Field(128, ge=2, description=(
        "Estimate the per-example gradient variance from this many of the batch's examples "
        "(an unbiased sample variance; None: all of them)"))
    chunk: int = Field(256, ge=1, description="Per-example gradients computed this many at a "
                                              "time (memory, not results)")
