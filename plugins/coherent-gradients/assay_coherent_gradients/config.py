"""The configs of coherent-gradients's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from assay import Config
from pydantic import Field, field_validator


class CoherentGradientsConfig(Config):
    """Paper: https://arxiv.org/abs/2203.10036 - m-coherence of per-example gradients, and
    median-of-means steps (M3) that suppress weak gradient directions."""

    groups: int = Field(1, ge=1, le=63, description=(
        "k: each minibatch is split into k groups and the step follows the coordinate-wise "
        "median of their mean gradients (1: the plain minibatch step; 3: the paper's M3)"))
    coherence_every: int = Field(10, ge=0, description=(
        "Measure alpha_m every this many steps, from step 0 (0: never)"))
    coherence_until: int = Field(200, ge=0, description="Last step at which alpha_m is measured")
    coherence_m: int = Field(128, ge=2, le=4096, description=(
        "m: training examples in the fixed sample alpha_m is measured on"))

    @field_validator("groups")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"groups must be odd, so that the median is a group's value; got {v}")
        return v
