"""The configs of lrp-pruning's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field

ConvRule = Literal["zplus", "epsilon"]


Criterion = Literal["lrp", "l1", "taylor", "random"]


class FilterPruningConfig(Config):
    """Paper: https://arxiv.org/abs/1912.08881 - score conv filters by LRP relevance on a few
    reference examples and remove the least relevant, without fine-tuning."""

    criterion: Criterion = Field("lrp", description="lrp: LRP relevance; l1: kernel L1 norm; "
                                 "taylor: first-order Taylor; random")
    ratio: float = Field(0.5, ge=0, lt=1, description="Share of each conv layer's filters "
                                                      "removed after the last step")
    per_class: int = Field(10, ge=1, le=1000, description="Reference examples per class, drawn "
                                                          "from the training split")
    eps: float = Field(1e-6, gt=0, description="LRP epsilon (readout and pooling)")
    conv_rule: ConvRule = Field("zplus", description="LRP rule through conv layers: zplus "
                                "(alpha1-beta0) or epsilon")
    curve: list[float] = Field([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], description="Shares also "
                               "evaluated (recorded as prune/curve/<share>/val_acc)")
