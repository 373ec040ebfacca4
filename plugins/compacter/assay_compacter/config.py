"""The configs of compacter's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class BottleneckConfig(Config):
    """Paper: https://arxiv.org/abs/1902.00751 - a residual bottleneck (down, act, up) after
    each targeted Linear; only the adapters and the readout train."""

    bottleneck: int = Field(16, ge=1, le=4096, description="Bottleneck width k")
    activation: Literal["gelu", "relu"] = Field("gelu", description="Nonlinearity in the "
                                                                     "bottleneck")
    target: str = Field(r"hidden\..*", description="Regular expression that the names of the "
                                                   "Linear layers to adapt must fully match")
    train_readout: bool = Field(True, description="Train the readout (task head) too")


class CompacterConfig(BottleneckConfig):
    """Paper: https://arxiv.org/abs/2106.04647 - the bottleneck adapter with PHM projections:
    W = sum_i A_i (x) s_i t_i^T, slow A_i shared by every layer, fast s_i, t_i rank one."""

    n: int = Field(4, ge=1, le=64, description="Number of Kronecker summands (A_i are n x n)")
    rank: int = Field(1, ge=1, le=64, description="Rank of each fast weight B_i = s_i t_i^T")
