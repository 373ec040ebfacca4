"""The configs of activating-while-pruning's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay_pqi_sap_pruning.config import IterativePruningConfig
from pydantic import Field, model_validator


class APConfig(IterativePruningConfig):
    """Paper: https://arxiv.org/abs/2212.06145 - iterative magnitude pruning where a share of
    each round's removals are the negative weights that moved least (reducing dead neurons)."""

    rule: Literal["fixed"] = Field("fixed", description="AP rides on fixed-share IMP")
    ap_share: float = Field(0.1, ge=0, le=1, description="Share of each round's removed "
                            "weights chosen by AP (0: plain IMP)")
    ap_from: int = Field(1, ge=1, description="First pruning round (1-based) that uses AP")

    @model_validator(mode="after")
    def _global_scope(self) -> APConfig:
        if self.scope != "global":
            raise ValueError("activating-while-pruning ranks weights over all layers at once "
                             "(scope: global)")
        return self
