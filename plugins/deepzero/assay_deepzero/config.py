"""The configs of deepzero's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from assay_zo_bench.config import ZOSGDConfig
from pydantic import Field


class CGEConfig(Config):
    """Paper: https://arxiv.org/abs/2310.02025 - coordinate-wise forward differences (d + 1
    forward passes a step, run in parallel), then an SGD step on the estimate."""

    lr: float = Field(1e-2, gt=0, le=10, description="Learning rate (the schedule slot scales it)")
    mu: float = Field(5e-3, gt=0, le=1, description="Finite-difference step mu")
    weight_decay: float = Field(0.0, ge=0, le=10, description="Decoupled weight decay")
    chunk: int = Field(4096, ge=1, le=1_000_000, description="Perturbed models per vmapped "
                                                             "call (memory only)")


class ParallelRGEConfig(ZOSGDConfig):
    """Paper: https://arxiv.org/abs/2310.02025 - zo-bench's ZO-SGD estimator (q two-point
    Gaussian queries a step) with the 2q probes of a step evaluated in parallel."""

    directions: Literal["matrix", "zo-bench"] = Field(
        "matrix", description="matrix: one (q, d) Gaussian draw a step; zo-bench: zo-bench's "
                              "per-parameter seeded directions (the same numbers ZO-SGD uses; "
                              "slow for large q)")
    chunk: int = Field(4096, ge=1, le=1_000_000, description="Perturbed models per vmapped "
                                                             "call (memory only)")
