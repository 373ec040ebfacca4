"""The configs of flora-tucker's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

import re

from assay import Config
from pydantic import Field, field_validator


class ConvAdapterConfig(Config):
    target: str = Field(r"convs\..*", description="Regular expression that the names of the "
                                                  "conv layers to adapt must fully match")
    train_readout: bool = Field(True, description="Train the readout (task head) too")

    @field_validator("target")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return v


class FLoRAConfig(ConvAdapterConfig):
    """Paper: https://arxiv.org/abs/2405.14739 - the conv kernel's update as a Tucker core
    with one factor per mode (out, in, kernel...), the core started at zero."""

    ranks: list[int] = Field([8, 8, 3], min_length=2, max_length=5,
                             description="Core size per kernel mode: (out, in, k_1, ...); a "
                                         "rank above a mode's size is cut to it")
    scale: float = Field(1.0, gt=0, le=1000, description="The update is scaled by this")

    @field_validator("ranks")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(r < 1 for r in v):
            raise ValueError(f"ranks must be >= 1, got {v}")
        return v


class KernelLoRAConfig(ConvAdapterConfig):
    """Paper: https://arxiv.org/abs/2106.09685 - LoRA on the conv kernel reshaped to
    (out, in * kernel), as peft adapts Conv layers."""

    rank: int = Field(8, ge=1, le=4096, description="Rank r of the reshaped update")
    alpha: float = Field(16.0, gt=0, description="The update is scaled by alpha / rank")
