"""The configs of random-sparse-search's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class RandomNodeMaskConfig(Config):
    """Paper: https://arxiv.org/abs/2403.08265 - a random subset of every hidden layer's units
    removed from initialisation; the validation loss after ``screen_at`` steps is recorded."""

    node_sparsity: float = Field(0.5, ge=0, lt=1, description="Share of each hidden layer's "
                                                              "units removed")
    mask_seed: int = Field(0, ge=0, description="Seed of the mask (independent of the run seed)")
    screen_at: int = Field(32, ge=1, description="Step whose validation numbers screen the mask "
                                                 "(one epoch of 4000 examples at batch 128)")
    screen_by: Literal["val_loss", "val_error"] = Field("val_loss", description="The screening "
                                                        "score (lower is better)")
