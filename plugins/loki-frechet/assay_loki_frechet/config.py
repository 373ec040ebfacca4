"""The configs of loki-frechet's components, in a module that imports no torch: an
experiment naming them validates without importing torch or the training code
(``assay._plugins.light``). The modules that use them import them from here."""
from __future__ import annotations

from typing import Literal

from assay import Config
from pydantic import Field, model_validator


class OrdinalConfig(Config):
    """Paper: https://arxiv.org/abs/2307.12226 - the label space is larger than the set of
    labels seen in training, and carries a metric (here the line)."""

    n_bins: int = Field(20, ge=3, le=1000, description="Labels: equal bins of t in [0, 1)")
    observed: list[int] = Field([0, 5, 10, 15, 19], min_length=2, description=(
        "The bins training and validation examples come from"))
    dim: int = Field(16, ge=1, le=1024, description="Input dimension (tanh units of t)")
    noise: float = Field(0.1, ge=0, le=10, description="Std of the Gaussian input noise")
    n_train: int = Field(1000, ge=10, description="Training examples (observed bins only)")
    n_val: int = Field(500, ge=10, description="Validation examples (observed bins only)")
    n_test: int = Field(2000, ge=10, description="Test examples, t uniform over every bin")
    data_seed: int | None = Field(None, ge=0, description=(
        "Seed of the embedding and the draw; None: the run's seed, so that every seed of a "
        "claim replicates the whole experiment, data included"))

    @model_validator(mode="after")
    def _observed_bins(self) -> OrdinalConfig:
        bins = self.observed
        if len(set(bins)) != len(bins) or not all(0 <= b < self.n_bins for b in bins):
            raise ValueError(f"observed must be distinct bins in [0, {self.n_bins}), got {bins}")
        return self


Metric = Literal["line", "discrete"]


class LokiConfig(Config):
    """Paper: https://arxiv.org/abs/2307.12226 - replace argmax by the Frechet mean of the
    observed classes under a metric on the label space (no extra training)."""

    metric: Metric = Field("line", description=(
        "Metric the rule uses on the labels 0..n_outputs-1: line (|i - j|, ordinal labels) or "
        "discrete (1 for any two different labels: the rule becomes argmax)"))
