"""The configs of mf-forward-forward-physical's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field

LossRule = Literal["pairwise", "threshold"]


class MFForwardForwardConfig(Config):
    """Paper: https://arxiv.org/abs/2304.11042 - train the digital layers of a physical
    network with local forward-forward losses (model-free), or by backprop (the baseline)."""

    mode: Literal["forward-forward", "backprop"] = Field(
        "forward-forward", description="forward-forward: MF-FF local updates, one layer per "
                                       "step; backprop: the standard loop through the physics")
    inner_steps: int = Field(1, ge=1, le=1000, description="Local updates of a layer on one "
                                                           "measured batch before moving on")
    rule: LossRule = Field("pairwise", description="pairwise: softplus(-theta (G+ - G-)) (the "
                                                   "paper's code); threshold: Hinton's")


GoodnessKind = Literal["sumsq", "cosine"]


Physics = Literal["black-box", "exact", "twin"]


class PhysicalNetConfig(Config):
    """Paper: https://arxiv.org/abs/2304.11042 - digital layers between fixed noisy physical
    layers (simulated as a random optical medium with intensity detection)."""

    width: int = Field(256, ge=2, le=8192, description="Camera pixels of each physical layer "
                                                       "(= width of each digital layer)")
    blocks: int = Field(3, ge=1, le=16, description="[physical -> digital] blocks")
    noise: float = Field(0.02, ge=0, le=100, description="Multiplicative noise std of every "
                                                         "physical reading")
    physics: Physics = Field("black-box", description="black-box: no gradient can pass "
                             "(torch.no_grad); exact: a differentiable perfect simulator; twin: "
                             "device forward, mismatched digital twin backward (PAT)")
    twin_mismatch: float = Field(0.1, ge=0, le=10, description="Relative Frobenius error of "
                                                               "the twin's transmission matrix")
    readout: Literal["goodness", "linear"] = Field(
        "goodness", description="goodness: forward-forward label scores (label appended to "
                                "the input); linear: a trained classifier on the last block")
    goodness: GoodnessKind = Field("cosine", description="Goodness of a digital output: "
                                   "cosine (cos(|h|, p), the paper's code) or sumsq (Hinton)")
    theta: float = Field(4.0, gt=0, le=100, description="Sharpness of the pairwise loss "
                                                        "softplus(-theta (G+ - G-))")
    label_scale: float = Field(1.0, gt=0, le=100, description="Value of the appended one-hot "
                                                              "label (digits lie in [0, 1])")
