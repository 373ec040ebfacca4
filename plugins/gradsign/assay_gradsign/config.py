"""The configs of gradsign's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field


class GradSignConfig(Config):
    """Paper: GradSign (Zhang and Jia, ICLR 2022) - per-example gradient sign agreement at
    initialisation as a predictor of trained accuracy."""

    probe_batch: int = Field(64, ge=2, le=4096, description="Training examples the proxies see")
    score: Literal["gradsign", "random"] = Field(
        "gradsign", description="gradsign; random: a random number instead (negative control)")
