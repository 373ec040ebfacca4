"""The configs of mup's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class MupConfig(Config):
    """Paper: https://arxiv.org/abs/2011.14522 (rules: arXiv:2203.03466, Table 3) - per-layer
    init, multipliers and learning rates that keep feature learning width-independent."""

    base_width: int = Field(64, ge=1, le=65536,
                            description="Width at which muP equals the standard parameterization")
    optimizer_kind: Literal["adam", "sgd"] = Field(
        "adam", description="Learning-rate rules for Adam-like (entrywise-normalised: adamw, "
                            "lion, ...) or SGD-like optimizers")
    readout_zero_init: bool = Field(False, description="Start the readout weight and bias at 0")
    output_mult: float = Field(1.0, gt=0, le=1e4,
                               description="Constant factor on the readout's input (tune at "
                                           "base width)")
    coord_steps: int = Field(5, ge=0, le=100000,
                             description="Coordinate check (coord/*) over this many first "
                                         "steps; 0: off")
    coord_batch: int = Field(256, ge=1, le=65536,
                             description="Training examples the coordinate check probes")


class MupSPConfig(MupConfig):
    """The standard parameterization, with the same fields as ``mup`` so that one override
    (``methods.parameterization.name=mup-sp``) switches an experiment between the two."""

    base_width: int = Field(64, ge=1, le=65536,
                            description="Ignored: SP applies no width-dependent scaling")
