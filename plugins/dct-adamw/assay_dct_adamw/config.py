"""The configs of dct-adamw's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from assay_fira.config import GaLoreConfig
from pydantic import Field


class DCTAdamWConfig(GaLoreConfig):
    """Paper: arXiv:2505.17967 - GaLore's low-rank Adam with each projection chosen from a
    fixed DCT basis by its alignment with the gradient (no SVD)."""


class ProjectionBenchConfig(Config):
    """What the projection benchmark times."""

    dim: int = Field(512, ge=8, le=8192, description="Side of the square gradient matrices")
    rank: int = Field(16, ge=1, le=8192, description="Rank of the projection")
    repeats: int = Field(15, ge=3, le=1000, description="Timed refreshes per method")
    contender: Literal["dct", "svd"] = Field(
        "dct", description="What is timed against the SVD (svd: the SVD against itself, the "
                           "benchmark's negative control)")
