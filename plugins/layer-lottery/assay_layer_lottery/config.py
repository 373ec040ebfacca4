"""The configs of layer-lottery's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field

Criterion = Literal["grasp", "snip", "random"]


class LayerLotteryConfig(Config):
    """Paper: https://arxiv.org/abs/2301.10835 - remove residual blocks at initialisation,
    scored by a pruning-at-initialisation criterion, and train the rest from their initial
    weights."""

    remove: float = Field(0.5, ge=0, lt=1, description=(
        "Share of the residual blocks removed (rounded to a whole number; 0: the dense net)"))
    criterion: Criterion = Field("grasp", description=(
        "Block score at initialisation: grasp (theta * Hg summed, as GraSP), snip "
        "(|theta * g| summed) or random"))
    score_examples: int = Field(256, ge=1, le=65536, description=(
        "Training examples the score's gradient (and Hessian-gradient product) is taken on"))


class FilterLotteryConfig(Config):
    """Paper: https://arxiv.org/abs/2301.10835 - the filter ticket the paper compares with:
    keep a subset of channels in every layer at initialisation."""

    channels: int = Field(16, ge=1, le=4096, description="Channels kept in every layer")
    criterion: Literal["l1", "random"] = Field("l1", description=(
        "l1: keep the channels whose initial filters have the largest L1 norm (over all "
        "layers); random: a random subset"))
