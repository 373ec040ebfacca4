"""The configs of pqi-sap-pruning's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field, model_validator


class IterativePruningConfig(Config):
    """Paper: https://arxiv.org/abs/2302.05601 - train, then prune by magnitude a share set
    each round by the PQ Index (SAP) or fixed (IMP); rewind to the initial weights."""

    rule: Literal["sap", "fixed"] = Field("sap", description="sap: the share pruned each round "
                                          "comes from the PQ Index; fixed: fixed_ratio (IMP)")
    rounds: int = Field(15, ge=1, le=1000, description="T: pruning rounds (the run trains T + 1 "
                                                       "times, its steps split evenly)")
    fixed_ratio: float = Field(0.2, gt=0, lt=1, description="Share of the retained weights "
                                                            "pruned per round (rule: fixed)")
    p: float = Field(0.5, gt=0, description="p of the PQ Index (0 < p < q)")
    q: float = Field(1.0, gt=0, description="q of the PQ Index")
    eta: float = Field(0.001, ge=0, description="eta_r: tolerated energy loss in the bound")
    gamma: float = Field(1.2, gt=0, description="Scales SAP's pruning ratio")
    beta: float = Field(0.9, gt=0, le=1, description="Largest share SAP prunes in one round")
    scope: Literal["global", "layer"] = Field("global", description="global: one PQI and "
                                              "threshold over all weights; layer: per layer")
    rewind: Literal["init", "none"] = Field("init", description="init: each round restarts "
                                            "from the initial weights, masked (lottery ticket); "
                                            "none: it continues from the pruned weights")
    include_readout: bool = Field(True, description="Also prune the output layer")

    @model_validator(mode="after")
    def _p_below_q(self) -> IterativePruningConfig:
        if not self.p < self.q:
            raise ValueError(f"the PQ Index needs p < q, got p={self.p}, q={self.q}")
        return self
