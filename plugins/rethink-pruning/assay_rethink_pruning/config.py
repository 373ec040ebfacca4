"""The configs of rethink-pruning's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field


class RethinkPruningConfig(Config):
    """Paper: https://arxiv.org/abs/1810.05270 - structured (unit / channel) L1 pruning at the
    start of a run; fine-tune the inherited weights or re-initialise the pruned shape."""

    keep: float = Field(0.5, gt=0, le=1, description="Share of units (MLP) or channels (CNN) "
                        "kept in every hidden layer, chosen by largest L1 norm")
    reinit: bool = Field(False, description="Re-initialise the pruned network (train the "
                         "pruned architecture from scratch) instead of keeping its weights")
