"""The configs of lora-ga's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay.lib.configs import LoRAConfig
from pydantic import Field


class LoraGAConfig(LoRAConfig):
    """Paper: https://arxiv.org/abs/2407.05000 - LoRA whose factors start from the singular
    vectors of the full-weight gradient, estimated on a few batches; W is offset so the output
    is unchanged."""

    gamma: float = Field(16.0, gt=0, description="Stable-scale constant: factors are scaled by "
                                                 "out^(1/4) / sqrt(gamma)")
    grad_batches: int = Field(4, ge=1, le=1024, description="Batches used to estimate the "
                                                            "gradient")
    grad_batch_size: int = Field(128, ge=1, le=65536, description="Examples per estimation "
                                                                  "batch")
