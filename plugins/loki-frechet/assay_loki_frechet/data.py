"""An ordinal task whose training set shows only a few of its labels.

A latent t in [0, 1) is cut into ``n_bins`` equal bins; the bin is the label, so labels have a
natural distance |i - j|. The input is a smooth, noisy embedding of t: a soft thermometer code
(``dim`` tanh units of t with random centres and slopes), rotated by a random orthogonal matrix,
plus Gaussian noise. Training and validation examples come only from the ``observed`` bins;
the test split covers every bin, so it holds labels no training example had.
"""
from __future__ import annotations

import numpy as np
import torch
from assay import Config, Data, Dataset
from pydantic import Field, model_validator

from .method import PAPER

SLOPES = (2.0, 8.0)          # tanh slopes per unit of t: smooth enough to interpolate


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


class Embedding:
    """x(t) = Q tanh(s * (t - c)) + noise, with c, s and Q drawn once from ``rng``."""

    def __init__(self, dim: int, noise: float, rng: np.random.Generator) -> None:
        self.centres = rng.uniform(0.0, 1.0, dim)
        self.slopes = rng.uniform(*SLOPES, dim)
        self.rotation = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
        self.noise = noise

    def __call__(self, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        code = np.tanh(self.slopes * (t[:, None] - self.centres))      # (N, dim)
        x = code @ self.rotation + self.noise * rng.normal(size=code.shape)
        return x.astype(np.float32)


class OrdinalBins(Dataset):
    """Ordinal labels (bins of a latent t); train and validation show only ``observed``."""

    name = "loki-frechet-ordinal"
    Config = OrdinalConfig
    paper = PAPER

    def load(self, seed: int) -> Data:
        c = self.config
        rng = np.random.default_rng(seed if c.data_seed is None else c.data_seed)
        embed = Embedding(c.dim, c.noise, rng)
        observed = np.array(sorted(c.observed))

        def split(t: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            bins = np.minimum((t * c.n_bins).astype(np.int64), c.n_bins - 1)
            return torch.from_numpy(embed(t, rng)), torch.from_numpy(bins)

        def in_observed(n: int) -> np.ndarray:
            return (rng.choice(observed, n) + rng.uniform(0.0, 1.0, n)) / c.n_bins

        train, val = split(in_observed(c.n_train)), split(in_observed(c.n_val))
        test = split(rng.uniform(0.0, 1.0, c.n_test))
        return Data(train, val, task="classification", n_outputs=c.n_bins,
                    input_shape=(c.dim,), test=test,
                    info={"observed": observed.tolist()})
