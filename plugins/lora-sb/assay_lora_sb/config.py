"""The configs of lora-sb's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay.lib.configs import LoRAConfig
from pydantic import Field


class CoreConfig(LoRAConfig):
    """LoRA's options with alpha = rank by default (scale 1), as both papers use."""

    alpha: float = Field(8.0, gt=0, description="The update is scaled by alpha / rank (alpha = "
                                                "rank: scale 1)")


class LoRAXSConfig(CoreConfig):
    """Paper: https://arxiv.org/abs/2405.17604 - frozen factors from the weight's top-r SVD,
    only an r x r core (started near zero) trained."""

    sigma: float = Field(1e-5, ge=0, description="Std of the core's Gaussian start")


class LoRASBConfig(CoreConfig):
    """Paper: https://arxiv.org/abs/2411.19557 - LoRA-XS's layout started from the SVD of the
    first full fine-tuning update, estimated from the gradient on a few examples."""

    grad_samples: int = Field(256, ge=1, le=1_000_000, description="Training examples the "
                                                                   "first gradient is estimated on")
    first_step: Literal["adam", "sgd"] = Field("adam", description="The optimizer whose first "
                                               "step is approximated: adam -> -lr * sign(G), "
                                               "sgd -> -lr * G")
    init_lr: float | None = Field(None, gt=0, description="Learning rate of that first step "
                                  "(None: the run's optimizer lr times its schedule at step 0)")
